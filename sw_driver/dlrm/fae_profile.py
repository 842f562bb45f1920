"""FAE's offline step: profile a sample of the inputs, pick the hot rows, bundle hot and cold
mini-batches (Adnan et al., VLDB 2022; their code ``STAR-Laboratory/Accelerating-RecSys-Training``,
``dlrm_input_profiler_multiprocess.py``).

1. **Profile** (:func:`profile_inputs`): draw ``sample_rate`` of the training inputs at random
   (with replacement, as the released profiler does; 5% by default) and count the accesses of
   every ``(table, row)``.
2. **Hot rows**: the budget ``L`` bytes of device memory holds
   ``num_hot = L // (4 * dim)`` rows (:func:`num_hot_rows`, the code's rule for fp32 rows).
   *Small-table rule* (paper): a table of under ``small_table_bytes`` (1 MB) is hot whole. Here
   small tables are taken smallest first while they fit in ``num_hot`` (a tiny budget cannot
   hold them all); the rest of the budget goes to the most accessed rows of the other tables
   (count > 0; ties by table, then row: deterministic). Rows never sampled are never hot.
3. **Classify** (:func:`classify_inputs`): an input is hot iff every one of its lookups is hot.
4. **Bundle** (:func:`bundle`): hot inputs into pure-hot mini-batches and cold inputs into
   pure-cold ones, each in data order, every input in exactly one mini-batch (the last of each
   kind may be short).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["FAEProfile", "bundle", "classify_inputs", "num_hot_rows", "profile_inputs"]

#: The released profiler's default budget (``--hot-emb-gpu-mem``): 256 MB.
DEFAULT_BUDGET_BYTES = 256 * 1024 * 1024
#: The paper's small-table threshold: tables under 1 MB are hot whole.
SMALL_TABLE_BYTES = 1024 * 1024


def num_hot_rows(budget_bytes: int, dim: int) -> int:
    """Rows of ``dim`` fp32 values that fit ``budget_bytes`` (the code's ``L // (4 * dim)``)."""
    if isinstance(budget_bytes, bool) or not isinstance(budget_bytes, (int, np.integer)) \
            or budget_bytes < 0:
        raise ValueError(f"budget_bytes must be a non-negative int, not {budget_bytes!r}")
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"dim must be a positive int, not {dim!r}")
    return int(budget_bytes) // (4 * int(dim))


@dataclass(frozen=True)
class FAEProfile:
    """The profiler's answer.

    Attributes
    ----------
    hot : tuple of numpy.ndarray
        Per table a bool mask ``[rows]``: whether the row is hot.
    num_hot : int
        The budget in rows (``budget_bytes // (4 * dim)``); ``hot_rows <= num_hot``.
    small_tables : tuple of int
        Tables made hot whole by the small-table rule.
    sampled_inputs : int
        Inputs the counts came from.
    sampled_counts : tuple of numpy.ndarray
        Per table the accesses of each row in the sample.
    budget_bytes, sample_rate, small_table_bytes :
        The settings.
    """

    hot: tuple[np.ndarray, ...]
    num_hot: int
    small_tables: tuple[int, ...]
    sampled_inputs: int
    sampled_counts: tuple[np.ndarray, ...]
    budget_bytes: int
    sample_rate: float
    small_table_bytes: int

    @property
    def hot_rows(self) -> int:
        return int(sum(int(h.sum()) for h in self.hot))

    def hot_keys(self) -> tuple[np.ndarray, np.ndarray]:
        """``(tables, rows)`` of the hot rows, by table then row (the slot order)."""
        tables = [np.full(int(h.sum()), t, dtype=np.int64) for t, h in enumerate(self.hot)]
        rows = [np.flatnonzero(h).astype(np.int64) for h in self.hot]
        return np.concatenate(tables or [np.zeros(0, np.int64)]), \
            np.concatenate(rows or [np.zeros(0, np.int64)])

    def summary(self) -> dict:
        return {"budget_bytes": self.budget_bytes, "num_hot": self.num_hot,
                "hot_rows": self.hot_rows, "small_tables": list(self.small_tables),
                "sampled_inputs": self.sampled_inputs, "sample_rate": self.sample_rate,
                "small_table_bytes": self.small_table_bytes}


