"""The scheduler model's lookup records of a mini-batch, built once per distinct lookup
(:class:`LookupCache`, used by :class:`~sw_driver.dlrm.trainer.HotlineTrainer` when it drives
the golden scheduler sample by sample)."""

from __future__ import annotations

from operator import itemgetter

import numpy as np

from hotline_hw.model.popularity_table import TableGeometry
from hotline_hw.model.scheduler import Lookup

from .model import DLRMConfig

__all__ = ["LookupCache"]


class LookupCache:
    """The scheduler model's :class:`Lookup` records of a mini-batch, made fast.

    A lookup is immutable and the same ``(table, row, hit, slot)`` recurs all the time (that is
    the skew Hotline exploits), so each distinct one is built once and shared: per mini-batch the
    distinct lookups are found with numpy, and each sample's tuple is picked from them. Building
    1.3M records one by one costs seconds (and triggers the garbage collector over and over).
    The cache is dropped when it exceeds ``limit`` records.
    """

    def __init__(self, config: DLRMConfig, geometry: TableGeometry, limit: int = 1 << 20):
        self.rows = max(config.table_sizes)
        self.entries = geometry.entries
        bits = ((config.n_tables * self.rows - 1).bit_length() + 1
                + (self.entries - 1).bit_length())
        self.packed = bits <= 62
        self.limit = limit
        self.cache: dict[int, Lookup] = {}

    def of(self, sparse: np.ndarray, hit: np.ndarray, slot: np.ndarray) -> list[tuple]:
        """The lookups of each sample (a tuple of ``T`` :class:`Lookup` per sample)."""
        n, t = sparse.shape
        tables = np.broadcast_to(np.arange(t, dtype=np.int64), (n, t))
        if self.packed:
            codes = ((tables * self.rows + sparse) * 2 + hit) * self.entries + slot
            unique, inverse = np.unique(codes.ravel(), return_inverse=True)
            first = np.zeros(len(unique), dtype=np.int64)
            first[inverse] = np.arange(inverse.size)   # any occurrence: they are all equal
        else:
            columns = np.stack([tables.ravel(), sparse.ravel(), hit.ravel(), slot.ravel()], 1)
            unique, first, inverse = np.unique(columns, axis=0, return_index=True,
                                               return_inverse=True)
            unique = [tuple(u) for u in unique.tolist()]
        if len(self.cache) > self.limit:
            self.cache.clear()
        cache = self.cache
        flat_t, flat_r = tables.ravel()[first].tolist(), sparse.ravel()[first].tolist()
        flat_h, flat_s = hit.ravel()[first].tolist(), slot.ravel()[first].tolist()
        records = []
        for code, tb, row, h, sl in zip(unique if not self.packed else unique.tolist(),
                                        flat_t, flat_r, flat_h, flat_s):
            record = cache.get(code)
            if record is None:
                record = cache[code] = Lookup(tb, row, h, sl)
            records.append(record)
        inverse = inverse.reshape(n, t).tolist()
        if t == 1:
            return [(records[i[0]],) for i in inverse]
        return [itemgetter(*i)(records) for i in inverse]
