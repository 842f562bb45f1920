"""Golden model of the popularity lookup table (the paper's Embedding Access Logger).

This is the specification the RTL is checked against, bit for bit. Semantics are sequential in
stream order: whatever parallelism the hardware uses, its responses and final contents must equal
:meth:`PopularityTable.lookup` applied to the requests one at a time, in order.

Organisation
------------
``sets = 2 ** set_bits`` sets of ``ways`` entries; entry ``way`` of set ``s`` lives in slot
``s * ways + way``. An entry holds ``valid`` (1 bit), ``rrpv`` (2-bit re-reference prediction
value) and ``tag``. A key ``(table, row)`` is packed as ``(table << row_bits) | row``, zero
extended to ``hash_bits`` (``key_bits`` rounded up to even) and hashed with a
:class:`~hotline_hw.model.feistel.FeistelHash`; the low ``set_bits`` of the hash select the set,
the remaining ``tag_bits = hash_bits - set_bits`` are the tag. The hash is a bijection, so
``(set, tag)`` identifies the key exactly (:meth:`PopularityTable.key_of_slot`): no aliasing.

Modes
-----
``LEARN`` (SRRIP, 2-bit RRPV): a hit sets the entry's RRPV to 0. A miss picks a victim: the first
invalid way if there is one; otherwise the set is aged (every RRPV increased by
``3 - max(RRPV)``, the same as incrementing all of them until one reaches 3) and the victim is the
first way with RRPV 3. The key is inserted there with RRPV 2. The response reports the hit flag and
the slot now holding the key.

``RUN``: read-only. The response reports the hit flag and the slot of the hit (0 on a miss).

Stale bits (Slipstream, arXiv 2404.04270)
-----------------------------------------
Every entry also holds a ``stale`` bit, set and cleared by the host only: :meth:`mark_stale`
sets it on the entry holding a key (found as a ``RUN`` lookup finds it; nothing happens if the
key is not in the table) and :meth:`clear_stale` clears every entry's. Anything that puts a new
key in a slot clears its bit: a ``LEARN`` insertion (the victim), :meth:`write_entry`,
:meth:`clear`, :meth:`load_hot_set`. A ``LEARN`` hit leaves it. The bit is reported per lookup
in ``RUN`` mode only (:meth:`lookup_stale`, :meth:`stale_many`): a lookup is stale iff it hits a
stale entry. No stale bit set (the reset state of the driver's flow): nothing is stale, and
everything else above is unchanged.

A request whose table or row does not fit the key widths is answered with ``error = 1``,
``hit = 0``, ``slot = 0``; the table is untouched and the error counter and sticky error flag
are set.

Host access: :meth:`write_entry`, :meth:`read_entry`, :meth:`dump`, :meth:`clear`,
:meth:`load_hot_set` (placing a software-computed hot set), :meth:`mark_stale`,
:meth:`clear_stale` and :meth:`stale_slots`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterable, NamedTuple

import numpy as np

from .feistel import FeistelHash
from .keys import KeyLayout, KeyRangeError

__all__ = [
    "Mode", "TableGeometry", "Entry", "LookupResult", "PopularityTable", "HotSetOverflowError",
    "RRPV_MAX", "RRPV_INSERT", "classify_hits", "beat_set_conflicts",
]

RRPV_BITS = 2
RRPV_MAX = (1 << RRPV_BITS) - 1     #: "distant re-reference": the eviction candidate
RRPV_INSERT = RRPV_MAX - 1          #: SRRIP inserts at max - 1 ("long re-reference")
RRPV_HIT = 0                        #: a hit predicts "near-immediate re-reference"
HASH_MEMO = 1 << 20                 #: keys whose hash a table remembers (set_and_tag)


class Mode(enum.IntEnum):
    """Operating mode of the table (the register encoding used by the RTL and the driver)."""
    LEARN = 0
    RUN = 1


class HotSetOverflowError(ValueError):
    """A hot set to load needs more ways in some set than the table has."""


@dataclass(frozen=True)
class TableGeometry:
    """Shape of a popularity table and of its key hash.

    Parameters
    ----------
    table_bits, row_bits : int
        Key widths (see :class:`~hotline_hw.model.keys.KeyLayout`).
    set_bits : int
        ``sets = 2 ** set_bits``; at least 0 and less than ``hash_bits``.
    ways : int
        Associativity, 1 to 16 (4 by default, the paper's).
    rounds : int
        Feistel rounds (4 by default).
    round_keys : tuple of int, optional
        Feistel round keys; the documented defaults if omitted.
    """

    table_bits: int = 5
    row_bits: int = 24
    set_bits: int = 14
    ways: int = 4
    rounds: int = 4
    round_keys: tuple[int, ...] | None = None

    def __post_init__(self):
        layout = KeyLayout(self.table_bits, self.row_bits)     # validates the widths
        for name in ("set_bits", "ways", "rounds"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, not {value!r}")
        if not 1 <= self.ways <= 16:
            raise ValueError(f"ways must be from 1 to 16, not {self.ways}")
        hash_bits = layout.key_bits + (layout.key_bits & 1)
        if not 0 <= self.set_bits < hash_bits:
            raise ValueError(f"set_bits must be from 0 to {hash_bits - 1} (hash_bits - 1), "
                             f"not {self.set_bits}")
        if self.round_keys is not None:
            object.__setattr__(self, "round_keys", tuple(self.round_keys))
        self.make_hash()                                        # validates rounds and keys

    @property
    def key_layout(self) -> KeyLayout:
        return KeyLayout(self.table_bits, self.row_bits)

    @property
    def key_bits(self) -> int:
        return self.table_bits + self.row_bits

    @property
    def hash_bits(self) -> int:
        """Width the Feistel network works on: ``key_bits`` rounded up to an even number."""
        return self.key_bits + (self.key_bits & 1)

    @property
    def tag_bits(self) -> int:
        return self.hash_bits - self.set_bits

    @property
    def sets(self) -> int:
        return 1 << self.set_bits

    @property
    def entries(self) -> int:
        """Capacity in keys: ``sets * ways``."""
        return self.sets * self.ways

    @property
    def slot_bits(self) -> int:
        """Width of a slot number."""
        return max(1, (self.entries - 1).bit_length())

    @property
    def entry_bits(self) -> int:
        """Stored bits per entry: valid + RRPV + tag."""
        return 1 + RRPV_BITS + self.tag_bits

    def make_hash(self) -> FeistelHash:
        return FeistelHash(self.hash_bits, self.rounds, self.round_keys)


class Entry(NamedTuple):
    """One table entry."""
    valid: bool
    rrpv: int
    tag: int


class LookupResult(NamedTuple):
    """The response to one lookup request."""
    hit: bool
    slot: int
    error: bool = False


class PopularityTable:
    """Set-associative popularity table with SRRIP replacement (see the module docstring).

    Parameters
    ----------
    geometry : TableGeometry
        Shape of the table and hash.
    mode : Mode
        Initial mode (``LEARN``).

    Attributes
    ----------
    lookups, hits, errors : int
        Counters of requests (out-of-range ones included), hits and out-of-range requests since
        the last :meth:`reset_counters`; ``error_sticky`` stays set until then.
    """

    def __init__(self, geometry: TableGeometry = TableGeometry(), mode: Mode = Mode.LEARN):
        if not isinstance(geometry, TableGeometry):
            raise TypeError(f"geometry must be a TableGeometry, not {geometry!r}")
        self.geometry = geometry
        self.hash = geometry.make_hash()
        self.layout = geometry.key_layout
        self.mode = Mode(mode)
        n = geometry.entries
        # Plain lists: the sequential SRRIP loop touches single elements, which is several times
        # faster on Python ints than on numpy scalars.
        self._valid = [False] * n
        self._rrpv = [0] * n
        self._tag = [0] * n
        self._stale = [False] * n
        self._hashes: dict[int, tuple[int, int]] = {}       # key -> (set, tag), see set_and_tag
        self.reset_counters()

    # -- counters -------------------------------------------------------------------------------

    def reset_counters(self) -> None:
        self.lookups = 0
        self.hits = 0
        self.errors = 0
        self.error_sticky = False

    # -- hashing --------------------------------------------------------------------------------

    def set_and_tag(self, table: int, row: int) -> tuple[int, int]:
        """``(set, tag)`` of a key; raises :class:`KeyRangeError` if it is out of range.

        Memoised (the hash is a pure function of the key, and skewed traffic repeats keys);
        the memo is dropped when it reaches ``HASH_MEMO`` keys."""
        key = self.layout.pack(table, row)
        found = self._hashes.get(key)
        if found is None:
            if len(self._hashes) >= HASH_MEMO:
                self._hashes.clear()
            hashed = self.hash.forward(key)
            found = self._hashes[key] = (hashed & (self.geometry.sets - 1),
                                         hashed >> self.geometry.set_bits)
        return found

    def set_and_tag_array(self, tables, rows) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised :meth:`set_and_tag` (int64 arrays)."""
        hashed = self.hash.forward_array(self.layout.pack_array(tables, rows))
        sets = (hashed & np.uint64(self.geometry.sets - 1)).astype(np.int64)
        tags = (hashed >> np.uint64(self.geometry.set_bits)).astype(np.int64)
        return sets, tags

    def key_of(self, set_index: int, tag: int) -> tuple[int, int]:
        """The ``(table, row)`` whose hash is ``(set_index, tag)``.

        Raises :class:`KeyRangeError` if that hash value is not the hash of any key (possible
        only when ``key_bits`` is odd, as the hash then covers one bit more than the key).
        """
        hashed = (tag << self.geometry.set_bits) | set_index
        key = self.hash.inverse(hashed)
        if key >> self.geometry.key_bits:
            raise KeyRangeError(f"(set={set_index}, tag={tag:#x}) is not the hash of a key")
        return self.layout.unpack(key)

    def key_of_slot(self, slot: int) -> tuple[int, int] | None:
        """The key held in ``slot``, or ``None`` if the entry is invalid."""
        entry = self.read_entry(slot)
        if not entry.valid:
            return None
        return self.key_of(slot // self.geometry.ways, entry.tag)

    # -- lookups --------------------------------------------------------------------------------

    def lookup(self, table: int, row: int) -> LookupResult:
        """Process one lookup request in the current mode (see the module docstring)."""
        bad = not self.layout.in_range(table, row)
        self._count_requests(1, int(bad))
        if bad:
            return LookupResult(False, 0, True)
        set_index, tag = self.set_and_tag(table, row)
        return self._lookup_hashed(set_index, tag)

    def _lookup_hashed(self, set_index: int, tag: int) -> LookupResult:
        ways = self.geometry.ways
        base = set_index * ways
        valid, rrpv, tags = self._valid, self._rrpv, self._tag
        for way in range(ways):
            slot = base + way
            if valid[slot] and tags[slot] == tag:
                self.hits += 1
                if self.mode is Mode.LEARN:
                    rrpv[slot] = RRPV_HIT
                return LookupResult(True, slot)
        if self.mode is Mode.RUN:
            return LookupResult(False, 0)
        victim = self._victim(base)
        valid[victim] = True
        rrpv[victim] = RRPV_INSERT
        tags[victim] = tag
        self._stale[victim] = False
        return LookupResult(False, victim)

    def _victim(self, base: int) -> int:
        ways = self.geometry.ways
        valid, rrpv = self._valid, self._rrpv
        for way in range(ways):
            if not valid[base + way]:
                return base + way
        age = RRPV_MAX - max(rrpv[base:base + ways])
        if age:
            for way in range(ways):
                rrpv[base + way] += age
        for way in range(ways):
            if rrpv[base + way] == RRPV_MAX:
                return base + way
        raise AssertionError("unreachable: ageing leaves a way at RRPV_MAX")

    def lookup_many(self, tables, rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Process requests in order; returns ``(hit, slot, error)`` arrays.

        Equal to :meth:`lookup` applied to each request in turn. Hashing is vectorised; in
        ``RUN`` mode (read-only) so is the rest.
        """
        tables = np.asarray(tables, dtype=np.int64).ravel()
        rows = np.asarray(rows, dtype=np.int64).ravel()
        if tables.shape != rows.shape:
            raise ValueError(f"tables and rows differ in length: {tables.size} != {rows.size}")
        n = tables.size
        error = ~self.layout.in_range_array(tables, rows)
        sets, tags = self.set_and_tag_array(np.where(error, 0, tables), np.where(error, 0, rows))
        if self.mode is Mode.LEARN:
            # Hash vectorised, then the sequential SRRIP updates in stream order.
            hit = np.zeros(n, dtype=bool)
            slot = np.zeros(n, dtype=np.int64)
            lookup = self._lookup_hashed
            for i, (bad, s, t) in enumerate(zip(error.tolist(), sets.tolist(), tags.tolist())):
                if not bad:
                    hit[i], slot[i], _ = lookup(s, t)
            self._count_requests(n, int(error.sum()))
            return hit, slot, error
        ways = self.geometry.ways
        slots = sets[:, None] * ways + np.arange(ways)[None, :]
        valid = np.asarray(self._valid)[slots]
        match = valid & (np.asarray(self._tag, dtype=np.int64)[slots] == tags[:, None]) \
            & ~error[:, None]
        hit = match.any(axis=1)
        slot = np.where(hit, slots[np.arange(n), match.argmax(axis=1)], 0)
        self.hits += int(hit.sum())
        self._count_requests(n, int(error.sum()))
        return hit, slot, error

    def _count_requests(self, requests: int, errors: int) -> None:
        self.lookups += requests
        self.errors += errors
        self.error_sticky |= errors > 0

    def classify(self, sparse) -> np.ndarray:
        """Look up every key of every sample; a sample is popular iff all its lookups hit.

        Parameters
        ----------
        sparse : array of int, shape (N, T)
            Row id per sample and table (table ``t`` is column ``t``).

        Returns
        -------
        popular : bool array, shape (N,)
            Lookups are processed in stream order, sample by sample and table by table within a
            sample (so in ``LEARN`` mode the table learns while classifying).
        """
        sparse = np.asarray(sparse, dtype=np.int64)
        if sparse.ndim != 2:
            raise ValueError(f"sparse must be 2-D (samples, tables), not shape {sparse.shape}")
        n, t = sparse.shape
        tables = np.broadcast_to(np.arange(t, dtype=np.int64), (n, t))
        hit, _, _ = self.lookup_many(tables, sparse)
        return classify_hits(hit.reshape(n, t))

    # -- host access ----------------------------------------------------------------------------

    def _check_slot(self, slot: int) -> None:
        if not isinstance(slot, (int, np.integer)) or not 0 <= slot < self.geometry.entries:
            raise IndexError(f"slot {slot!r} is outside the table (0 .. "
                             f"{self.geometry.entries - 1})")

    def read_entry(self, slot: int) -> Entry:
        """The entry in ``slot``."""
        self._check_slot(slot)
        return Entry(self._valid[slot], self._rrpv[slot], self._tag[slot])

    def write_entry(self, slot: int, valid: bool, rrpv: int, tag: int) -> None:
        """Overwrite the entry in ``slot`` (host access; works in either mode)."""
        self._check_slot(slot)
        if not 0 <= rrpv <= RRPV_MAX:
            raise ValueError(f"rrpv must be from 0 to {RRPV_MAX}, not {rrpv}")
        if not 0 <= tag < (1 << self.geometry.tag_bits):
            raise ValueError(f"tag {tag:#x} does not fit {self.geometry.tag_bits} bits")
        self._valid[slot] = bool(valid)
        self._rrpv[slot] = int(rrpv)
        self._tag[slot] = int(tag)
        self._stale[slot] = False

    def clear(self) -> None:
        """Invalidate every entry (valid = 0, RRPV = 0, tag = 0)."""
        n = self.geometry.entries
        self._valid = [False] * n
        self._rrpv = [0] * n
        self._tag = [0] * n
        self._stale = [False] * n

    # -- stale bits (host) ----------------------------------------------------------------------

    def mark_stale(self, table: int, row: int) -> LookupResult:
        """Set the stale bit of the entry holding ``(table, row)`` (host command, either mode).

        Returns ``(hit, slot, error)`` as a ``RUN`` lookup would (``hit`` = the key was found
        and marked; ``error`` = the key is out of range, nothing marked). Counters untouched.
        """
        if not self.layout.in_range(table, row):
            return LookupResult(False, 0, True)
        set_index, tag = self.set_and_tag(table, row)
        base = set_index * self.geometry.ways
        for slot in range(base, base + self.geometry.ways):
            if self._valid[slot] and self._tag[slot] == tag:
                self._stale[slot] = True
                return LookupResult(True, slot)
        return LookupResult(False, 0)

    def clear_stale(self) -> None:
        """Clear every entry's stale bit (host command)."""
        self._stale = [False] * self.geometry.entries

    def is_stale(self, slot: int) -> bool:
        """The stale bit of ``slot`` (set only by :meth:`mark_stale`)."""
        self._check_slot(slot)
        return self._stale[slot]

    def stale_slots(self) -> np.ndarray:
        """The stale bit of every slot (bool array indexed by slot)."""
        return np.array(self._stale, dtype=bool)

    def lookup_stale(self, result: LookupResult) -> bool:
        """Whether a lookup answered ``result`` is reported stale: ``RUN`` mode, a hit, on a
        stale entry (``LEARN`` never reports stale)."""
        return self.mode is Mode.RUN and result.hit and self._stale[result.slot]

    def stale_many(self, hit, slot) -> np.ndarray:
        """:meth:`lookup_stale` over the ``hit`` / ``slot`` arrays of :meth:`lookup_many`."""
        hit = np.asarray(hit, dtype=bool)
        if self.mode is not Mode.RUN or not any(self._stale):
            return np.zeros(hit.shape, dtype=bool)
        return hit & np.asarray(self._stale, dtype=bool)[np.asarray(slot, dtype=np.int64)]

    def dump(self) -> dict[str, np.ndarray]:
        """The whole table as arrays indexed by slot: ``valid``, ``rrpv``, ``tag``."""
        return {
            "valid": np.array(self._valid, dtype=bool),
            "rrpv": np.array(self._rrpv, dtype=np.uint8),
            "tag": np.array(self._tag, dtype=np.uint64),
        }

    def hot_set(self) -> list[tuple[int, int]]:
        """The keys held by valid entries, in slot order."""
        return [key for slot in range(self.geometry.entries)
                if (key := self.key_of_slot(slot)) is not None]

    def load_hot_set(self, keys: Iterable[tuple[int, int]], rrpv: int = RRPV_HIT) -> list[int]:
        """Clear the table and place ``keys`` (``(table, row)`` pairs) in it.

        Each key goes to the first free way of its set, in the order given. Returns the slot of
        each key. Raises :class:`HotSetOverflowError` (leaving the table cleared) if some set
        would need more than ``ways`` entries, :class:`KeyRangeError` for a key out of range and
        ``ValueError`` for a duplicate key.
        """
        self.clear()
        ways = self.geometry.ways
        fill = {}
        seen = set()
        slots = []
        for table, row in keys:
            table, row = int(table), int(row)
            if (table, row) in seen:
                raise ValueError(f"duplicate key (table={table}, row={row}) in the hot set")
            seen.add((table, row))
            set_index, tag = self.set_and_tag(table, row)
            way = fill.get(set_index, 0)
            if way == ways:
                self.clear()
                raise HotSetOverflowError(
                    f"hot set does not fit: set {set_index} would need more than {ways} ways "
                    f"(key table={table}, row={row}); the table holds {self.geometry.entries} "
                    f"keys in {self.geometry.sets} sets")
            fill[set_index] = way + 1
            slot = set_index * ways + way
            self.write_entry(slot, True, rrpv, tag)
            slots.append(slot)
        return slots


def classify_hits(hits) -> np.ndarray:
    """Popular iff every lookup of the sample hits: ``hits`` is (samples, lookups) -> (samples,)."""
    hits = np.asarray(hits, dtype=bool)
    if hits.ndim != 2:
        raise ValueError(f"hits must be 2-D (samples, lookups), not shape {hits.shape}")
    return hits.all(axis=1)


def beat_set_conflicts(sets, usable) -> int:
    """Same-set conflicts in one beat of parallel lookup lanes.

    ``sets[i]`` is the set lane ``i`` addresses and ``usable[i]`` whether it addresses one (a
    valid, in-range lookup). A lane conflicts if an earlier usable lane of the same beat
    addresses the same set; returns the number of conflicting lanes. This is what the RTL's
    conflict counter adds per beat (lanes 0 .. P-1 in order).
    """
    seen = set()
    conflicts = 0
    for set_index, ok in zip(sets, usable):
        if not ok:
            continue
        if set_index in seen:
            conflicts += 1
        seen.add(set_index)
    return conflicts
