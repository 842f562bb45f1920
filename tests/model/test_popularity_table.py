"""Golden model of the popularity table: SRRIP by hand, host access, errors, properties."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline_hw.model import (RRPV_INSERT, Entry, HotSetOverflowError, KeyRangeError, Mode,
                              PopularityTable, TableGeometry, classify_hits)

TINY = TableGeometry(table_bits=2, row_bits=6, set_bits=2, ways=4)


def keys_in_set(table: PopularityTable, set_index: int, count: int):
    """The first ``count`` keys (table 0, ascending rows) that hash to ``set_index``."""
    found = []
    for row in range(table.layout.rows_per_table):
        if table.set_and_tag(0, row)[0] == set_index:
            found.append((0, row))
            if len(found) == count:
                return found
    raise AssertionError("not enough keys in the set")


def rrpvs(table: PopularityTable, set_index: int):
    ways = table.geometry.ways
    return [table.read_entry(set_index * ways + w).rrpv for w in range(ways)]


def test_srrip_sequence_by_hand():
    t = PopularityTable(TINY)
    A, B, C, D, E = keys_in_set(t, 1, 5)
    base = 1 * 4

    def lookup(key):
        return t.lookup(*key)

    # Fill the set: misses go to the first invalid way, inserted at RRPV 2.
    assert [lookup(k) for k in (A, B, C, D)] == [(False, base + w, False) for w in range(4)]
    assert rrpvs(t, 1) == [2, 2, 2, 2]
    assert lookup(A) == (True, base + 0, False)              # hit -> RRPV 0
    assert rrpvs(t, 1) == [0, 2, 2, 2]
    # E misses: no invalid way, no RRPV 3 -> age by 1 -> [1,3,3,3]; victim way 1 (B).
    assert lookup(E) == (False, base + 1, False)
    assert rrpvs(t, 1) == [1, 2, 3, 3]
    # B misses: way 2 already at 3, no ageing; C is evicted.
    assert lookup(B) == (False, base + 2, False)
    assert rrpvs(t, 1) == [1, 2, 2, 3]
    assert lookup(C) == (False, base + 3, False)
    assert rrpvs(t, 1) == [1, 2, 2, 2]
    # D misses: age by 1 -> [2,3,3,3]; victim way 1 (E).
    assert lookup(D) == (False, base + 1, False)
    assert rrpvs(t, 1) == [2, 2, 3, 3]
    assert lookup(A) == (True, base + 0, False)
    assert rrpvs(t, 1) == [0, 2, 3, 3]
    # Contents by key: A, D, B, C in ways 0..3.
    assert [t.key_of_slot(base + w) for w in range(4)] == [A, D, B, C]
    assert (t.lookups, t.hits, t.errors) == (10, 2, 0)
    # Other sets untouched.
    assert all(not t.read_entry(s).valid for s in range(16) if s // 4 != 1)


def test_ageing_by_more_than_one_step():
    t = PopularityTable(TINY)
    keys = keys_in_set(t, 2, 5)
    for k in keys[:4]:
        t.lookup(*k)
    for k in keys[:4]:
        t.lookup(*k)                                          # all hit -> [0,0,0,0]
    assert rrpvs(t, 2) == [0, 0, 0, 0]
    # Miss: age by 3 (same as three increments) -> [3,3,3,3]; victim way 0.
    assert t.lookup(*keys[4]) == (False, 8, False)
    assert rrpvs(t, 2) == [2, 3, 3, 3]


def test_run_mode_is_read_only():
    t = PopularityTable(TINY)
    A, B, C = keys_in_set(t, 0, 3)
    t.lookup(*A)
    t.mode = Mode.RUN
    before = t.dump()
    assert t.lookup(*A) == (True, 0, False)
    assert t.lookup(*B) == (False, 0, False)                  # miss: slot 0, nothing inserted
    hit, slot, err = t.lookup_many([A[0], B[0], C[0]], [A[1], B[1], C[1]])
    assert hit.tolist() == [True, False, False] and slot.tolist() == [0, 0, 0]
    after = t.dump()
    assert all((before[k] == after[k]).all() for k in before)
    assert t.read_entry(0).rrpv == RRPV_INSERT                # a RUN hit does not touch RRPV


@pytest.mark.parametrize("mode", [Mode.LEARN, Mode.RUN])
def test_out_of_range_is_flagged_and_harmless(mode):
    t = PopularityTable(TINY)
    t.lookup(0, 5)
    t.lookup(0, 5)                                            # a hit: RRPV 0, as it will stay
    t.mode = mode
    before = t.dump()
    for table, row in [(4, 0), (0, 64), (-1, 0), (0, -3)]:
        assert t.lookup(table, row) == (False, 0, True)
    hit, slot, err = t.lookup_many([0, 4, 0], [5, 1, 99])
    assert err.tolist() == [False, True, True]
    assert hit.tolist() == [True, False, False]
    after = t.dump()
    assert all((before[k] == after[k]).all() for k in before)
    assert t.errors == 6 and t.error_sticky
    t.reset_counters()
    assert not t.error_sticky and t.errors == 0


def test_host_access_and_clear():
    t = PopularityTable(TINY)
    t.write_entry(5, True, 3, 0x2A)
    assert t.read_entry(5) == Entry(True, 3, 0x2A)
    table, row = t.key_of(1, 0x2A)
    assert t.set_and_tag(table, row) == (1, 0x2A)
    assert t.key_of_slot(5) == (table, row)
    t.mode = Mode.RUN
    assert t.lookup(table, row) == (True, 5, False)
    with pytest.raises(IndexError):
        t.read_entry(16)
    with pytest.raises(ValueError, match="rrpv"):
        t.write_entry(0, True, 4, 0)
    with pytest.raises(ValueError, match="6 bits"):
        t.write_entry(0, True, 0, 64)
    t.clear()
    assert not t.dump()["valid"].any()
    assert t.lookup(table, row) == (False, 0, False)


def test_load_hot_set():
    t = PopularityTable(TINY)
    keys = keys_in_set(t, 3, 4) + keys_in_set(t, 0, 2)
    slots = t.load_hot_set(keys)
    assert slots == [12, 13, 14, 15, 0, 1]
    assert sorted(t.hot_set()) == sorted(keys)
    t.mode = Mode.RUN
    assert all(t.lookup(*k) == (True, s, False) for k, s in zip(keys, slots))
    with pytest.raises(HotSetOverflowError, match="set 3"):
        t.load_hot_set(keys_in_set(t, 3, 5))
    assert not t.dump()["valid"].any()                         # left cleared, not half-loaded
    with pytest.raises(ValueError, match="duplicate"):
        t.load_hot_set([keys[0], keys[0]])
    with pytest.raises(KeyRangeError):
        t.load_hot_set([(9, 0)])


def test_classification():
    assert classify_hits([[True, True], [True, False], [False, False]]).tolist() == \
        [True, False, False]
    t = PopularityTable(TINY)
    t.load_hot_set([(0, 1), (1, 2)])
    t.mode = Mode.RUN
    assert t.classify([[1, 2], [1, 3], [0, 2]]).tolist() == [True, False, False]


def test_geometry():
    g = TableGeometry()
    assert (g.key_bits, g.hash_bits, g.tag_bits, g.entries, g.slot_bits) == \
        (29, 30, 16, 65536, 16)
    assert g.entry_bits == 19
    with pytest.raises(ValueError, match="ways"):
        TableGeometry(ways=0)
    with pytest.raises(ValueError, match="set_bits"):
        TableGeometry(table_bits=1, row_bits=3, set_bits=4)
    with pytest.raises(TypeError, match="set_bits"):
        TableGeometry(set_bits=2.0)


def test_odd_key_width_inverse():
    g = TableGeometry(table_bits=2, row_bits=5, set_bits=2)   # 7-bit key hashed on 8 bits
    t = PopularityTable(g)
    for table in range(4):
        for row in range(32):
            s, tag = t.set_and_tag(table, row)
            assert t.key_of(s, tag) == (table, row)


def test_model_never_imports_amaranth():
    code = ("import sys, hotline_hw.model; "
            "sys.exit(1 if any(m.startswith('amaranth') for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


key_streams = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 63)), max_size=300)


@settings(max_examples=150, deadline=None)
@given(key_streams, st.sampled_from([1, 2, 4]), st.integers(0, 3))
def test_learn_invariants(stream, ways, set_bits):
    t = PopularityTable(TableGeometry(table_bits=2, row_bits=6, set_bits=set_bits, ways=ways))
    for key in stream:
        hit, slot, err = t.lookup(*key)
        assert not err
        assert t.key_of_slot(slot) == key                    # the key now lives in `slot`
        assert t.read_entry(slot).rrpv == (0 if hit else RRPV_INSERT)
    dump = t.dump()
    held = t.hot_set()
    assert len(held) == len(set(held)) == int(dump["valid"].sum())
    assert set(held) <= set(stream)
    assert set(stream[-1:]) <= set(held)                     # the last key is always held


@settings(max_examples=100, deadline=None)
@given(key_streams)
def test_lookup_many_equals_sequential(stream):
    a, b = PopularityTable(TINY), PopularityTable(TINY)
    seq = [a.lookup(*k) for k in stream]
    tables = [k[0] for k in stream]
    rows = [k[1] for k in stream]
    hit, slot, err = b.lookup_many(tables, rows)
    assert list(zip(hit.tolist(), slot.tolist(), err.tolist())) == [tuple(r) for r in seq]
    assert all((a.dump()[k] == b.dump()[k]).all() for k in a.dump())
    a.mode = b.mode = Mode.RUN
    seq = [a.lookup(*k) for k in stream]
    hit, slot, err = b.lookup_many(tables, rows)
    assert list(zip(hit.tolist(), slot.tolist(), err.tolist())) == [tuple(r) for r in seq]
    assert (a.lookups, a.hits) == (b.lookups, b.hits)


def test_learns_a_skewed_hot_set(rng):
    g = TableGeometry(table_bits=1, row_bits=12, set_bits=4, ways=4)   # 64 entries
    t = PopularityTable(g)
    ranks = np.minimum(rng.zipf(1.3, size=(20000, 2)), 4096) - 1
    perm = rng.permutation(4096)
    sparse = perm[ranks]
    t.classify(sparse[:10000])
    t.mode = Mode.RUN
    hit, _, _ = t.lookup_many(np.tile([0, 1], 10000), sparse[10000:].ravel())
    # 64 of 8192 keys hold far more than their 0.8% share of the traffic.
    assert hit.mean() > 0.3
