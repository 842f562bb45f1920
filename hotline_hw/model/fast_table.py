"""The popularity table's whole hot set at once (the freeze's slot -> key map).

:func:`slot_keys` equals :meth:`PopularityTable.key_of_slot` over every slot (the golden model,
one Feistel inverse per slot in Python), computed with one vectorised inverse; property tests
in ``tests/model/test_fast_paths.py``.
"""

from __future__ import annotations

import numpy as np

from .keys import KeyRangeError
from .popularity_table import PopularityTable

__all__ = ["slot_keys"]


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
