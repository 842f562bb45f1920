"""Slipstream on the accelerator: the stale bits in the popularity table, the device's SKIPPED
micro-batches.

:class:`SlipstreamAcceleratorTrainer` is :class:`~sw_driver.dlrm.slipstream.SlipstreamTrainer`
(same observation window, calibration and skipping rule) whose schedule, hot / cold split and
cold rows come from the device, as :class:`~sw_driver.dlrm.accelerator.AcceleratorTrainer`'s.
After the calibration the keys of the stale hot rows are marked on the device
(:meth:`~sw_driver.driver.HotlineDriver.mark_stale`, ``ALPHA`` = ``alpha``), every input is
sent to it, and the device returns the stale inputs in ``SKIPPED`` micro-batches (ids only);
they do not count towards its working sets, so the inputs kept form the same working sets as
Slipstream's (which drops them before its scheduler): parameters, losses and skipped inputs
equal :class:`SlipstreamTrainer`'s bit for bit (``tests/dlrm/test_dlrm_slipstream_device.py``).

The trainer also predicts the skipping from its mirror of the device's table (read back at the
freeze) and the stale set: it needs to know how many inputs of a working set the device keeps
to submit exactly one working set (``W * B`` kept inputs) at a time, and the device's SKIPPED
micro-batches must be exactly the predicted inputs (:class:`ScheduleError` otherwise).

One exception, the working set open at the calibration: its inputs pushed before the stale
set existed must not be skipped, so until it is submitted the stale inputs are dropped in
software (as :class:`SlipstreamTrainer` does) and the marks wait; ``result.stats`` counts
``device_skipped`` and ``software_skipped`` apart.

Accounting (every run): every input is trained once or skipped once, and every input the
device skipped was predicted (``ScheduleError`` otherwise).
"""

from __future__ import annotations

import numpy as np

from sw_driver.data import SampleBlock

from .accelerator import AcceleratorTrainer, _AcceleratorSchedule
from .model import DLRMConfig
from .slipstream import SlipstreamTrainer, skippable
from .trainer import ScheduleError

__all__ = ["SlipstreamAcceleratorTrainer"]


class _SkippingSchedule(_AcceleratorSchedule):
    """The device's schedule with skipped inputs interleaved: a working set is submitted once
    it holds ``limit`` kept inputs (the skipped ones around them go with it)."""

    def __init__(self, trainer, learn: bool):
        super().__init__(trainer, learn)
        self.skip: list[bool] = []
        self.before_marks = 0           # kept inputs held that were pushed before the marks

    @property
    def held(self) -> int:
        return len(self.ids) - sum(self.skip)

    def push_entries(self, entries) -> list:
        """``entries``: ``(device id, sparse row, skipped)`` in stream order."""
        out = []
        for sample_id, row, skip in entries:
            self.ids.append(sample_id)
            self.sparse.append(row)
            self.skip.append(skip)
            if self.held >= self.limit:
                out += self._submit(len(self.ids))
        return out

    def push_block(self, ids, sparse) -> list:
        return self.push_entries(zip(ids, sparse, [False] * len(ids)))

    def flush(self) -> list:
        return self._submit(len(self.ids)) if self.ids else []

    def _submit(self, n: int) -> list:
        ids, self.ids = self.ids[:n], self.ids[n:]
        rows, self.sparse = self.sparse[:n], self.sparse[n:]
        skip, self.skip = self.skip[:n], self.skip[n:]
        self.before_marks = max(0, self.before_marks - (n - sum(skip)))
        t = len(rows[0])
        samples = [(i, list(zip(range(t), row))) for i, row in
                   zip(ids, np.asarray(rows).tolist())]
        kept = np.asarray([row for row, s in zip(rows, skip) if not s]).reshape(-1, t)
        skipped = frozenset(i for i, s in zip(ids, skip) if s)
        return self.trainer._schedule_on_device(samples, kept, learn=self.learn,
                                                skipped=skipped)


