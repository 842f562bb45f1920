"""Slipstream on the Hotline schedule: popular inputs whose hot rows have gone stale are skipped.

Slipstream (Adnan et al., arXiv 2404.04270; its artifact ``anonymous6116/Slipstream``,
``slipstream.py``) observes that many popular embedding rows train quickly and then barely
move, and that an input touching only such *stale* rows adds little. :class:`SlipstreamTrainer`
is :class:`~sw_driver.dlrm.trainer.HotlineTrainer` (``REFORMED`` or ``SPLIT``) with that rule:

1. **Learning phase and freeze** as Hotline's.
2. **Observation window** (run phase): a snapshot of the hot table is taken after ``start``
   run-phase mini-batches, and a second one ``window`` of the epoch's mini-batches later
   (rounded up, at least one). Training goes on as Hotline's meanwhile; the popular inputs of
   the window are reservoir-sampled (``sample_size`` of them, the trainer's seed) for the
   calibration.
3. **Calibration**: a hot row is *stale* iff every dimension moved by less than ``T`` between
   the snapshots; an input is *skippable* iff it is popular and at least ``alpha`` of its
   lookups are stale rows. ``T`` is found by bisection on ``[0, 0.1]`` (at most 25 steps, as
   the artifact) so that the skippable share of the sample lands in ``[drop - band, drop +
   band]``; if no step lands there, ``T = 0`` and nothing is skipped (the artifact's
   behaviour), and :attr:`calibration` says so.
4. **Skipping** (the rest of the training): every skippable input is taken out of its
   mini-batch before the working-set buffer and the scheduler, and is not trained at all (no
   forward, no backward); the remaining samples are scheduled and trained as Hotline's. The
   stale set is fixed after the calibration (as the artifact's, which segregates once).

Differences from the artifact, and why: it segregates its pre-split hot inputs offline and
samples the calibration inputs from the hot inputs *after* the window (future data); a
streaming trainer has only the inputs it has seen, so the calibration sample comes from the
window's popular inputs. Its window is a share of the *popular* mini-batches
(``--minibatch_percentage``, 0.015 by default, 3% in its Kaggle runs); here ``window`` is a
share of *all* the epoch's mini-batches (0.03): the number of popular mini-batches is not known
before they are scheduled. ``alpha`` is ``--non_changing_index`` (26 for Criteo: every lookup).

Accounting (checked on every epoch, a violation raises
:class:`~sw_driver.dlrm.trainer.ScheduleError`): every input is trained exactly once or skipped
exactly once (trained + skipped == read), skipped inputs were popular and had at least
``alpha`` stale lookups. ``result.stats`` reports ``skipped_samples``, ``trained_samples``,
``stale_rows``, ``threshold`` and the calibration; :meth:`skipped_ids` gives the skipped
inputs' positions per epoch, and :attr:`skip_reasons` counts them by the number of stale lookups.

Skipping needs the schedule decided before the next mini-batch is planned, so the trainer runs
serially (``overlap`` is refused).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from sw_driver.data import SampleBlock

from .model import DLRMConfig
from .trainer import HotlineTrainer, ScheduleError
from .trainer_base import _length

__all__ = ["SlipstreamTrainer", "calibrate_threshold", "stale_rows"]

#: The artifact's bisection: T in [0, THRESHOLD_UPPER], at most BISECTION_STEPS midpoints.
THRESHOLD_UPPER = 0.1
BISECTION_STEPS = 25


def stale_rows(before: torch.Tensor, after: torch.Tensor, threshold: float) -> np.ndarray:
    """Per hot slot: did every dimension move by less than ``threshold``? (``bool [slots]``;
    a NaN, e.g. an unused poisoned slot, is never stale)."""
    return torch.all((after - before).abs() < threshold, dim=1).cpu().numpy()


def skippable(slots: np.ndarray, popular: np.ndarray, stale: np.ndarray,
              alpha: int) -> tuple[np.ndarray, np.ndarray]:
    """``(skip [N], stale lookups [N])`` of samples with hot slots ``slots [N, T]``: a sample
    is skipped iff it is popular and at least ``alpha`` of its lookups are stale rows."""
    count = np.where(popular[:, None], stale[slots], False).sum(axis=1)
    return popular & (count >= alpha), count


def calibrate_threshold(before: torch.Tensor, after: torch.Tensor, sample_slots: np.ndarray,
                        *, drop: float, band: float, alpha: int) -> dict[str, Any]:
    """The artifact's bisection for ``T`` on popular inputs ``sample_slots [S, T]``.

    Returns ``{"threshold", "converged", "steps", "sample_drop", "sample_size"}``: the first
    midpoint whose skippable share of the sample is in ``[drop - band, drop + band]``; else
    threshold 0 (nothing stale) with ``converged`` false."""
    size = len(sample_slots)
    lower, upper = 0.0, THRESHOLD_UPPER
    low, high = drop - band, drop + band
    everything = np.ones(size, dtype=bool)
    ratio = None
    for step in range(1, BISECTION_STEPS + 1):
        threshold = (lower + upper) / 2
        if size == 0:
            break
        skip, _ = skippable(sample_slots, everything, stale_rows(before, after, threshold),
                            alpha)
        ratio = float(skip.mean())
        if low <= ratio <= high:
            return {"threshold": threshold, "converged": True, "steps": step,
                    "sample_drop": ratio, "sample_size": size}
        if ratio < low:
            lower = threshold          # higher T: more rows stale, more inputs dropped
        else:
            upper = threshold
    return {"threshold": 0.0, "converged": False, "steps": BISECTION_STEPS,
            "sample_drop": ratio, "sample_size": size}


class SlipstreamTrainer(HotlineTrainer):
    """:class:`~sw_driver.dlrm.trainer.HotlineTrainer` that skips inputs on stale hot rows
    (module docstring).

    Parameters
    ----------
    config, mode, batch_size, ... : as :class:`~sw_driver.dlrm.trainer.HotlineTrainer`
        (``overlap`` must stay off).
    drop : float
        Target share D of the calibration sample to skip (0.3, the artifact's default).
    band : float
        Accepted distance from ``drop`` (0.08, the artifact's).
    alpha : int, optional
        Stale lookups that make an input skippable; default every lookup (``n_tables``: 26 on
        Criteo, the artifact's ``--non_changing_index``).
    start : int
        Run-phase mini-batches trained before the first snapshot (0, the artifact's).
    window : float
        Share of the epoch's mini-batches between the snapshots (0.03).
    window_batches : int, optional
        The window in mini-batches, overriding ``window`` (for sources without a length).
    sample_size : int
        Popular inputs of the window kept for the calibration (4096).
    """

    def __init__(self, config: DLRMConfig = DLRMConfig(), *, drop: float = 0.3,
                 band: float = 0.08, alpha: int | None = None, start: int = 0,
                 window: float = 0.03, window_batches: int | None = None,
                 sample_size: int = 4096, **options):
        if options.get("overlap"):
            raise ValueError("SlipstreamTrainer runs serially: overlap must be off")
        options["overlap"] = False
        for name, value, low, high in (("drop", drop, 0.0, 1.0), ("band", band, 0.0, 1.0),
                                       ("window", window, 0.0, 1.0)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not low <= value <= high:
                raise ValueError(f"{name} must be in [{low}, {high}], not {value!r}")
        alpha = config.n_tables if alpha is None else alpha
        for name, value, low in (("alpha", alpha, 1), ("start", start, 0),
                                 ("sample_size", sample_size, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, not {value!r}")
        if alpha > config.n_tables:
            raise ValueError(f"alpha {alpha} exceeds the {config.n_tables} lookups per input")
        if window_batches is not None and (isinstance(window_batches, bool)
                                           or not isinstance(window_batches, int)
                                           or window_batches < 1):
            raise ValueError(f"window_batches must be a positive int, not {window_batches!r}")
        super().__init__(config, **options)
        self.name = "slipstream-" + self.mode.name.lower()
        self.drop, self.band, self.alpha = float(drop), float(band), alpha
        self.start, self.window, self.window_batches = start, float(window), window_batches
        self.sample_size = sample_size
        self._rng = np.random.default_rng(options.get("seed", 0))
        self._run_batches = 0                    # run-phase mini-batches pushed so far
        self._window_length = 0
        self._before: torch.Tensor | None = None
        self._sample = np.zeros((0, config.n_tables), dtype=np.int64)
        self._seen = 0                           # popular inputs offered to the reservoir
        self.stale: np.ndarray | None = None     # per hot slot, once calibrated
        self.calibration: dict[str, Any] | None = None
        self._skipped: dict[int, list[np.ndarray]] = {}
        self.skip_reasons: dict[int, int] = {}   # stale lookups -> skipped inputs

    # -- settings and stats --------------------------------------------------------------------

    def settings(self):
        return {**super().settings(), "slipstream": {
            "drop": self.drop, "band": self.band, "alpha": self.alpha, "start": self.start,
            "window": self.window, "window_batches": self.window_batches,
            "sample_size": self.sample_size}}

    def _stats(self):
        counts = super()._stats()
        skipped = sum(len(ids) for parts in self._skipped.values() for ids in parts)
        counts["skipped_samples"] = skipped
        counts["trained_samples"] = counts["samples"] - skipped
        # Skipped inputs were popular: the popular share is of the run phase's inputs.
        run = counts["run_samples"]
        counts["popular_fraction"] = ((counts["popular_samples"] + skipped) / run
                                      if run else None)
        counts["skipped_fraction_of_run"] = skipped / run if run else None
        counts["stale_rows"] = int(self.stale.sum()) if self.stale is not None else None
        counts["threshold"] = self.calibration["threshold"] if self.calibration else None
        counts["calibration"] = self.calibration
        counts["skip_reasons"] = {str(k): v for k, v in sorted(self.skip_reasons.items())}
        return counts

    def skipped_ids(self, epoch: int) -> np.ndarray:
        """Positions in epoch ``epoch`` of the inputs skipped (sorted, int64)."""
        parts = self._skipped.get(epoch, [])
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    # -- the observation window, the calibration and the skipping ------------------------------

    def _before_training(self, source) -> None:
        super()._before_training(source)
        if self.window_batches is not None:
            self._window_length = self.window_batches
            return
        n = _length(source)
        if n is None:
            raise TypeError("the source does not know its length: give window_batches")
        self._window_length = max(1, math.ceil(self.window * -(-n // self.batch_size)))

    def _push(self, scheduler, buffer, block: SampleBlock, phase: str) -> None:
        hit, slot = self._classify(block)
        if phase != "run":
            self._push_classified(scheduler, buffer, block, hit, slot, phase)
            return
        popular = hit.all(axis=1)
        if self.stale is None:
            if self._run_batches == self.start:
                self._before = self.store.hot.detach().clone()
            if self._before is not None:
                self._offer(slot[popular])
            self._push_classified(scheduler, buffer, block, hit, slot, phase)
            self._run_batches += 1
            if self._before is not None and self._run_batches == self.start + \
                    self._window_length:
                self._calibrate()
            return
        skip, count = skippable(slot, popular, self.stale, self.alpha)
        if skip.any():
            first = buffer.next_id + self._epoch_held_back      # the block's first position
            ids = first + np.flatnonzero(skip)
            if not (popular[skip].all() and (count[skip] >= self.alpha).all()):
                raise ScheduleError("a skipped input was not popular on stale rows")
            self._skipped.setdefault(self._epoch, []).append(ids)
            for k, v in zip(*np.unique(count[skip], return_counts=True)):
                self.skip_reasons[int(k)] = self.skip_reasons.get(int(k), 0) + int(v)
            self._epoch_held_back += len(ids)
            keep = ~skip
            block = SampleBlock(block.dense_raw[keep], block.sparse[keep], block.labels[keep])
            hit, slot = hit[keep], slot[keep]
        self._run_batches += 1
        if len(block):
            self._push_classified(scheduler, buffer, block, hit, slot, phase)

    def _offer(self, slots: np.ndarray) -> None:
        """Reservoir sampling (Algorithm R) of the window's popular inputs' slots."""
        room = self.sample_size - len(self._sample)
        if room > 0:
            self._sample = np.concatenate([self._sample, slots[:room]])
            self._seen += min(room, len(slots))
            slots = slots[room:]
        for row in slots:
            self._seen += 1
            j = int(self._rng.integers(self._seen))
            if j < self.sample_size:
                self._sample[j] = row

    def _calibrate(self) -> None:
        after = self.store.hot.detach()
        self.calibration = calibrate_threshold(self._before, after, self._sample,
                                               drop=self.drop, band=self.band, alpha=self.alpha)
        self.calibration["window_batches"] = self._window_length
        self.stale = stale_rows(self._before, after, self.calibration["threshold"])
        self._before, self._sample = None, self._sample[:0]
