"""The in-memory form every data source produces: a block of one-hot DLRM samples.

A :class:`SampleBlock` is three numpy arrays that share a leading sample axis. It is the one
format between the readers (Criteo text, the synthetic generator, MovieLens), the hardware golden
model (which consumes ``sparse`` directly: sample ``n`` looks up row ``sparse[n, t]`` of table
``t``) and the PyTorch loader (:func:`sw_driver.data.loader.to_batch`). Keeping torch out of this
module lets the golden model and the generators run with numpy alone.

The dense features are stored *raw*: the non-negative integers after DLRM's clean-up (missing
-> 0, negative -> 0), not yet ``log(x + 1)``. Raw integers survive a round trip through Criteo
text exactly, and int64 keeps counts above 2**24 that float32 would round; :attr:`SampleBlock.dense`
applies DLRM's transform on demand.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["SampleBlock", "SampleSource", "iter_minibatches"]


def _as_2d(name: str, value, dtype, *, integer: bool) -> np.ndarray:
    array = np.asarray(value)
    if integer and array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must hold integers, not {array.dtype}")
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D [N, columns], not of shape {array.shape}")
    return np.ascontiguousarray(array, dtype=dtype)


@dataclass(frozen=True, eq=False)
class SampleBlock:
    """``N`` one-hot DLRM samples: raw dense features, one row id per table, a label.

    Parameters
    ----------
    dense_raw : array_like of int, shape (N, n_dense)
        Integer dense features after DLRM's clean-up: missing values are 0 and negative values
        have been clipped to 0. Stored as int64; must be non-negative.
    sparse : array_like of int, shape (N, n_tables)
        ``sparse[n, t]`` is the row of embedding table ``t`` that sample ``n`` looks up (its
        ``lS_i`` entry). Stored as int64; must be non-negative. Whether ids are below the table
        sizes is the source's contract (see :attr:`SampleSource.table_sizes`), not the block's.
    labels : array_like of float, shape (N,)
        Click labels, 0.0 or 1.0. Stored as float32.

    Notes
    -----
    Construction copies only when a dtype conversion or a contiguous layout needs it, and
    validates shapes and signs (``ValueError``/``TypeError`` naming the bad array). The block is
    frozen; the arrays are not write-protected, but sources never hand out arrays they keep
    using, so a caller may modify what it received.
    """

    dense_raw: np.ndarray
    sparse: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        dense_raw = _as_2d("dense_raw", self.dense_raw, np.int64, integer=True)
        sparse = _as_2d("sparse", self.sparse, np.int64, integer=True)
        labels = np.ascontiguousarray(self.labels, dtype=np.float32)
        if labels.ndim != 1:
            raise ValueError(f"labels must be 1-D [N], not of shape {labels.shape}")
        if not len(dense_raw) == len(sparse) == len(labels):
            raise ValueError(
                f"sample counts differ: dense_raw has {len(dense_raw)}, sparse {len(sparse)}, "
                f"labels {len(labels)}"
            )
        if dense_raw.size and dense_raw.min() < 0:
            raise ValueError("dense_raw must be non-negative (DLRM clips negative values to 0)")
        if sparse.size and sparse.min() < 0:
            raise ValueError("sparse row ids must be non-negative")
        object.__setattr__(self, "dense_raw", dense_raw)
        object.__setattr__(self, "sparse", sparse)
        object.__setattr__(self, "labels", labels)

    @classmethod
    def empty(cls, n_dense: int, n_tables: int) -> SampleBlock:
        """A block of zero samples with the given widths."""
        return cls(
            np.zeros((0, n_dense), np.int64), np.zeros((0, n_tables), np.int64),
            np.zeros(0, np.float32),
        )

    @classmethod
    def concat(cls, blocks: Iterable[SampleBlock]) -> SampleBlock:
        """Concatenate blocks along the sample axis, in order.

        Raises ``ValueError`` if ``blocks`` is empty or the widths differ.
        """
        blocks = list(blocks)
        if not blocks:
            raise ValueError("cannot concatenate an empty sequence of blocks")
        if len(blocks) == 1:
            return blocks[0]
        widths = {(b.n_dense, b.n_tables) for b in blocks}
        if len(widths) != 1:
            raise ValueError(f"blocks have different (n_dense, n_tables): {sorted(widths)}")
        return cls(
            np.concatenate([b.dense_raw for b in blocks]),
            np.concatenate([b.sparse for b in blocks]),
            np.concatenate([b.labels for b in blocks]),
        )

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def n_dense(self) -> int:
        """Number of dense features (13 for Criteo)."""
        return self.dense_raw.shape[1]

    @property
    def n_tables(self) -> int:
        """Number of embedding tables, i.e. lookups per sample (26 for Criteo)."""
        return self.sparse.shape[1]

    @property
    def dense(self) -> np.ndarray:
        """DLRM's dense input ``log(x + 1)`` in float32, shape (N, n_dense), freshly computed.

        As in DLRM's collate function, ``x`` is converted to float32 before the logarithm, so
        values above 2**24 are rounded first.
        """
        return np.log(self.dense_raw.astype(np.float32) + np.float32(1))

    def __getitem__(self, key) -> SampleBlock:
        """The samples selected by a slice, an integer index array or a boolean mask.

        A plain integer is refused (a block always has a sample axis); use ``block[i:i + 1]``.
        """
        if isinstance(key, (int, np.integer)):
            raise TypeError("index a SampleBlock with a slice or an array, e.g. block[i:i + 1]")
        return SampleBlock(self.dense_raw[key], self.sparse[key], self.labels[key])

    def equals(self, other: SampleBlock) -> bool:
        """Whether both blocks hold identical arrays (same shapes, same values)."""
        return (
            np.array_equal(self.dense_raw, other.dense_raw)
            and np.array_equal(self.sparse, other.sparse)
            and np.array_equal(self.labels, other.labels)
        )

    def batches(self, batch_size: int, *, drop_last: bool = False) -> Iterator[SampleBlock]:
        """This block cut into mini-batches; see :func:`iter_minibatches`."""
        return iter_minibatches([self], batch_size, drop_last=drop_last)

    def __repr__(self) -> str:
        return f"SampleBlock(N={len(self)}, n_dense={self.n_dense}, n_tables={self.n_tables})"


@runtime_checkable
class SampleSource(Protocol):
    """What the loader and the tools need from a data source.

    Attributes
    ----------
    table_sizes : tuple of int, or None
        Rows per embedding table; every ``sparse[:, t]`` the source yields is below
        ``table_sizes[t]``. ``None`` when the id space is unbounded (raw Criteo hashes).
    n_dense : int
        Number of dense features of every block.
    """

    table_sizes: tuple[int, ...] | None
    n_dense: int

    def blocks(self) -> Iterator[SampleBlock]:
        """The source's samples in order, as blocks of any (source-chosen) size.

        Each call starts again from the first sample and yields the same samples.
        """
        ...


def iter_minibatches(
    blocks: Iterable[SampleBlock], batch_size: int, *, drop_last: bool = False
) -> Iterator[SampleBlock]:
    """Re-cut a stream of blocks of any sizes into mini-batches of ``batch_size`` samples.

    Samples keep their order; batches may span block boundaries. Every batch has exactly
    ``batch_size`` samples except possibly the last, which holds the remainder (1 to
    ``batch_size - 1`` samples) and is dropped when ``drop_last`` is true. Empty input blocks
    are allowed. Memory: at most one batch plus one input block.

    Raises ``ValueError`` if ``batch_size`` is not a positive integer.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be an int, not {batch_size!r}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, not {batch_size}")
    pending: list[SampleBlock] = []
    n_pending = 0
    for block in blocks:
        start = 0
        if n_pending:
            # Complete the batch begun by earlier blocks first.
            take = min(batch_size - n_pending, len(block))
            pending.append(block[:take])
            n_pending += take
            start = take
            if n_pending < batch_size:
                continue
            yield SampleBlock.concat(pending)
            pending, n_pending = [], 0
        # Whole batches straight out of this block, without copying the rest around.
        while len(block) - start >= batch_size:
            yield block[start:start + batch_size]
            start += batch_size
        if start < len(block):
            pending.append(block[start:])
            n_pending = len(block) - start
    if n_pending and not drop_last:
        yield SampleBlock.concat(pending)
