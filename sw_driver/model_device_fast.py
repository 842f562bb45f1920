"""``ModelDevice`` in process: a whole submitted working set at once, without the wire codec.

:func:`submit_in_process` is what :class:`~sw_driver.model_device.ModelDevice` does with the
lookup beats of ``samples`` (and the driver with the micro-batch and row beats it sends back),
computed over arrays: the popularity table's answers (``lookup_many`` / ``learn_many``), the
micro-batches (:class:`~hotline_hw.model.fast_scheduler.FastMicroBatchScheduler` continuing the
device's scheduler), the cold rows (:func:`~hotline_hw.model.fast_gather.gather_many`) and
every counter. Micro-batch records are decoded lazily (:class:`ArrayMicroBatchPacket`).

It applies only where the result is certainly the wire path's and no error can arise; it returns
``None`` *before touching any state* otherwise (injected faults, a sample whose framing or keys
the device would reject, a row the gather engine would reject, a scheduler holding samples), and
the driver then uses the wire path. ``tests/driver/test_driver_model.py`` runs the driver
scenarios on both and requires every beat, row and counter to be equal.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from itertools import chain
from operator import itemgetter

import numpy as np

from hotline_hw.model.fast_gather import addresses, gather_many
from hotline_hw.model.fast_scheduler import FastMicroBatchScheduler, classify_skipped
from hotline_hw.model.fast_table import FrozenTable, learn_many
from hotline_hw.model.gather import GatherError
from hotline_hw.model.micro_batch_beats import Lane, OutBeat
from hotline_hw.model.popularity_table import Mode
from hotline_hw.model.scheduler import MicroBatchKind

from .wire import GatheredRow, MicroBatchPacket

__all__ = ["ArrayMicroBatchPacket", "submit_arrays_in_process", "submit_in_process"]

_IDLE = Lane(0, 0, 0, 0, 0)


class ArrayMicroBatchPacket(MicroBatchPacket):
    """A :class:`MicroBatchPacket` held as arrays; ``records`` are built when first read.

    Equal to (and interchangeable with) the packet the wire path decodes: same descriptor,
    same records, same ``samples()``. A ``SKIPPED`` micro-batch carries ids only (one record
    beat per sample, every lane idle).
    """

    def __init__(self, descriptor: OutBeat, ids, hot, slot, tables, rows, lanes: int):
        object.__setattr__(self, "descriptor", descriptor)
        object.__setattr__(self, "_arrays", (ids, hot, slot, tables, rows, lanes))
        object.__setattr__(self, "_records", None)

    @property
    def records(self) -> tuple[OutBeat, ...]:
        if self._records is None:
            object.__setattr__(self, "_records", tuple(self._build_records()))
        return self._records

    def _lanes_of(self, i: int) -> list[Lane]:
        _, hot, slot, tables, rows, _ = self._arrays
        return list(map(Lane._make, zip([1] * hot.shape[1], hot[i].tolist(), slot[i].tolist(),
                                        tables[i].tolist(), rows[i].tolist())))

    def _build_records(self):
        ids, hot, _, _, _, lanes = self._arrays
        step = self.descriptor.step
        if self.descriptor.kind == MicroBatchKind.SKIPPED:
            for position, sample_id in enumerate(ids.tolist()):
                yield OutBeat(0, 0, 0, 0, 0, step, sample_id, position, 0, 1, 1,
                              (_IDLE,) * lanes)
            return
        n_beats = -(-hot.shape[1] // lanes)
        for position, sample_id in enumerate(ids.tolist()):
            all_lanes = self._lanes_of(position)
            for beat in range(n_beats):
                chunk = tuple(all_lanes[beat * lanes:(beat + 1) * lanes])
                chunk += (_IDLE,) * (lanes - len(chunk))
                yield OutBeat(0, 0, 0, 0, 0, step, sample_id, position, beat,
                              int(beat == 0), int(beat == n_beats - 1), chunk)

    def samples(self) -> list[tuple[int, list[Lane]]]:
        ids = self._arrays[0]
        if self.descriptor.kind == MicroBatchKind.SKIPPED:
            return [(sample_id, []) for sample_id in ids.tolist()]
        return [(sample_id, self._lanes_of(i)) for i, sample_id in enumerate(ids.tolist())]

    def __eq__(self, other):
        if not isinstance(other, MicroBatchPacket):
            return NotImplemented
        return (self.descriptor, self.records) == (other.descriptor, other.records)

    def __hash__(self):
        return hash((self.descriptor, self.records))

    def __repr__(self):
        return f"ArrayMicroBatchPacket(descriptor={self.descriptor!r}, size={self.size})"


def _gathered_row(tag: int, table: int, row: int, data: bytes) -> GatheredRow:
    """A :class:`GatheredRow` without the frozen dataclass's per-field ``__setattr__``."""
    out = object.__new__(GatheredRow)
    out.__dict__.update(tag=tag, table=table, row=row, error=GatherError.NONE, data=data)
    return out


