"""The micro-batch scheduler over arrays: a whole block of classified samples per call.

:class:`FastMicroBatchScheduler` forms the same micro-batches, in the same order, with the same
kinds, step / working-set / index numbers, early closes and counters as the golden model
:class:`hotline_hw.model.scheduler.MicroBatchScheduler` (the specification; property tests in
``tests/model/test_fast_paths.py``), but takes samples as arrays (``push_many(ids, popular)``)
and emits :class:`ScheduledBatch` records holding arrays, so no per-sample Python object is
built. :func:`classify_many` is the classifier's rule over a ``[samples, lookups]`` hit array.

How the golden behaviour is computed without a per-sample loop: inside one working set a
sample completes a popular micro-batch (``REFORMED``) when it is the ``batch_size``-th popular
sample still pending, and the buffer then holds ``pending_popular % batch_size + held`` samples
after it; both are cumulative sums over the block, so the set's close (complete, or early at
the first sample that fills ``capacity``) is found with one ``argmax`` per working set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .scheduler import MicroBatch, MicroBatchKind, ScheduleMode, _Counters

__all__ = ["FastMicroBatchScheduler", "ScheduledBatch", "classify_many", "classify_skipped"]


def classify_many(hit, learn: bool = False) -> np.ndarray:
    """Popular flag of each sample: all its lookups hit (``hit`` is ``[samples, lookups]``),
    never while learning. :meth:`MicroBatchScheduler.classify` per sample."""
    hit = np.asarray(hit, dtype=bool)
    if hit.ndim != 2:
        raise ValueError(f"hit must be 2-D (samples, lookups), not shape {hit.shape}")
    if learn:
        return np.zeros(len(hit), dtype=bool)
    return hit.all(axis=1)


def classify_skipped(hit, stale, alpha: int, learn: bool = False) \
        -> tuple[np.ndarray, np.ndarray]:
    """``(popular, skipped)`` of each sample (``hit`` / ``stale`` are ``[samples, lookups]``):
    skipped iff it would be popular and has at least ``alpha >= 1`` stale lookups; popular
    then means popular and not skipped. :meth:`MicroBatchScheduler.classify` per sample."""
    popular = classify_many(hit, learn)
    stale = np.asarray(stale, dtype=bool)
    if stale.shape != np.shape(hit):
        raise ValueError(f"stale has shape {stale.shape}, hit {np.shape(hit)}")
    if alpha <= 0:
        return popular, np.zeros(len(popular), dtype=bool)
    skipped = popular & (stale.sum(axis=1) >= alpha)
    return popular & ~skipped, skipped


@dataclass(frozen=True, eq=False)
class ScheduledBatch:
    """A micro-batch as arrays: :class:`~hotline_hw.model.scheduler.MicroBatch`'s fields with
    ``sample_ids`` (int64) and ``popular`` (bool) in place of its ``Sample`` records."""
    kind: MicroBatchKind
    step: int
    working_set: int
    index: int
    sample_ids: np.ndarray
    popular: np.ndarray

    @property
    def size(self) -> int:
        return len(self.sample_ids)

    @classmethod
    def of(cls, batch: MicroBatch) -> ScheduledBatch:
        """The arrays of a golden-model :class:`MicroBatch`."""
        ids = np.fromiter((s.sample_id for s in batch.samples), np.int64, batch.size)
        popular = np.fromiter((s.popular for s in batch.samples), bool, batch.size)
        return cls(batch.kind, batch.step, batch.working_set, batch.index, ids, popular)

    def key(self) -> tuple:
        """Everything it says, as plain values (to compare with :meth:`key_of`)."""
        return (int(self.kind), self.step, self.working_set, self.index,
                tuple(self.sample_ids.tolist()), tuple(self.popular.tolist()))

    @staticmethod
    def key_of(batch: MicroBatch) -> tuple:
        return (int(batch.kind), batch.step, batch.working_set, batch.index,
                tuple(s.sample_id for s in batch.samples),
                tuple(s.popular for s in batch.samples))


def _kind(popular: np.ndarray, role: MicroBatchKind | None = None) -> MicroBatchKind:
    if role is MicroBatchKind.SKIPPED or not len(popular) and role is not None:
        return role
    count = int(popular.sum())
    if count == len(popular):
        return MicroBatchKind.POPULAR
    if count == 0:
        return MicroBatchKind.NON_POPULAR
    return MicroBatchKind.MIXED


_EMPTY_IDS = np.zeros(0, dtype=np.int64)
_EMPTY_FLAGS = np.zeros(0, dtype=bool)


class FastMicroBatchScheduler:
    """:class:`~hotline_hw.model.scheduler.MicroBatchScheduler` over arrays (module docstring).

    Same parameters and checks; ``push_many`` / ``push`` / ``flush`` return
    :class:`ScheduledBatch` lists; ``held`` and ``counters`` as the golden model's.
    """

    def __init__(self, *, batch_size: int, working_set: int = 4,
                 mode: ScheduleMode = ScheduleMode.REFORMED, learn: bool = False,
                 capacity: int | None = None):
        for name, value in (("batch_size", batch_size), ("working_set", working_set)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, not {value!r}")
        self.batch_size = batch_size
        self.working_set = working_set
        self.mode = ScheduleMode(mode)
        self.learn = bool(learn)
        full = working_set * batch_size if self.mode is ScheduleMode.REFORMED else batch_size
        if capacity is None:
            capacity = full
        if not isinstance(capacity, int) or capacity < batch_size:
            raise ValueError(f"capacity must be an int of at least batch_size={batch_size}, "
                             f"not {capacity!r}")
        self.capacity = capacity
        self._set_size = full
        self.counters = _Counters()
        self._step = 0
        self._set_id = 0
        self._index = 0
        self._in_set = 0
        # REFORMED: popular samples not yet emitted; SPLIT: unused (every sample is held)
        self._pending = (_EMPTY_IDS, _EMPTY_FLAGS)
        self._held = (_EMPTY_IDS, _EMPTY_FLAGS)
        self._skipped = _EMPTY_IDS                  # skipped samples not yet emitted

    @property
    def held(self) -> int:
        return len(self._pending[0]) + len(self._held[0]) + len(self._skipped)

    def push(self, sample_id: int, popular: bool, skipped: bool = False) \
            -> list[ScheduledBatch]:
        """One sample (already classified)."""
        return self.push_many(np.asarray([sample_id], np.int64), np.asarray([popular], bool),
                              np.asarray([skipped], bool))

    def push_many(self, sample_ids, popular, skipped=None) -> list[ScheduledBatch]:
        """Samples in arrival order with their popular flags (forced off while learning) and
        optionally their skipped flags (:func:`classify_skipped`; a skipped sample is not
        popular; forced off while learning); returns the micro-batches they complete, in order
        (as the golden ``push`` one by one, concatenated)."""
        ids = np.asarray(sample_ids, dtype=np.int64).ravel()
        flags = np.asarray(popular, dtype=bool).ravel()
        if ids.shape != flags.shape:
            raise ValueError(f"{ids.size} sample ids but {flags.size} popular flags")
        skip = np.zeros_like(flags) if skipped is None else \
            np.asarray(skipped, dtype=bool).ravel()
        if skip.shape != flags.shape:
            raise ValueError(f"{ids.size} sample ids but {skip.size} skipped flags")
        if (skip & flags).any():
            raise ValueError("a sample cannot be both popular and skipped")
        if self.learn:
            flags = np.zeros_like(flags)
            skip = np.zeros_like(skip)
        counters = self.counters
        counters.samples_in += len(ids)
        popular_count = int(flags.sum())
        skipped_count = int(skip.sum())
        counters.popular += popular_count
        counters.skipped += skipped_count
        counters.non_popular += len(ids) - popular_count - skipped_count
        out: list[ScheduledBatch] = []
        start = 0
        kept_cum = np.cumsum(~skip)                 # samples that count, up to each one
        while start < len(ids):
            start = self._push_within_set(ids, flags, skip, kept_cum, start, out)
        return out

    def _push_within_set(self, ids, flags, skip, kept_cum, start, out) -> int:
        """Push samples from ``start`` until the open working set closes or the block ends;
        returns where it stopped. Skipped samples do not count towards the working set."""
        B = self.batch_size
        room = self._set_size - self._in_set
        before = int(kept_cum[start - 1]) if start else 0
        end = min(int(np.searchsorted(kept_cum, before + room)) + 1, len(ids))
        part_ids, part_flags, part_skip = ids[start:end], flags[start:end], skip[start:end]
        n = len(part_ids)
        reformed = self.mode is ScheduleMode.REFORMED
        pending, held = len(self._pending[0]), len(self._held[0])
        skipped_held = len(self._skipped)
        if reformed:
            cum_pop = pending + np.cumsum(part_flags)
            cum_rest = held + skipped_held + np.cumsum(~part_flags)
            after = cum_pop % B + cum_rest              # buffer after each sample's push
        else:
            after = held + skipped_held + np.arange(1, n + 1)
        in_set = self._in_set + (kept_cum[start:end] - before)
        completing = (in_set == self._set_size) & ~part_skip
        early = (after >= self.capacity) & ~completing
        stop = int(np.argmax(early)) + 1 if early.any() else n
        complete = bool(completing[stop - 1])
        take_ids, take_flags = part_ids[:stop], part_flags[:stop]
        take_skip = part_skip[:stop]
        self._skipped = np.concatenate([self._skipped, take_ids[take_skip]])
        take_ids, take_flags = take_ids[~take_skip], take_flags[~take_skip]
        if reformed:
            pop_ids = np.concatenate([self._pending[0], take_ids[take_flags]])
            full = len(pop_ids) // B
            for k in range(full):
                out.append(self._emit(pop_ids[k * B:(k + 1) * B],
                                      np.ones(B, dtype=bool)))
            rest = pop_ids[full * B:]
            self._pending = (rest, np.ones(len(rest), dtype=bool))
            mask = ~take_flags
            self._held = (np.concatenate([self._held[0], take_ids[mask]]),
                          np.concatenate([self._held[1], take_flags[mask]]))
        else:
            self._held = (np.concatenate([self._held[0], take_ids]),
                          np.concatenate([self._held[1], take_flags]))
        self._in_set = int(in_set[stop - 1])
        if complete:
            out += self._close()
        elif early.any():
            self.counters.early_closes += 1
            out += self._close()
        return start + stop

    def flush(self) -> list[ScheduledBatch]:
        """End of the data: close the open working set (nothing if it is empty)."""
        return self._close() if self._in_set or len(self._skipped) else []

    def _emit(self, ids: np.ndarray, popular: np.ndarray,
              role: MicroBatchKind | None = None) -> ScheduledBatch:
        batch = ScheduledBatch(_kind(popular, role), self._step, self._set_id, self._index,
                               ids, popular)
        self._step += 1
        self._index += 1
        self.counters.micro_batches += 1
        return batch

    def _close(self) -> list[ScheduledBatch]:
        ids, flags = self._held
        if self.mode is ScheduleMode.SPLIT:
            out = [self._emit(ids[flags], flags[flags], MicroBatchKind.POPULAR),
                   self._emit(ids[~flags], flags[~flags], MicroBatchKind.NON_POPULAR)]
        else:
            rest_ids = np.concatenate([self._pending[0], ids])
            rest_flags = np.concatenate([self._pending[1], flags])
            B = self.batch_size
            out = [self._emit(rest_ids[i:i + B], rest_flags[i:i + B])
                   for i in range(0, len(rest_ids), B)]
        skipped, B = self._skipped, self.batch_size
        out += [self._emit(skipped[i:i + B], np.zeros(len(skipped[i:i + B]), dtype=bool),
                           MicroBatchKind.SKIPPED) for i in range(0, len(skipped), B)]
        self._skipped = _EMPTY_IDS
        self._pending = (_EMPTY_IDS, _EMPTY_FLAGS)
        self._held = (_EMPTY_IDS, _EMPTY_FLAGS)
        self._in_set = 0
        self._index = 0
        self._set_id += 1
        return out