class SlipstreamAcceleratorTrainer(AcceleratorTrainer, SlipstreamTrainer):
    """Slipstream on the accelerator (module docstring). Parameters: those of
    :class:`AcceleratorTrainer` and of :class:`SlipstreamTrainer`."""

    def __init__(self, config: DLRMConfig = DLRMConfig(), **options):
        super().__init__(config, **options)
        self.name = "slipstream-accelerator-" + self.mode.name.lower()
        self._marked = False
        self._device_skipped = 0
        self._software_skipped = 0
        self._next_skip_id = 0
        # Skipped inputs' device ids: the upper half of the id space (kept inputs use the
        # working-set buffer's ids, from 0).
        self._skip_base = 1 << (self.driver.config.sample_bits - 1)

    def _stats(self):
        out = super()._stats()
        out.update(device_skipped=self._device_skipped,
                   software_skipped=self._software_skipped, stale_marked=self._marked)
        return out

    def _new_scheduler(self, learn: bool) -> _SkippingSchedule:
        self._open_sets = {}
        self._working_sets = 0
        self._schedule = _SkippingSchedule(self, learn)
        return self._schedule

    def _calibrate(self) -> None:
        super()._calibrate()
        # The kept inputs already held were pushed before the stale set: no marks until
        # they have been submitted.
        self._schedule.before_marks = self._schedule.held

    def _mark_on_device(self) -> None:
        slots = np.flatnonzero(self.stale)
        keys = [key for key in map(self.table.key_of_slot, slots.tolist()) if key is not None]
        found = self.driver.mark_stale(keys)
        if not all(found):
            raise ScheduleError("a stale hot row's key is not in the device's table")
        self.driver.set_alpha(self.alpha)
        # Skipped inputs are held with their working set but do not count towards W * B:
        # the held-sample limit becomes the whole buffer (no early close, as Slipstream's).
        self.driver.write("CAPACITY_LIMIT", self.driver.config.capacity)
        self._marked = True

    def _push(self, scheduler, buffer, block: SampleBlock, phase: str) -> None:
        if phase != "run":
            AcceleratorTrainer._push(self, scheduler, buffer, block, phase)
            return
        # The mirror is the device's table (read back at the freeze): Slipstream's inputs.
        hit, slot = self._classify(block)
        popular = hit.all(axis=1)
        if self.stale is None:
            if self._run_batches == self.start:
                self._before = self.store.hot.detach().clone()
            if self._before is not None:
                self._offer(slot[popular])
            AcceleratorTrainer._push(self, scheduler, buffer, block, phase)
            self._run_batches += 1
            if self._before is not None and self._run_batches == self.start + \
                    self._window_length:
                self._calibrate()
            return
        if not self._marked and scheduler.before_marks == 0:
            self._mark_on_device()
        skip, count = skippable(slot, popular, self.stale, self.alpha)
        first = buffer.next_id + self._epoch_held_back
        if skip.any():
            if not (popular[skip].all() and (count[skip] >= self.alpha).all()):
                raise ScheduleError("a skipped input was not popular on stale rows")
            self._skipped.setdefault(self._epoch, []).append(first + np.flatnonzero(skip))
            for k, v in zip(*np.unique(count[skip], return_counts=True)):
                self.skip_reasons[int(k)] = self.skip_reasons.get(int(k), 0) + int(v)
            self._epoch_held_back += int(skip.sum())
        keep = ~skip
        kept = SampleBlock(block.dense_raw[keep], block.sparse[keep], block.labels[keep])
        n, t = kept.sparse.shape
        ids = iter(buffer.push(kept, np.zeros((n, t), dtype=bool),
                               np.zeros((n, t), dtype=np.int64)))
        entries = []
        for row, s in zip(block.sparse, skip.tolist()):
            if not s:
                entries.append((next(ids), row, False))
            elif self._marked:                       # the device skips it
                entries.append((self._skip_base + self._next_skip_id, row, True))
                self._next_skip_id = (self._next_skip_id + 1) % self._skip_base
                self._device_skipped += 1
            else:                                    # dropped here (module docstring)
                self._software_skipped += 1
        self._run(scheduler.push_entries(entries), phase)
        self.port.unstage()
        buffer.closed(scheduler.held)
        self._run_batches += 1
