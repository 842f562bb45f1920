"""The scheduler's output streams beat by beat: the golden model's micro-batches as the RTL emits
them (``hotline_hw.micro_batch_stream``), field for field.

Used by the testbenches (expected beats) and by the driver's model backend (which produces the
stream the RTL would).
"""

from __future__ import annotations

from typing import Iterable, NamedTuple

from .scheduler import MicroBatch, MicroBatchKind

__all__ = ["Lane", "OutBeat", "ColdLane", "ColdBeat", "expected_beats", "beat_diff"]


class Lane(NamedTuple):
    valid: int
    hot: int
    slot: int
    table: int
    row: int


class OutBeat(NamedTuple):
    """One ``o`` beat, every field of ``micro_batch_layout``."""
    desc: int
    kind: int
    size: int
    working_set: int
    index: int
    step: int
    sample: int
    position: int
    beat: int
    first: int
    last: int
    lanes: tuple


class ColdLane(NamedTuple):
    valid: int
    table: int
    row: int


class ColdBeat(NamedTuple):
    step: int
    position: int
    beat: int
    lanes: tuple


def beat_diff(want: NamedTuple, got: NamedTuple) -> str:
    fields = [f"{name}: expected {w!r}, got {g!r}"
              for name, w, g in zip(want._fields, want, got) if w != g]
    return "; ".join(fields)


def expected_beats(batches: Iterable[MicroBatch], lanes: int,
                   learn: bool) -> tuple[list[OutBeat], list[ColdBeat]]:
    """The model's micro-batches as the RTL's ``o`` beats and ``cold`` beats.

    Per micro-batch a descriptor beat, then per sample (in order) ``ceil(F / lanes)`` record
    beats of its lookups in order; a lane is ``hot`` if its lookup hit and the scheduler is not
    learning. A ``cold`` beat follows every record beat with a valid lane that is not hot.
    A ``SKIPPED`` micro-batch carries ids only: one record beat per sample (``beat`` 0,
    ``first`` and ``last`` set, every lane idle) and no cold beat.
    """
    out, cold = [], []
    idle_lane, idle_cold = Lane(0, 0, 0, 0, 0), ColdLane(0, 0, 0)
    for b in batches:
        out.append(OutBeat(1, int(b.kind), b.size, b.working_set, b.index, b.step,
                           0, 0, 0, 0, 0, (idle_lane,) * lanes))
        for position, sample in enumerate(b.samples):
            if b.kind == MicroBatchKind.SKIPPED:
                out.append(OutBeat(0, 0, 0, 0, 0, b.step, sample.sample_id, position, 0, 1, 1,
                                   (idle_lane,) * lanes))
                continue
            n_beats = -(-len(sample.lookups) // lanes)
            for beat in range(n_beats):
                chunk = sample.lookups[beat * lanes:(beat + 1) * lanes]
                rec = tuple(Lane(1, int(lk.hit and not learn), lk.slot, lk.table, lk.row)
                            for lk in chunk) + (idle_lane,) * (lanes - len(chunk))
                out.append(OutBeat(0, 0, 0, 0, 0, b.step, sample.sample_id, position, beat,
                                   int(beat == 0), int(beat == n_beats - 1), rec))
                cold_lanes = tuple(ColdLane(1, ln.table, ln.row) if ln.valid and not ln.hot
                                   else idle_cold for ln in rec)
                if any(c.valid for c in cold_lanes):
                    cold.append(ColdBeat(b.step, position, beat, cold_lanes))
    return out, cold
