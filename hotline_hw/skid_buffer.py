"""Skid buffer: a two-entry stream register whose input ``ready`` is a flip-flop."""

from amaranth.hdl import Module, Mux, Signal
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
    following : ``Out(shape)``
        The payload the output register takes in a cycle it is free (``o.valid`` low or
        ``o.ready`` high): the skid entry's if it is full, else the input's. A consumer can
        compute from it, in parallel with its decision to take ``o``, what it needs of the next
        beat a cycle early (the choice is one flip-flop, the skid entry's valid).

    Latency and throughput
    ----------------------
    A beat taken at ``i`` is on ``o`` the next cycle. One beat per cycle while ``o.ready`` is
    high. When ``o.ready`` is low with a beat on ``o``, the beat taken at ``i`` in that cycle
    waits in the skid entry and ``i.ready`` is low until the output register takes it (the
    output still moves one beat per cycle once ``o.ready`` returns).
    """

    def __init__(self, shape):
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape)),
                          "following": Out(shape)})

    def elaborate(self, platform):
        m = Module()
        skid_valid = Signal()
        skid = Signal.like(self.i.payload)
        out_free = ~self.o.valid | self.o.ready      # the output register takes a beat now
        m.d.comb += [self.i.ready.eq(~skid_valid),
                     self.following.eq(Mux(skid_valid, skid, self.i.payload))]
        with m.If(out_free):
            # (With the skid entry full, ``i.ready`` is low: nothing is taken at the input.)
            m.d.sync += [self.o.payload.eq(self.following),
                         self.o.valid.eq(skid_valid | self.i.valid), skid_valid.eq(0)]
        with m.Elif(self.i.valid & ~skid_valid):
            m.d.sync += [skid.eq(self.i.payload), skid_valid.eq(1)]
        return m
