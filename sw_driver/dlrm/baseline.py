"""The baseline: DLRM as its repository trains it (every table on the device, plain SGD)."""

from __future__ import annotations

import numpy as np
import torch

from sw_driver.data import iter_minibatches

from .model import DLRM, DLRMConfig, check_indices
from .trainer_base import LRSchedule, _bce_sum, _blocks, _TrainerBase

__all__ = ["BaselineTrainer"]


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
