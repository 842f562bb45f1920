"""DLRM training on the Hotline schedule (exact or re-formed), and where the trainers live.

Files: :mod:`~sw_driver.dlrm.trainer_base` (the epoch loop, results, learning-rate policy),
:mod:`~sw_driver.dlrm.baseline` (:class:`BaselineTrainer`), this module
(:class:`HotlineTrainer`), :mod:`~sw_driver.dlrm.working_set_buffer`,
:mod:`~sw_driver.dlrm.overlap` (the overlapped host path), :mod:`~sw_driver.dlrm.lookup_cache`
and :mod:`~sw_driver.dlrm.reporting`; every public name is importable from here as before.


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

import functools
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hotline_hw.model.fast_scheduler import (FastMicroBatchScheduler, ScheduledBatch,
                                             classify_many)
from hotline_hw.model.fast_table import FrozenTable, learn_many
from hotline_hw.model.popularity_table import Mode, PopularityTable, TableGeometry
from hotline_hw.model.scheduler import (MicroBatchKind, MicroBatchScheduler,
                                        ScheduleMode)
from sw_driver.data import SampleBlock, iter_minibatches

from .baseline import BaselineTrainer
from .cold_rows import ColdRowPort, GatherModelPort, HostEmbeddingMemory
from .embeddings import HotlineEmbeddings, pack_keys
from .lookup_cache import LookupCache
from .model import DLRM, DLRMConfig, check_indices, initial_table, preprocess_dense
from .overlap import Pipeline, WriteBackQueue
from .reporting import compare_parameters, plot_results
from .trainer_base import (LRSchedule, ScheduleError, TrainResult, _bce_sum, _blocks, _length,
                           _TrainerBase)
from .working_set_buffer import WorkingSetBuffer

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

_GOLDEN_SCHEDULER = MicroBatchScheduler


def _nothing() -> None:
    """A no-op step (keeps the planner's wait for the training thread interruptible)."""


def default_geometry(config: DLRMConfig, *, set_bits: int = 14, ways: int = 4) -> TableGeometry:
    """A popularity table for ``config``: the paper-sized FPGA default (16K sets x 4 ways,
    5 + 24 key bits), with the key widths widened if the tables need more."""
    table_bits = max(5, (config.n_tables - 1).bit_length())
    row_bits = max(24, (max(config.table_sizes) - 1).bit_length())
    return TableGeometry(table_bits=table_bits, row_bits=row_bits, set_bits=set_bits, ways=ways)


@dataclass(eq=False)
class _StepPlan:
    """One optimizer step, planned: what :meth:`HotlineTrainer._execute_step` needs."""
    epoch: int
    phase: str
    kind: str
    total: int
    popular: int
    parts: list             # (dense_raw, sparse, labels, hot, slot, cold_index) per micro-batch
    keys: np.ndarray                # distinct cold keys (packed, sorted)
    values: np.ndarray | None = None    # their rows, read ahead (overlap)
    mark: int = 0                   # write-backs certainly visible to that read


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
    fast : bool
        Schedule with the array scheduler and freeze with the whole-table slot map (the fast
        paths, proven equal to the golden models; default) or drive the golden models sample
        by sample and slot by slot (``False``: the reference, same results bit for bit).
    overlap : bool, optional
        Plan the next steps (lookups, schedule, cold keys, cold rows read ahead) on a
        background thread while the current one trains, and drain write-backs on a worker
        (:mod:`~sw_driver.dlrm.overlap`); same parameters bit for bit as without. Default: on
        when training on a GPU with the fast paths and the default port
        (:class:`GatherModelPort`, thread-safe); off on the CPU and with any other port.
    overlap_depth : int
        Steps the planner may run ahead (8).

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
                 progress: bool = False, poison: bool = True, fast: bool = True,
                 overlap: bool | None = None, overlap_depth: int = 8):
        super().__init__(config, batch_size=batch_size, lr=lr, seed=seed, device=device,
                         progress=progress, lr_schedule=lr_schedule, dtype=dtype)
        self.fast = bool(fast)
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
                                       poison=poison, fast=self.fast)
        self.model = DLRM(config, seed=seed, with_embeddings=False).to(self.device, self.dtype)
        self.optimizer = torch.optim.SGD([*self.model.parameters(), self.store.hot], lr=self.lr)
        self._epochs_done = 0
        self._learn_left = 0
        self._counts = {"samples": 0, "learn_batches": 0, "popular_samples": 0,
                        "run_samples": 0, "early_closes": 0}
        self._lookups = LookupCache(config, geometry)
        # Samples of the epoch that a subclass kept from the scheduler (Slipstream's skipped
        # ones): the epoch's count check is pushed + held back == read.
        self._epoch_held_back = 0
        self._frozen: FrozenTable | None = None
        self._sink = None
        self._writes: WriteBackQueue | None = None
        if overlap is None:
            # On where the step runs on an accelerator (the host thread is then free) and the
            # port is known to be thread-safe. On the CPU the planner competes with the step
            # for the same cores (make bench: hotline_host.*_serial vs the overlapped figures).
            overlap = (self.fast and type(self.port) is GatherModelPort
                       and self.device.type != "cpu")
        self.overlap = bool(overlap)
        if isinstance(overlap_depth, bool) or not isinstance(overlap_depth, int) \
                or overlap_depth < 1:
            raise ValueError(f"overlap_depth must be a positive int, not {overlap_depth!r}")
        self.overlap_depth = overlap_depth
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
        """End of the learning phase: the hot set moves to the device (overlapped: the table
        side now, the rows in order with the steps, after the write-backs before them)."""
        if self._sink is None:
            self.store.freeze()
        else:
            # The rows move on the training thread, in order with the steps; the planner waits
            # for it, so that no read-ahead shares the port with the freeze's own traffic.
            self.store.freeze_table()
            moved = threading.Event()
            self._sink(functools.partial(self._move_hot_rows, moved))
            while not moved.wait(0.1):
                self._sink(_nothing)          # raises if the training thread stopped
        self._snapshot_table()

    def _snapshot_table(self) -> None:
        """RUN-mode lookups from a snapshot of the frozen table (the fast path); none with
        ``fast=False`` or before the freeze."""
        self._frozen = None
        if self.fast and self.store.frozen:
            sizes = self.config.table_sizes          # a dense slot map up to 32M rows (128 MB)
            self._frozen = FrozenTable(self.table,
                                       dense_rows=sizes if sum(sizes) <= 1 << 25 else None)

    def _in_order(self, function, *args) -> None:
        """Call ``function(*args)`` after the steps planned so far (at once when serial)."""
        if self._sink is None:
            function(*args)
        else:
            self._sink(functools.partial(function, *args))

    def _progress_update(self, progress) -> None:
        progress.update(1, self.result.steps[-1]["loss"] if self.result.steps else None)

    def _move_hot_rows(self, moved: threading.Event) -> None:
        self._writes.drain()
        self.store.move_hot_rows()
        moved.set()

    def _lookup_many(self, tables: np.ndarray, rows: np.ndarray):
        """The popularity table's answers (RUN mode after the freeze: from its snapshot)."""
        if self._frozen is not None:
            return self._frozen.lookup_many(tables, rows)
        if self.fast and self.table.mode is Mode.LEARN:
            return learn_many(self.table, tables, rows)
        return self.table.lookup_many(tables, rows)

    def _new_scheduler(self, learn: bool):
        """The scheduler model: the array one (:class:`FastMicroBatchScheduler`, proven equal
        to the golden model) in place of exactly the golden class; the golden model itself
        with ``fast=False``, and any other scheduler class bound to this module's
        ``MicroBatchScheduler`` is driven sample by sample through its own ``push``."""
        self._open_sets: dict[int, dict[str, Any]] = {}
        options = dict(batch_size=self.batch_size, working_set=self.working_set,
                       mode=self.mode, learn=learn)
        if self.fast and MicroBatchScheduler is _GOLDEN_SCHEDULER:
            return FastMicroBatchScheduler(**options)
        return MicroBatchScheduler(**options)

    def _train_epoch(self, source, epoch, progress) -> int:
        if not self.overlap:
            return self._plan_epoch(source, epoch, progress)
        # Overlapped: the epoch is planned (and its cold rows read ahead) on a thread; the
        # steps run here, in order; write-backs drain on a worker.
        self._writes = WriteBackQueue(self.store.write_rows)
        try:
            def produce(sink):
                self._sink = sink
                return self._plan_epoch(source, epoch, progress)
            return Pipeline(self.overlap_depth).run(produce)
        finally:
            self._sink = None
            writes, self._writes = self._writes, None
            writes.close()

    def _plan_epoch(self, source, epoch, progress) -> int:
        """The epoch: every mini-batch looked up, scheduled and trained (serial), or planned
        with the steps handed to the training thread (overlapped: :meth:`_train_epoch`)."""
        self._epoch = epoch
        start = self._epoch_start(source, epoch)
        if start is None:
            return _length(source)
        learning, scheduler, buffer, skip, position = start
        self._buffer = buffer
        self._epoch_held_back = position - buffer.next_id
        for index, block in enumerate(iter_minibatches(_blocks(source), self.batch_size)):
            if index < skip:
                continue
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
            self._in_order(self._progress_update, progress)
            self._after_batch(epoch=epoch, batches=index + 1, position=position,
                              learning=learning, scheduler=scheduler, buffer=buffer)
        self._retire(scheduler, buffer, "learn" if learning else "run")
        if buffer.next_id + self._epoch_held_back != position:
            raise ScheduleError(f"epoch {epoch}: pushed {buffer.next_id} samples and held back "
                                f"{self._epoch_held_back} of {position}")
        if learning:
            # The learning phase never outlasts the first epoch.
            self._freeze()
            self._learn_left = 0
        self._epochs_done += 1
        self._counts["samples"] += position
        return position

    def _epoch_start(self, source, epoch):
        """Where epoch ``epoch`` starts: ``(learning, scheduler, buffer, skip, position)``,
        training from mini-batch ``skip`` (sample ``position``) on; ``None`` skips the epoch.
        Here: a fresh scheduler and buffer at the first mini-batch (the distributed coordinator
        starts from a checkpoint instead)."""
        learning = not self.store.frozen
        if learning and self._learn_left == 0:
            self._freeze()
            learning = False
        return (learning, self._new_scheduler(learn=learning),
                WorkingSetBuffer(self.config.n_tables), 0, 0)

    def _after_batch(self, **where) -> None:
        """Called after each mini-batch is planned (``epoch``, ``batches`` done in the epoch,
        ``position``, ``learning``, ``scheduler``, ``buffer``): the distributed coordinator
        writes its checkpoints here. Nothing here."""

    def _retire(self, scheduler: MicroBatchScheduler, buffer: WorkingSetBuffer,
                phase: str) -> None:
        """End of a scheduler's use (end of the learning phase or of the epoch): flush its open
        working set, train on it, and check that nothing is left."""
        self._run(scheduler.flush(), phase)
        self._finish_sets(phase)
        if scheduler.held:
            raise ScheduleError(f"the scheduler still holds {scheduler.held} samples after flush")
        buffer.closed(0)
        self._counts["early_closes"] += scheduler.counters.early_closes

    def _classify(self, block: SampleBlock) -> tuple[np.ndarray, np.ndarray]:
        """The popularity table's answers for a mini-batch: ``hit`` and ``slot``, ``[N, T]``."""
        n, t = block.sparse.shape
        tables = np.broadcast_to(np.arange(t, dtype=np.int64), (n, t))
        hit, slot, error = self._lookup_many(tables, block.sparse)
        if error.any():
            i = int(np.argmax(error))
            raise ValueError(f"the popularity table rejected (table={i % t}, "
                             f"row={block.sparse.ravel()[i]})")
        return hit.reshape(n, t), slot.reshape(n, t)

    def _push(self, scheduler: MicroBatchScheduler, buffer: WorkingSetBuffer,
              block: SampleBlock, phase: str) -> None:
        hit, slot = self._classify(block)
        self._push_classified(scheduler, buffer, block, hit, slot, phase)

    def _push_classified(self, scheduler: MicroBatchScheduler, buffer: WorkingSetBuffer,
                         block: SampleBlock, hit: np.ndarray, slot: np.ndarray,
                         phase: str) -> None:
        """The samples of ``block`` into the working-set buffer and the scheduler; the steps
        of what it emits."""
        ids = buffer.push(block, hit, slot)
        if isinstance(scheduler, FastMicroBatchScheduler):
            emitted = scheduler.push_many(np.arange(ids.start, ids.stop),
                                          classify_many(hit, learn=scheduler.learn))
        else:
            emitted = []
            for sample_id, lookups in zip(ids, self._lookups.of(block.sparse, hit, slot)):
                emitted += scheduler.push(sample_id, lookups)
        self._run(emitted, phase)
        buffer.closed(scheduler.held)

    def _run(self, batches: list, phase: str) -> None:
        """Train on emitted micro-batches (:class:`ScheduledBatch`, or golden-model
        :class:`MicroBatch` records): a pair per step (SPLIT) or one each (REFORMED)."""
        batches = [b if isinstance(b, ScheduledBatch) else ScheduledBatch.of(b)
                   for b in batches]
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
                record["popular"] += int(np.count_nonzero(batch.popular))
            if self._sink is None:
                self._step_on(group, phase)
            else:
                plan = self._plan_step(group, phase, prefetch=True)
                if plan is not None:
                    self._sink(functools.partial(self._execute_step, plan))

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

    def _step_on(self, group: list[ScheduledBatch], phase: str) -> None:
        """One optimizer step over the micro-batches of ``group`` (loss mean over all of them)."""
        plan = self._plan_step(group, phase)
        if plan is not None:
            self._execute_step(plan)

    def _plan_step(self, group: list[ScheduledBatch], phase: str,
                   prefetch: bool = False) -> _StepPlan | None:
        """The host side of a step: its samples from the buffer, hot / cold lookups, the
        distinct cold keys (and, with ``prefetch``, their rows read ahead)."""
        total = sum(b.size for b in group)
        if total == 0:
            return None
        frozen = self.store.frozen
        parts, cold_keys = [], []
        n_tables = self.config.n_tables
        for batch in group:
            if batch.size == 0:
                continue
            dense_raw, sparse, labels, hit, slot = self._buffer.take(batch.sample_ids)
            hot = hit & frozen
            popular = batch.popular
            if not hot[popular].all():
                raise ScheduleError("a popular sample has a lookup that missed")
            cold = ~hot
            tables = np.broadcast_to(np.arange(n_tables, dtype=np.int64), sparse.shape)
            cold_keys.append(pack_keys(tables[cold], sparse[cold]))
            parts.append((dense_raw, sparse, labels, hot, slot))
        if cold_keys:
            keys, inverse = np.unique(np.concatenate(cold_keys), return_inverse=True)
            bounds = np.cumsum([len(k) for k in cold_keys])[:-1]
            parts = [(*part, index) for part, index in zip(parts, np.split(inverse, bounds))]
        else:
            keys = np.zeros(0, np.int64)
        if self.mode is ScheduleMode.SPLIT:
            kind = "split"
        else:
            kind = {MicroBatchKind.POPULAR: "popular", MicroBatchKind.MIXED: "mixed",
                    MicroBatchKind.NON_POPULAR: "non_popular"}[group[0].kind]
        plan = _StepPlan(self._epoch, phase, kind, total,
                         sum(int(np.count_nonzero(b.popular)) for b in group), parts, keys)
        if prefetch:
            plan.mark = self._writes.mark()
            plan.values = self.store.read_cold(keys)
        return plan

    def _execute_step(self, plan: _StepPlan) -> None:
        """The training side of a step: cold rows (patched for write-backs the read-ahead may
        have missed), forward, backward, optimizer step, cold rows written back."""
        writes = self._writes
        if plan.values is None:
            cold_rows = self.store.gather_cold(plan.keys)
        else:
            writes.raise_failure()
            writes.patch(plan.keys, plan.values, plan.mark)
            cold_rows = self.store.cold_rows_from(plan.keys, plan.values)
        self.optimizer.zero_grad(set_to_none=True)
        lr = self._set_lr()
        loss_sum = 0.0
        for dense_raw, sparse, labels, hot, slot, cold_index in plan.parts:
            emb = self.store.embed(sparse, hot, slot, cold_rows, cold_index)
            dense = preprocess_dense(dense_raw).to(self.device, self.dtype)
            target = torch.from_numpy(labels.reshape(-1, 1)).to(self.device, self.dtype)
            logits = self.model.logits_from_embeddings(dense, emb)
            loss = _bce_sum(logits, target) / plan.total
            loss.backward()
            loss_sum += loss.item()
        self.optimizer.step()
        written = self.store.update_cold(cold_rows, lr, queue=writes)
        if written != len(cold_rows):
            raise ScheduleError(f"{len(cold_rows)} cold rows gathered, {written} written back")
        self._record_step(plan.epoch, plan.phase, plan.kind, plan.total, plan.popular, loss_sum)

    # -- inference and views -------------------------------------------------------------------

    @torch.no_grad()
    def predict_logits(self, block):
        check_indices(block.sparse, self.config.table_sizes)
        n, t = block.sparse.shape
        if self.store.frozen:
            tables = np.broadcast_to(np.arange(t, dtype=np.int64), (n, t))
            hit, slot, _ = self._lookup_many(tables, block.sparse)
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
