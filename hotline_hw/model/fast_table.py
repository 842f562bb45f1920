"""The popularity table at speed: the whole hot set at once, and ``RUN``-mode lookups over a
frozen snapshot.

* :func:`slot_keys` equals :meth:`PopularityTable.key_of_slot` over every slot (the golden model,
  one Feistel inverse per slot in Python), computed with one vectorised inverse.
* :class:`FrozenTable` answers lookups as :meth:`PopularityTable.lookup_many` does in ``RUN``
  mode (read-only: hit, slot, error, and the same counters), from arrays of the entries taken
  once, instead of converting the table's lists on every call. It is a snapshot: valid while
  the table is in ``RUN`` mode and its entries are not written (the trainer's run phase).

Property tests in ``tests/model/test_fast_paths.py``.
"""

from __future__ import annotations

import numpy as np

from .keys import KeyRangeError
from .popularity_table import Mode, PopularityTable

__all__ = ["FrozenTable", "slot_keys"]


def slot_keys(table: PopularityTable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(slots, tables, rows)`` (int64) of the valid entries, in slot order.

    Raises :class:`KeyRangeError` naming the first valid entry whose ``(set, tag)`` is not the
    hash of any key, as ``key_of_slot`` does for it.
    """
    g = table.geometry
    dump = table.dump()
    slots = np.flatnonzero(dump["valid"]).astype(np.int64)
    tags = dump["tag"][slots]
    sets = (slots // g.ways).astype(np.uint64)
    hashed = (tags << np.uint64(g.set_bits)) | sets
    keys = table.hash.inverse_array(hashed)
    wide = (keys >> np.uint64(g.key_bits)) != 0
    if wide.any():
        i = int(np.argmax(wide))
        raise KeyRangeError(f"(set={int(sets[i])}, tag={int(tags[i]):#x}) is not the hash "
                            f"of a key")
    row_bits = np.uint64(table.layout.row_bits)
    tables = (keys >> row_bits).astype(np.int64)
    rows = (keys & ((np.uint64(1) << row_bits) - np.uint64(1))).astype(np.int64)
    return slots, tables, rows


class FrozenTable:
    """``RUN``-mode lookups of ``table`` from a snapshot of its entries (module docstring)."""

    def __init__(self, table: PopularityTable):
        if table.mode is not Mode.RUN:
            raise ValueError("a FrozenTable answers RUN-mode lookups: freeze the table first")
        self.table = table
        dump = table.dump()
        self.valid = dump["valid"]
        self.tags = dump["tag"].astype(np.int64)
        self.ways = np.arange(table.geometry.ways, dtype=np.int64)

    def lookup_many(self, tables, rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(hit, slot, error)`` as :meth:`PopularityTable.lookup_many` in ``RUN`` mode, and
        the table's counters advanced alike."""
        table = self.table
        if table.mode is not Mode.RUN:
            raise ValueError("the table left RUN mode: the snapshot no longer holds")
        tables = np.asarray(tables, dtype=np.int64).ravel()
        rows = np.asarray(rows, dtype=np.int64).ravel()
        if tables.shape != rows.shape:
            raise ValueError(f"tables and rows differ in length: {tables.size} != {rows.size}")
        n = tables.size
        error = ~table.layout.in_range_array(tables, rows)
        sets, tags = table.set_and_tag_array(np.where(error, 0, tables),
                                             np.where(error, 0, rows))
        slots = sets[:, None] * len(self.ways) + self.ways[None, :]
        match = self.valid[slots] & (self.tags[slots] == tags[:, None]) & ~error[:, None]
        hit = match.any(axis=1)
        slot = np.where(hit, slots[np.arange(n), match.argmax(axis=1)], 0)
        table.hits += int(hit.sum())
        table._count_requests(n, int(error.sum()))
        return hit, slot, error
