"""Skid buffer: a two-entry stream register whose input ``ready`` is a flip-flop."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SkidBuffer"]


class SkidBuffer(wiring.Component):
    """Two-entry stream buffer that cuts both the data path and the ``ready`` path.

    The output payload and ``valid`` come straight from flip-flops, and ``i.ready`` is a
    flip-flop too (the skid entry is empty), so that a consumer's ``ready`` does not reach the
    producer in the same cycle: the producer's read or stage enable is decided by a register.
    Beats leave in the order they came, none is dropped or repeated.

    Parameters
    ----------
    shape : shape-castable
        The payload (a layout, or a width).

    Members
    -------
    i : ``In(stream.Signature(shape))``
        Input. ``ready`` is high while the skid entry is empty, whatever ``o.ready`` does in the
        same cycle.
    o : ``Out(stream.Signature(shape))``
        Output, from the output register.

    Latency and throughput
    ----------------------
    A beat taken at ``i`` is on ``o`` the next cycle. One beat per cycle while ``o.ready`` is
    high. When ``o.ready`` is low with a beat on ``o``, the beat taken at ``i`` in that cycle
    waits in the skid entry and ``i.ready`` is low until the output register takes it (the
    output still moves one beat per cycle once ``o.ready`` returns).
    """

    def __init__(self, shape):
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        skid_valid = Signal()
        skid = Signal.like(self.i.payload)
        out_free = ~self.o.valid | self.o.ready      # the output register takes a beat now
        m.d.comb += self.i.ready.eq(~skid_valid)
        with m.If(out_free):
            with m.If(skid_valid):
                # (``i.ready`` is low: nothing is taken at the input this cycle.)
                m.d.sync += [self.o.payload.eq(skid), self.o.valid.eq(1), skid_valid.eq(0)]
            with m.Else():
                m.d.sync += [self.o.payload.eq(self.i.payload), self.o.valid.eq(self.i.valid)]
        with m.Elif(self.i.valid & ~skid_valid):
            m.d.sync += [skid.eq(self.i.payload), skid_valid.eq(1)]
        return m
