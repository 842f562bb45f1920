"""The process group and the counted collectives of the distributed DLRM trainer.

:func:`init_from_env` joins the group ``torchrun`` describes (``RANK``, ``WORLD_SIZE``,
``MASTER_ADDR``, ``MASTER_PORT``): ``nccl`` when the training device is a GPU, ``gloo``
otherwise, with a collective timeout. :class:`Comm` wraps the few collectives the trainer uses
and counts the payload bytes each worker sends or receives per kind, so that the per-step
communication volume is a measured count, not an estimate:

``scattered``
    bytes the accelerator-owning rank (0) sends a worker: its share of the micro-batches
    (inputs, lookups, hot / slot answers) and the cold rows it needs (received by the worker).
``all_reduced``
    bytes a worker puts into all-reduces: the MLP gradients and the hot-table gradient rows
    touched by the step (the input size of the all-reduce, per worker, as DDP reports it).
``gathered``
    cold-row gradients a worker sends back to rank 0.
``broadcast``
    one-off copies of the replicated state (start, freeze, resume); not per step.

Every failure of a collective (a peer that died, a timeout) becomes one
:class:`DistributedTrainingError` naming the rank, the operation and the step.
"""

from __future__ import annotations

import datetime
import os
from collections import Counter
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

__all__ = ["Comm", "DistributedTrainingError", "backend_for", "init_from_env", "payload_bytes"]


class DistributedTrainingError(RuntimeError):
    """A worker died or a collective timed out: training stopped on every worker.

    The message names the rank that saw it, the operation and the step; the run resumes from
    the last checkpoint (``--resume``)."""


def backend_for(device: torch.device) -> str:
    """``nccl`` for a CUDA training device, ``gloo`` otherwise."""
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def init_from_env(device: torch.device, timeout_s: float) -> tuple[int, int, torch.device]:
    """Join the process group torchrun set up; returns ``(rank, world_size, device)``.
    ``timeout_s`` bounds its collectives (see :meth:`Comm.tighten` for the training's).

    On CUDA each process takes GPU ``LOCAL_RANK``. Without torchrun's variables a single
    process runs alone (rank 0 of 1) on a free local port.
    """
    device = torch.device(device)
    if "RANK" not in os.environ:
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(_free_port()))
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    dist.init_process_group(backend_for(device),
                            timeout=datetime.timedelta(seconds=float(timeout_s)))
    return dist.get_rank(), dist.get_world_size(), device


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def payload_bytes(obj: Any) -> int:
    """Bytes of the arrays and tensors in ``obj`` (nested lists, tuples, dicts); scalars and
    strings count 8 bytes each (the header). Pickle framing is not counted."""
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(payload_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(payload_bytes(v) for v in obj)
    return 8 if obj is not None else 0


class Comm:
    """The trainer's collectives over the default group, counted in :attr:`bytes` (a
    :class:`collections.Counter` by kind) and :attr:`calls`; ``step`` (set by the trainer)
    names the optimizer step in errors."""

    def __init__(self, rank: int, world: int, device: torch.device, *,
                 timeout_s: float | None = None):
        self.rank, self.world, self.device = rank, world, torch.device(device)
        self.bytes: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.step = 0
        self.timeout_s = timeout_s
        self.group = None                   # the default group until :meth:`tighten`

    def tighten(self) -> None:
        """From now on use a group with the training timeout (``timeout_s``). The default
        group's (longer) timeout covers the start, while rank 0 builds its trainer and data;
        every rank calls this once, after the ``start`` message."""
        if self.world == 1 or self.timeout_s is None:
            return
        self.group = dist.new_group(timeout=datetime.timedelta(seconds=float(self.timeout_s)))

    def _fail(self, operation: str, error: Exception) -> DistributedTrainingError:
        return DistributedTrainingError(
            f"rank {self.rank} of {self.world}: {operation} failed at step {self.step} "
            f"(a worker died or the collective timed out): {type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}")

    def _count(self, kind: str, n: int) -> None:
        self.bytes[kind] += n
        self.calls[kind] += 1

    def scatter(self, messages: list[Any] | None) -> Any:
        """Rank 0 sends ``messages[r]`` to rank ``r`` (pickled); every rank returns its own."""
        out = [None]
        try:
            if self.world == 1:
                out = [messages[0]]
            else:
                dist.scatter_object_list(out, messages if self.rank == 0 else None, src=0,
                                        group=self.group)
        except (RuntimeError, dist.DistBackendError) as error:
            raise self._fail("scatter", error) from error
        # step messages count as "scattered"; start / sync / stop as "control"
        kind = "scattered" if out[0]["op"] == "step" else "control"
        if self.rank:
            self._count(kind, payload_bytes(out[0]["payload"]))
        else:
            # rank 0 counts what it sends to the others (per worker: divide by world - 1)
            self._count(kind + "_sent", sum(payload_bytes(m["payload"]) for m in messages[1:]))
        return out[0]

    def all_reduce(self, tensor: torch.Tensor, kind: str = "all_reduced") -> None:
        """Sum ``tensor`` over the ranks, in place (counted under ``kind``; nothing is sent,
        nor counted, in a world of one)."""
        if self.world == 1:
            return
        self._count(kind, tensor.numel() * tensor.element_size())
        try:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM, group=self.group)
        except (RuntimeError, dist.DistBackendError) as error:
            raise self._fail("all_reduce", error) from error

    def broadcast(self, tensor: torch.Tensor) -> None:
        """Rank 0's ``tensor`` to every rank, in place."""
        if self.world == 1:
            return
        self._count("broadcast", tensor.numel() * tensor.element_size())
        try:
            dist.broadcast(tensor, src=0, group=self.group)
        except (RuntimeError, dist.DistBackendError) as error:
            raise self._fail("broadcast", error) from error

    def send_to_root(self, tensor: torch.Tensor) -> None:
        self._count("gathered", tensor.numel() * tensor.element_size())
        try:
            dist.send(tensor.contiguous(), dst=0, group=self.group)
        except (RuntimeError, dist.DistBackendError) as error:
            raise self._fail("send of cold-row gradients", error) from error

    def receive_from(self, rank: int, tensor: torch.Tensor) -> torch.Tensor:
        self._count("gathered_received", tensor.numel() * tensor.element_size())
        try:
            dist.recv(tensor, src=rank, group=self.group)
        except (RuntimeError, dist.DistBackendError) as error:
            raise self._fail(f"receive of rank {rank}'s cold-row gradients", error) from error
        return tensor
