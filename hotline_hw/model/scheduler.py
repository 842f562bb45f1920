"""Golden model of the micro-batch scheduler (the paper's input classifier, scheduler and buffer).

The specification the scheduler RTL will be checked against. Samples arrive in order, each with
the popularity table's answer for every one of its lookups; the scheduler groups them into
mini-batches of ``batch_size`` samples (sample ``i`` of the stream is in mini-batch
``i // batch_size``) and working sets of ``working_set`` mini-batches, and emits micro-batches.

A sample is **popular** iff all its lookups hit, and never while learning (``learn=True``: the
hot rows are not on the GPU yet, every row is served from CPU memory).

``REFORMED`` (the paper's mode)
    A working set becomes a permutation of itself: every time ``batch_size`` popular samples
    have arrived they leave as a popular micro-batch at once; when the working set is complete
    the rest (the popular leftovers, then the non-popular samples, each in arrival order) leave
    as micro-batches of ``batch_size`` (the last one short only if the working set was). So a
    full working set always gives ``working_set`` micro-batches, as many optimizer steps as the
    baseline.
``SPLIT`` (for exact training)
    Each mini-batch becomes its popular micro-batch then its non-popular micro-batch, both always
    emitted, either possibly empty.

Skipped samples (Slipstream's stale inputs): with ``alpha >= 1``, a sample that would be popular
and has at least ``alpha`` *stale* lookups (the table's stale bit, reported in ``RUN`` mode) is
**skipped** instead: it is taken out of the stream before the mini-batches are counted (as
Slipstream's trainer drops it before its scheduler), so mini-batches and working sets are made
of the samples that are not skipped: a working set completes after ``working_set * batch_size``
of them. A skipped sample is held apart (it does take buffer room: ``capacity`` counts it) and,
when the working set (``SPLIT``: mini-batch) open at its arrival closes, leaves after the set's
other micro-batches in ``SKIPPED`` micro-batches of up to ``batch_size`` samples (only if there
is any: no empty ``SKIPPED`` micro-batch). A skipped sample is neither popular nor non-popular
and has no cold rows; the RTL sends its id only. ``alpha = 0`` (the default) disables
skipping: the schedule is exactly the one without stale bits.

A micro-batch's kind follows its content: ``POPULAR`` (every sample popular), ``NON_POPULAR``
(none), ``MIXED`` (some), ``SKIPPED`` (skipped samples only); an empty one keeps the kind of
its role in ``SPLIT`` mode.

The sample buffer holds the samples not yet emitted. If it would exceed ``capacity`` samples,
the working set (mini-batch in ``SPLIT`` mode) is closed early, exactly as at the end of the
data: nothing is dropped, and the next sample starts a new working set. :meth:`flush` (end of
the data) closes the open working set. Every input sample appears in exactly one micro-batch.

Cold rows: every lookup that the GPU cannot serve (a miss, or any lookup while learning) of every
micro-batch but a ``SKIPPED`` one, in emission order, sample by sample, lookup by lookup:
:func:`cold_requests`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterable, Sequence

__all__ = ["ScheduleMode", "MicroBatchKind", "Lookup", "Sample", "MicroBatch", "ColdRequest",
           "MicroBatchScheduler", "cold_requests", "check_alpha", "ALPHA_MAX"]

ALPHA_MAX = 255         #: the largest ``alpha`` (the ``ALPHA`` register field is 8 bits)


class ScheduleMode(enum.IntEnum):
    REFORMED = 0
    SPLIT = 1


class MicroBatchKind(enum.IntEnum):
    POPULAR = 0
    MIXED = 1
    NON_POPULAR = 2
    SKIPPED = 3


@dataclass(frozen=True)
class Lookup:
    """The popularity table's answer for one lookup of a sample."""
    table: int
    row: int
    hit: bool
    slot: int = 0
    error: bool = False
    stale: bool = False


@dataclass(frozen=True)
class Sample:
    """One input sample: its id, its lookups, whether it is popular and whether it is skipped
    (never both)."""
    sample_id: int
    lookups: tuple[Lookup, ...]
    popular: bool
    skipped: bool = False


