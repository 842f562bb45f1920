"""The popularity table at speed: the whole hot set at once, and ``RUN``-mode lookups over a
frozen snapshot.

* :func:`slot_keys` equals :meth:`PopularityTable.key_of_slot` over every slot (the golden model,
  one Feistel inverse per slot in Python), computed with one vectorised inverse.
* :class:`FrozenTable` answers lookups as :meth:`PopularityTable.lookup_many` does in ``RUN``
  mode (read-only: hit, slot, error, and the same counters), from arrays of the entries taken
  once, instead of converting the table's lists on every call. It is a snapshot: valid while
  the table is in ``RUN`` mode and its entries are not written (the trainer's run phase).
* :func:`learn_many` is ``lookup_many`` in ``LEARN`` mode with the SRRIP loop inlined.

Property tests in ``tests/model/test_fast_paths.py``.
"""

from __future__ import annotations

import numpy as np

from .keys import KeyRangeError
from .popularity_table import RRPV_HIT, RRPV_INSERT, RRPV_MAX, Mode, PopularityTable

__all__ = ["FrozenTable", "learn_many", "slot_keys"]


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
    """``RUN``-mode lookups of ``table`` from a snapshot of its entries (module docstring).

    The hash is a bijection, so a valid entry ``(set, tag)`` holds exactly one key (its
    inverse): a lookup hits iff its key is one of the entries' keys, at the lowest such slot
    (the golden model's first matching way). The keys are found with one ``searchsorted``
    over the sorted entry keys, without hashing the lookups. Entries whose ``(set, tag)`` is
    the hash of no key can never match and are left out.
    """

    def __init__(self, table: PopularityTable, dense_rows=None):
        if table.mode is not Mode.RUN:
            raise ValueError("a FrozenTable answers RUN-mode lookups: freeze the table first")
        self.table = table
        g = table.geometry
        dump = table.dump()
        slots = np.flatnonzero(dump["valid"]).astype(np.int64)
        hashed = (dump["tag"][slots] << np.uint64(g.set_bits)) | (slots // g.ways).astype(
            np.uint64)
        keys = table.hash.inverse_array(hashed)
        real = (keys >> np.uint64(g.key_bits)) == 0
        keys, slots = keys[real].astype(np.int64), slots[real]
        order = np.lexsort((slots, keys))                 # by key, then lowest slot first
        self.keys, self.slots = keys[order], slots[order]
        self.row_bits = table.layout.row_bits
        self.dense = None
        if dense_rows is not None:
            self._make_dense(np.asarray(dense_rows, dtype=np.int64))

    def _make_dense(self, sizes: np.ndarray) -> None:
        """Slot (or -1) of every ``(table, row)`` with ``row < sizes[table]``, as one array:
        a lookup is then one index instead of a binary search."""
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.sizes = sizes
        dense = np.full(int(self.offsets[-1]), -1, dtype=np.int32)     # slots fit 31 bits
        tables = self.keys >> self.row_bits
        rows = self.keys & ((1 << self.row_bits) - 1)
        inside = (tables < len(sizes)) & (rows < sizes[np.minimum(tables, len(sizes) - 1)])
        # keys are sorted with the lowest slot first: write in reverse so the lowest wins
        where = (self.offsets[tables[inside]] + rows[inside])[::-1]
        dense[where] = self.slots[inside][::-1]
        self.dense = dense

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
        if self.dense is not None:
            sizes = self.sizes
            t = np.clip(tables, 0, len(sizes) - 1)
            inside = ~error & (tables < len(sizes)) & (rows < sizes[t])
            if inside.all():
                slot = self.dense[self.offsets[t] + rows].astype(np.int64)
                hit = slot >= 0
                slot = np.where(hit, slot, 0)
                table.hits += int(hit.sum())
                table._count_requests(n, 0)
                return hit, slot, error
        keys = (np.where(error, 0, tables) << self.row_bits) | np.where(error, 0, rows)
        where = np.searchsorted(self.keys, keys)
        found = np.minimum(where, max(len(self.keys) - 1, 0))
        hit = (where < len(self.keys)) & ~error
        if len(self.keys):
            hit &= self.keys[found] == keys
            slot = np.where(hit, self.slots[found], 0)
        else:
            slot = np.zeros(n, dtype=np.int64)
        table.hits += int(hit.sum())
        table._count_requests(n, int(error.sum()))
        return hit, slot, error


