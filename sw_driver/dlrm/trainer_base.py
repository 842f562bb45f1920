"""What the DLRM trainers share: the learning-rate policy, results, progress, the epoch loop.

:class:`_TrainerBase` holds settings, runs epochs (:meth:`_TrainerBase.train`), records steps
and evaluates; :class:`~sw_driver.dlrm.baseline.BaselineTrainer` and
:class:`~sw_driver.dlrm.trainer.HotlineTrainer` implement ``_train_epoch``.
:class:`ScheduleError` is raised when a schedule loses, duplicates or invents a sample.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sw_driver.data import SampleBlock, iter_minibatches

from .metrics import binary_metrics
from .model import DLRMConfig, default_device, preprocess_dense

__all__ = ["LRSchedule", "ScheduleError", "TrainResult"]


class ScheduleError(RuntimeError):
    """The micro-batches lost, duplicated or invented a sample (a scheduler or trainer bug)."""


@dataclass(frozen=True)
class LRSchedule:
    """DLRM's learning-rate policy (``LRPolicyScheduler`` of ``dlrm_s_pytorch.py``).

    Linear warm-up over the first ``warmup_steps`` optimizer steps, then constant, then from
    ``decay_start_step`` a quadratic decay to zero over ``decay_steps`` steps (never below
    1e-7), then frozen at the last value. ``LRSchedule()`` is the constant rate DLRM's Kaggle
    run uses. (One deliberate difference: when a decay is configured, DLRM's scheduler stays at
    its last warm-up value, ``(W - 1) / W`` of the rate, until the decay starts; this one
    reaches the full rate.)
    """

    warmup_steps: int = 0
    decay_start_step: int = 0
    decay_steps: int = 0

    def __post_init__(self):
        for name in ("warmup_steps", "decay_start_step", "decay_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, not {value!r}")
        if self.decay_steps and self.decay_start_step < self.warmup_steps:
            raise ValueError("the warm-up must finish before the decay starts")

    @classmethod
    def decay_over(cls, total_steps: int, fraction: float) -> LRSchedule:
        """Constant, then the last ``fraction`` of ``total_steps`` decaying to zero."""
        decay = max(1, round(fraction * total_steps))
        return cls(0, max(0, total_steps - decay), decay)

    def factor(self, step: int) -> float:
        """The learning rate of optimizer step ``step`` (from 0) over the base rate."""
        count = step + 1              # torch's scheduler has counted the step when it applies
        if count < self.warmup_steps:
            return 1.0 - (self.warmup_steps - count) / self.warmup_steps
        end = self.decay_start_step + self.decay_steps
        if self.decay_steps and count >= self.decay_start_step:
            done = min(count, end - 1) - self.decay_start_step
            return max(1e-7, ((self.decay_steps - done) / self.decay_steps) ** 2)
        return 1.0


@dataclass
class TrainResult:
    """What a training run produced; :meth:`to_json` is its JSON form.

    Attributes
    ----------
    name : str
        ``"baseline"``, ``"hotline-split"`` or ``"hotline-reformed"``.
    config : dict
        The trainer's settings (model shape, batch size, learning rate, schedule, geometry).
    steps : list of dict
        One per optimizer step: ``step``, ``epoch``, ``phase`` (``"learn"``, ``"run"``,
        ``"baseline"``), ``kind`` (``"mini_batch"``, ``"split"``, or the micro-batch kind
        ``"popular"`` / ``"mixed"`` / ``"non_popular"``), ``samples``, ``popular`` (samples
        classified popular) and ``loss`` (the step's mean loss).
    working_sets : list of dict
        One per scheduler working set (mini-batch in ``SPLIT`` mode): ``epoch``, ``phase``,
        ``samples``, ``popular``, ``popular_fraction``.
    final : dict or None
        Metrics on the held-out data, if any was given.
    stats : dict
        Totals: samples, steps, hot rows, cold rows gathered / written back, port calls...
    seconds : float
        Wall-clock training time (evaluation excluded).
    """

    name: str
    config: dict[str, Any]
    steps: list[dict[str, Any]] = field(default_factory=list)
    working_sets: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, **options) -> str:
        return json.dumps(self.to_dict(), **options)

    def save(self, path: str | os.PathLike) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(self.to_dict(), handle, indent=1)
            handle.write("\n")

    @property
    def losses(self) -> list[float]:
        return [s["loss"] for s in self.steps]


class _Progress:
    """A progress bar with the running loss: tqdm if installed, else a line on stderr (redrawn
    at most once a second, and once more at the end)."""

    def __init__(self, enabled: bool, total: int | None, desc: str):
        self.enabled = enabled
        self.bar = None
        self.count = 0
        self.desc = desc
        self.total = total
        self.loss: float | None = None
        self.last = 0.0
        if not enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self.bar = tqdm(total=total, desc=desc, unit="batch", file=sys.stderr)

    def update(self, batches: int, loss: float | None) -> None:
        if not self.enabled:
            return
        self.count += batches
        self.loss = loss
        if self.bar is not None:
            if loss is not None:
                self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
            self.bar.update(batches)
            return
        now = time.monotonic()
        if now - self.last >= 1.0:
            self.last = now
            self._line()

    def _line(self) -> None:
        total = f"/{self.total}" if self.total else ""
        loss = f", loss {self.loss:.4f}" if self.loss is not None else ""
        print(f"\r{self.desc}: {self.count}{total} batches{loss}", end="", file=sys.stderr,
              flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled and self.count:
            self._line()
            print(file=sys.stderr)


def _blocks(source) -> Iterator[SampleBlock]:
    if isinstance(source, SampleBlock):
        return iter((source,))
    if not hasattr(source, "blocks"):
        raise TypeError(f"source must be a SampleBlock or have blocks(), not {type(source)}")
    return iter(source.blocks())


def _length(source) -> int | None:
    try:
        return len(source)
    except TypeError:
        return None


def _bce_sum(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    # Equal to DLRM's BCELoss(sigmoid(z)) summed, without its clipping at log(0).
    return F.binary_cross_entropy_with_logits(logits, labels, reduction="sum")


class _TrainerBase:
    """What both trainers share: settings, the epoch loop, results, evaluation."""

    name = "trainer"

    def __init__(self, config: DLRMConfig, *, batch_size: int, lr: float, seed: int,
                 device: torch.device | str | None, progress: bool,
                 lr_schedule: LRSchedule | None = None, dtype: torch.dtype = torch.float32):
        if not isinstance(config, DLRMConfig):
            raise TypeError(f"config must be a DLRMConfig, not {config!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, not {batch_size!r}")
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise ValueError(f"lr must be a positive number, not {lr!r}")
        self.config = config
        self.batch_size = batch_size
        self.lr = float(lr)
        self.lr_schedule = LRSchedule() if lr_schedule is None else lr_schedule
        if not isinstance(self.lr_schedule, LRSchedule):
            raise TypeError(f"lr_schedule must be an LRSchedule, not {lr_schedule!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an int, not {seed!r}")
        if not isinstance(progress, bool):
            raise TypeError(f"progress must be True or False, not {progress!r}")
        self.seed = int(seed)
        self.device = torch.device(device) if device is not None else default_device()
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, not {dtype}")
        self.dtype = dtype
        self.progress = progress
        self.result: TrainResult | None = None
        self._step = 0

    def settings(self) -> dict[str, Any]:
        c = self.config
        return {"table_sizes": list(c.table_sizes), "n_dense": c.n_dense, "dim": c.dim,
                "bottom": list(c.bottom), "top": list(c.top), "batch_size": self.batch_size,
                "lr": self.lr, "lr_schedule": asdict(self.lr_schedule), "seed": self.seed,
                "device": str(self.device), "dtype": str(self.dtype).replace("torch.", "")}

    def _set_lr(self) -> float:
        """Set the optimizer's rate for the coming step (DLRM's policy); returns it."""
        lr = self.lr * self.lr_schedule.factor(self._step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def _tensors(self, block: SampleBlock):
        dense = preprocess_dense(block.dense_raw).to(self.device, self.dtype)
        labels = torch.from_numpy(block.labels.reshape(-1, 1)).to(self.device, self.dtype)
        return dense, labels

    def train(self, source, *, epochs: int = 1, eval_source=None) -> TrainResult:
        """Train for ``epochs`` passes over ``source`` (a :class:`SampleBlock` or anything
        with ``blocks()``: :class:`~sw_driver.data.SyntheticCriteo`, a Criteo reader,
        MovieLens) and evaluate on ``eval_source`` if given. Calls continue training."""
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive int, not {epochs!r}")
        self.result = result = TrainResult(self.name, self.settings())
        n = _length(source)
        total = epochs * -(-n // self.batch_size) if n is not None else None
        progress = _Progress(self.progress, total, self.name)
        start = time.perf_counter()
        try:
            self._before_training(source)
            for epoch in range(epochs):
                samples = self._train_epoch(source, epoch, progress)
                if n is not None and samples != n:
                    raise ScheduleError(f"epoch {epoch} trained {samples} samples of {n}")
        finally:
            progress.close()
        result.seconds = time.perf_counter() - start
        result.stats.update(self._stats())
        if eval_source is not None:
            result.final = self.evaluate(eval_source)
        return result

    def _record_step(self, epoch: int, phase: str, kind: str, samples: int, popular: int,
                     loss: float) -> None:
        self.result.steps.append({"step": self._step, "epoch": epoch, "phase": phase,
                                  "kind": kind, "samples": samples, "popular": popular,
                                  "loss": loss})
        self._step += 1

    @torch.no_grad()
    def evaluate(self, source, *, batch_size: int = 4096) -> dict[str, float]:
        """Accuracy, AUC and log loss of the current model on ``source`` (no training)."""
        logits, labels = [], []
        for block in iter_minibatches(_blocks(source), batch_size):
            logits.append(self.predict_logits(block))
            labels.append(block.labels)
        return binary_metrics(np.concatenate(logits), np.concatenate(labels))

    # -- to implement ------------------------------------------------------------------------

    def _before_training(self, source) -> None:
        pass

    def _train_epoch(self, source, epoch: int, progress: _Progress) -> int:
        raise NotImplementedError

    def _stats(self) -> dict[str, Any]:
        return {}

    def predict_logits(self, block: SampleBlock) -> np.ndarray:
        """Logits (float64 ``[n]``) of the samples of ``block``."""
        raise NotImplementedError

    def embedding_tables(self) -> list[np.ndarray]:
        """Every embedding table as a numpy array ``[rows, dim]`` (one assembled view)."""
        raise NotImplementedError

    def mlp_state(self) -> dict[str, np.ndarray]:
        """The MLP parameters by name, as numpy arrays."""
        return {name: p.detach().cpu().numpy().copy()
                for name, p in self.model.named_parameters() if not name.startswith("embed")}