@dataclass(frozen=True)
class MicroBatch:
    """An emitted micro-batch.

    ``step`` counts micro-batches from 0 over the whole stream; ``working_set`` is the working
    set (``SPLIT``: the mini-batch) it comes from and ``index`` its position within it.
    """
    kind: MicroBatchKind
    step: int
    working_set: int
    index: int
    samples: tuple[Sample, ...]

    @property
    def size(self) -> int:
        return len(self.samples)


@dataclass(frozen=True)
class ColdRequest:
    """A row the gather engine must fetch: lookup ``lookup`` of sample ``position`` of
    micro-batch ``step``."""
    step: int
    position: int
    lookup: int
    table: int
    row: int


def check_alpha(alpha) -> int:
    """``alpha`` as an int from 0 (skipping disabled) to 255 (the register field)."""
    if not isinstance(alpha, int) or isinstance(alpha, bool) or not 0 <= alpha <= ALPHA_MAX:
        raise ValueError(f"alpha must be an int from 0 (disabled) to {ALPHA_MAX}, not "
                         f"{alpha!r}")
    return alpha


def _kind(samples: Sequence[Sample], role: MicroBatchKind | None = None) -> MicroBatchKind:
    if role is MicroBatchKind.SKIPPED or not samples and role is not None:
        return role
    popular = sum(s.popular for s in samples)
    if popular == len(samples):
        return MicroBatchKind.POPULAR
    if popular == 0:
        return MicroBatchKind.NON_POPULAR
    return MicroBatchKind.MIXED


@dataclass
class _Counters:
    samples_in: int = 0
    popular: int = 0
    non_popular: int = 0
    micro_batches: int = 0
    early_closes: int = 0
    skipped: int = 0


