"""Periodic re-learning: the EAL goes back to ``LEARN`` for ``k`` mini-batches every ``N``
working sets, so that a hot set learned at the start of the epoch follows popularity that drifts.

The paper says the EAL "periodically switches back to learning" and gives no period, nor what
happens to the learned entries. This module fixes both as parameters (:class:`RelearnPolicy`)
and runs the policy three ways that give the same popular flags, sample for sample:

* :class:`RelearningEal`, over arrays: the golden model's fast paths
  (:func:`~hotline_hw.model.fast_table.learn_many` while learning,
  :class:`~hotline_hw.model.fast_table.FrozenTable` while running), for ``make paper``;
* :func:`golden_popular_flags`, the golden :class:`PopularityTable` lookup by lookup (the
  specification the two others are tested against);
* :func:`drive`, the host driver's calls on any backend (golden model, cocotb, native RTL).

Schedule
--------
Mini-batches are numbered from 0. The first ``initial`` of them are the learning window (the
paper's 5% of the epoch). From there the run phase repeats a period of ``every * working_set``
mini-batches in ``RUN`` followed by ``learn_batches`` mini-batches in ``LEARN``; ``every = 0``
never re-learns (the paper's single learning phase). A mini-batch in ``LEARN`` is served as in
the learning window: the table only learns, every lookup is gathered from host memory, no
sample counts as popular.

Entering ``LEARN`` again: aged, not cleared (``reset="age"``, the default)
--------------------------------------------------------------------------
Before each re-learning phase the table is either *aged*, every valid entry set to RRPV 3
(SRRIP's "distant re-reference": first in line for eviction, but still a hit), or *cleared*
(every entry invalid, as before the first window). Aging is the default, because:

1. *It loses nothing the short window does not replace.* A cleared table holds only what
   ``k`` mini-batches saw, so ``k`` must be as long as the first window (5% of the epoch, all
   of it served from host memory) to get back to the same hot set. An aged table keeps the
   rows that are still hot (one hit in the window brings them back to RRPV 0) and lets new hot
   rows displace exactly the stale ones (SRRIP evicts RRPV 3 first, and the new rows enter at
   RRPV 2), so a window a fraction of the first one suffices. ``make paper`` measures both
   (``drift`` in ``docs/paper/results.json``).
2. *A stale entry that survives costs capacity, never correctness*: its row is simply served
   from the GPU copy. Rows that left the table are written back as usual.
3. *Cost on the device*: clearing is one host command; aging is a host READ of every entry
   and a host WRITE of each valid one over AXI4-Lite (:func:`age_device`): for the paper's 2M
   entries about 17M register accesses (4 per READ, 5 per WRITE with the completion polls),
   some 17 s at 1 us per PCIe register access, per re-learning phase. Small against an epoch
   (the paper's Kaggle epoch takes minutes) but not free; an AGE host command sweeping the
   sets in the RTL would make it as cheap as CLEAR (not done here: the table's RTL is being
   changed on another branch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np

from hotline_hw import register_map as rmap
from hotline_hw.model.fast_table import FrozenTable, learn_many
from hotline_hw.model.popularity_table import RRPV_MAX, Mode, PopularityTable

__all__ = ["RESETS", "RelearnPolicy", "RelearningEal", "age_device", "age_table", "drive",
           "golden_popular_flags", "reset_table"]

#: How a table is prepared for re-learning (module docstring).
RESETS = ("age", "clear")


@dataclass(frozen=True)
class RelearnPolicy:
    """When the EAL learns (module docstring: *Schedule*).

    Parameters
    ----------
    initial : int
        Mini-batches of the first learning window (>= 0).
    every : int
        Working sets in ``RUN`` between two re-learning phases; 0 never re-learns.
    learn_batches : int
        ``k``: mini-batches of each re-learning phase (>= 1 when ``every`` > 0).
    working_set : int
        ``W``: mini-batches per working set (>= 1).
    reset : str
        ``"age"`` or ``"clear"``: what happens to the entries before re-learning.
    """

    initial: int
    every: int = 0
    learn_batches: int = 0
    working_set: int = 4
    reset: str = "age"

    def __post_init__(self):
        for name in ("initial", "every", "learn_batches", "working_set"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, not {value!r}")
        if self.working_set < 1:
            raise ValueError(f"working_set must be at least 1, not {self.working_set}")
        if self.every and self.learn_batches < 1:
            raise ValueError(f"re-learning every {self.every} working sets needs "
                             f"learn_batches >= 1, not {self.learn_batches}")
        if self.reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, not {self.reset!r}")

    @property
    def period(self) -> int:
        """Mini-batches of one ``RUN`` + ``LEARN`` period of the run phase (0: no period)."""
        return self.every * self.working_set + self.learn_batches if self.every else 0

    def learning(self, batch) -> np.ndarray | bool:
        """Whether mini-batch ``batch`` (int or int array) is learned rather than run."""
        batch = np.asarray(batch, dtype=np.int64)
        learn = batch < self.initial
        if self.every:
            learn = learn | ((batch - self.initial) % self.period >= self.every * self.working_set)
        return bool(learn) if learn.ndim == 0 else learn

    def segments(self, n_batches: int) -> Iterator[tuple[int, int, bool]]:
        """``(first, stop, learning)`` runs of mini-batches covering ``0 .. n_batches - 1``."""
        start = 0
        while start < n_batches:
            learn = self.learning(start)
            if start < self.initial:
                stop = self.initial
            elif not self.every:
                stop = n_batches
            else:
                phase = (start - self.initial) % self.period
                edge = self.every * self.working_set
                stop = start + (edge - phase if phase < edge else self.period - phase)
            yield start, min(stop, n_batches), learn
            start = stop


def age_table(table: PopularityTable) -> None:
    """Set every valid entry of ``table`` to RRPV 3 (host writes; tags and validity kept)."""
    dump = table.dump()
    for slot in np.flatnonzero(dump["valid"]).tolist():
        table.write_entry(slot, True, RRPV_MAX, int(dump["tag"][slot]))


def reset_table(table: PopularityTable, reset: str) -> None:
    """Prepare ``table`` for a re-learning phase: :func:`age_table` or ``clear``."""
    if reset == "age":
        age_table(table)
    elif reset == "clear":
        table.clear()
    else:
        raise ValueError(f"reset must be one of {RESETS}, not {reset!r}")


class RelearningEal:
    """The policy over arrays, on the golden model's fast paths, fed in chunks of samples.

    Parameters
    ----------
    table : PopularityTable
        The EAL (its contents are learned in place; usually empty and in ``LEARN``).
    policy : RelearnPolicy
    batch_size : int
        ``B``: samples per mini-batch.
    sizes : sequence of int, optional
        Rows per table, for :class:`FrozenTable`'s dense index (faster lookups).
    """

    def __init__(self, table: PopularityTable, policy: RelearnPolicy, batch_size: int,
                 sizes=None):
        self.table, self.policy, self.batch_size = table, policy, int(batch_size)
        self.sizes = sizes
        self.frozen: FrozenTable | None = None
        self.relearned = 0                                 # re-learning phases entered

    def offer(self, start: int, sparse: np.ndarray) -> np.ndarray:
        """Popular flags of samples ``start .. start + len(sparse) - 1`` (``sparse``: their row
        ids [n, T]); learning samples are not popular. Chunks must come in order."""
        n, t = sparse.shape
        popular = np.zeros(n, bool)
        tables = np.broadcast_to(np.arange(t, dtype=np.int64), (n, t))
        first_batch = start // self.batch_size
        last_batch = (start + n - 1) // self.batch_size if n else first_batch - 1
        for b0, b1, learn in self.policy.segments(last_batch + 1):
            if b1 <= first_batch:
                continue
            lo = max(b0 * self.batch_size - start, 0)
            hi = min(b1 * self.batch_size - start, n)
            if lo >= hi:
                continue
            if learn:
                if self.frozen is not None:                # RUN -> LEARN: a re-learning phase
                    self.frozen = None
                    reset_table(self.table, self.policy.reset)
                    self.relearned += 1
                self.table.mode = Mode.LEARN
                learn_many(self.table, tables[lo:hi], sparse[lo:hi])
            else:
                if self.frozen is None:
                    self.table.mode = Mode.RUN
                    self.frozen = FrozenTable(self.table, dense_rows=self.sizes)
                hit, _, _ = self.frozen.lookup_many(tables[lo:hi], sparse[lo:hi])
                popular[lo:hi] = hit.reshape(hi - lo, t).all(axis=1)
        return popular


def golden_popular_flags(table: PopularityTable, policy: RelearnPolicy, batch_size: int,
                         sparse: np.ndarray) -> np.ndarray:
    """The specification of :class:`RelearningEal`: the golden table, one mini-batch at a
    time, the table reset (:func:`reset_table`) on every ``RUN`` -> ``LEARN`` edge."""
    n, t = sparse.shape
    popular = np.zeros(n, bool)
    tables = np.broadcast_to(np.arange(t, dtype=np.int64), (n, t))
    was_learning = True
    for b in range(-(-n // batch_size)):
        lo, hi = b * batch_size, min((b + 1) * batch_size, n)
        learn = policy.learning(b)
        if learn and not was_learning:
            reset_table(table, policy.reset)
        table.mode = Mode.LEARN if learn else Mode.RUN
        hit, _, _ = table.lookup_many(tables[lo:hi], sparse[lo:hi])
        if not learn:
            popular[lo:hi] = np.asarray(hit, bool).reshape(hi - lo, t).all(axis=1)
        was_learning = learn
    return popular


def _host(driver, op: int, slot: int = 0) -> dict:
    """One popularity-table host command through the registers (HOST_CMD, HOST_DONE)."""
    done = driver.read("HOST_DONE")
    driver.write("HOST_CMD", rmap.register("HOST_CMD").pack(op=op, slot=slot))
    for _ in range(10_000):
        if driver.read("HOST_DONE") != done:
            return driver.read_fields("HOST_RESULT")
    raise RuntimeError(f"host command {op} on slot {slot} did not complete")


def age_device(driver) -> int:
    """:func:`age_table` on the device behind ``driver`` (a :class:`SyncHotlineDriver`): a
    host READ of every slot, a host WRITE at RRPV 3 of each valid one. Returns the entries
    aged."""
    aged = 0
    for slot in range(driver.config.geometry.entries):
        entry = _host(driver, 0, slot)
        if entry["valid"]:
            driver.write("HOST_ENTRY", rmap.register("HOST_ENTRY").pack(
                valid=1, rrpv=RRPV_MAX, tag=entry["tag"]))
            _host(driver, 1, slot)
            aged += 1
    return aged


def drive(driver, minibatches: Iterable[Sequence], policy: RelearnPolicy) \
        -> Iterator[tuple[bool, int, object]]:
    """Run ``minibatches`` (each a list of samples as :meth:`HotlineDriver.submit` takes them)
    through ``driver`` (a configured :class:`SyncHotlineDriver`) under ``policy``.

    Learning mini-batches are submitted one at a time with ``learn=True``; running ones as
    working sets of up to ``W`` mini-batches (cut short where a re-learning phase starts), with
    the table aged or cleared on each ``RUN`` -> ``LEARN`` edge. Yields ``(learning, first
    mini-batch, WorkingSetResult)`` per submit.
    """
    pending: list = []
    pending_first = 0
    was_learning = True

    def flush():
        samples = [s for batch in pending for s in batch]
        return False, pending_first, driver.submit(samples, learn=False)

    for b, batch in enumerate(minibatches):
        learn = policy.learning(b)
        if learn:
            if pending:
                yield flush()
                pending = []
            if not was_learning:
                if policy.reset == "age":
                    age_device(driver)
                else:
                    driver.clear_table()
            yield True, b, driver.submit(list(batch), learn=True)
        else:
            if not pending:
                pending_first = b
            pending.append(list(batch))
            if len(pending) == policy.working_set:
                yield flush()
                pending = []
        was_learning = learn
    if pending:
        yield flush()
