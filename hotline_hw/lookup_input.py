"""Lookup input: the accelerator's AXI4-Stream of sample indices -> the popularity table's
request stream."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .axi import AXI4StreamSignature
from .lookup_stream import lookup_request_layout
from .params import require_positive_ints

__all__ = ["LookupInput", "LANE_BITS", "VALID_BIT"]

LANE_BITS = 32          #: bits of one lookup in ``tdata``
VALID_BIT = 31          #: the lane's valid flag


class LookupInput(wiring.Component):
    """AXI4-Stream lookups in, popularity-table requests out (``meta = {sample, flush}``).

    ``tdata`` holds ``lanes`` lookups of 32 bits, lane ``k`` in bits ``32k .. 32k+31``: the row
    id in its low ``row_in_bits`` bits, the table id in the next ``table_in_bits`` bits and the
    lane's valid flag in bit 31. ``tuser`` is ``{sample, flush}`` (sample id in the low
    ``sample_bits`` bits, then ``flush``: close the open working set after this sample).
    ``tlast`` marks a sample's last beat; a sample's first beat is the beat after a ``tlast``.

    With ``lookups`` = F != 0, a sample must be ``ceil(F / lanes)`` beats: a ``tlast`` on
    another beat sets ``framing_error`` (sticky until ``errors_clear``); the sample is passed
    on as framed by ``tlast`` (the scheduler keeps it whole; nothing is dropped).

    Parameters
    ----------
    lanes, table_in_bits, row_in_bits, sample_bits : int
        As the popularity table's request stream; ``table_in_bits + row_in_bits <= 31``.

    Members
    -------
    s_axis : ``In(AXI4StreamSignature(data_bits=32 * lanes, user_bits=sample_bits + 1))``
    o : ``Out(stream.Signature(lookup_request_layout(..., meta_bits=sample_bits + 1)))``
    lookups : ``In(8)``
    errors_clear : ``In(1)``
    framing_error : ``Out(1)``

    Latency and throughput
    ----------------------
    Combinational (no register, no latency): one beat per cycle; ``tready`` is ``o.ready``.
    """

    def __init__(self, *, lanes: int = 4, table_in_bits: int = 5, row_in_bits: int = 24,
                 sample_bits: int = 32):
        require_positive_ints(lanes=lanes, table_in_bits=table_in_bits,
                              row_in_bits=row_in_bits, sample_bits=sample_bits)
        if table_in_bits + row_in_bits > VALID_BIT:
            raise ValueError(f"table_in_bits + row_in_bits must be at most {VALID_BIT}")
        self._lanes = lanes
        self._table_in_bits = table_in_bits
        self._row_in_bits = row_in_bits
        super().__init__({
            "s_axis": In(AXI4StreamSignature(data_bits=LANE_BITS * lanes,
                                             user_bits=sample_bits + 1)),
            "o": Out(stream.Signature(lookup_request_layout(
                lanes=lanes, table_in_bits=table_in_bits, row_in_bits=row_in_bits,
                meta_bits=sample_bits + 1))),
            "lookups": In(8),
            "errors_clear": In(1),
            "framing_error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        axis, out = self.s_axis, self.o.payload
        row_bits, table_bits = self._row_in_bits, self._table_in_bits
        for k in range(self._lanes):
            word = axis.tdata[LANE_BITS * k:LANE_BITS * (k + 1)]
            m.d.comb += [
                out.lanes[k].row.eq(word[:row_bits]),
                out.lanes[k].table.eq(word[row_bits:row_bits + table_bits]),
                out.lanes[k].valid.eq(word[VALID_BIT]),
            ]
        beat = Signal(range(256))                 # beat index within the sample
        m.d.comb += [
            out.first.eq(beat == 0),
            out.last.eq(axis.tlast),
            out.meta.eq(axis.tuser),
            self.o.valid.eq(axis.tvalid),
            axis.tready.eq(self.o.ready),
        ]
        expected_beats = (self.lookups + self._lanes - 1) // self._lanes
        with m.If(self.errors_clear):
            m.d.sync += self.framing_error.eq(0)
        with m.If(axis.tvalid & axis.tready):
            m.d.sync += beat.eq(beat + 1)
            with m.If(axis.tlast):
                m.d.sync += beat.eq(0)
                with m.If((self.lookups != 0) & (beat + 1 != expected_beats)):
                    m.d.sync += self.framing_error.eq(1)
            with m.Elif((self.lookups != 0) & (beat + 1 >= expected_beats)):
                m.d.sync += self.framing_error.eq(1)
        return m
