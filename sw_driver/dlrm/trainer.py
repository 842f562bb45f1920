"""DLRM training: the baseline, and the Hotline schedule (exact or re-formed).

:class:`BaselineTrainer`
    DLRM as its repository trains it: every table in one place (an ``nn.EmbeddingBag`` per
    table on the device), plain SGD, mini-batches of ``batch_size`` samples in data order, one
    optimizer step each, loss = mean binary cross-entropy over the mini-batch.

:class:`HotlineTrainer`
    The same model trained on the accelerator's schedule, with the embedding rows split between
    a hot table on the device and cold rows in host memory
    (:class:`~sw_driver.dlrm.embeddings.HotlineEmbeddings`):

    1. **Learning phase** (first epoch, the first ``learn_fraction`` of the mini-batches, 5% by
       default as in the paper): every lookup goes through the popularity table in ``LEARN``
       mode; no sample is popular, every row is gathered from host memory and written back, and
       the steps are the baseline's (one per mini-batch, in data order).
    2. **Freeze**: the table goes to ``RUN``, its hot set moves to the device.
    3. **Run**: every lookup is classified by the table; the micro-batch scheduler model
       (:class:`~hotline_hw.model.scheduler.MicroBatchScheduler`) forms the micro-batches.

       * ``ScheduleMode.SPLIT`` (*exact*): each mini-batch becomes its popular and its
         non-popular micro-batch; both are run forward and backward with the loss divided by
         the *mini-batch* size, their gradients add up, and one optimizer step follows. That is
         the baseline's step up to float summation order.
       * ``ScheduleMode.REFORMED`` (the paper's): working sets of ``working_set`` mini-batches
         are re-formed into popular micro-batches and non-popular ones; each micro-batch is one
         optimizer step with its own mean loss.

    In each step the distinct cold rows are gathered once through the port, updated by SGD
    after the backward pass and every one of them written back; hot rows are updated on the
    device by the optimizer (sparse gradients, as DLRM's embedding bags).

Guarantees checked at run time (a violation raises, it is never silently repaired):

* every sample is trained exactly once per epoch: the micro-batches of each working set must
  cover its samples exactly (:class:`ScheduleError`), and the epoch's count must equal the data's;
* every gathered cold row is written back after its step;
* a row id outside its table raises :class:`~sw_driver.dlrm.model.EmbeddingIndexError` naming
  table, row and sample (position in the epoch); a hot set larger than the popularity table
  raises :class:`~hotline_hw.model.popularity_table.HotSetOverflowError`.

Results (:class:`TrainResult`) are JSON: per step the loss, per working set the popular fraction,
and the final metrics on held-out data (:func:`~sw_driver.dlrm.metrics.binary_metrics`).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from hotline_hw.model.popularity_table import Mode, PopularityTable, TableGeometry
from hotline_hw.model.scheduler import (Lookup, MicroBatch, MicroBatchKind, MicroBatchScheduler,
                                        ScheduleMode)
from sw_driver.data import SampleBlock, iter_minibatches

from .cold_rows import ColdRowPort, GatherModelPort, HostEmbeddingMemory
from .embeddings import HotlineEmbeddings, pack_keys
from .metrics import binary_metrics
from .model import DLRM, DLRMConfig, check_indices, default_device, initial_table, preprocess_dense

__all__ = [
    "BaselineTrainer",
    "HotlineTrainer",
    "LRSchedule",
    "ScheduleError",
    "TrainResult",
    "compare_parameters",
    "default_geometry",
    "plot_results",
]


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


class BaselineTrainer(_TrainerBase):
    """DLRM's own training (see the module docstring).

    Parameters
    ----------
    config : DLRMConfig
        Model shape (default: Kaggle).
    batch_size : int
        Samples per mini-batch (default 128, DLRM's Kaggle run).
    lr : float
        SGD learning rate (0.1).
    lr_schedule : LRSchedule, optional
        DLRM's warm-up / decay policy over optimizer steps; default constant (DLRM's Kaggle run).
    seed : int
        Initialisation seed; a :class:`HotlineTrainer` with the same seed starts from the same
        parameters.
    device : torch.device or str, optional
        Default :func:`~sw_driver.dlrm.model.default_device`.
    dtype : torch.dtype
        ``torch.float32`` (default, as DLRM and the hardware) or ``torch.float64`` (to verify
        schedules far below float32's rounding; see :class:`HotlineTrainer`).
    progress : bool
        Show a progress bar with the loss.

    Members
    -------
    model : DLRM
        With its embedding tables, on ``device``.
    optimizer : torch.optim.SGD
    """

    name = "baseline"

    def __init__(self, config: DLRMConfig = DLRMConfig(), *, batch_size: int = 128,
                 lr: float = 0.1, lr_schedule: LRSchedule | None = None, seed: int = 0,
                 device=None, dtype: torch.dtype = torch.float32, progress: bool = False):
        super().__init__(config, batch_size=batch_size, lr=lr, seed=seed, device=device,
                         progress=progress, lr_schedule=lr_schedule, dtype=dtype)
        self.model = DLRM(config, seed=seed).to(self.device, self.dtype)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=self.lr)
        self._samples = 0

    def _train_epoch(self, source, epoch, progress) -> int:
        position = 0
        n_tables = self.config.n_tables
        for block in iter_minibatches(_blocks(source), self.batch_size):
            n = len(block)
            check_indices(block.sparse, self.config.table_sizes, first_sample=position,
                          where=f"epoch {epoch}")
            dense, labels = self._tensors(block)
            indices = torch.from_numpy(np.ascontiguousarray(block.sparse.T)).to(self.device)
            offsets = torch.arange(n, device=self.device).expand(n_tables, n)
            self.optimizer.zero_grad(set_to_none=True)
            self._set_lr()
            loss = _bce_sum(self.model.logits(dense, offsets, indices), labels) / n
            loss.backward()
            self.optimizer.step()
            value = loss.item()
            self._record_step(epoch, "baseline", "mini_batch", n, 0, value)
            progress.update(1, value)
            position += n
        self._samples += position
        return position

    def _stats(self):
        return {"samples": self._samples, "steps": self._step}

    @torch.no_grad()
    def predict_logits(self, block):
        n = len(block)
        check_indices(block.sparse, self.config.table_sizes)
        dense, _ = self._tensors(block)
        indices = torch.from_numpy(np.ascontiguousarray(block.sparse.T)).to(self.device)
        offsets = torch.arange(n, device=self.device).expand(self.config.n_tables, n)
        return self.model.logits(dense, offsets, indices)[:, 0].double().cpu().numpy()

    def embedding_tables(self):
        return self.model.embedding_tables()


def default_geometry(config: DLRMConfig, *, set_bits: int = 14, ways: int = 4) -> TableGeometry:
    """A popularity table for ``config``: the paper-sized FPGA default (16K sets x 4 ways,
    5 + 24 key bits), with the key widths widened if the tables need more."""
    table_bits = max(5, (config.n_tables - 1).bit_length())
    row_bits = max(24, (max(config.table_sizes) - 1).bit_length())
    return TableGeometry(table_bits=table_bits, row_bits=row_bits, set_bits=set_bits, ways=ways)


class _WorkingSetBuffer:
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
        self.outstanding: set[int] = set()
        self.n_tables = n_tables

    def push(self, block: SampleBlock, hit: np.ndarray, slot: np.ndarray) -> range:
        ids = range(self.next_id, self.next_id + len(block))
        self.parts.append((block.dense_raw, block.sparse, block.labels, hit, slot))
        self.arrays = None
        self.outstanding.update(ids)
        self.next_id += len(block)
        return ids

    def take(self, sample_ids: list[int]):
        """``(dense_raw, sparse, labels, hit, slot)`` of ``sample_ids``, marking them trained."""
        for i in sample_ids:
            if i not in self.outstanding:
                raise ScheduleError(f"sample {i} scheduled twice, or never pushed")
            self.outstanding.remove(i)
        if self.arrays is None:
            self.arrays = [np.concatenate(columns) for columns in zip(*self.parts)]
            self.parts = [tuple(self.arrays)]
        pos = np.asarray(sample_ids, dtype=np.int64) - self.base
        return tuple(a[pos] for a in self.arrays)

    def answer(self, sample_ids: list[int], hit: np.ndarray, slot: np.ndarray) -> None:
        """Set the popularity table's answers (``[n, T]``) of pushed samples (when they come
        from the device, after the push)."""
        if self.arrays is None:
            self.arrays = [np.concatenate(columns) for columns in zip(*self.parts)]
            self.parts = [tuple(self.arrays)]
        pos = np.asarray(sample_ids, dtype=np.int64) - self.base
        self.arrays[3][pos] = hit
        self.arrays[4][pos] = slot

    def closed(self, held: int) -> None:
        """The scheduler holds ``held`` samples: if none, every pushed one must be trained."""
        if held:
            return
        if self.outstanding:
            lost = sorted(self.outstanding)
            raise ScheduleError(f"{len(lost)} samples were never scheduled (first: {lost[:5]})")
        self.base = self.next_id
        self.parts = []
        self.arrays = None


class _LookupCache:
    """The scheduler model's :class:`Lookup` records of a mini-batch, made fast.

    A lookup is immutable and the same ``(table, row, hit, slot)`` recurs all the time (that is
    the skew Hotline exploits), so each distinct one is built once and shared: per mini-batch the
    distinct lookups are found with numpy, and each sample's tuple is picked from them. Building
    1.3M records one by one costs seconds (and triggers the garbage collector over and over).
    The cache is dropped when it exceeds ``limit`` records.
    """

    def __init__(self, config: DLRMConfig, geometry: TableGeometry, limit: int = 1 << 20):
        self.rows = max(config.table_sizes)
        self.entries = geometry.entries
        bits = ((config.n_tables * self.rows - 1).bit_length() + 1
                + (self.entries - 1).bit_length())
        self.packed = bits <= 62
        self.limit = limit
        self.cache: dict[int, Lookup] = {}

    def of(self, sparse: np.ndarray, hit: np.ndarray, slot: np.ndarray) -> list[tuple]:
        """The lookups of each sample (a tuple of ``T`` :class:`Lookup` per sample)."""
        n, t = sparse.shape
        tables = np.broadcast_to(np.arange(t, dtype=np.int64), (n, t))
        if self.packed:
            codes = ((tables * self.rows + sparse) * 2 + hit) * self.entries + slot
            unique, inverse = np.unique(codes.ravel(), return_inverse=True)
            first = np.zeros(len(unique), dtype=np.int64)
            first[inverse] = np.arange(inverse.size)   # any occurrence: they are all equal
        else:
            columns = np.stack([tables.ravel(), sparse.ravel(), hit.ravel(), slot.ravel()], 1)
            unique, first, inverse = np.unique(columns, axis=0, return_index=True,
                                               return_inverse=True)
            unique = [tuple(u) for u in unique.tolist()]
        if len(self.cache) > self.limit:
            self.cache.clear()
        cache = self.cache
        flat_t, flat_r = tables.ravel()[first].tolist(), sparse.ravel()[first].tolist()
        flat_h, flat_s = hit.ravel()[first].tolist(), slot.ravel()[first].tolist()
        records = []
        for code, tb, row, h, sl in zip(unique if not self.packed else unique.tolist(),
                                        flat_t, flat_r, flat_h, flat_s):
            record = cache.get(code)
            if record is None:
                record = cache[code] = Lookup(tb, row, h, sl)
            records.append(record)
        inverse = inverse.reshape(n, t).tolist()
        if t == 1:
            return [(records[i[0]],) for i in inverse]
        return [itemgetter(*i)(records) for i in inverse]


class HotlineTrainer(_TrainerBase):
    """DLRM on the Hotline schedule with the embeddings split hot / cold (module docstring).

    Parameters
    ----------
    config : DLRMConfig
        Model shape (default: Kaggle).
    mode : ScheduleMode
        ``REFORMED`` (the paper's, default) or ``SPLIT`` (exact: the baseline's steps).
    batch_size, lr, lr_schedule, seed, device, dtype, progress
        As :class:`BaselineTrainer` (same seed, same initial parameters). With
        ``dtype=torch.float64`` the host image holds float64 rows too (see
        :class:`HostEmbeddingMemory`): exact mode then matches the baseline to about 1e-12 on
        any model, where float32 can differ by far more than its rounding on wide MLPs (a
        pre-activation within rounding of zero takes the other side of a ReLU and the step
        changes by a whole gradient term).
    working_set : int
        Mini-batches per working set in ``REFORMED`` mode (4, the paper's).
    learn_fraction : float
        Share of the first epoch's mini-batches in the learning phase, rounded up (0.05).
    learn_batches : int, optional
        The learning phase's length in mini-batches, overriding ``learn_fraction`` (needed when
        the source does not know its length).
    geometry : TableGeometry, optional
        The popularity table's; default :func:`default_geometry`.
    hot_set : iterable of (table, row), optional
        A hot set chosen in software (e.g. by the oracle profiler): loaded into the table and
        moved to the device at construction, and there is no learning phase. Raises
        :class:`~hotline_hw.model.popularity_table.HotSetOverflowError` if it does not fit.
    memory_options : dict, optional
        ``stride``, ``align``, ``base`` of the :class:`HostEmbeddingMemory`.
    port_factory : callable
        Builds the :class:`ColdRowPort` from the host memory (default :class:`GatherModelPort`).
    poison : bool
        NaN in moved rows' host copies and unused hot slots (see
        :class:`~sw_driver.dlrm.embeddings.HotlineEmbeddings`).

    Members
    -------
    model : DLRM
        The MLPs (no embedding tables), on ``device``.
    table : PopularityTable
    memory : HostEmbeddingMemory
    port : ColdRowPort
    store : HotlineEmbeddings
        The hot table (``store.hot``) and the cold-row traffic.
    optimizer : torch.optim.SGD
        Over the MLPs and the hot table; the cold rows' SGD step is applied by the store.
    """

    def __init__(self, config: DLRMConfig = DLRMConfig(), *,
                 mode: ScheduleMode = ScheduleMode.REFORMED, batch_size: int = 128,
                 lr: float = 0.1, lr_schedule: LRSchedule | None = None,
                 working_set: int = 4, learn_fraction: float = 0.05,
                 learn_batches: int | None = None, geometry: TableGeometry | None = None,
                 hot_set: Iterable[tuple[int, int]] | None = None,
                 memory_options: dict[str, int] | None = None,
                 port_factory: Callable[[HostEmbeddingMemory], ColdRowPort] = GatherModelPort,
                 seed: int = 0, device=None, dtype: torch.dtype = torch.float32,
                 progress: bool = False, poison: bool = True):
        super().__init__(config, batch_size=batch_size, lr=lr, seed=seed, device=device,
                         progress=progress, lr_schedule=lr_schedule, dtype=dtype)
        self.mode = ScheduleMode(mode)
        self.name = "hotline-" + self.mode.name.lower()
        if isinstance(working_set, bool) or not isinstance(working_set, int) or working_set < 1:
            raise ValueError(f"working_set must be a positive int, not {working_set!r}")
        if isinstance(learn_fraction, bool) or not isinstance(learn_fraction, (int, float)) \
                or not 0 <= learn_fraction <= 1:
            raise ValueError(f"learn_fraction must be in [0, 1], not {learn_fraction!r}")
        if learn_batches is not None and (not isinstance(learn_batches, int) or learn_batches < 0):
            raise ValueError(f"learn_batches must be a non-negative int, not {learn_batches!r}")
        self.working_set = working_set
        self.learn_fraction = float(learn_fraction)
        self.learn_batches = learn_batches
        geometry = default_geometry(config) if geometry is None else geometry
        layout = geometry.key_layout
        if config.n_tables > layout.num_tables or max(config.table_sizes) > layout.rows_per_table:
            raise ValueError(f"the popularity table's keys ({geometry.table_bits} table bits, "
                             f"{geometry.row_bits} row bits) cannot name every row of "
                             f"{config.n_tables} tables of up to {max(config.table_sizes)} rows")
        self.geometry = geometry
        self.table = PopularityTable(geometry, Mode.LEARN)
        self.memory = HostEmbeddingMemory(
            config.table_sizes, config.dim,
            dtype=np.float64 if self.dtype == torch.float64 else np.float32,
            **(memory_options or {}))
        self.memory.load_tables([initial_table(config, t, seed) for t in range(config.n_tables)])
        self.port = port_factory(self.memory)
        self.store = HotlineEmbeddings(config, self.memory, self.port, self.table, self.device,
                                       poison=poison)
        self.model = DLRM(config, seed=seed, with_embeddings=False).to(self.device, self.dtype)
        self.optimizer = torch.optim.SGD([*self.model.parameters(), self.store.hot], lr=self.lr)
        self._epochs_done = 0
        self._learn_left = 0
        self._counts = {"samples": 0, "learn_batches": 0, "popular_samples": 0,
                        "run_samples": 0, "early_closes": 0}
        self._lookups = _LookupCache(config, geometry)
        if hot_set is not None:
            self.store.load_hot_set(hot_set)
            self._freeze()

    # -- settings and stats --------------------------------------------------------------------

    def settings(self):
        g = self.geometry
        return {**super().settings(), "mode": self.mode.name, "working_set": self.working_set,
                "learn_fraction": self.learn_fraction, "learn_batches": self.learn_batches,
                "geometry": {"table_bits": g.table_bits, "row_bits": g.row_bits,
                             "set_bits": g.set_bits, "ways": g.ways, "entries": g.entries},
                "memory_bytes": self.memory.size}

    def _stats(self):
        counts = dict(self._counts)
        counts["steps"] = self._step
        counts["hot_rows"] = len(self.store.hot_slots)
        counts["cold_rows_gathered"] = self.store.rows_gathered
        counts["cold_rows_written_back"] = self.store.rows_written_back
        run = counts["run_samples"]
        counts["popular_fraction"] = counts["popular_samples"] / run if run else None
        for name in ("gather_calls", "write_back_calls", "rows_gathered", "rows_written"):
            if hasattr(self.port, name):
                counts["port_" + name] = getattr(self.port, name)
        return counts

    # -- training ------------------------------------------------------------------------------

    def _before_training(self, source) -> None:
        if self.store.frozen or self._epochs_done:
            self._learn_left = 0
            return
        if self.learn_batches is not None:
            self._learn_left = self.learn_batches
            return
        n = _length(source)
        if n is None:
            raise TypeError("the source does not know its length: give learn_batches")
        self._learn_left = math.ceil(self.learn_fraction * -(-n // self.batch_size))

    def _freeze(self) -> None:
        """End of the learning phase: the hot set moves to the device."""
        self.store.freeze()

    def _new_scheduler(self, learn: bool) -> MicroBatchScheduler:
        self._open_sets: dict[int, dict[str, Any]] = {}
        return MicroBatchScheduler(batch_size=self.batch_size, working_set=self.working_set,
                                   mode=self.mode, learn=learn)

    def _train_epoch(self, source, epoch, progress) -> int:
        self._epoch = epoch
        learning = not self.store.frozen
        if learning and self._learn_left == 0:
            self._freeze()
            learning = False
        scheduler = self._new_scheduler(learn=learning)
        buffer = _WorkingSetBuffer(self.config.n_tables)
        self._buffer = buffer
        position = 0
        for block in iter_minibatches(_blocks(source), self.batch_size):
            if learning and self._learn_left == 0:
                self._retire(scheduler, buffer, "learn")
                self._freeze()
                learning = False
                scheduler = self._new_scheduler(learn=False)
            phase = "learn" if learning else "run"
            check_indices(block.sparse, self.config.table_sizes, first_sample=position,
                          where=f"epoch {epoch}")
            position += len(block)
            self._push(scheduler, buffer, block, phase)
            if learning:
                self._learn_left -= 1
                self._counts["learn_batches"] += 1
            else:
                self._counts["run_samples"] += len(block)
            progress.update(1, self.result.steps[-1]["loss"] if self.result.steps else None)
        self._retire(scheduler, buffer, "learn" if learning else "run")
        if buffer.next_id != position:
            raise ScheduleError(f"epoch {epoch}: pushed {buffer.next_id} samples of {position}")
        if learning:
            # The learning phase never outlasts the first epoch.
            self._freeze()
            self._learn_left = 0
        self._epochs_done += 1
        self._counts["samples"] += position
        return position

    def _retire(self, scheduler: MicroBatchScheduler, buffer: _WorkingSetBuffer,
                phase: str) -> None:
        """End of a scheduler's use (end of the learning phase or of the epoch): flush its open
        working set, train on it, and check that nothing is left."""
        self._run(scheduler.flush(), phase)
        self._finish_sets(phase)
        if scheduler.held:
            raise ScheduleError(f"the scheduler still holds {scheduler.held} samples after flush")
        buffer.closed(0)
        self._counts["early_closes"] += scheduler.counters.early_closes

    def _push(self, scheduler: MicroBatchScheduler, buffer: _WorkingSetBuffer,
              block: SampleBlock, phase: str) -> None:
        n, t = block.sparse.shape
        tables = np.broadcast_to(np.arange(t, dtype=np.int64), (n, t))
        hit, slot, error = self.table.lookup_many(tables, block.sparse)
        if error.any():
            i = int(np.argmax(error))
            raise ValueError(f"the popularity table rejected (table={i % t}, "
                             f"row={block.sparse.ravel()[i]})")
        hit = hit.reshape(n, t)
        slot = slot.reshape(n, t)
        ids = buffer.push(block, hit, slot)
        emitted: list[MicroBatch] = []
        for sample_id, lookups in zip(ids, self._lookups.of(block.sparse, hit, slot)):
            emitted += scheduler.push(sample_id, lookups)
        self._run(emitted, phase)
        buffer.closed(scheduler.held)

    def _run(self, batches: list[MicroBatch], phase: str) -> None:
        """Train on emitted micro-batches: a pair per step (SPLIT) or one each (REFORMED)."""
        if self.mode is ScheduleMode.SPLIT:
            if len(batches) % 2:
                raise ScheduleError(f"SPLIT mode emitted {len(batches)} micro-batches, "
                                    f"not popular / non-popular pairs")
            groups = [batches[i:i + 2] for i in range(0, len(batches), 2)]
            for popular, rest in groups:
                if (popular.working_set != rest.working_set or popular.index != 0
                        or rest.index != 1):
                    raise ScheduleError("SPLIT micro-batches out of pairs")
        else:
            groups = [[b] for b in batches]
        for group in groups:
            for batch in group:
                record = self._open_sets.setdefault(batch.working_set,
                                                    {"samples": 0, "popular": 0})
                record["samples"] += batch.size
                record["popular"] += sum(s.popular for s in batch.samples)
            self._step_on(group, phase)

    def _finish_sets(self, phase: str) -> None:
        for _, record in sorted(self._open_sets.items()):
            samples = record["samples"]
            self.result.working_sets.append({
                "epoch": self._epoch, "phase": phase, "samples": samples,
                "popular": record["popular"],
                "popular_fraction": record["popular"] / samples if samples else 0.0})
            if phase == "run":
                self._counts["popular_samples"] += record["popular"]
        self._open_sets = {}

    def _step_on(self, group: list[MicroBatch], phase: str) -> None:
        """One optimizer step over the micro-batches of ``group`` (loss mean over all of them)."""
        total = sum(b.size for b in group)
        if total == 0:
            return
        frozen = self.store.frozen
        parts, cold_keys = [], []
        n_tables = self.config.n_tables
        for batch in group:
            if batch.size == 0:
                continue
            ids = [s.sample_id for s in batch.samples]
            dense_raw, sparse, labels, hit, slot = self._buffer.take(ids)
            hot = hit & frozen
            popular = np.fromiter((s.popular for s in batch.samples), bool, len(ids))
            if not hot[popular].all():
                raise ScheduleError("a popular sample has a lookup that missed")
            cold = ~hot
            tables = np.broadcast_to(np.arange(n_tables, dtype=np.int64), sparse.shape)
            cold_keys.append(pack_keys(tables[cold], sparse[cold]))
            parts.append((batch, dense_raw, sparse, labels, hot, slot, int(popular.sum())))
        keys = np.unique(np.concatenate(cold_keys)) if cold_keys else np.zeros(0, np.int64)
        cold_rows = self.store.gather_cold(keys)
        self.optimizer.zero_grad(set_to_none=True)
        lr = self._set_lr()
        loss_sum = 0.0
        for batch, dense_raw, sparse, labels, hot, slot, _ in parts:
            emb = self.store.embed(sparse, hot, slot, cold_rows)
            dense = preprocess_dense(dense_raw).to(self.device, self.dtype)
            target = torch.from_numpy(labels.reshape(-1, 1)).to(self.device, self.dtype)
            logits = self.model.logits_from_embeddings(dense, emb)
            loss = _bce_sum(logits, target) / total
            loss.backward()
            loss_sum += loss.item()
        self.optimizer.step()
        written = self.store.update_cold(cold_rows, lr)
        if written != len(cold_rows):
            raise ScheduleError(f"{len(cold_rows)} cold rows gathered, {written} written back")
        if self.mode is ScheduleMode.SPLIT:
            kind = "split"
        else:
            kind = {MicroBatchKind.POPULAR: "popular", MicroBatchKind.MIXED: "mixed",
                    MicroBatchKind.NON_POPULAR: "non_popular"}[group[0].kind]
        self._record_step(self._epoch, phase, kind, total, sum(p[-1] for p in parts), loss_sum)

    # -- inference and views -------------------------------------------------------------------

    @torch.no_grad()
    def predict_logits(self, block):
        check_indices(block.sparse, self.config.table_sizes)
        n, t = block.sparse.shape
        if self.store.frozen:
            tables = np.broadcast_to(np.arange(t, dtype=np.int64), (n, t))
            hit, slot, _ = self.table.lookup_many(tables, block.sparse)
            hot, slot = hit.reshape(n, t), slot.reshape(n, t)
        else:
            # The table is still learning: looking up would train it. Everything is cold.
            hot = np.zeros((n, t), dtype=bool)
            slot = np.zeros((n, t), dtype=np.int64)
        tables = np.broadcast_to(np.arange(t, dtype=np.int64), (n, t))
        keys = np.unique(pack_keys(tables[~hot], block.sparse[~hot]))
        cold = self.store.gather_cold(keys, requires_grad=False)
        emb = self.store.embed(block.sparse, hot, slot, cold)
        dense, _ = self._tensors(block)
        return self.model.logits_from_embeddings(dense, emb)[:, 0].double().cpu().numpy()

    def embedding_tables(self):
        return self.store.assembled_tables()


def compare_parameters(a: _TrainerBase, b: _TrainerBase) -> dict[str, float]:
    """Largest absolute differences between two trainers' parameters: ``mlp``, ``embeddings``
    (every row of every table, each trainer's assembled view) and ``max`` of both."""
    mlp_a, mlp_b = a.mlp_state(), b.mlp_state()
    if mlp_a.keys() != mlp_b.keys():
        raise ValueError("the models have different MLP parameters")
    mlp = max(float(np.max(np.abs(mlp_a[k] - mlp_b[k]))) for k in mlp_a)
    emb = max(float(np.max(np.abs(x - y)))
              for x, y in zip(a.embedding_tables(), b.embedding_tables(), strict=True))
    return {"mlp": mlp, "embeddings": emb, "max": max(mlp, emb)}


def plot_results(results: Iterable[TrainResult], path: str | os.PathLike, *,
                 window: int = 50, title: str | None = None) -> bool:
    """Plot the training loss (moving average over ``window`` steps, where a run has that
    many) of each result, and the popular fraction per working set of the Hotline ones, to
    ``path`` (e.g. ``losses.png``): one colour per run in both panels, ``title`` above (the
    data, model and run length; a generic one if omitted).

    Needs matplotlib (in the ``dev`` extra, not a core dependency): without it, prints why to
    stderr and returns False (True when the plot was written).
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_results: matplotlib is not installed, no plot written "
              "(pip install matplotlib to get one)", file=sys.stderr)
        return False
    results = list(results)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, (ax_loss, ax_pop) = plt.subplots(2, 1, figsize=(8, 7.5))
    averaged = []
    for n, result in enumerate(results):
        colour = colours[n % len(colours)]
        losses = np.asarray(result.losses, dtype=float)
        label = f"{result.name} ({len(losses):,} steps)"
        if len(losses) >= window:
            losses = np.convolve(losses, np.ones(window) / window, mode="valid")
            averaged.append(result.name)
            steps = np.arange(window, window + len(losses))
        else:
            steps = np.arange(1, len(losses) + 1)
        style = dict(color=colour, linestyle=("-", "--", "-.", ":")[n % 4],
                     linewidth=max(1.0, 2.4 - 0.5 * n))   # identical runs stay visible
        ax_loss.plot(steps, losses, label=label, **style)
        if result.working_sets:
            ax_pop.plot(np.arange(1, len(result.working_sets) + 1),
                        [w["popular_fraction"] for w in result.working_sets], label=result.name,
                        marker="." if len(result.working_sets) < 50 else None, **style)
    how = (f"{window}-step moving mean" if len(averaged) == len(results) else
           "per step" if not averaged else f"{window}-step moving mean where a run has "
           f"{window} steps")
    ax_loss.set(title=f"Training loss ({how})", xlabel="optimizer step",
                ylabel="binary cross-entropy per sample")
    ax_pop.set(title="Samples in popular micro-batches (Hotline runs)",
               xlabel="working set",
               ylabel="popular fraction (of the samples)", ylim=(0, 1))
    ax_loss.legend()
    if any(r.working_sets for r in results):
        ax_pop.legend()
    else:
        ax_pop.text(0.5, 0.5, "no Hotline run", ha="center", va="center",
                    transform=ax_pop.transAxes)
    fig.suptitle(title or "DLRM training: baseline and Hotline schedules")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True
