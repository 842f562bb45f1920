"""Micro-batch output: the scheduler's micro-batch stream as AXI4-Stream packets."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .axi import AXI4StreamSignature, bytes_for

__all__ = ["MicroBatchOutput"]


class MicroBatchOutput(wiring.Component):
    """One AXI4-Stream packet per micro-batch: its descriptor beat, then its samples' records;
    ``tlast`` on the packet's last beat (the descriptor itself for an empty micro-batch).

    ``tdata`` is the scheduler's ``micro_batch_layout`` payload, first field in bit 0, padded
    with zeros to whole bytes.

    Parameters
    ----------
    layout : data.StructLayout
        The scheduler's ``o`` payload layout (:func:`hotline_hw.micro_batch_stream.
        micro_batch_layout`).

    Members
    -------
    i : ``In(stream.Signature(layout))``
    m_axis : ``Out(AXI4StreamSignature(data_bits=bytes_for(layout.size)))``

    Latency and throughput
    ----------------------
    Combinational: one beat per cycle, ``i.ready`` is ``tready``.
    """

    def __init__(self, layout: data.StructLayout):
        self._layout = layout
        super().__init__({
            "i": In(stream.Signature(layout)),
            "m_axis": Out(AXI4StreamSignature(data_bits=bytes_for(layout.size))),
        })

    def elaborate(self, platform):
        m = Module()
        beat = self.i.payload
        left = Signal.like(beat.size)            # samples of the micro-batch still to come
        sample_end = ~beat.desc & beat.last
        m.d.comb += [
            self.m_axis.tdata.eq(beat.as_value()),
            self.m_axis.tvalid.eq(self.i.valid),
            self.m_axis.tlast.eq(Mux(beat.desc, beat.size == 0, sample_end & (left == 1))),
            self.i.ready.eq(self.m_axis.tready),
        ]
        with m.If(self.i.valid & self.i.ready):
            with m.If(beat.desc):
                m.d.sync += left.eq(beat.size)
            with m.Elif(sample_end):
                m.d.sync += left.eq(left - 1)
        return m
