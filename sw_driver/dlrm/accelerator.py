"""DLRM trained on the accelerator: its micro-batches, its popular/cold split, its gathered rows.

:class:`AcceleratorTrainer` is :class:`~sw_driver.dlrm.trainer.HotlineTrainer` with the golden
models replaced by a device behind the host driver (:class:`~sw_driver.driver.HotlineDriver`):

* **Schedule.** The samples of each working set (``working_set * batch_size`` of them; one
  mini-batch in ``SPLIT`` mode) are submitted to the device, the last one carrying ``flush``.
  The micro-batches it returns are what the trainer steps on: which samples, in which order,
  which lookups are hot and their slots all come from the device.
* **Cold rows.** Each cold lookup's row arrives on the device's row stream with the
  micro-batches (:class:`AcceleratorPort` stages them). A step reads its cold rows from there
  and writes every updated one back through the device's write-back stream, waiting until the
  device reports it written. A row written back by a step replaces the staged copy, so a later
  micro-batch of the same working set sees the update (the rows were gathered before it).
* **Hot set.** The device learns it (``LEARN`` mode on the first ``learn_fraction`` of the
  mini-batches) or has it loaded (``hot_set=``); at the freeze the trainer reads the device's
  table back (:meth:`~sw_driver.driver.HotlineDriver.read_hot_slots`) into its mirror, and the
  hot rows move to the training device at their slots. Reading host memory directly (the CPU's
  own memory) serves only the freeze and evaluation, never a training step.

The device is a :class:`~sw_driver.model_device.ModelDevice` over the trainer's host image by
default (pure Python; its streams equal the RTL's beat for beat: ``tb/test_hotline_top.py``),
or any blocking driver: :class:`~sw_driver.driver.SyncHotlineDriver` over a transport, or
:class:`sw_driver.cocotb_transport.BridgedHotlineDriver` inside a cocotb simulation of the RTL.

Errors (nothing is lost)
------------------------
A gather error (an AXI error response, ``gather_bus``) makes :meth:`HotlineDriver.submit` raise
after every micro-batch and row of the working set has come back, before any step uses them.
In the run phase the popularity table is read-only, so the working set is resubmitted (up to
``retries`` times, after clearing the error) and scheduled identically. A write-back error
rewrites the same rows (same bound). When the bound is reached, or on a gather error in the
learning phase (the table has already learned those samples: resubmitting would count them
twice), :class:`AcceleratorTrainingError` is raised: the samples of the failed working set are
untrained and listed, every step before it is complete, and rows whose write-back failed are
kept (``port.unwritten``, included in :meth:`embedding_tables`). No sample is trained twice or
on a zeroed row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from hotline_hw.device_config import HotlineConfig
from hotline_hw.model.gather import GatherError
from hotline_hw.model.scheduler import Lookup, MicroBatch, MicroBatchKind, Sample, ScheduleMode
from sw_driver.driver import HotlineError, SyncHotlineDriver, TableLayout
from sw_driver.model_device import ModelDevice, NumpyMemory

from .cold_rows import GatherModelPort, HostEmbeddingMemory
from .model import DLRMConfig
from .trainer import HotlineTrainer, ScheduleError

__all__ = ["AcceleratorPort", "AcceleratorTrainer", "AcceleratorTrainingError",
           "device_config_for", "model_device_driver"]


class AcceleratorTrainingError(HotlineError):
    """Training stopped on an error the accelerator reported and retrying did not clear.

    Attributes
    ----------
    errors, details
        As :class:`~sw_driver.driver.HotlineError` (the last attempt's).
    untrained : list of int
        Sample ids (positions in the epoch) of the working set that was not trained.
    unwritten : dict
        ``{(table, row): values}`` of updated rows the device could not write back (they are
        not lost: the trainer still holds them).
    """

    def __init__(self, message: str, cause: HotlineError, *, untrained=(), unwritten=None):
        super().__init__(message, cause.errors, cause.details)
        self.untrained = list(untrained)
        self.unwritten = dict(unwritten or {})


def device_config_for(config: DLRMConfig, geometry, *, batch_size: int, working_set: int,
                      **overrides) -> HotlineConfig:
    """The accelerator build this model needs: the ``rtl/`` build's parameters, with the
    popularity table's geometry, one gather table per embedding table and room for a working
    set; ``overrides`` replace any field (e.g. a smaller ``capacity`` for a fast RTL build)."""
    base = HotlineConfig()
    capacity = max(base.capacity, working_set * batch_size)
    fields = dict(geometry=geometry, num_tables=config.n_tables,
                  max_lookups=max(base.max_lookups, config.n_tables),
                  capacity=capacity, max_dim=max(base.max_dim, config.dim),
                  size_bits=max(base.size_bits, capacity.bit_length()),
                  table_in_bits=max(base.table_in_bits, geometry.table_bits),
                  row_in_bits=max(base.row_in_bits, geometry.row_bits))
    fields.update(overrides)
    build = HotlineConfig(**fields)
    if build.capacity < working_set * batch_size or build.num_tables < config.n_tables \
            or build.max_lookups < config.n_tables or build.max_dim < config.dim:
        raise ValueError(f"{build} cannot hold working sets of {working_set} x {batch_size} "
                         f"samples of {config.n_tables} lookups of dim {config.dim}")
    return build


def model_device_driver(memory: HostEmbeddingMemory, build: HotlineConfig) -> SyncHotlineDriver:
    """A blocking driver of a :class:`ModelDevice` of ``build`` whose host memory is the
    trainer's image ``memory`` (shared, not copied)."""
    return SyncHotlineDriver(ModelDevice(build, memory=NumpyMemory(array=memory.memory)))


class AcceleratorPort:
    """The :class:`~sw_driver.dlrm.cold_rows.ColdRowPort` of :class:`AcceleratorTrainer`.

    ``gather`` serves a training step's rows from the working set the device returned
    (:meth:`stage`); outside a working set (the freeze, evaluation) it reads host memory the
    way the gather engine would (:class:`GatherModelPort`), counted in ``host_rows``.
    ``write_back`` goes through the device's write-back stream and waits for it.

    Attributes
    ----------
    rows_from_device, host_rows, rows_written, write_retries : int
        Traffic counters.
    unwritten : dict
        Rows whose write-back failed for good (see the module docstring). Such a failure does
        not raise in ``write_back`` (the step's other tables are still written): :meth:`check`
        raises it, which the trainer calls after every step.
    """

    def __init__(self, driver, memory: HostEmbeddingMemory, *, retries: int = 1):
        self.driver = driver
        self.memory = memory
        self.dim = memory.dim
        self.retries = retries
        self.host = GatherModelPort(memory)
        self.staged: dict[tuple[int, int], np.ndarray] | None = None
        self.unwritten: dict[tuple[int, int], np.ndarray] = {}
        self.write_failure: tuple[str, HotlineError] | None = None
        self.rows_from_device = self.host_rows = self.rows_written = self.write_retries = 0

    def stage(self, rows) -> None:
        """The rows the device gathered for a working set (``GatheredRow``, error-free)."""
        staged: dict[tuple[int, int], np.ndarray] = {}
        for row in rows:
            if row.error != GatherError.NONE:
                raise ScheduleError(f"row (table={row.table}, row={row.row}) came back "
                                    f"flagged {GatherError(row.error).name}")
            value = np.frombuffer(row.data, dtype="<f4", count=self.dim)
            key = (row.table, row.row)
            if key in staged:
                if not np.array_equal(staged[key], value, equal_nan=True):
                    raise ScheduleError(f"the device gathered two different values of "
                                        f"(table={row.table}, row={row.row}) in one working set")
                continue
            staged[key] = value
        self.staged = staged
        self.rows_from_device += len(rows)

    def unstage(self) -> None:
        self.staged = None

    def check(self) -> None:
        """Raise :class:`AcceleratorTrainingError` if a write-back failed for good."""
        if self.write_failure is not None:
            message, error = self.write_failure
            raise AcceleratorTrainingError(
                f"{message} ({error}); {len(self.unwritten)} updated rows are kept in "
                f"port.unwritten (and in embedding_tables())", error, unwritten=self.unwritten)

    def gather(self, requests: np.ndarray) -> np.ndarray:
        requests = np.asarray(requests, dtype=np.int64).reshape(-1, 2)
        if self.staged is None:
            self.host_rows += len(requests)
            return self.host.gather(requests)
        out = np.empty((len(requests), self.dim), dtype=np.float32)
        for i, (table, row) in enumerate(requests.tolist()):
            value = self.staged.get((table, row))
            if value is None:
                raise ScheduleError(f"a step needs (table={table}, row={row}) cold, but the "
                                    f"device did not gather it for this working set")
            out[i] = value
        return out

    def write_back(self, table: int, rows: np.ndarray, values: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.int64).ravel().tolist()
        values = np.ascontiguousarray(values, dtype=np.float32).reshape(len(rows), self.dim)
        entries = [(int(table), row, values[i]) for i, row in enumerate(rows)]
        for attempt in range(self.retries + 1):
            try:
                self.driver.write_back(entries)
                self.driver.wait_writes()
                break
            except HotlineError as error:
                self.driver.clear_errors()
                if attempt == self.retries:
                    # Keep the rows and go on with the step's other tables; the trainer
                    # raises after the step (check()).
                    for _, row, value in entries:
                        self.unwritten[(int(table), row)] = value.copy()
                    if self.write_failure is None:
                        self.write_failure = (f"write-back of {len(entries)} rows of table "
                                              f"{table} failed {attempt + 1} times", error)
                    return
                self.write_retries += 1
        for _, row, value in entries:
            self.unwritten.pop((int(table), row), None)
            if self.staged is not None:
                self.staged[(int(table), row)] = value.copy()
        self.rows_written += len(entries)


class _AcceleratorSchedule:
    """The :class:`~hotline_hw.model.scheduler.MicroBatchScheduler`'s part in the trainer,
    played by the device: samples are held until a working set is complete, then submitted."""

    def __init__(self, trainer: AcceleratorTrainer, learn: bool):
        self.trainer = trainer
        self.learn = learn
        self.ids: list[int] = []
        self.sparse: list[np.ndarray] = []
        split = trainer.mode is ScheduleMode.SPLIT
        self.limit = trainer.batch_size * (1 if split else trainer.working_set)
        self.early_closes = 0

    @property
    def held(self) -> int:
        return len(self.ids)

    @property
    def counters(self):
        return self

    def push_block(self, ids: range, sparse: np.ndarray) -> list[MicroBatch]:
        self.ids.extend(ids)
        self.sparse.extend(sparse)
        out: list[MicroBatch] = []
        while self.held >= self.limit:
            out += self._submit(self.limit)
        return out

    def flush(self) -> list[MicroBatch]:
        return self._submit(self.held) if self.held else []

    def _submit(self, n: int) -> list[MicroBatch]:
        ids, self.ids = self.ids[:n], self.ids[n:]
        sparse, self.sparse = np.asarray(self.sparse[:n]), self.sparse[n:]
        t = sparse.shape[1]
        samples = [(i, list(zip(range(t), row))) for i, row in zip(ids, sparse.tolist())]
        return self.trainer._schedule_on_device(samples, sparse, learn=self.learn)


class AcceleratorTrainer(HotlineTrainer):
    """DLRM on the accelerator's schedule and rows (see the module docstring).

    Parameters
    ----------
    config, mode, batch_size, lr, lr_schedule, working_set, learn_fraction, learn_batches,
    geometry, hot_set, memory_options, seed, device, progress, poison
        As :class:`~sw_driver.dlrm.trainer.HotlineTrainer` (rows are float32, the hardware's).
    driver : callable, optional
        ``driver(memory) -> blocking driver`` given the host image
        (:class:`~sw_driver.dlrm.cold_rows.HostEmbeddingMemory`); the driver's host memory
        must be that image. Default: a :class:`SyncHotlineDriver` over a
        :class:`ModelDevice` built by :func:`device_config_for` on the image.
    retries : int
        Resubmissions of a working set after a gather error (run phase) and rewrites after a
        write-back error, before :class:`AcceleratorTrainingError` (default 1).

    Members (besides :class:`HotlineTrainer`'s)
    -------------------------------------------
    driver
        The blocking driver.
    port : AcceleratorPort
    """

    def __init__(self, config: DLRMConfig = DLRMConfig(), *,
                 driver: Callable[[HostEmbeddingMemory], Any] | None = None, retries: int = 1,
                 hot_set=None, dtype: torch.dtype = torch.float32, **options):
        if dtype != torch.float32:
            raise ValueError("the accelerator moves float32 rows: dtype must be torch.float32")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be a non-negative int, not {retries!r}")
        if "port_factory" in options:
            raise TypeError("AcceleratorTrainer's port is the device's (no port_factory)")
        if options.get("overlap"):
            raise ValueError("AcceleratorTrainer runs its device in series (overlap=False)")
        options["overlap"] = False
        self.retries = retries
        self._driver_factory = driver
        self._device_retries = 0
        super().__init__(config, port_factory=self._connect, dtype=dtype, **options)
        self.name = "accelerator-" + self.mode.name.lower()
        self._configure_device()
        if hot_set is not None:
            keys = [(int(t), int(r)) for t, r in hot_set]
            self.store.load_hot_set(keys)                # checks, and the mirror's placement
            slots = self.driver.load_hot_set(keys)
            placed = {self.table.key_of_slot(s): s for s in range(self.geometry.entries)}
            mirror = [placed.get(key) for key in keys]
            if list(slots) != mirror:
                raise ScheduleError("the device placed the hot set differently from the model")
            self._freeze()

    def _connect(self, memory: HostEmbeddingMemory) -> AcceleratorPort:
        if self._driver_factory is None:
            self.driver = model_device_driver(memory, device_config_for(
                self.config, self.geometry, batch_size=self.batch_size,
                working_set=self.working_set))
        else:
            self.driver = self._driver_factory(memory)
        return AcceleratorPort(self.driver, memory, retries=self.retries)

    def _configure_device(self) -> None:
        d = self.driver
        d.identify()
        layouts = [TableLayout(r.base, r.stride, r.rows) for r in self.memory.registers]
        d.configure_tables(layouts, dim=self.memory.row_bytes // 4)
        d.configure(batch_size=self.batch_size, working_set=self.working_set,
                    split=self.mode is ScheduleMode.SPLIT, lookups=self.config.n_tables)
        d.clear_errors()
        d.clear_counters()
        d.clear_table()
        d.set_learning(True)

    def settings(self):
        return {**super().settings(), "backend": type(self.driver).__name__,
                "retries": self.retries}

    def _stats(self):
        out = super()._stats()
        port = self.port
        out.update(device_rows_gathered=port.rows_from_device, host_rows_read=port.host_rows,
                   device_rows_written=port.rows_written, write_retries=port.write_retries,
                   working_set_retries=self._device_retries)
        status = self.driver.status()
        out["device_counters"] = {k: v for k, v in status.items()
                                  if k not in ("status", "errors")}
        return out

    # -- the device's part in HotlineTrainer's flow ---------------------------------------------

    def _new_scheduler(self, learn: bool) -> _AcceleratorSchedule:
        self._open_sets = {}
        self._working_sets = 0
        return _AcceleratorSchedule(self, learn)

    def _push(self, scheduler, buffer, block, phase) -> None:
        n, t = block.sparse.shape
        ids = buffer.push(block, np.zeros((n, t), dtype=bool), np.zeros((n, t), dtype=np.int64))
        self._run(scheduler.push_block(ids, block.sparse), phase)
        self.port.unstage()
        buffer.closed(scheduler.held)

    def _retire(self, scheduler, buffer, phase) -> None:
        super()._retire(scheduler, buffer, phase)
        self.port.unstage()

    def _freeze(self) -> None:
        self.driver.set_learning(False)
        self.driver.read_hot_slots(self.table)           # the mirror becomes the device's table
        super()._freeze()
        self.port.check()                                # the poisoning writes

    def _schedule_on_device(self, samples, sparse: np.ndarray, *, learn: bool,
                            skipped=frozenset()) -> list[MicroBatch]:
        """Submit one working set; check and convert the device's micro-batches, give the
        buffer the device's hot / slot answers and the port the gathered rows.

        ``skipped``: device ids among ``samples`` that the device must return in ``SKIPPED``
        micro-batches (Slipstream's stale inputs; not in ``sparse``, whose rows are the other
        samples in order); any other skipped sample, or one of these trained, is a
        :class:`ScheduleError`."""
        ids = [sample_id for sample_id, _ in samples if sample_id not in skipped]
        for attempt in range(self.retries + 1):
            try:
                result = self.driver.submit(samples, learn=learn)
                break
            except HotlineError as error:
                self.driver.clear_errors()
                if learn or attempt == self.retries:
                    why = ("in the learning phase a working set is not resubmitted (the table "
                           "has learned it)" if learn else f"{attempt + 1} attempts")
                    raise AcceleratorTrainingError(
                        f"the accelerator failed a working set of {len(ids)} samples "
                        f"(ids {ids[0]}..{ids[-1]}, untrained; {why}): {error}", error,
                        untrained=ids, unwritten=self.port.unwritten) from error
                self._device_retries += 1
        result.micro_batches = self._take_skipped(result.micro_batches, skipped)
        position = {sample_id: i for i, sample_id in enumerate(ids)}
        n, t = sparse.shape
        hit = np.zeros((n, t), dtype=bool)
        slot = np.zeros((n, t), dtype=np.int64)
        seen = np.zeros(n, dtype=bool)
        batches = []
        previous_set = None
        cold_keys = []
        for packet in result.micro_batches:
            d = packet.descriptor
            if d.working_set != previous_set:
                self._working_sets += previous_set is not None
                previous_set = d.working_set
            members = []
            for sample_id, lanes in packet.samples():
                i = position.get(sample_id)
                if i is None or seen[i]:
                    raise ScheduleError(f"the device returned sample {sample_id} "
                                        f"{'twice' if i is not None else 'never submitted'}")
                seen[i] = True
                keys = [(lane.table, lane.row) for lane in lanes]
                if keys != list(zip(range(t), sparse[i].tolist())):
                    raise ScheduleError(f"the device changed sample {sample_id}'s lookups")
                lookups = tuple(Lookup(lane.table, lane.row, bool(lane.hot), lane.slot)
                                for lane in lanes)
                hit[i] = [lane.hot for lane in lanes]
                slot[i] = [lane.slot for lane in lanes]
                cold_keys += [key for key, lane in zip(keys, lanes) if not lane.hot]
                members.append(Sample(sample_id, lookups, all(lane.hot for lane in lanes)))
            batches.append(MicroBatch(MicroBatchKind(d.kind), d.step, self._working_sets,
                                      d.index, tuple(members)))
        if not seen.all():
            raise ScheduleError(f"the device did not return samples "
                                f"{[ids[i] for i in np.flatnonzero(~seen)[:5]]}")
        if [(r.table, r.row) for r in result.rows] != cold_keys:
            raise ScheduleError("the device's rows are not its micro-batches' cold lookups")
        self._working_sets += bool(result.micro_batches)     # not a set of skipped samples only
        self._buffer.answer(ids, hit, slot)
        self.port.stage(result.rows)
        return batches

    def _take_skipped(self, packets, skipped) -> list:
        """``packets`` without the ``SKIPPED`` micro-batches, whose samples must be exactly
        ``skipped`` (each once)."""
        kept, got = [], []
        for packet in packets:
            if packet.kind == MicroBatchKind.SKIPPED:
                got += [sample_id for sample_id, _ in packet.samples()]
            else:
                kept.append(packet)
        if sorted(got) != sorted(skipped):
            raise ScheduleError(f"the device skipped samples {sorted(got)[:5]}... but "
                                f"{sorted(skipped)[:5]}... were to be skipped "
                                f"({len(got)} vs {len(skipped)})")
        return kept

    def _step_on(self, group, phase) -> None:
        super()._step_on(group, phase)
        self.port.check()

    def embedding_tables(self):
        tables = super().embedding_tables()
        for (t, r), value in self.port.unwritten.items():
            tables[t][r] = value
        return tables
