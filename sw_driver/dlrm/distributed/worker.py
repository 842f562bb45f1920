"""One worker's share of a distributed step: the model replica, its forward / backward on the
samples rank 0 sent it, and the reduction of the gradients.

Every rank (rank 0 included) holds a :class:`Replica`: the MLPs and the hot table, replicated and
kept identical by applying the same summed gradients. A step's message (built by rank 0, see
:mod:`~sw_driver.dlrm.distributed.coordinator`) carries the worker's samples (raw dense
features, labels; per lookup whether it is hot and its row: a hot-table slot or a row of the
cold rows sent with it) and those cold rows, each distinct row once. :meth:`Replica.step` then

1. runs forward and backward on those samples with the loss ``sum of per-sample BCE / total``,
   ``total`` the step's global sample count, so that the per-worker gradients *add up* to the
   gradient of the global (micro- or mini-) batch's mean loss: the single-process step's math;
2. all-reduces (sum) the MLP gradients and the step's loss in one flat buffer;
3. all-reduces the hot table's gradient rows of the step's hot slots only (sorted, the same
   list on every rank: sent by rank 0), a dense ``[slots, dim]`` buffer, not the whole table;
4. applies SGD (``p -= lr * g``, as ``torch.optim.SGD``) to the MLPs and those hot rows;
5. returns the gradient of its cold rows, which rank 0 collects, sums per row and applies
   through the host driver (written back once).

:func:`serve` is the loop of ranks 1..N-1: receive, step, until rank 0 says stop.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..model import DLRM, DLRMConfig, preprocess_dense
from .comm import Comm, DistributedTrainingError

__all__ = ["Fault", "Replica", "serve"]


class Fault:
    """Fault injection for the failure tests: rank ``rank`` is killed (``SIGKILL``, as by the
    OOM killer) or hangs (sleeps forever) when step ``step`` begins. ``"RANK:STEP:kill"``."""

    def __init__(self, spec: str | None):
        self.rank = self.step = None
        self.kind = None
        if spec:
            try:
                rank, step, kind = spec.split(":")
                self.rank, self.step, self.kind = int(rank), int(step), kind
            except ValueError:
                raise ValueError(f"--fault must be RANK:STEP:kill|hang, not {spec!r}") from None
            if kind not in ("kill", "hang"):
                raise ValueError(f"--fault kind must be kill or hang, not {kind!r}")

    def maybe(self, rank: int, step: int) -> None:
        if self.rank != rank or self.step != step:
            return
        if self.kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        while True:                                  # hang: the others must time out
            time.sleep(60)


class Replica:
    """The replicated part of the model on one rank: ``model`` (MLPs, no embeddings) and
    ``hot`` (``[entries, dim]``, the hot table at the popularity table's slots)."""

    def __init__(self, config: DLRMConfig, model: DLRM, hot: torch.Tensor, comm: Comm):
        self.config, self.model, self.hot, self.comm = config, model, hot, comm
        self.device = hot.device
        self.dtype = hot.dtype
        self.params = [p for name, p in model.named_parameters() if not name.startswith("embed")]

    # -- the state every rank must agree on ----------------------------------------------------

    def flat(self) -> torch.Tensor:
        """MLP parameters and the hot table in one flat tensor (a copy)."""
        return torch.cat([p.detach().reshape(-1) for p in self.params]
                         + [self.hot.detach().reshape(-1)])

    def load_flat(self, flat: torch.Tensor) -> None:
        with torch.no_grad():
            offset = 0
            for p in [*self.params, self.hot]:
                n = p.numel()
                p.copy_(flat[offset:offset + n].view_as(p))
                offset += n

    def sync_from_root(self) -> None:
        """Every rank takes rank 0's parameters and hot table."""
        flat = self.flat()
        self.comm.broadcast(flat)
        self.load_flat(flat)

    def check_in_sync(self) -> float:
        """Largest difference of any rank's replica from rank 0's (0.0 when the replicas are
        identical, as they must be); the same value on every rank."""
        mine = self.flat()
        root = mine.clone()
        self.comm.broadcast(root)
        diff = (mine - root).abs().nan_to_num(0.0).max().to(torch.float64)
        # the max over ranks: each rank fills its own slot, the sum is every rank's value
        slots = torch.zeros(self.comm.world, dtype=torch.float64, device=self.device)
        slots[self.comm.rank] = diff
        self.comm.all_reduce(slots, kind="control")
        return float(slots.max())

    # -- a step --------------------------------------------------------------------------------

    def step(self, message: dict[str, Any]) -> tuple[float, torch.Tensor]:
        """This rank's share of one optimizer step (module docstring); returns the step's
        global loss (mean over its samples) and the gradient of this rank's cold rows
        (``[rows, dim]``, in the order of ``payload["cold_values"]``)."""
        p = message["payload"]
        lr, total = message["lr"], message["total"]
        hot_slots = torch.from_numpy(p["hot_slots"]).to(self.device)
        cold_values = torch.from_numpy(p["cold_values"]).to(self.device, self.dtype)
        cold_values.requires_grad_(True)
        for q in [*self.params, self.hot]:
            q.grad = None
        n = len(p["labels"])
        loss_sum = torch.zeros((), dtype=self.dtype, device=self.device)
        if n:
            emb = self._embed(p["hot"], p["row"], cold_values)
            dense = preprocess_dense(p["dense_raw"]).to(self.device, self.dtype)
            labels = torch.from_numpy(p["labels"].reshape(-1, 1)).to(self.device, self.dtype)
            logits = self.model.logits_from_embeddings(dense, emb)
            loss = F.binary_cross_entropy_with_logits(logits, labels, reduction="sum") / total
            loss.backward()
            loss_sum = loss.detach()
        # (2) MLP gradients and the loss, one all-reduce
        grads = [q.grad if q.grad is not None else torch.zeros_like(q) for q in self.params]
        flat = torch.cat([g.reshape(-1) for g in grads] + [loss_sum.reshape(1)])
        self.comm.all_reduce(flat)
        # (3) the hot rows of the step
        hot_grad = None
        if len(hot_slots):
            hot_grad = torch.zeros((len(hot_slots), self.config.dim), dtype=self.dtype,
                                   device=self.device)
            if self.hot.grad is not None:
                g = self.hot.grad.coalesce()
                where = torch.searchsorted(hot_slots, g.indices()[0])
                hot_grad.index_add_(0, where, g.values())
            self.comm.all_reduce(hot_grad)
        # (4) SGD on the replicated parameters
        with torch.no_grad():
            offset = 0
            for q in self.params:
                k = q.numel()
                q.add_(flat[offset:offset + k].view_as(q), alpha=-lr)
                offset += k
            if hot_grad is not None:
                self.hot.index_add_(0, hot_slots, hot_grad, alpha=-lr)
        for q in [*self.params, self.hot]:
            q.grad = None
        cold_grad = cold_values.grad
        if cold_grad is None:
            cold_grad = torch.zeros_like(cold_values)
        return float(flat[-1]), cold_grad.detach()

    def _embed(self, hot: np.ndarray, row: np.ndarray, cold_values: torch.Tensor) \
            -> torch.Tensor:
        """Embeddings ``[n, T, dim]`` of ``n`` samples: lookup ``(i, t)`` reads hot-table slot
        ``row[i, t]`` if ``hot[i, t]`` (sparse gradient), else row ``row[i, t]`` of
        ``cold_values``."""
        n, t = hot.shape
        flat_hot = hot.ravel()
        flat_row = row.ravel().astype(np.int64)
        hot_pos = np.flatnonzero(flat_hot)
        cold_pos = np.flatnonzero(~flat_hot)
        if len(cold_pos) and flat_row[cold_pos].max() >= len(cold_values):
            raise DistributedTrainingError(f"rank {self.comm.rank}: a cold lookup names row "
                                           f"{flat_row[cold_pos].max()} of the "
                                           f"{len(cold_values)} sent (step {self.comm.step})")
        parts = []
        if len(hot_pos):
            slots = torch.from_numpy(flat_row[hot_pos]).to(self.device)
            parts.append(F.embedding(slots, self.hot, sparse=True))
        if len(cold_pos):
            parts.append(cold_values[torch.from_numpy(flat_row[cold_pos]).to(self.device)])
        rows = torch.cat(parts) if len(parts) > 1 else parts[0]
        order = np.empty(n * t, dtype=np.int64)
        order[hot_pos] = np.arange(len(hot_pos))
        order[cold_pos] = len(hot_pos) + np.arange(len(cold_pos))
        return rows[torch.from_numpy(order).to(self.device)].view(n, t, self.config.dim)


def serve(comm: Comm, fault: Fault) -> None:
    """The loop of a worker (rank > 0): build the replica from rank 0's ``start`` message,
    then take steps until ``stop``. Returns normally only on ``stop``."""
    replica = None
    while True:
        message = comm.scatter(None)
        op = message["op"]
        comm.step = message.get("step", comm.step)
        if op == "start":
            spec = message["payload"]
            model = DLRM(spec["config"], seed=spec["seed"], with_embeddings=False)
            model = model.to(comm.device, spec["dtype"])
            hot = torch.nn.Parameter(torch.zeros(spec["hot_shape"], dtype=spec["dtype"],
                                                 device=comm.device))
            replica = Replica(spec["config"], model, hot, comm)
            comm.tighten()
            replica.sync_from_root()
        elif op == "sync":
            replica.sync_from_root()
        elif op == "step":
            fault.maybe(comm.rank, comm.step)
            _, cold_grad = replica.step(message)
            if cold_grad.numel():                # rank 0 knows the size: nothing to send
                comm.send_to_root(cold_grad)
        elif op == "stop":
            replica.check_in_sync()
            return
        else:
            raise DistributedTrainingError(f"rank {comm.rank}: unknown message {op!r}")
