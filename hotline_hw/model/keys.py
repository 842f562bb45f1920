"""Packing of (table id, row id) lookup keys into one fixed-width integer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["KeyLayout", "KeyRangeError"]


class KeyRangeError(ValueError):
    """A table id or row id does not fit the configured key widths."""


@dataclass(frozen=True)
class KeyLayout:
    """Layout of a lookup key: ``key = (table << row_bits) | row``.

    Parameters
    ----------
    table_bits : int
        Width of the table id. ``2 ** table_bits`` tables can be addressed.
    row_bits : int
        Width of the row id within a table.
    """

    table_bits: int
    row_bits: int

    def __post_init__(self):
        for name in ("table_bits", "row_bits"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, not {value!r}")
            if value < 0:
                raise ValueError(f"{name} must be non-negative, not {value}")
        if self.key_bits < 2:
            raise ValueError(f"key must be at least 2 bits wide, not {self.key_bits} "
                             f"(table_bits={self.table_bits}, row_bits={self.row_bits})")
        if self.key_bits > 62:
            raise ValueError(f"key must be at most 62 bits wide, not {self.key_bits}")

    @property
    def key_bits(self) -> int:
        """Total key width, ``table_bits + row_bits``."""
        return self.table_bits + self.row_bits

    @property
    def num_tables(self) -> int:
        return 1 << self.table_bits

    @property
    def rows_per_table(self) -> int:
        return 1 << self.row_bits

    def in_range(self, table: int, row: int) -> bool:
        """Whether ``(table, row)`` fits the widths (negative ids never do)."""
        return 0 <= table < self.num_tables and 0 <= row < self.rows_per_table

    def check(self, table: int, row: int) -> None:
        """Raise :class:`KeyRangeError` unless ``(table, row)`` fits the widths."""
        if not self.in_range(table, row):
            raise KeyRangeError(
                f"lookup key (table={table}, row={row}) is outside the configured widths "
                f"(table < {self.num_tables}, row < {self.rows_per_table})")

    def pack(self, table: int, row: int) -> int:
        """Pack ``(table, row)`` into a key; raises :class:`KeyRangeError` if out of range."""
        self.check(table, row)
        return (table << self.row_bits) | row

    def unpack(self, key: int) -> tuple[int, int]:
        """Inverse of :meth:`pack`."""
        if not 0 <= key < (1 << self.key_bits):
            raise KeyRangeError(f"key {key:#x} is wider than {self.key_bits} bits")
        return key >> self.row_bits, key & ((1 << self.row_bits) - 1)

    def pack_array(self, tables, rows) -> np.ndarray:
        """Vectorised :meth:`pack` (uint64); raises :class:`KeyRangeError` on the first bad key."""
        tables = np.asarray(tables, dtype=np.int64)
        rows = np.asarray(rows, dtype=np.int64)
        tables, rows = np.broadcast_arrays(tables, rows)
        ok = self.in_range_array(tables, rows)
        if not ok.all():
            i = int(np.flatnonzero(~ok.ravel())[0])
            self.check(int(tables.ravel()[i]), int(rows.ravel()[i]))
        return (tables.astype(np.uint64) << np.uint64(self.row_bits)) | rows.astype(np.uint64)

    def in_range_array(self, tables, rows) -> np.ndarray:
        """Vectorised :meth:`in_range`."""
        tables = np.asarray(tables, dtype=np.int64)
        rows = np.asarray(rows, dtype=np.int64)
        return ((tables >= 0) & (tables < self.num_tables)
                & (rows >= 0) & (rows < self.rows_per_table))