class MicroBatchScheduler:
    """Re-forms a stream of classified samples into micro-batches (see the module docstring).

    Parameters
    ----------
    batch_size : int
        Samples per mini-batch ``B`` (any positive number, not only powers of two).
    working_set : int
        Mini-batches per working set ``W`` (``REFORMED`` mode; default 4).
    mode : ScheduleMode
        ``REFORMED`` (default) or ``SPLIT``.
    learn : bool
        Learning phase: no sample is popular.
    capacity : int, optional
        Sample buffer size; at least ``batch_size``. Default: ``working_set * batch_size``
        (``REFORMED``) or ``batch_size`` (``SPLIT``), never an early close.
    alpha : int
        Stale lookups that make a would-be popular sample skipped; 0 (default) disables it.
    """

    def __init__(self, *, batch_size: int, working_set: int = 4,
                 mode: ScheduleMode = ScheduleMode.REFORMED, learn: bool = False,
                 capacity: int | None = None, alpha: int = 0):
        for name, value in (("batch_size", batch_size), ("working_set", working_set)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, not {value!r}")
        self.batch_size = batch_size
        self.working_set = working_set
        self.mode = ScheduleMode(mode)
        self.learn = bool(learn)
        self.alpha = check_alpha(alpha)
        full = working_set * batch_size if self.mode is ScheduleMode.REFORMED else batch_size
        if capacity is None:
            capacity = full
        if not isinstance(capacity, int) or capacity < batch_size:
            raise ValueError(f"capacity must be an int of at least batch_size={batch_size}, "
                             f"not {capacity!r}")
        self.capacity = capacity
        self._set_size = full                   # samples that complete a working set
        self.counters = _Counters()
        self._step = 0
        self._set_id = 0
        self._index = 0
        self._in_set = 0
        self._popular: list[Sample] = []        # REFORMED: popular samples not yet emitted
        self._held: list[Sample] = []           # non-popular (SPLIT: all) samples not emitted
        self._skipped: list[Sample] = []        # skipped samples not emitted

    def reconfigure(self, *, batch_size: int, working_set: int, mode: ScheduleMode,
                    learn: bool, capacity: int, alpha: int | None = None) -> None:
        """Change the configuration, as the RTL allows while it holds no sample. ``learn`` and
        ``alpha`` (``None``: unchanged) may change at any such time; the others only between
        working sets (no sample of an open working set has arrived). Step and working-set
        numbering continue."""
        changed = (batch_size, working_set, ScheduleMode(mode), capacity) != \
            (self.batch_size, self.working_set, self.mode, self.capacity)
        alpha = self.alpha if alpha is None else check_alpha(alpha)
        if not changed and bool(learn) == self.learn and alpha == self.alpha:
            return
        if self.held:
            raise RuntimeError("the scheduler holds samples: flush before reconfiguring")
        if changed and self._in_set:
            raise RuntimeError("B, W, the mode and the capacity may change only between "
                               "working sets (flush first)")
        if changed:
            step, set_id, counters = self._step, self._set_id, self.counters
            self.__init__(batch_size=batch_size, working_set=working_set, mode=mode,
                          learn=learn, capacity=capacity)
            self._step, self._set_id, self.counters = step, set_id, counters
        self.learn = bool(learn)
        self.alpha = alpha

    @property
    def held(self) -> int:
        """Samples in the buffer (arrived, not yet emitted)."""
        return len(self._popular) + len(self._held) + len(self._skipped)

    def classify(self, sample_id: int, lookups: Iterable[Lookup]) -> Sample:
        lookups = tuple(lookups)
        popular = not self.learn and all(lookup.hit for lookup in lookups)
        skipped = popular and self.alpha > 0 and \
            sum(lookup.stale for lookup in lookups) >= self.alpha
        return Sample(sample_id, lookups, popular and not skipped, skipped)

    def push(self, sample_id: int, lookups: Iterable[Lookup]) -> list[MicroBatch]:
        """Take one sample; returns the micro-batches that it completes (in order)."""
        sample = self.classify(sample_id, lookups)
        counters = self.counters
        counters.samples_in += 1
        if sample.skipped:
            counters.skipped += 1
        elif sample.popular:
            counters.popular += 1
        else:
            counters.non_popular += 1
        self._in_set += not sample.skipped
        out = []
        if sample.skipped:
            self._skipped.append(sample)
        elif self.mode is ScheduleMode.REFORMED and sample.popular:
            self._popular.append(sample)
            if len(self._popular) == self.batch_size:
                out.append(self._emit(self._popular))
                self._popular = []
        else:
            self._held.append(sample)
        if self._in_set == self._set_size:
            out += self._close()
        elif self.held >= self.capacity:
            counters.early_closes += 1
            out += self._close()
        return out

    def flush(self) -> list[MicroBatch]:
        """End of the data: close the open working set (nothing if it is empty)."""
        return self._close() if self._in_set or self._skipped else []

    def schedule(self, samples: Iterable[tuple[int, Iterable[Lookup]]]) -> list[MicroBatch]:
        """Push every ``(sample_id, lookups)`` and flush; returns all micro-batches."""
        out = []
        for sample_id, lookups in samples:
            out += self.push(sample_id, lookups)
        return out + self.flush()

    def _emit(self, samples: Sequence[Sample], role: MicroBatchKind | None = None) -> MicroBatch:
        batch = MicroBatch(_kind(samples, role), self._step, self._set_id, self._index,
                           tuple(samples))
        self._step += 1
        self._index += 1
        self.counters.micro_batches += 1
        return batch

    def _close(self) -> list[MicroBatch]:
        if self.mode is ScheduleMode.SPLIT:
            popular = [s for s in self._held if s.popular]
            non_popular = [s for s in self._held if not s.popular]
            out = [self._emit(popular, MicroBatchKind.POPULAR),
                   self._emit(non_popular, MicroBatchKind.NON_POPULAR)]
        else:
            rest = self._popular + self._held
            out = [self._emit(rest[i:i + self.batch_size])
                   for i in range(0, len(rest), self.batch_size)]
        skipped = self._skipped
        out += [self._emit(skipped[i:i + self.batch_size], MicroBatchKind.SKIPPED)
                for i in range(0, len(skipped), self.batch_size)]
        self._popular, self._held, self._skipped = [], [], []
        self._in_set = 0
        self._index = 0
        self._set_id += 1
        return out


def cold_requests(micro_batches: Iterable[MicroBatch], *, learn: bool = False) \
        -> list[ColdRequest]:
    """The cold rows of ``micro_batches`` in the order they are needed (module docstring).

    A lookup is cold if it missed, or if ``learn`` (nothing is on the GPU while learning);
    ``SKIPPED`` micro-batches have none (their samples are not trained).
    """
    out = []
    for batch in micro_batches:
        if batch.kind is MicroBatchKind.SKIPPED:
            continue
        for position, sample in enumerate(batch.samples):
            for index, lookup in enumerate(sample.lookups):
                if learn or not lookup.hit:
                    out.append(ColdRequest(batch.step, position, index, lookup.table,
                                           lookup.row))
    return out
