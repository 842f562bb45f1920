"""FAE training: pure-hot mini-batches on the device, pure-cold ones from host memory, the hot
rows synchronised at every swap (Adnan et al., VLDB 2022).

:class:`FAETrainer` trains the same DLRM as :class:`~sw_driver.dlrm.trainer.BaselineTrainer`
(same initial parameters for the same seed, plain SGD, mean BCE per mini-batch):

1. **Offline** (before the first epoch, :mod:`~sw_driver.dlrm.fae_profile`): profile
   ``sample_rate`` of the training inputs, choose the hot rows that fit ``budget_bytes``
   (small tables whole), classify every input hot or cold and bundle pure-hot and pure-cold
   mini-batches of ``batch_size``.
2. **Where rows live**: every row has its home in a host memory image
   (:class:`~sw_driver.dlrm.cold_rows.HostEmbeddingMemory`, reached through a
   :class:`~sw_driver.dlrm.cold_rows.ColdRowPort`). The hot rows are *replicated*: a copy in
   :attr:`FAETrainer.hot` on the device (loaded once before training, ``hot_load``).
3. **Hot mini-batch**: every lookup reads the device copy; the optimizer updates the used hot
   rows there (sparse gradients, as DLRM's embedding bags).
4. **Cold mini-batch** (hybrid): every distinct row of the mini-batch, hot ones included, is
   gathered from host memory, SGD-updated after the backward pass and written back.
5. **Swap**: the two copies of the hot rows diverge while one side trains, so at every change
   of kind they are synchronised: hot -> cold copies the device's hot rows to host memory
   (``sync_to_host``), cold -> hot copies host memory's to the device (``sync_to_device``).
   ``sync="all"`` copies the whole hot set each time (the released code); ``sync="touched"``
   only the rows the other side updated since the last sync (both are exact).
6. **Swap schedule** (:class:`SwapRateSchedule`): at rate R(r) the epoch's cold and hot
   mini-batches are each cut into chunks of ``ceil(count / r)`` and trained cold chunk, hot
   chunk, cold chunk, ... (R(1): one cold chunk then one hot chunk, the released code's once
   per epoch; R(100) swaps about 200 times). The paper's shuffle scheduler starts at R(50)
   and after every hot/cold round looks at the loss on a held-out ``monitor`` set: a rise
   halves the rate, four falls in a row double it (within R(1) .. R(100)).

Checked at run time: every input is trained exactly once per epoch (:class:`ScheduleError`
otherwise), a hot mini-batch has only hot lookups. Host <-> device bytes are counted by a
:class:`~sw_driver.dlrm.traffic.CountingPort` into :attr:`FAETrainer.traffic`.

With ``budget_bytes=0`` and ``small_table_bytes=0`` nothing is hot: every mini-batch is cold,
in data order, and the trainer is the hybrid CPU-GPU DLRM (the baseline's steps, with its host
traffic counted).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sw_driver.data import SampleBlock

from .cold_rows import ColdRowPort, GatherModelPort, HostEmbeddingMemory
from .embeddings import ColdRows, pack_keys, unpack_keys
from .fae_profile import (DEFAULT_BUDGET_BYTES, SMALL_TABLE_BYTES, FAEProfile, bundle,
                          classify_inputs, profile_inputs)
from .model import DLRM, DLRMConfig, check_indices, initial_table, preprocess_dense
from .traffic import CountingPort, HostDeviceTraffic
from .trainer import LRSchedule, ScheduleError, _bce_sum, _blocks, _TrainerBase

__all__ = ["FAETrainer", "SwapRateSchedule"]


class SwapRateSchedule:
    """FAE's swap rate R(r), ``MIN_RATE <= r <= MAX_RATE`` (module docstring, item 6).

    ``adaptive``: :meth:`observe` takes the held-out loss after each hot/cold round; a rise
    halves the rate, ``falls_to_double`` falls in a row double it. Not adaptive: the rate stays
    ``start`` (:meth:`once_per_epoch` is R(1), the released code's).
    """

    MIN_RATE = 1
    MAX_RATE = 100

    def __init__(self, start: int = 50, *, adaptive: bool = True, falls_to_double: int = 4):
        if isinstance(start, bool) or not isinstance(start, int) \
                or not self.MIN_RATE <= start <= self.MAX_RATE:
            raise ValueError(f"start must be an int in [{self.MIN_RATE}, {self.MAX_RATE}], "
                             f"not {start!r}")
        if not isinstance(falls_to_double, int) or falls_to_double < 1:
            raise ValueError(f"falls_to_double must be a positive int, not {falls_to_double!r}")
        self.rate = start
        self.adaptive = adaptive
        self.falls_to_double = falls_to_double
        self._last: float | None = None
        self._falls = 0
        #: (loss, rate after it) per observation
        self.history: list[tuple[float, int]] = []

    @classmethod
    def once_per_epoch(cls) -> SwapRateSchedule:
        return cls(1, adaptive=False)

    def observe(self, loss: float) -> int:
        """Take a held-out loss; return the rate for the next round."""
        if not math.isfinite(loss):
            raise ValueError(f"the held-out loss is {loss}")
        if self.adaptive and self._last is not None:
            if loss > self._last:
                self.rate = max(self.MIN_RATE, self.rate // 2)
                self._falls = 0
            elif loss < self._last:
                self._falls += 1
                if self._falls >= self.falls_to_double:
                    self.rate = min(self.MAX_RATE, self.rate * 2)
                    self._falls = 0
        self._last = loss
        self.history.append((float(loss), self.rate))
        return self.rate

    def chunk(self, count: int) -> int:
        """Mini-batches per chunk for ``count`` of a kind in the epoch at the current rate."""
        return max(1, -(-count // self.rate))


class FAETrainer(_TrainerBase):
    """DLRM trained FAE's way (see the module docstring).

    Parameters
    ----------
    config, batch_size, lr, lr_schedule, seed, device, dtype, progress
        As :class:`~sw_driver.dlrm.trainer.BaselineTrainer` (same seed, same initial
        parameters).
    budget_bytes : int
        Device memory ``L`` for hot rows (256 MB, the released profiler's default);
        ``num_hot = L // (4 * dim)``.
    sample_rate : float
        Share of the training inputs the profiler samples (0.05).
    small_table_bytes : int
        Tables under this size are hot whole while the budget holds them (1 MB).
    profile_seed : int
        Seed of the profiler's sample.
    swap : "adaptive", "epoch", int or SwapRateSchedule
        The paper's shuffle scheduler from R(``start_rate``) (needs ``monitor``), the released
        code's once per epoch, a fixed R(r), or a schedule object.
    start_rate : int
        R at the start of the adaptive schedule (50).
    sync : "all" or "touched"
        What a swap copies: every hot row, or only those updated since the last sync.
    monitor : SampleBlock, optional
        Held-out samples whose log loss drives the adaptive schedule.
    profile : FAEProfile, optional
        A profile made elsewhere (skips the profiler).
    traffic : HostDeviceTraffic, optional
        Counter to add to (a new one by default, :attr:`traffic`).
    port_factory : callable
        Builds the port from the host memory (default :class:`GatherModelPort`).

    Members
    -------
    model : DLRM
        The MLPs (no embedding tables).
    hot : torch.nn.Parameter
        ``[hot rows, dim]``, the device copies, in the profile's key order.
    memory : HostEmbeddingMemory
    port : CountingPort
    traffic : HostDeviceTraffic
    schedule : SwapRateSchedule
    executed : list of (str, numpy.ndarray)
        The last epoch's mini-batches in training order: ``("hot" | "cold", input indices)``.
    """

    name = "fae"

    def __init__(self, config: DLRMConfig = DLRMConfig(), *, batch_size: int = 128,
                 lr: float = 0.1, lr_schedule: LRSchedule | None = None, seed: int = 0,
                 device=None, dtype: torch.dtype = torch.float32, progress: bool = False,
                 budget_bytes: int = DEFAULT_BUDGET_BYTES, sample_rate: float = 0.05,
                 small_table_bytes: int = SMALL_TABLE_BYTES, profile_seed: int = 0,
                 swap: str | int | SwapRateSchedule = "adaptive", start_rate: int = 50,
                 sync: str = "all", monitor: SampleBlock | None = None,
                 profile: FAEProfile | None = None, traffic: HostDeviceTraffic | None = None,
                 port_factory: Callable[[HostEmbeddingMemory], ColdRowPort] = GatherModelPort):
        super().__init__(config, batch_size=batch_size, lr=lr, seed=seed, device=device,
                         progress=progress, lr_schedule=lr_schedule, dtype=dtype)
        if sync not in ("all", "touched"):
            raise ValueError(f'sync must be "all" or "touched", not {sync!r}')
        if isinstance(swap, SwapRateSchedule):
            self.schedule = swap
        elif swap == "adaptive":
            if monitor is None:
                raise ValueError('swap="adaptive" needs a monitor set (held-out samples)')
            self.schedule = SwapRateSchedule(start_rate)
        elif swap == "epoch":
            self.schedule = SwapRateSchedule.once_per_epoch()
        elif isinstance(swap, int) and not isinstance(swap, bool):
            self.schedule = SwapRateSchedule(swap, adaptive=False)
        else:
            raise ValueError(f'swap must be "adaptive", "epoch", an int rate or a '
                             f'SwapRateSchedule, not {swap!r}')
        self.swap_mode = swap if isinstance(swap, (str, int)) else "schedule"
        self.sync = sync
        self.monitor = monitor
        self.budget_bytes = budget_bytes
        self.sample_rate = sample_rate
        self.small_table_bytes = small_table_bytes
        self.profile_seed = profile_seed
        self.profile = profile
        self.traffic = HostDeviceTraffic() if traffic is None else traffic
        self.memory = HostEmbeddingMemory(
            config.table_sizes, config.dim,
            dtype=np.float64 if self.dtype == torch.float64 else np.float32)
        self.memory.load_tables([initial_table(config, t, seed) for t in range(config.n_tables)])
        self.port = CountingPort(port_factory(self.memory), self.traffic)
        self.model = DLRM(config, seed=seed, with_embeddings=False).to(self.device, self.dtype)
        self._offsets = np.concatenate([[0], np.cumsum(config.table_sizes)[:-1]]).astype(np.int64)
        self.hot: torch.nn.Parameter | None = None
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=self.lr)
        self.executed: list[tuple[str, np.ndarray]] = []
        self._side: str | None = None      # kind of the last step: whose hot copy is newest
        self._view: list[torch.Tensor] | None = None
        self._counts = {"samples": 0, "hot_steps": 0, "cold_steps": 0, "swaps": 0,
                        "hot_inputs": 0, "inputs": 0}

    # -- offline -------------------------------------------------------------------------------

    def _before_training(self, source) -> None:
        data = SampleBlock.concat(_blocks(source))
        check_indices(data.sparse, self.config.table_sizes, where="training data")
        if self.profile is None:
            self.profile = profile_inputs(
                data.sparse, self.config.table_sizes, self.config.dim,
                budget_bytes=self.budget_bytes, sample_rate=self.sample_rate,
                small_table_bytes=self.small_table_bytes, seed=self.profile_seed)
        if len(self.profile.hot) != self.config.n_tables or any(
                len(h) != rows for h, rows in zip(self.profile.hot, self.config.table_sizes)):
            raise ValueError("the FAE profile does not match the model's tables")
        if self.hot is None:
            self._load_hot_rows()
        self._data = data
        self._is_hot = classify_inputs(data.sparse, self.profile)
        self._hot_batches, self._cold_batches = bundle(self._is_hot, self.batch_size)

    def _load_hot_rows(self) -> None:
        """The hot rows' first copy to the device (and the key -> slot map)."""
        tables, rows = self.profile.hot_keys()
        self._slot = np.full(sum(self.config.table_sizes), -1, dtype=np.int64)
        self._slot[self._offsets[tables] + rows] = np.arange(len(rows))
        self._hot_requests = np.stack([tables, rows], axis=1)
        values = np.zeros((len(rows), self.config.dim), dtype=self.memory.dtype)
        if len(rows):
            with self.port.tagged("hot_load"):
                values = np.asarray(self.port.gather(self._hot_requests), self.memory.dtype)
        self.hot = torch.nn.Parameter(torch.from_numpy(values).to(self.device))
        self.optimizer.add_param_group({"params": [self.hot]})
        self._dirty_device = np.zeros(len(rows), dtype=bool)
        self._dirty_host = np.zeros(len(rows), dtype=bool)

    # -- settings and stats --------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "budget_bytes": self.budget_bytes,
                "sample_rate": self.sample_rate, "small_table_bytes": self.small_table_bytes,
                "profile_seed": self.profile_seed, "swap": self.swap_mode,
                "start_rate": self.schedule.rate, "sync": self.sync}

    def _stats(self) -> dict[str, Any]:
        counts = dict(self._counts)
        counts["steps"] = self._step
        counts["hot_input_fraction"] = (counts["hot_inputs"] / counts["inputs"]
                                        if counts["inputs"] else None)
        counts["profile"] = self.profile.summary() if self.profile is not None else None
        counts["rates"] = [rate for _, rate in self.schedule.history]
        counts["final_rate"] = self.schedule.rate
        counts["traffic"] = self.traffic.to_dict()
        return counts

    # -- training ------------------------------------------------------------------------------

    def _train_epoch(self, source, epoch, progress) -> int:
        self._epoch = epoch
        hot, cold = self._hot_batches, self._cold_batches
        coverage = np.zeros(len(self._data), dtype=np.int64)
        self.executed = []
        h = c = 0
        while h < len(hot) or c < len(cold):
            take_cold = min(len(cold) - c, self.schedule.chunk(len(cold)))
            take_hot = min(len(hot) - h, self.schedule.chunk(len(hot)))
            for kind, batches in (("cold", cold[c:c + take_cold]), ("hot", hot[h:h + take_hot])):
                for indices in batches:
                    np.add.at(coverage, indices, 1)
                    self.executed.append((kind, indices))
                    loss = self._step_on(kind, self._data[indices])
                    progress.update(1, loss)
            c += take_cold
            h += take_hot
            if self.schedule.adaptive and self.monitor is not None and (h < len(hot)
                                                                        or c < len(cold)):
                self.schedule.observe(self.evaluate(self.monitor)["logloss"])
        if not (coverage == 1).all():
            bad = int(np.flatnonzero(coverage != 1)[0])
            raise ScheduleError(f"epoch {epoch}: input {bad} trained {coverage[bad]} times "
                                f"({int((coverage != 1).sum())} inputs not exactly once)")
        self._counts["samples"] += len(self._data)
        self._counts["inputs"] += len(self._data)
        self._counts["hot_inputs"] += int(self._is_hot.sum())
        return int(coverage.sum())

    def _swap_to(self, kind: str) -> None:
        """Synchronise the hot rows when the kind of mini-batch changes."""
        if self._side is not None and self._side != kind:
            self._counts["swaps"] += 1
            if kind == "cold":
                self._sync_to_host()
            else:
                self._sync_to_device()
        self._side = kind

    def _sync_to_host(self) -> None:
        """hot -> cold: the device's hot rows replace their host copies."""
        pick = (np.ones_like(self._dirty_device) if self.sync == "all"
                else self._dirty_device.copy())
        slots = np.flatnonzero(pick)
        if len(slots):
            values = self.hot.detach()[torch.from_numpy(slots).to(self.device)].cpu().numpy()
            requests = self._hot_requests[slots]
            with self.port.tagged("sync_to_host"):
                self._write_rows(requests, values)
        self._dirty_device[:] = False

    def _sync_to_device(self) -> None:
        """cold -> hot: the host's hot rows replace the device copies."""
        pick = (np.ones_like(self._dirty_host) if self.sync == "all"
                else self._dirty_host.copy())
        slots = np.flatnonzero(pick)
        if len(slots):
            with self.port.tagged("sync_to_device"):
                values = np.asarray(self.port.gather(self._hot_requests[slots]),
                                    self.memory.dtype)
            with torch.no_grad():
                self.hot[torch.from_numpy(slots).to(self.device)] = \
                    torch.from_numpy(values).to(self.device)
        self._dirty_host[:] = False

    def _write_rows(self, requests: np.ndarray, values: np.ndarray) -> None:
        """Write rows (``requests`` sorted by table) back through the port, one call per table."""
        tables, starts = np.unique(requests[:, 0], return_index=True)
        ends = np.append(starts[1:], len(requests))
        for t, a, b in zip(tables.tolist(), starts.tolist(), ends.tolist()):
            self.port.write_back(t, requests[a:b, 1], values[a:b])

    def _step_on(self, kind: str, block: SampleBlock) -> float:
        """One optimizer step on a pure-hot or pure-cold mini-batch; returns its mean loss."""
        self._swap_to(kind)
        self._view = None
        n, t = block.sparse.shape
        flat = self._offsets[None, :] + block.sparse
        self.optimizer.zero_grad(set_to_none=True)
        lr = self._set_lr()
        dense = preprocess_dense(block.dense_raw).to(self.device, self.dtype)
        labels = torch.from_numpy(block.labels.reshape(-1, 1)).to(self.device, self.dtype)
        if kind == "hot":
            slots = self._slot[flat] if self.hot is not None else np.full_like(flat, -1)
            if (slots < 0).any():
                raise ScheduleError("a hot mini-batch looks up a row that is not hot")
            emb = F.embedding(torch.from_numpy(slots.ravel()).to(self.device), self.hot,
                              sparse=True).view(n, t, self.config.dim)
            self._dirty_device[np.unique(slots)] = True
            cold = None
        else:
            tables = np.broadcast_to(np.arange(t, dtype=np.int64), (n, t))
            keys = np.unique(pack_keys(tables, block.sparse).ravel())
            cold = self._gather(keys)
            index = cold.index_of(pack_keys(tables, block.sparse).ravel())
            emb = cold.values[torch.from_numpy(index).to(self.device)].view(n, t, self.config.dim)
            if self.hot is not None:
                requests = unpack_keys(keys)
                slots = self._slot[self._offsets[requests[:, 0]] + requests[:, 1]]
                self._dirty_host[slots[slots >= 0]] = True
        loss = _bce_sum(self.model.logits_from_embeddings(dense, emb), labels) / n
        loss.backward()
        self.optimizer.step()
        if cold is not None:
            with torch.no_grad():
                values = cold.values.detach()
                if cold.values.grad is not None:
                    values = values.add(cold.values.grad, alpha=-lr)
            self._write_rows(unpack_keys(cold.keys), values.cpu().numpy())
        value = loss.item()
        self._counts[f"{kind}_steps"] += 1
        self._record_step(self._epoch, kind, f"{kind}_mini_batch", n, n if kind == "hot" else 0,
                          value)
        return value

    def _gather(self, keys: np.ndarray) -> ColdRows:
        values = np.asarray(self.port.gather(unpack_keys(keys)), dtype=self.memory.dtype)
        if values.shape != (len(keys), self.config.dim):
            raise RuntimeError(f"the port returned shape {values.shape} for {len(keys)} rows")
        return ColdRows(keys, torch.from_numpy(values).to(self.device).requires_grad_(True))

    # -- inference and views -------------------------------------------------------------------

    def embedding_tables(self) -> list[np.ndarray]:
        """Every table as the model sees it now: the host image, with the device's hot rows in
        place when a hot mini-batch was the last step (host-side read, not counted)."""
        tables = [self.memory.table_view(t).copy() for t in range(self.config.n_tables)]
        if self._side == "hot" and self.hot is not None and len(self._hot_requests):
            values = self.hot.detach().cpu().numpy()
            for t in np.unique(self._hot_requests[:, 0]).tolist():
                mine = self._hot_requests[:, 0] == t
                tables[t][self._hot_requests[mine, 1]] = values[mine]
        return tables

    @torch.no_grad()
    def predict_logits(self, block):
        check_indices(block.sparse, self.config.table_sizes)
        if self._view is None:
            self._view = [torch.from_numpy(np.ascontiguousarray(a)).to(self.device, self.dtype)
                          for a in self.embedding_tables()]
        emb = torch.stack([self._view[t][torch.from_numpy(block.sparse[:, t]).to(self.device)]
                           for t in range(self.config.n_tables)], dim=1)
        dense, _ = self._tensors(block)
        return self.model.logits_from_embeddings(dense, emb)[:, 0].double().cpu().numpy()
