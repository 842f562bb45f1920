"""PyTorch side of the data pipeline: DLRM batches and a ``DataLoader`` over any source.

A batch is DLRM's 4-tuple ``(X_int, lS_o, lS_i, T)``, for B samples and T tables:

============  =========  =========  ==========================================================
field         dtype      shape      meaning
============  =========  =========  ==========================================================
``dense``     float32    [B, D]     ``log(x + 1)`` of the raw integer features
``offsets``   int64      [T, B]     ``lS_o``: start of each sample's bag in ``indices[t]``;
                                    one-hot, so ``offsets[t] = arange(B)``
``indices``   int64      [T, B]     ``lS_i``: the row looked up in table ``t``
``labels``    float32    [B, 1]     click labels, 0 or 1
============  =========  =========  ==========================================================

``nn.EmbeddingBag(mode="sum")(indices[t], offsets[t])`` is then exactly DLRM's lookup of table
``t``. This is the only module of :mod:`sw_driver.data` that needs torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from .samples import SampleBlock, SampleSource, iter_minibatches

__all__ = ["DLRMBatch", "DLRMBatchDataset", "make_dataloader", "to_batch"]


class DLRMBatch(NamedTuple):
    """One DLRM mini-batch; unpacks as ``dense, offsets, indices, labels`` (see module table)."""

    dense: torch.Tensor
    offsets: torch.Tensor
    indices: torch.Tensor
    labels: torch.Tensor


def to_batch(block: SampleBlock) -> DLRMBatch:
    """The DLRM batch of all samples of ``block`` (B = ``len(block)``, may be 0).

    The tensors own fresh memory (nothing aliases the block), so a consumer may modify them.
    """
    n, n_tables = block.sparse.shape
    dense = torch.from_numpy(block.dense)
    offsets = torch.arange(n, dtype=torch.int64).repeat(n_tables, 1)
    indices = torch.from_numpy(np.ascontiguousarray(block.sparse.T))
    labels = torch.from_numpy(block.labels.reshape(n, 1).copy())
    return DLRMBatch(dense, offsets, indices, labels)


def _blocks_of(source: SampleSource | SampleBlock) -> Iterator[SampleBlock]:
    if isinstance(source, SampleBlock):
        return iter((source,))
    return iter(source.blocks())


class DLRMBatchDataset(IterableDataset):
    """Whole DLRM batches from a sample source, for a ``DataLoader`` with ``batch_size=None``.

    Parameters
    ----------
    source : SampleSource or SampleBlock
        Anything with ``blocks()`` (:class:`~sw_driver.data.criteo.CriteoReader`,
        :class:`~sw_driver.data.synthetic.SyntheticCriteo`,
        :class:`~sw_driver.data.movielens.MovieLens100K`) or a block in memory.
    batch_size : int
        Samples per batch; every batch but the last has exactly this many.
    drop_last : bool
        Drop a final batch of fewer than ``batch_size`` samples.

    Notes
    -----
    Each iteration restarts the source and yields the same batches in the same order. Under a
    ``DataLoader`` with ``num_workers=W > 0`` worker ``w`` yields batches ``w, w + W, ...``,
    which the loader's in-order round robin puts back in the single-process order. Every worker
    still reads the whole source (only batch assembly is split), so workers pay off only when
    converting batches, not parsing, is the bottleneck. A :class:`CriteoReader` in skip mode
    then warns once per worker, and fills its ``skipped`` list in the workers' copies.
    """

    def __init__(self, source: SampleSource | SampleBlock, batch_size: int, *,
                 drop_last: bool = False) -> None:
        super().__init__()
        if not isinstance(source, SampleBlock) and not hasattr(source, "blocks"):
            raise TypeError(f"source must be a SampleBlock or have blocks(), not {type(source)}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"batch_size must be an int, not {batch_size!r}")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, not {batch_size}")
        self.source = source
        self.batch_size = int(batch_size)
        self.drop_last = bool(drop_last)

    def __iter__(self) -> Iterator[DLRMBatch]:
        worker = get_worker_info()
        stride, first = (1, 0) if worker is None else (worker.num_workers, worker.id)
        batches = iter_minibatches(_blocks_of(self.source), self.batch_size,
                                   drop_last=self.drop_last)
        for i, block in enumerate(batches):
            if i % stride == first:
                yield to_batch(block)

    def __len__(self) -> int:
        """Number of batches, when the source knows its length (else ``TypeError``)."""
        n = len(self.source)  # type: ignore[arg-type]
        full, rest = divmod(n, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)


def make_dataloader(
    source: SampleSource | SampleBlock,
    batch_size: int,
    drop_last: bool = False,
    *,
    num_workers: int = 0,
    pin_memory: bool = False,
    **loader_options,
) -> DataLoader:
    """A ``DataLoader`` yielding :class:`DLRMBatch` es ``(dense, offsets, indices, labels)``.

    Parameters
    ----------
    source : SampleSource or SampleBlock
        A :class:`~sw_driver.data.criteo.CriteoReader` (Criteo files), a
        :class:`~sw_driver.data.synthetic.SyntheticCriteo` (its ``n_samples`` samples), a
        :class:`~sw_driver.data.movielens.MovieLens100K`, or a block in memory.
    batch_size : int
        Samples per batch.
    drop_last : bool
        Drop the final partial batch instead of yielding it.
    num_workers, pin_memory
        Passed to ``DataLoader``; see :class:`DLRMBatchDataset` for what workers do.
    **loader_options
        Further ``DataLoader`` options (e.g. ``prefetch_factor``, ``multiprocessing_context``).
        ``batch_size``, ``shuffle``, ``sampler`` and ``collate_fn`` are fixed by this design:
        the dataset yields whole batches in source order.

    Returns
    -------
    torch.utils.data.DataLoader
        Deterministic: every pass yields the same batches in the same order, for any
        ``num_workers``. ``len()`` works when the source has a length.
    """
    for fixed in ("batch_size", "shuffle", "sampler", "batch_sampler", "collate_fn"):
        if fixed in loader_options:
            raise TypeError(f"make_dataloader() does not accept {fixed!r}: batches come whole")
    dataset = DLRMBatchDataset(source, batch_size, drop_last=drop_last)
    return DataLoader(dataset, batch_size=None, num_workers=num_workers, pin_memory=pin_memory,
                      **loader_options)
