"""Oracle profiler: exact access counts and the hot sets an all-knowing profiler would pick.

FAE picks the hot set by exact counting: the ``capacity`` most accessed rows. A set-associative
table cannot always hold that set (a set holds at most ``ways`` keys), so the profiler also gives
the best hot set that *fits* a given table geometry (each set keeps its own most accessed keys).
Both are baselines for the SRRIP-learned set, which sees each access once and forgets.

Ties are broken by key (table, then row), so every result is deterministic.
"""

from __future__ import annotations

import numpy as np

from .keys import KeyLayout
from .popularity_table import PopularityTable, TableGeometry

__all__ = ["OracleProfiler", "hit_fraction", "popular_fraction"]


class OracleProfiler:
    """Exact per-key access counts over a stream of samples.

    Parameters
    ----------
    layout : KeyLayout
        Key widths used to pack ``(table, row)`` into one integer.
    """

    def __init__(self, layout: KeyLayout):
        self.layout = layout
        self._keys = np.zeros(0, dtype=np.uint64)
        self._counts = np.zeros(0, dtype=np.int64)
        self.accesses = 0

    def update(self, sparse) -> None:
        """Count the lookups of samples ``sparse`` (shape (N, T), table ``t`` in column ``t``)."""
        sparse = np.asarray(sparse, dtype=np.int64)
        if sparse.ndim != 2:
            raise ValueError(f"sparse must be 2-D (samples, tables), not shape {sparse.shape}")
        n, t = sparse.shape
        tables = np.broadcast_to(np.arange(t, dtype=np.int64), (n, t))
        self.update_keys(tables, sparse)

    def update_keys(self, tables, rows) -> None:
        """Count individual lookups ``(tables[i], rows[i])``."""
        keys = self.layout.pack_array(tables, rows).ravel()
        new_keys, new_counts = np.unique(keys, return_counts=True)
        merged = np.concatenate([self._keys, new_keys])
        counts = np.concatenate([self._counts, new_counts])
        self._keys, inverse = np.unique(merged, return_inverse=True)
        self._counts = np.bincount(inverse, weights=counts, minlength=self._keys.size) \
            .astype(np.int64)
        self.accesses += keys.size

    @property
    def distinct(self) -> int:
        """Number of distinct keys seen."""
        return int(self._keys.size)

    def counts(self) -> tuple[np.ndarray, np.ndarray]:
        """``(keys, counts)``: packed keys in ascending order and their access counts."""
        return self._keys.copy(), self._counts.copy()

    def _ranked(self) -> np.ndarray:
        # Most accessed first; ties by ascending key (stable sort of ascending keys).
        return np.argsort(-self._counts, kind="stable")

    def top(self, n: int) -> list[tuple[int, int]]:
        """The ``n`` most accessed keys as ``(table, row)``, most accessed first (FAE's hot set)."""
        if n < 0:
            raise ValueError(f"n must be non-negative, not {n}")
        order = self._ranked()[:n]
        return [self.layout.unpack(int(k)) for k in self._keys[order]]

    def top_fitting(self, geometry: TableGeometry) -> list[tuple[int, int]]:
        """The best hot set a table of ``geometry`` can hold: per set, its ``ways`` most accessed
        keys. Returned most accessed first; loadable with
        :meth:`~hotline_hw.model.popularity_table.PopularityTable.load_hot_set`."""
        table = PopularityTable(geometry)
        order = self._ranked()
        keys = self._keys[order]
        sets, _ = table.set_and_tag_array(keys >> np.uint64(self.layout.row_bits),
                                          keys & np.uint64(self.layout.rows_per_table - 1))
        # Rank of each key within its set, by popularity: keep those below `ways`.
        by_set = np.argsort(sets, kind="stable")
        sorted_sets = sets[by_set]
        starts = np.searchsorted(sorted_sets, sorted_sets, side="left")
        rank = np.empty_like(by_set)
        rank[by_set] = np.arange(by_set.size) - starts
        chosen = keys[rank < geometry.ways]
        return [self.layout.unpack(int(k)) for k in chosen]


def hit_fraction(hot_keys, sparse) -> float:
    """Fraction of the lookups in ``sparse`` (N, T) whose ``(table, row)`` is in ``hot_keys``."""
    hot = _membership(hot_keys, sparse)
    return float(hot.mean()) if hot.size else 0.0


def popular_fraction(hot_keys, sparse) -> float:
    """Fraction of the samples in ``sparse`` (N, T) all of whose lookups are in ``hot_keys``."""
    hot = _membership(hot_keys, sparse)
    return float(hot.all(axis=1).mean()) if hot.shape[0] else 0.0


def _membership(hot_keys, sparse) -> np.ndarray:
    sparse = np.asarray(sparse, dtype=np.int64)
    if sparse.ndim != 2:
        raise ValueError(f"sparse must be 2-D (samples, tables), not shape {sparse.shape}")
    n, t = sparse.shape
    # Pack with 63 - ceil(log2 T) row bits: enough for any int64 row id we can be given.
    table_bits = max(1, (t - 1).bit_length())
    row_bits = 62 - table_bits
    hot = np.fromiter(((int(tb) << row_bits) | int(r) for tb, r in hot_keys), dtype=np.int64)
    packed = (np.arange(t, dtype=np.int64)[None, :] << row_bits) | sparse
    return np.isin(packed, hot)