def _repeats(sets: np.ndarray, tags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which lookups are the third or later of a run of one key in their set's access order,
    and (for every lookup) the index of its run's first lookup.

    Only lookups of the same set touch each other's state. In a run of one key within its
    set's sequence, the first lookup hits or inserts it, the second hits and leaves its RRPV at
    ``RRPV_HIT``, and every later one hits that same slot and changes nothing: those can be
    answered without the SRRIP loop.
    """
    order = np.argsort(sets, kind="stable")
    s, t = sets[order], tags[order]
    same = np.zeros(len(order), dtype=bool)                # same key as the set's previous
    same[1:] = (s[1:] == s[:-1]) & (t[1:] == t[:-1])
    repeat_sorted = np.zeros(len(order), dtype=bool)
    repeat_sorted[2:] = same[2:] & same[1:-1]
    run_start = np.flatnonzero(~same)
    first_sorted = order[run_start[np.cumsum(~same) - 1]]
    repeat = np.empty_like(repeat_sorted)
    repeat[order] = repeat_sorted
    first = np.empty_like(first_sorted)
    first[order] = first_sorted
    return repeat, first


def learn_many(table: PopularityTable, tables, rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:meth:`PopularityTable.lookup_many` in ``LEARN`` mode (the SRRIP updates in stream
    order), with the per-lookup work inlined on the table's own lists: same answers, same
    entries and counters afterwards. Repeats that cannot change the table (:func:`_repeats`)
    skip the loop; with Zipf traffic that is about half the lookups."""
    if table.mode is not Mode.LEARN:
        raise ValueError("learn_many is the LEARN-mode lookup")
    tables = np.asarray(tables, dtype=np.int64).ravel()
    rows = np.asarray(rows, dtype=np.int64).ravel()
    if tables.shape != rows.shape:
        raise ValueError(f"tables and rows differ in length: {tables.size} != {rows.size}")
    n = tables.size
    error = ~table.layout.in_range_array(tables, rows)
    sets, tags = table.set_and_tag_array(np.where(error, 0, tables), np.where(error, 0, rows))
    live = np.flatnonzero(~error)
    repeat, first = _repeats(sets[live], tags[live])
    todo = live[~repeat]
    ways = table.geometry.ways
    valid, rrpv, tag_of, stale = table._valid, table._rrpv, table._tag, table._stale
    hit_list, slot_list = [], []
    hits = 0
    insert, far = RRPV_INSERT, RRPV_MAX
    way_range = range(ways)
    for s, t in zip(sets[todo].tolist(), tags[todo].tolist()):
        base = s * ways
        for way in way_range:
            slot = base + way
            if valid[slot] and tag_of[slot] == t:
                hits += 1
                rrpv[slot] = RRPV_HIT
                hit_list.append(True)
                slot_list.append(slot)
                break
        else:
            victim = -1
            for way in way_range:
                if not valid[base + way]:
                    victim = base + way
                    break
            if victim < 0:
                end = base + ways
                age = far - max(rrpv[base:end])
                if age:
                    for slot in range(base, end):
                        rrpv[slot] += age
                for slot in range(base, end):
                    if rrpv[slot] == far:
                        victim = slot
                        break
            valid[victim] = True
            rrpv[victim] = insert
            tag_of[victim] = t
            stale[victim] = False
            hit_list.append(False)
            slot_list.append(victim)
    hit_out = np.zeros(n, dtype=bool)
    slot_out = np.zeros(n, dtype=np.int64)
    hit_out[todo] = hit_list
    slot_out[todo] = slot_list
    repeated = live[repeat]
    hit_out[repeated] = True
    slot_out[repeated] = slot_out[live[first[repeat]]]
    table.hits += hits + len(repeated)
    table._count_requests(n, int(error.sum()))
    return hit_out, slot_out, error
