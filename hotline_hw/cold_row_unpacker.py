"""Cold-row unpacker: the scheduler's multi-lane cold-row beats -> one gather request per beat."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .gather_stream import gather_request_layout
from .micro_batch_stream import cold_request_layout
from .params import require_positive_ints
from .priority import lowest
from .skid_buffer import SkidBuffer

__all__ = ["ColdRowUnpacker"]


class ColdRowUnpacker(wiring.Component):
    """Sends the valid lanes of each ``cold`` beat of the scheduler, lowest lane first, as
    ``{table, row}`` requests to the gather engine.

    The ``n``-th request out is the ``n``-th valid lane in the scheduler's ``cold`` stream, so
    the gather engine's tag ``n`` names it. Beats without a valid lane are consumed silently.

    Parameters
    ----------
    lanes, table_in_bits, row_in_bits, size_bits, beat_bits : int
        Shape of the scheduler's ``cold`` stream (:func:`cold_request_layout`).

    Members
    -------
    i : ``In(stream.Signature(cold_request_layout(...)))``
    o : ``Out(stream.Signature(gather_request_layout(...)))``

    Latency and throughput
    ----------------------
    Beats enter through a skid buffer and requests leave through another (2 cycles from a beat
    taken to its first request): one request per cycle; a beat with ``v`` valid lanes is
    unpacked in ``max(v, 1)`` cycles. Both ``i.ready`` and ``o``'s payload are flip-flops: the
    scheduler's output FIFO and credit counter read the one, the gather engine's table-register
    choice the other, and no path runs through the lane choice from one to the other.
    """

    def __init__(self, *, lanes: int = 4, table_in_bits: int = 5, row_in_bits: int = 24,
                 size_bits: int = 16, beat_bits: int = 3):
        require_positive_ints(lanes=lanes, table_in_bits=table_in_bits, row_in_bits=row_in_bits,
                              size_bits=size_bits, beat_bits=beat_bits)
        self._lanes = lanes
        super().__init__({
            "i": In(stream.Signature(cold_request_layout(
                lanes=lanes, table_in_bits=table_in_bits, row_in_bits=row_in_bits,
                size_bits=size_bits, beat_bits=beat_bits))),
            "o": Out(stream.Signature(gather_request_layout(
                table_in_bits=table_in_bits, row_in_bits=row_in_bits))),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.inp = inp = SkidBuffer(self.i.payload.shape())
        m.submodules.out = out = SkidBuffer(self.o.payload.shape())
        wiring.connect(m, wiring.flipped(self.i), inp.i)
        wiring.connect(m, out.o, wiring.flipped(self.o))
        beat, picked = inp.o, out.i
        lanes = beat.payload.lanes
        sent = Signal(self._lanes)               # lanes of the current beat already sent
        waiting = Signal(self._lanes)
        m.d.comb += waiting.eq(Cat(lane.valid for lane in lanes) & ~sent)
        chosen = Signal(self._lanes)             # one-hot: the lowest waiting lane
        # (A priority mask: no carry chain before the row-address unit's table choice.)
        m.d.comb += chosen.eq(lowest(waiting))
        for k in range(self._lanes):
            with m.If(chosen[k]):
                m.d.comb += [picked.payload.table.eq(lanes[k].table),
                             picked.payload.row.eq(lanes[k].row)]
        m.d.comb += picked.valid.eq(beat.valid & (waiting != 0))
        remaining = waiting & ~chosen
        sent_now = picked.valid & picked.ready
        m.d.comb += beat.ready.eq((waiting == 0) | (sent_now & (remaining == 0)))
        with m.If(beat.valid & beat.ready):
            m.d.sync += sent.eq(0)
        with m.Elif(sent_now):
            m.d.sync += sent.eq(sent | chosen)
        return m