def profile_inputs(sparse: np.ndarray, table_sizes: Sequence[int], dim: int, *,
                   budget_bytes: int = DEFAULT_BUDGET_BYTES, sample_rate: float = 0.05,
                   small_table_bytes: int = SMALL_TABLE_BYTES, seed: int = 0) -> FAEProfile:
    """FAE's profiler over the training inputs' row ids ``sparse`` ``[n, T]`` (module notes).

    Raises ``ValueError`` for a bad setting or a row id outside its table (naming it).
    """
    sparse = np.asarray(sparse)
    if sparse.ndim != 2 or sparse.shape[1] != len(table_sizes):
        raise ValueError(f"sparse must be [n, {len(table_sizes)}], not {sparse.shape}")
    if not 0 < sample_rate <= 1:
        raise ValueError(f"sample_rate must be in (0, 1], not {sample_rate!r}")
    if small_table_bytes < 0:
        raise ValueError(f"small_table_bytes must be >= 0, not {small_table_bytes!r}")
    sizes = np.asarray(table_sizes, dtype=np.int64)
    if len(sparse) and ((sparse < 0).any() or (sparse >= sizes).any()):
        n, t = np.argwhere((sparse < 0) | (sparse >= sizes))[0]
        raise ValueError(f"input {n} looks up row {sparse[n, t]} of table {t}, "
                         f"which has {sizes[t]} rows")
    num_hot = num_hot_rows(budget_bytes, dim)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 21]))
    n_sample = int(sample_rate * len(sparse))
    picked = sparse[rng.integers(0, len(sparse), size=n_sample)] if n_sample else sparse[:0]
    counts = [np.bincount(picked[:, t], minlength=int(sizes[t])) for t in range(len(sizes))]
    hot = [np.zeros(int(s), dtype=bool) for s in sizes]
    left = num_hot
    small = []
    for t in sorted(range(len(sizes)), key=lambda t: (sizes[t], t)):
        if sizes[t] * 4 * dim < small_table_bytes and sizes[t] <= left:
            hot[t][:] = True
            left -= int(sizes[t])
            small.append(t)
    others = [t for t in range(len(sizes)) if t not in small]
    if left and others:
        keys_t = np.concatenate([np.full(int(sizes[t]), t, np.int64) for t in others])
        keys_r = np.concatenate([np.arange(int(sizes[t]), dtype=np.int64) for t in others])
        key_counts = np.concatenate([counts[t] for t in others])
        # most accessed first; ties by (table, row) thanks to the stable sort
        order = np.argsort(-key_counts, kind="stable")
        order = order[key_counts[order] > 0][:left]
        for t in np.unique(keys_t[order]).tolist():
            mine = order[keys_t[order] == t]
            hot[t][keys_r[mine]] = True
    return FAEProfile(tuple(hot), num_hot, tuple(sorted(small)), n_sample, tuple(counts),
                      int(budget_bytes),
                      float(sample_rate), int(small_table_bytes))


def classify_inputs(sparse: np.ndarray, profile: FAEProfile) -> np.ndarray:
    """bool ``[n]``: input ``i`` is hot iff every lookup of it is a hot row."""
    sparse = np.asarray(sparse)
    if sparse.ndim != 2 or sparse.shape[1] != len(profile.hot):
        raise ValueError(f"sparse must be [n, {len(profile.hot)}], not {sparse.shape}")
    out = np.ones(len(sparse), dtype=bool)
    for t, mask in enumerate(profile.hot):
        out &= mask[sparse[:, t]]
    return out


def bundle(is_hot: np.ndarray, batch_size: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(hot_batches, cold_batches)``: index arrays of pure-hot and pure-cold mini-batches of
    ``batch_size`` inputs (data order; the last of each kind may be short). Every index
    ``0 .. len(is_hot) - 1`` is in exactly one of them."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, not {batch_size!r}")
    is_hot = np.asarray(is_hot, dtype=bool)

    def cut(indices: np.ndarray) -> list[np.ndarray]:
        return [indices[i:i + batch_size] for i in range(0, len(indices), batch_size)]

    return cut(np.flatnonzero(is_hot)), cut(np.flatnonzero(~is_hot))
