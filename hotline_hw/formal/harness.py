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

from amaranth.hdl import Assume, Elaboratable, Module, ResetSignal, Value
from amaranth.lib import wiring

from .rules import channels, stream_rules

__all__ = ["Harness", "broken", "ports_of"]


def ports_of(component: wiring.Component) -> list[Value]:
    """Every port of ``component`` as a ``Value`` (inputs become the solver's free inputs)."""
    return [Value.cast(value) for _path, _member, value in component.signature.flatten(component)
            if not isinstance(value, int) and not _is_const(value)]


def _is_const(value) -> bool:
    from amaranth.hdl import Const
    return isinstance(value, Const)


class Harness(Elaboratable):
    """``dut`` under the stream rules, plus ``extra(m, dut, harness)`` properties.

    ``fixed`` maps an input port (a ``Value`` of ``dut``) to a constant it is held at (e.g. the
    table registers of a gather engine, which must be stable while rows are in flight).
    """

    def __init__(self, dut: wiring.Component, *, extra: Callable | None = None,
                 fixed: dict | None = None, skip: tuple[str, ...] = ()):
        self.dut = dut
        self.extra = extra
        self.fixed = fixed or {}
        self.skip = skip
        self.channels = [c for c in channels(dut) if c.name not in skip]

    @property
    def ports(self) -> list[Value]:
        return ports_of(self.dut)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = self.dut
        m.d.comb += Assume(~ResetSignal(), "reset held low")
        for port, value in self.fixed.items():
            m.d.comb += Assume(Value.cast(port) == value, "fixed input")
        for channel in self.channels:
            stream_rules(m, channel)
        if self.extra is not None:
            self.extra(m, self.dut, self)
        return m


def broken(dut: wiring.Component, inject: Callable) -> wiring.Component:
    """``dut`` with ``inject(m, dut)`` run on its module after its own ``elaborate``."""
    original = dut.elaborate

    def elaborate(platform):
        m = original(platform)
        inject(m, dut)
        return m

    dut.elaborate = elaborate
    return dut
