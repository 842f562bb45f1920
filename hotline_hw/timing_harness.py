"""Register harness for out-of-context place-and-route: every port of a block behind a flip-flop
(``make synth``, ECP5 flow)."""

from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RegisteredPorts"]


class RegisteredPorts(wiring.Component):
    """Wraps a component so that a timing analyser sees only register-to-register paths.

    Out of context (no IO buffers, as FPGA IP is characterised), a path from a top-level input
    pin or to an output pin has no clock at its far end, so place-and-route tools leave it
    unconstrained and report the clock's Fmax over the internal paths only. The block's own
    combinational paths from its input ports or to its output ports would then go unmeasured.
    This harness registers every input bit before the device under test and every output bit
    after it, as the logic around an IP core in a real design would: each path that starts or
    ends at one of the DUT's ports now starts or ends at a flip-flop and is timed. It adds
    exactly one flip-flop per port bit and no logic. Only for synthesis.

    Parameters
    ----------
    dut : wiring.Component
        The device under test, added as submodule ``dut`` in the ``sync`` domain.

    Ports
    -----
    i : ``In(input_bits)``
        The DUT's input ports concatenated in signature order (first port in the low bits),
        registered once before they reach the DUT.
    o : ``Out(output_bits)``
        The DUT's output ports, concatenated the same way, registered once.
    """

    def __init__(self, dut: wiring.Component):
        if not isinstance(dut, wiring.Component):
            raise TypeError(f"dut must be a wiring.Component, not {dut!r}")
        self._dut = dut
        self._inputs, self._outputs = [], []
        for _, member, value in dut.signature.flatten(dut):
            (self._inputs if member.flow == In else self._outputs).append(Value.cast(value))
        if not self._outputs:
            raise ValueError(f"dut {dut!r} has no output port: nothing would be kept")
        super().__init__({"i": In(max(1, self.input_bits)), "o": Out(self.output_bits)})

    @property
    def dut(self) -> wiring.Component:
        return self._dut

    @property
    def input_bits(self) -> int:
        return sum(len(v) for v in self._inputs)

    @property
    def output_bits(self) -> int:
        return sum(len(v) for v in self._outputs)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = self._dut
        if self._inputs:
            captured = Signal(self.input_bits)
            m.d.sync += captured.eq(self.i)
            m.d.comb += Cat(*self._inputs).eq(captured)
        m.d.sync += self.o.eq(Cat(*self._outputs))
        return m
