"""Rank 0 of the distributed trainer: it owns the accelerator and the cold rows, forms the
micro-batches and splits each over the N workers.

:class:`DistributedHotlineTrainer` is :class:`~sw_driver.dlrm.trainer.HotlineTrainer`'s flow
(learning phase, freeze, ``SPLIT`` or ``REFORMED`` schedule, on the golden models) and
:class:`DistributedAcceleratorTrainer` is :class:`~sw_driver.dlrm.accelerator.AcceleratorTrainer`'s
(the device through the host driver, any backend), with one thing replaced: the optimizer step
(``_step_on``). For each step rank 0

1. takes the step's micro-batches (a popular / non-popular pair in ``SPLIT`` mode, one
   micro-batch in ``REFORMED``) and gathers the step's distinct cold rows once, through the
   driver (host memory stays on rank 0);
2. splits *each* micro-batch's samples into N contiguous shares, worker ``r`` gets share ``r`` of
   every micro-batch: popular micro-batches run data-parallel on the replicated hot table, a
   non-popular one's cold rows go only to the workers whose samples look them up;
3. scatters each worker its samples and cold rows (rank 0 keeps its own share), and the step's
   hot slots (sorted; the all-reduce of the hot-table gradient covers only these);
4. takes its own share of the step (:meth:`~sw_driver.dlrm.distributed.worker.Replica.step`:
   forward, backward, all-reduces, SGD on the replicas);
5. receives each worker's cold-row gradients, adds them per row (rank order) and applies SGD to
   the cold rows, written back once through the driver.

The loss of every share is its per-sample loss *sum* divided by the step's global sample count,
so the summed gradients are those of the single-process step (exact mode: the baseline's step)
up to float summation order.

Checkpoints (:meth:`checkpoint_state`, written every ``checkpoint_every`` mini-batches, at the
first working-set boundary from there: when the scheduler holds no sample) hold everything rank 0 owns:
the MLPs and the hot table (= every replica), the host memory image (cold rows), the popularity
table, the scheduler, the trained-sample bookkeeping, counters and the results so far, and the
data position (epoch, mini-batches done). A run resumed from one takes the same steps as an
uninterrupted run, bit for bit (same world size; other world sizes: same up to float order).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from hotline_hw.model.scheduler import ScheduleMode

from ..accelerator import AcceleratorTrainer
from ..embeddings import pack_keys
from ..trainer import HotlineTrainer, ScheduleError
from .checkpoint import load_checkpoint, save_checkpoint
from .comm import Comm, DistributedTrainingError
from .worker import Fault, Replica

__all__ = ["DistributedAcceleratorTrainer", "DistributedHotlineTrainer"]


def _cold_keys(sparse: np.ndarray, hot: np.ndarray) -> np.ndarray:
    tables = np.broadcast_to(np.arange(sparse.shape[1], dtype=np.int64), sparse.shape)
    return pack_keys(tables[~hot], sparse[~hot])


class _Coordinator:
    """The distributed step and the checkpoints, mixed into a Hotline trainer (module
    docstring). Call :meth:`attach` before :meth:`train`, :meth:`finish` after."""

    comm: Comm | None = None

    def attach(self, comm: Comm, *, fault: Fault | None = None, checkpoint: str | None = None,
               checkpoint_every: int = 0, resume: str | None = None) -> None:
        """Start the workers (they build their replicas from rank 0's) and, with ``resume``,
        load a checkpoint first."""
        if comm.rank != 0:
            raise ValueError("the coordinator is rank 0")
        self.comm = comm
        self.fault = fault or Fault(None)
        self.checkpoint_path = checkpoint
        self.checkpoint_every = int(checkpoint_every)
        self.checkpoints_written = 0
        self._resume = None
        self.replica = Replica(self.config, self.model, self.store.hot, comm)
        if resume:
            self._restore(load_checkpoint(resume, self.settings()))
        spec = {"config": self.config, "seed": self.seed, "dtype": self.dtype,
                "hot_shape": tuple(self.store.hot.shape)}
        self._send_all("start", spec)
        self.comm.tighten()
        self.replica.sync_from_root()
        self.step_seconds = 0.0
        self.steps_taken = 0                            # by this run (not before a resume)

    def _send_all(self, op: str, payload: Any = None) -> None:
        self.comm.scatter([{"op": op, "step": self._step, "payload": payload}
                           for _ in range(self.comm.world)])

    def finish(self) -> dict[str, Any]:
        """Stop the workers after checking every replica equals rank 0's; returns the
        communication figures (:meth:`communication`)."""
        figures = self.communication()
        self._send_all("stop")
        diff = self.replica.check_in_sync()
        if diff != 0.0:
            raise DistributedTrainingError(f"the replicas diverged (largest difference {diff})")
        return figures

    def communication(self) -> dict[str, Any]:
        """Bytes per optimizer step and per worker, by kind (counted, see
        :mod:`~sw_driver.dlrm.distributed.comm`); rank 0's own share is not sent."""
        steps = max(1, self.steps_taken)
        others = max(1, self.comm.world - 1)
        b = self.comm.bytes
        return {"world": self.comm.world, "steps": self._step, "steps_this_run": self.steps_taken,
                "all_reduced_per_step": b["all_reduced"] / steps,
                "scattered_per_step": b["scattered_sent"] / others / steps,
                "gathered_per_step": b["gathered_received"] / others / steps,
                "one_off_broadcast": b["broadcast"],
                "step_seconds": self.step_seconds / steps}

    # -- the distributed step ------------------------------------------------------------------

    def _freeze(self) -> None:
        super()._freeze()
        if self.comm is not None:                       # the hot table moves to every replica
            self._send_all("sync")
            self.replica.sync_from_root()

    def _step_on(self, group, phase) -> None:
        total = sum(b.size for b in group)
        if total == 0:
            return
        start = time.perf_counter()
        world = self.comm.world
        frozen = self.store.frozen
        parts = []
        for batch in group:
            if batch.size == 0:
                continue
            dense_raw, sparse, labels, hit, slot = self._buffer.take(batch.sample_ids)
            hot = hit & frozen
            popular = np.asarray(batch.popular, dtype=bool)
            if not hot[popular].all():
                raise ScheduleError("a popular sample has a lookup that missed")
            parts.append((dense_raw, sparse, labels, hot, slot, int(popular.sum())))
        keys = np.unique(np.concatenate([_cold_keys(p[1], p[3]) for p in parts]))
        cold_rows = self.store.gather_cold(keys)
        values = cold_rows.values.detach().cpu().numpy()
        hot_slots = np.unique(np.concatenate([p[4][p[3]] for p in parts])).astype(np.int64)
        lr = self._set_lr()
        messages, where = [], []
        shares = [np.array_split(np.arange(len(p[0])), world) for p in parts]
        for r in range(world):
            columns = zip(*[tuple(a[share[r]] for a in p[:5]) for p, share in zip(parts, shares)])
            dense_raw, sparse, labels, hot, slot = (np.concatenate(c) for c in columns)
            # what the worker needs per lookup: hot or not, and its row (a hot slot, or a row
            # of the cold rows sent to it); row ids and keys stay on rank 0
            lookups = _cold_keys(sparse, hot)
            mine, inverse = np.unique(lookups, return_inverse=True)
            index = cold_rows.index_of(mine)
            row = slot.astype(np.int32)
            row[~hot] = inverse.reshape(-1)
            where.append(torch.from_numpy(index).to(self.device))
            messages.append({"op": "step", "step": self._step, "lr": lr, "total": total,
                             "payload": {"hot_slots": hot_slots,
                                         "dense_raw": dense_raw, "labels": labels,
                                         "hot": hot, "row": row,
                                         "cold_values": values[index]}})
        self.comm.step = self._step
        self.fault.maybe(0, self._step)
        loss, own = self.replica.step(self.comm.scatter(messages))
        grad = torch.zeros_like(cold_rows.values)
        grad.index_add_(0, where[0], own)
        for r in range(1, world):
            if len(where[r]):
                received = torch.empty((len(where[r]), self.config.dim), dtype=grad.dtype,
                                       device=self.device)
                grad.index_add_(0, where[r], self.comm.receive_from(r, received))
        cold_rows.values.grad = grad
        written = self.store.update_cold(cold_rows, lr)
        if written != len(cold_rows):
            raise ScheduleError(f"{len(cold_rows)} cold rows gathered, {written} written back")
        if hasattr(self.port, "check"):                 # the accelerator's write-back status
            self.port.check()
        kind = "split" if self.mode is ScheduleMode.SPLIT else group[0].kind.name.lower()
        self.step_seconds += time.perf_counter() - start
        self.steps_taken += 1
        self._record_step(self._epoch, phase, kind, total, sum(p[-1] for p in parts), loss)

    # -- the epoch loop with checkpoints and resume --------------------------------------------

    def _before_training(self, source) -> None:
        super()._before_training(source)
        if self._resume is not None:
            r = self._resume
            self._learn_left = r["learn_left"]
            self.result.steps = r["result_steps"]
            self.result.working_sets = r["result_working_sets"]

    def _train_epoch(self, source, epoch, progress) -> int:
        # Serial always: a checkpoint must see every planned step trained, and the collective
        # steps run in the order the epoch is planned.
        return self._plan_epoch(source, epoch, progress)

    def _epoch_start(self, source, epoch):
        resume = self._resume
        self._checkpoint_due = False
        if resume is None or epoch > resume["epoch"]:
            return super()._epoch_start(source, epoch)
        if epoch < resume["epoch"]:
            return None                                # finished before the checkpoint
        self._open_sets = resume["open_sets"]
        self._resume = None
        return (resume["learning"], resume["scheduler"], resume["buffer"], resume["batches"],
                resume["position"])

    def _after_batch(self, *, epoch, batches, position, learning, scheduler, buffer) -> None:
        # Due every checkpoint_every mini-batches, written at the next working-set boundary
        # (nothing held by the scheduler).
        if self.checkpoint_every and batches % self.checkpoint_every == 0:
            self._checkpoint_due = True
        if self.checkpoint_path and self._checkpoint_due and scheduler.held == 0:
            self._checkpoint_due = False
            save_checkpoint(self.checkpoint_path, self.checkpoint_state(
                epoch=epoch, batches=batches, position=position, learning=learning,
                scheduler=scheduler, buffer=buffer))
            self.checkpoints_written += 1

    def checkpoint_state(self, *, epoch, batches, position, learning, scheduler,
                         buffer) -> dict[str, Any]:
        """Everything a resumed run needs (module docstring), as picklable objects."""
        store = self.store
        return {
            "settings": self.settings(), "epoch": epoch, "batches": batches,
            "position": position, "learning": learning, "scheduler": scheduler,
            "buffer": buffer, "open_sets": self._open_sets, "step": self._step,
            "learn_left": self._learn_left, "epochs_done": self._epochs_done,
            "counts": dict(self._counts), "table": self.table,
            "model": {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
            "hot": store.hot.detach().cpu().clone(), "frozen": store.frozen,
            "hot_keys": (store.hot_tables, store.hot_rows, store.hot_slots),
            "store_counts": (store.rows_gathered, store.rows_written_back),
            "memory": self.memory.memory.copy(),
            "result_steps": list(self.result.steps),
            "result_working_sets": list(self.result.working_sets),
        }

    def _restore(self, state: dict[str, Any]) -> None:
        if isinstance(self, AcceleratorTrainer):
            raise DistributedTrainingError("resume needs the golden-model backend: the "
                                           "device's table is not in the checkpoint")
        store = self.store
        self.model.load_state_dict(state["model"])
        with torch.no_grad():
            store.hot.copy_(state["hot"])
        store.frozen = state["frozen"]
        store.hot_tables, store.hot_rows, store.hot_slots = state["hot_keys"]
        store.rows_gathered, store.rows_written_back = state["store_counts"]
        self.table = store.table = state["table"]
        self._snapshot_table()                          # the fast path's RUN-mode lookups
        self.memory.memory[...] = state["memory"]
        self._step = state["step"]
        self._epochs_done = state["epochs_done"]
        self._counts = state["counts"]
        self._resume = state


class DistributedHotlineTrainer(_Coordinator, HotlineTrainer):
    """:class:`~sw_driver.dlrm.trainer.HotlineTrainer` on N workers (golden models on rank 0).

    ``hot_set=[]`` is the hybrid baseline: nothing is hot, every row is gathered from host
    memory and scattered (DLRM with its tables in CPU memory)."""

    def __init__(self, *args, **options):
        super().__init__(*args, **options)
        self.name = "distributed-" + self.name


class DistributedAcceleratorTrainer(_Coordinator, AcceleratorTrainer):
    """:class:`~sw_driver.dlrm.accelerator.AcceleratorTrainer` on N workers: rank 0 drives the
    device (the golden-model device by default, any blocking driver). No resume."""

    def __init__(self, *args, **options):
        super().__init__(*args, **options)
        self.name = "distributed-" + self.name