def _conflicts(sets: np.ndarray, lanes: int) -> int:
    """``beat_set_conflicts`` summed over every beat: lanes of a beat whose set an earlier lane
    of the same beat addresses (every lane usable)."""
    n, t = sets.shape
    total = 0
    for start in range(0, t, lanes):
        beat = sets[:, start:start + lanes]
        for k in range(1, beat.shape[1]):
            total += int((beat[:, :k] == beat[:, k:k + 1]).any(axis=1).sum())
    return total


def submit_in_process(device, samples: Sequence[tuple[int, list]]):
    """``(micro_batches, rows, cold_lookups)`` for ``samples`` (``(sample_id, keys)``, the last
    one carrying ``flush``), with the device's state and counters advanced exactly as the wire
    path would; ``None`` (nothing touched) where the fast path does not apply."""
    if device._faults or device._partial or not samples:
        return None
    t = len(samples[0][1])
    if t < 1 or any(len(k) != t for _, k in samples):
        return None                                   # ragged or empty samples
    n = len(samples)
    if set(map(len, chain.from_iterable(map(itemgetter(1), samples)))) != {2}:
        return None                                   # a key that is not a (table, row) pair
    try:
        # array('q') takes integers only (as the wire encoder), and fast
        flat = chain.from_iterable(chain.from_iterable(map(itemgetter(1), samples)))
        keys = np.frombuffer(array("q", flat), dtype=np.int64)
        ids = np.frombuffer(array("q", map(itemgetter(0), samples)), dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        return None                                   # not (table, row) integer pairs
    return submit_arrays_in_process(device, ids, keys.reshape(n, t, 2))


def submit_arrays_in_process(device, ids: np.ndarray, keys: np.ndarray):
    """:func:`submit_in_process` of samples given as arrays: ``ids`` ``(n,)`` and ``keys``
    ``(n, lookups, 2)`` (``(table, row)``), any integer dtype; ``None`` (nothing touched) where
    the fast path does not apply."""
    c = device.config
    if device._faults or device._partial or keys.ndim != 3 or keys.shape[2] != 2 \
            or not len(keys) or len(ids) != len(keys) or keys.shape[1] < 1:
        return None
    if keys.dtype.kind not in "iu" or ids.dtype.kind not in "iu":
        return None
    if (keys.dtype == np.uint64 and int(keys.max()) >= 1 << 63) or (
            ids.dtype == np.uint64 and int(ids.max()) >= 1 << 63):
        return None                                   # the encoder raises on such values
    keys = keys.astype(np.int64, copy=False)
    ids = ids.astype(np.int64, copy=False)
    lookups = device._field("LOOKUPS")
    n, t = keys.shape[:2]
    if t > c.max_lookups or (lookups and -(-lookups // c.lanes) != -(-t // c.lanes)):
        return None                                   # the device would flag the framing
    if ids.min() < 0 or ids.max() >= 1 << c.sample_bits:
        return None
    tables, rows = keys[:, :, 0], keys[:, :, 1]
    if tables.min() < 0 or tables.max() >= 1 << c.table_in_bits or rows.min() < 0 \
            or rows.max() >= 1 << c.row_in_bits:
        return None                                   # the encoder would raise
    table = device.table
    if not table.layout.in_range_array(tables, rows).all():
        return None                                   # lookup errors: the wire path flags them
    gather = device._gather()
    where, rejected = addresses(gather, tables.ravel(), rows.ravel())
    if rejected.any() or int(where.max()) + gather.row_bytes > device.memory.array.size:
        return None                                   # a gathered row could be rejected
    try:
        scheduler = device._scheduler()
    except (OSError, RuntimeError, ValueError):
        return None                                   # the wire path raises it, in its place
    if scheduler.held or scheduler._in_set:
        return None
    learn = device._learning()

    # -- the popularity table --------------------------------------------------------------
    table.mode = Mode.LEARN if learn else Mode.RUN
    sizes = tuple(r.rows for r in gather.tables)
    cache = device._in_process_cache
    if cache.get("sizes") != sizes:           # per-row set index: a pure function of the key
        cache.clear()
        cache["sizes"] = sizes
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        owner = np.repeat(np.arange(len(sizes)), sizes)
        cache["offsets"] = offsets
        cache["set_of"] = table.set_and_tag_array(owner, np.arange(offsets[-1]) - offsets[owner])[0]
    dense = cache["offsets"][tables] + rows
    device.counters["TABLE_CONFLICTS"] += _conflicts(cache["set_of"][dense], c.lanes)
    if learn:
        cache.pop("frozen", None)
        hit, slot, _ = learn_many(table, tables.ravel(), rows.ravel())
    else:
        frozen = cache.get("frozen")
        if frozen is None:                    # dropped whenever the table may have changed
            frozen = cache["frozen"] = FrozenTable(table, dense_rows=np.asarray(sizes))
        hit, slot, _ = frozen.lookup_many(tables.ravel(), rows.ravel())
    stale = table.stale_many(hit, slot).reshape(n, t)
    hit, slot = hit.reshape(n, t), slot.reshape(n, t)
    device.counters["TABLE_LOOKUPS"] = table.lookups
    device.counters["TABLE_HITS"] = table.hits
    device.counters["TABLE_ERRORS"] = table.errors

    # -- the scheduler, continuing the device's ----------------------------------------------
    fast = FastMicroBatchScheduler(batch_size=scheduler.batch_size,
                                   working_set=scheduler.working_set, mode=scheduler.mode,
                                   learn=scheduler.learn, capacity=scheduler.capacity)
    fast._step, fast._set_id = scheduler._step, scheduler._set_id
    fast.counters = scheduler.counters
    position = np.arange(n)
    popular, skipped = classify_skipped(hit, stale, scheduler.alpha, learn=learn)
    batches = fast.push_many(position, popular, skipped) + fast.flush()
    scheduler._step, scheduler._set_id, scheduler._index = fast._step, fast._set_id, 0
    counters = scheduler.counters
    device.counters.update(SAMPLES_IN=counters.samples_in, POPULAR=counters.popular,
                           NON_POPULAR=counters.non_popular, SKIPPED=counters.skipped,
                           MICRO_BATCHES=counters.micro_batches,
                           EARLY_CLOSES=counters.early_closes)

    # -- micro-batches and cold rows -------------------------------------------------------------
    hot = hit & (not learn)
    wire = device.wire
    packets, cold_parts = [], []
    for index, batch in enumerate(batches):
        members = batch.sample_ids                   # positions in ``samples``
        beat = OutBeat(1, int(batch.kind), batch.size, batch.working_set, batch.index,
                       batch.step, 0, 0, 0, 0, 0, (_IDLE,) * c.lanes)
        descriptor = wire.decode_micro_batch_beat(wire.encode_micro_batch_beat(beat))
        packets.append(ArrayMicroBatchPacket(
            descriptor, ids[members], hot[members].astype(np.int64), slot[members],
            tables[members], rows[members], c.lanes))
        cold = ~hot[members]
        if batch.kind == MicroBatchKind.SKIPPED:
            cold[:] = False                          # ids only: nothing to gather
        where = np.nonzero(cold)                     # sample position, lookup: row-major
        cold_parts.append((index, where, members))
    cold_lookups = []
    request_tables, request_rows = [], []
    for index, (pos, lookup), members in cold_parts:
        cold_lookups += zip([index] * len(pos), pos.tolist(), lookup.tolist())
        request_tables.append(tables[members[pos], lookup])
        request_rows.append(rows[members[pos], lookup])
    requests = np.stack([np.concatenate(request_tables), np.concatenate(request_rows)], 1) \
        if request_tables else np.zeros((0, 2), np.int64)
    first_tag = gather.next_tag
    data, error = gather_many(gather, requests, device.memory.array)
    if error.any():                                  # excluded above; never silently wrong
        raise AssertionError(f"in-process gather error {GatherError(int(error.max())).name}")
    tag_mask = (1 << c.tag_bits) - 1
    raw = data[:, :gather.row_bytes].tobytes()
    size = gather.row_bytes
    count = len(requests)
    rows_out = list(map(_gathered_row, [(first_tag + i) & tag_mask for i in range(count)],
                        *requests.T.tolist(), [raw[i:i + size] for i in range(0, len(raw), size)]))
    device.counters["ROWS_GATHERED"] += len(rows_out)
    address, _ = addresses(gather, requests[:, 0], requests[:, 1])
    counts = np.bincount(address % 4096 // 4, minlength=1024)   # addresses are words
    for word in np.flatnonzero(counts).tolist():
        count = int(counts[word])
        bursts = gather.bursts(4096 + 4 * word)
        device.counters["READ_BURSTS"] += len(bursts) * count
        device.counters["READ_BEATS"] += sum(b.beats for b in bursts) * count
    return packets, rows_out, cold_lookups
