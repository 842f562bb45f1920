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
    skid, skid_valid : ``Out(shape)``, ``Out(1)``
        The skid entry and whether it is full. In a cycle the output register is free
        (``o.valid`` low or ``o.ready`` high) it takes ``skid`` if ``skid_valid``, else the
        input's payload: a consumer can compute what it needs of the next beat a cycle early,
        from both candidates in parallel with its decision to take ``o``, and choose between
        the results by ``skid_valid`` (a flip-flop) at the end.

    Latency and throughput
    ----------------------
    A beat taken at ``i`` is on ``o`` the next cycle. One beat per cycle while ``o.ready`` is
    high. When ``o.ready`` is low with a beat on ``o``, the beat taken at ``i`` in that cycle
    waits in the skid entry and ``i.ready`` is low until the output register takes it (the
    output still moves one beat per cycle once ``o.ready`` returns).
    """

    def __init__(self, shape):
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape)),
                          "skid": Out(shape), "skid_valid": Out(1)})

    def elaborate(self, platform):
        m = Module()
        skid_valid, skid = self.skid_valid, self.skid
        out_free = ~self.o.valid | self.o.ready      # the output register takes a beat now
        m.d.comb += self.i.ready.eq(~skid_valid)
        with m.If(out_free):
            # (With the skid entry full, ``i.ready`` is low: nothing is taken at the input.)
            m.d.sync += [self.o.payload.eq(Mux(skid_valid, skid, self.i.payload)),
                         self.o.valid.eq(skid_valid | self.i.valid), skid_valid.eq(0)]
        with m.Elif(self.i.valid & ~skid_valid):
            m.d.sync += skid_valid.eq(1)
        # The empty skid entry copies the input every cycle (its enable is the flip-flop
        # ``~skid_valid``, not the output's ``ready``); it is kept from the cycle it fills.
        with m.If(~skid_valid):
            m.d.sync += skid.eq(self.i.payload)
        return m
