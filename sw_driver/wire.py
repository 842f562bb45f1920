"""Wire formats of the accelerator's AXI4-Stream ports (see ``rtl/hotline_top.md``).

Encoders for what the host sends (lookups, write-back rows) and decoders for what it receives
(micro-batch packets, gathered rows), for one :class:`hotline_hw.device_config.HotlineConfig`.
The field layouts come from the RTL's own payload layouts, so host and RTL cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from hotline_hw.codec import StructCodec
from hotline_hw.device_config import HotlineConfig
from hotline_hw.model.gather import GatherError
from hotline_hw.model.micro_batch_beats import Lane, OutBeat

__all__ = ["StreamBeat", "MicroBatchPacket", "GatheredRow", "WireFormat"]

LANE_BITS = 32
VALID_BIT = 31


@dataclass(frozen=True)
class StreamBeat:
    """One AXI4-Stream beat as integers."""
    tdata: int
    tuser: int = 0
    tlast: bool = False


@dataclass(frozen=True)
class MicroBatchPacket:
    """A micro-batch as received: its descriptor and its record beats (decoded)."""
    descriptor: OutBeat
    records: tuple[OutBeat, ...]

    @property
    def kind(self) -> int:
        return self.descriptor.kind

    @property
    def step(self) -> int:
        return self.descriptor.step

    @property
    def size(self) -> int:
        return self.descriptor.size

    def samples(self) -> list[tuple[int, list[Lane]]]:
        """``(sample id, valid lanes in lookup order)`` per sample, in order."""
        out: list[tuple[int, list[Lane]]] = []
        for beat in self.records:
            if beat.first:
                out.append((beat.sample, []))
            out[-1][1].extend(lane for lane in beat.lanes if lane.valid)
        return out


@dataclass(frozen=True)
class GatheredRow:
    """A gathered cold row: request tag, key, error code and its ``4 * dim`` bytes."""
    tag: int
    table: int
    row: int
    error: GatherError
    data: bytes


class WireFormat:
    """Packing for one accelerator configuration."""

    def __init__(self, config: HotlineConfig):
        from hotline_hw.micro_batch_stream import micro_batch_layout   # Amaranth layouts

        self.config = config
        c = config
        layout = micro_batch_layout(lanes=c.lanes, table_in_bits=c.table_in_bits,
                                    row_in_bits=c.row_in_bits, slot_bits=c.slot_bits,
                                    sample_bits=c.sample_bits, size_bits=c.size_bits,
                                    index_bits=c.working_set_bits + 1, beat_bits=c.beat_bits)
        self.micro_batch = StructCodec.from_layout(layout)
        self.micro_batch_lane = StructCodec.from_layout(layout["lanes"].shape.elem_shape)
        self.micro_batch_bytes = -(-self.micro_batch.width // 8)
        self.row_user = StructCodec({"tag": c.tag_bits, "table": c.table_in_bits,
                                     "row": c.row_in_bits, "error": 2})
        self.bus_bytes = c.bus_bytes

    # -- lookups ------------------------------------------------------------------------------

    def encode_sample(self, sample_id: int, keys: Sequence[tuple[int, int]],
                      flush: bool = False) -> list[StreamBeat]:
        """The beats of one sample: ``keys`` = ``(table, row)`` per lookup, in order."""
        c = self.config
        if not keys:
            raise ValueError(f"sample {sample_id} has no lookup")
        if len(keys) > c.max_lookups:
            raise ValueError(f"sample {sample_id} has {len(keys)} lookups; the accelerator "
                             f"takes at most {c.max_lookups}")
        if not 0 <= sample_id < (1 << c.sample_bits):
            raise ValueError(f"sample id {sample_id} does not fit {c.sample_bits} bits")
        tuser = sample_id | (int(flush) << c.sample_bits)
        beats = []
        for start in range(0, len(keys), c.lanes):
            word = 0
            for k, (table, row) in enumerate(keys[start:start + c.lanes]):
                if not (0 <= table < (1 << c.table_in_bits) and 0 <= row < (1 << c.row_in_bits)):
                    raise ValueError(f"sample {sample_id}, lookup {start + k}: (table {table}, "
                                     f"row {row}) does not fit the {c.table_in_bits}+"
                                     f"{c.row_in_bits}-bit index fields")
                lane = row | (table << c.row_in_bits) | (1 << VALID_BIT)
                word |= lane << (LANE_BITS * k)
            beats.append(StreamBeat(word, tuser, start + c.lanes >= len(keys)))
        return beats

    # -- micro-batches ----------------------------------------------------------------------

    def decode_micro_batch_beat(self, tdata: int) -> OutBeat:
        f = self.micro_batch.unpack(tdata)
        w = self.micro_batch_lane.width
        lanes = tuple(Lane(**self.micro_batch_lane.unpack(f["lanes"] >> (k * w)))
                      for k in range(self.config.lanes))
        return OutBeat(**{**f, "lanes": lanes})

    def encode_micro_batch_beat(self, beat: OutBeat) -> int:
        w = self.micro_batch_lane.width
        lanes = 0
        for k, lane in enumerate(beat.lanes):
            lanes |= self.micro_batch_lane.pack(**lane._asdict()) << (k * w)
        return self.micro_batch.pack(**{**beat._asdict(), "lanes": lanes})

    def decode_micro_batch(self, tdata: Sequence[int]) -> MicroBatchPacket:
        beats = [self.decode_micro_batch_beat(word) for word in tdata]
        if not beats or not beats[0].desc:
            raise ValueError("a micro-batch packet must start with its descriptor beat")
        return MicroBatchPacket(beats[0], tuple(beats[1:]))

    # -- gathered rows --------------------------------------------------------------------

    def row_beats(self, dim: int) -> int:
        return -(-4 * dim // self.bus_bytes)

    def decode_row(self, tdata: Sequence[int], tuser: int, dim: int) -> GatheredRow:
        f = self.row_user.unpack(tuser)
        raw = b"".join(int(word).to_bytes(self.bus_bytes, "little") for word in tdata)
        return GatheredRow(f["tag"], f["table"], f["row"], GatherError(f["error"]),
                           raw[:4 * dim])

    def encode_row(self, row: GatheredRow, dim: int) -> list[StreamBeat]:
        """Beats of a gathered row as the RTL sends it (used by the model backend)."""
        tuser = self.row_user.pack(tag=row.tag & ((1 << self.config.tag_bits) - 1),
                                   table=row.table, row=row.row, error=int(row.error))
        if row.error == GatherError.RANGE:
            return [StreamBeat(0, tuser, True)]
        n = self.row_beats(dim)
        raw = row.data + bytes(n * self.bus_bytes - len(row.data))
        return [StreamBeat(int.from_bytes(raw[k * self.bus_bytes:(k + 1) * self.bus_bytes],
                                          "little"), tuser, k == n - 1) for k in range(n)]

    # -- write-back ----------------------------------------------------------------------

    def encode_write_back(self, table: int, row: int, data: bytes) -> list[StreamBeat]:
        c = self.config
        if not (0 <= table < (1 << c.table_in_bits) and 0 <= row < (1 << c.row_in_bits)):
            raise ValueError(f"write-back (table {table}, row {row}) does not fit the index "
                             f"fields")
        n = -(-len(data) // self.bus_bytes)
        raw = data + bytes(n * self.bus_bytes - len(data))
        tuser = table | (row << c.table_in_bits)
        return [StreamBeat(int.from_bytes(raw[k * self.bus_bytes:(k + 1) * self.bus_bytes],
                                          "little"), tuser, k == n - 1) for k in range(n)]

    def decode_write_back(self, beats: Sequence[StreamBeat], dim: int) \
            -> tuple[int, int, bytes]:
        c = self.config
        tuser = beats[0].tuser
        raw = b"".join(int(b.tdata).to_bytes(self.bus_bytes, "little") for b in beats)
        return (tuser & ((1 << c.table_in_bits) - 1), tuser >> c.table_in_bits, raw[:4 * dim])
