"""The formal harness around one block, and broken copies of a block.

:class:`Harness` puts the block under test in a top module whose inputs are the block's own
input ports: the solver drives them freely, every cycle, constrained only by the assumptions
(reset held low, the stream rules on every input channel, and whatever a proof adds). The stream
rules of every output channel are asserted; a proof's ``extra`` callback adds counting
invariants and block invariants.

:func:`broken` makes a deliberately broken copy of a block for a proof's self-test: the block's
``elaborate`` is wrapped so that one more statement is added to its module after the original
logic (in Amaranth the last assignment wins), e.g. a payload that changes while stalled.
"""

from __future__ import annotations

from typing import Callable

from amaranth.hdl import Assume, Const, Elaboratable, Module, ResetSignal, Signal, Value
from amaranth.lib import wiring

from .rules import channels, past, stream_rules

__all__ = ["Harness", "broken", "ports_of"]


def ports_of(component: wiring.Component) -> list[Value]:
    """The input ports of ``component`` (the solver's free inputs). Outputs are not made ports:
    an output the block leaves undriven (e.g. ``arlock``) must read as its constant reset value,
    not as a free input of the top."""
    return [Value.cast(value) for _path, member, value in component.signature.flatten(component)
            if member.flow == wiring.In and not isinstance(value, (int, Const))]


class Harness(Elaboratable):
    """``dut`` under the stream rules, plus ``extra(m, dut, harness)`` properties.

    ``free`` names more free inputs (name -> shape; the solver picks them every cycle, a proof
    constrains them), ``stable`` names input ports held constant from cycle 0 (any value),
    ``probe_writes`` exposes a memory's write port as ``write`` (see ``_probe_write_port``).
    ``fixed`` maps an input port (a ``Value`` of ``dut``) to a constant it is held at (e.g. the
    table registers of a gather engine, which must be stable while rows are in flight).
    """

    def __init__(self, dut: wiring.Component, *, extra: Callable | None = None,
                 fixed: dict | None = None, stable: tuple[str, ...] = (),
                 skip: tuple[str, ...] = (), probe_writes: tuple | None = None,
                 free: dict | None = None):
        self.dut = dut
        self.extra = extra
        self.fixed = fixed or {}
        self.stable = stable
        self.skip = skip
        self.channels = [c for c in channels(dut) if c.name not in skip]
        # More free inputs, by name: they must exist before conversion (they are ports).
        self.inputs = {name: Signal(shape, name=name) for name, shape in (free or {}).items()}
        self.write = None
        if probe_writes is not None:
            self.write = _probe_write_port(dut, probe_writes)

    @property
    def ports(self) -> list[Value]:
        return ports_of(self.dut) + list(self.inputs.values())

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = self.dut
        m.d.comb += Assume(~ResetSignal(), "reset held low")
        for port, value in self.fixed.items():
            m.d.comb += Assume(Value.cast(port) == value, "fixed input")
        started = Signal()                  # high from cycle 1 on
        m.d.sync += started.eq(1)
        for name in self.stable:
            port = Value.cast(getattr(self.dut, name))
            m.d.comb += Assume(~started | (port == past(m, port, name=f"{name}_past")),
                               f"{name} stable")
        for channel in self.channels:
            stream_rules(m, channel)
        if self.extra is not None:
            self.extra(m, self.dut, self)
        return m


def broken(dut: wiring.Component, inject: Callable) -> wiring.Component:
    """``dut`` with ``inject(m, dut)`` run on its module after its own ``elaborate``, or, if
    ``inject`` has a ``wrap(elaborate, platform)`` method, elaborated through it."""
    original = dut.elaborate

    def elaborate(platform):
        if hasattr(inject, "wrap"):         # a bug in the block's own elaboration
            return inject.wrap(original, platform)
        m = original(platform)
        inject(m, dut)
        return m

    dut.elaborate = elaborate
    return dut


class _WritePort:
    """Copies of a memory write port's ``en``, ``addr`` and ``data`` (driven inside the DUT)."""
    def __init__(self, en, addr, data):
        self.en, self.addr, self.data = en, addr, data


def _probe_write_port(dut: wiring.Component, probe: tuple) -> _WritePort:
    """Exposes the first write port of a memory submodule of the DUT to the harness.

    ``probe`` is ``(submodule name, data shape, address bits)``: the DUT's ``elaborate`` is
    wrapped to drive three probe signals from that memory's write port."""
    memory, shape, addr_bits = probe
    write = _WritePort(Signal(name=f"{memory}_wen"), Signal(addr_bits, name=f"{memory}_waddr"),
                       Signal(shape, name=f"{memory}_wdata"))
    original = dut.elaborate

    def elaborate(platform):
        m = original(platform)
        port = getattr(m.submodules, memory).write_ports[0]
        m.d.comb += [write.en.eq(Value.cast(port.en).any()), write.addr.eq(port.addr),
                     write.data.eq(port.data)]
        return m

    dut.elaborate = elaborate
    return write
