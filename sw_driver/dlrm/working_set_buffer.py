"""The samples of the open working set, by sample id, until each is trained exactly once."""

from __future__ import annotations

import numpy as np

from sw_driver.data import SampleBlock

from .trainer_base import ScheduleError

__all__ = ["WorkingSetBuffer"]


class WorkingSetBuffer:
    """The samples pushed to the scheduler and not yet trained, by sample id.

    Holds them in arrays from sample ``base`` on; emptied whenever the scheduler holds nothing,
    so it never grows beyond a working set (plus the mini-batch being pushed). Checks that every
    sample is trained exactly once (:class:`ScheduleError` otherwise).
    """

    def __init__(self, n_tables: int):
        self.base = 0
        self.next_id = 0
        self.parts: list[tuple] = []
        self.arrays = None
        self.waiting = np.zeros(0, dtype=bool)      # pushed, not yet taken (from ``base`` on)
        self.n_tables = n_tables

    def push(self, block: SampleBlock, hit: np.ndarray, slot: np.ndarray) -> range:
        ids = range(self.next_id, self.next_id + len(block))
        self.parts.append((block.dense_raw, block.sparse, block.labels, hit, slot))
        self.arrays = None
        self.waiting = np.concatenate([self.waiting, np.ones(len(block), dtype=bool)])
        self.next_id += len(block)
        return ids

    def _joined(self) -> list[np.ndarray]:
        if self.arrays is None:
            self.arrays = [np.concatenate(columns) for columns in zip(*self.parts)]
            self.parts = [tuple(self.arrays)]
        return self.arrays

    def take(self, sample_ids):
        """``(dense_raw, sparse, labels, hit, slot)`` of ``sample_ids``, marking them trained."""
        pos = np.asarray(sample_ids, dtype=np.int64).ravel() - self.base
        bad = (pos < 0) | (pos >= len(self.waiting))
        if not bad.any():
            fresh = self.waiting[pos]
            if fresh.all():
                before = int(np.count_nonzero(self.waiting))
                self.waiting[pos] = False
                if before - int(np.count_nonzero(self.waiting)) == len(pos):
                    return tuple(a[pos] for a in self._joined())
                bad = np.zeros(len(pos), dtype=bool)
                _, first = np.unique(pos, return_index=True)
                bad[np.setdiff1d(np.arange(len(pos)), first)] = True     # a repeat
            else:
                bad = ~fresh
        i = int(pos[int(np.argmax(bad))]) + self.base
        raise ScheduleError(f"sample {i} scheduled twice, or never pushed")

    def answer(self, sample_ids: list[int], hit: np.ndarray, slot: np.ndarray) -> None:
        """Set the popularity table's answers (``[n, T]``) of pushed samples (when they come
        from the device, after the push)."""
        arrays = self._joined()
        pos = np.asarray(sample_ids, dtype=np.int64) - self.base
        arrays[3][pos] = hit
        arrays[4][pos] = slot

    def closed(self, held: int) -> None:
        """The scheduler holds ``held`` samples: if none, every pushed one must be trained.
        Otherwise the trained prefix is dropped once it is most of the buffer (pushes that
        never leave the scheduler empty, e.g. mini-batches Slipstream thinned, would
        otherwise grow the buffer, and the cost of joining it, over the whole epoch)."""
        if held:
            first = int(np.argmax(self.waiting)) if self.waiting.any() else len(self.waiting)
            if first and 2 * first >= len(self.waiting):
                self.arrays = [a[first:] for a in self._joined()]
                self.parts = [tuple(self.arrays)]
                self.waiting = self.waiting[first:]
                self.base += first
            return
        if self.waiting.any():
            lost = (np.flatnonzero(self.waiting) + self.base).tolist()
            raise ScheduleError(f"{len(lost)} samples were never scheduled (first: {lost[:5]})")
        self.base = self.next_id
        self.parts = []
        self.arrays = None
        self.waiting = np.zeros(0, dtype=bool)
