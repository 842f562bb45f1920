"""Fast paths == golden models: scheduler, classifier, gather / write-back, freeze (slot keys).

Hypothesis drives random and edge inputs (empty blocks, all popular, none popular, learning,
early closes, rejected and bus-failed rows, repeated rows, full and empty tables); every case
compares the whole output of the vectorised function with the golden model's.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline_hw.model.fast_gather import gather_many, write_back_many
from hotline_hw.model.fast_scheduler import (FastMicroBatchScheduler, ScheduledBatch,
                                             classify_many, classify_skipped)
from hotline_hw.model.fast_table import FrozenTable, learn_many, slot_keys
from hotline_hw.model.gather import GatherError, GatherModel
from hotline_hw.model.keys import KeyRangeError
from hotline_hw.model.popularity_table import Mode, PopularityTable, TableGeometry
from hotline_hw.model.scheduler import Lookup, MicroBatchScheduler, ScheduleMode

# -- scheduler and classifier ----------------------------------------------------------------


def _golden_run(kwargs, chunks):
    """Golden scheduler fed sample by sample; the output grouped by chunk."""
    golden = MicroBatchScheduler(**kwargs)
    out, sample_id = [], 0
    for hits in chunks:
        emitted = []
        for row in hits:
            lookups = [Lookup(t, 7 * sample_id + t, bool(h), t, stale=h == 2)
                       for t, h in enumerate(row)]
            emitted += golden.push(sample_id, lookups)
            sample_id += 1
        out.append([ScheduledBatch.key_of(b) for b in emitted])
    out.append([ScheduledBatch.key_of(b) for b in golden.flush()])
    return out, golden


def _fast_run(kwargs, chunks, lookups):
    kwargs = dict(kwargs)
    alpha = kwargs.pop("alpha", 0)                  # the fast path takes classified samples
    fast = FastMicroBatchScheduler(**kwargs)
    out, sample_id = [], 0
    for hits in chunks:
        ids = np.arange(sample_id, sample_id + len(hits))
        codes = np.asarray(hits, dtype=np.int64).reshape(len(hits), lookups)
        popular, skipped = classify_skipped(codes > 0, codes == 2, alpha, learn=fast.learn)
        if not alpha:
            assert np.array_equal(popular, classify_many(codes > 0, learn=fast.learn))
        out.append([b.key() for b in fast.push_many(ids, popular, skipped)])
        sample_id += len(hits)
    out.append([b.key() for b in fast.flush()])
    return out, fast


@st.composite
def schedules(draw):
    batch_size = draw(st.integers(1, 6))
    working_set = draw(st.integers(1, 4))
    mode = draw(st.sampled_from(list(ScheduleMode)))
    full = working_set * batch_size if mode is ScheduleMode.REFORMED else batch_size
    capacity = draw(st.one_of(st.none(), st.integers(batch_size, full + 3)))
    learn = draw(st.booleans())
    lookups = draw(st.integers(1, 3))
    density = draw(st.sampled_from([0.0, 0.3, 0.8, 1.0]))   # none / some / most / all hit
    stale = draw(st.sampled_from([0.0, 0.5, 1.0]))          # share of hits on stale rows
    alpha = draw(st.sampled_from([0, 0, 1, 2, 3]))           # 0: skipping disabled
    n = draw(st.integers(0, 60))
    # per lookup: 0 miss, 1 hit, 2 hit on a stale row
    hits = [[(1 + (draw(st.floats(0, 1)) < stale)) * (draw(st.floats(0, 1)) < density)
             for _ in range(lookups)] for _ in range(n)]
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=6)))
    chunks = [hits[a:b] for a, b in zip([0, *cuts], [*cuts, n])]
    kwargs = dict(batch_size=batch_size, working_set=working_set, mode=mode, learn=learn,
                  capacity=capacity, alpha=alpha)
    return kwargs, [c if c else [] for c in chunks]


@settings(max_examples=300, deadline=None)
@given(schedules())
def test_fast_scheduler_equals_golden(case):
    kwargs, chunks = case
    chunks = [[list(row) for row in c] for c in chunks]
    golden_out, golden = _golden_run(kwargs, chunks)
    lookups = next((len(c[0]) for c in chunks if c), 1)
    fast_out, fast = _fast_run(kwargs, chunks, lookups)
    assert fast_out == golden_out
    assert fast.counters == golden.counters
    assert fast.held == golden.held == 0


def test_fast_scheduler_held_midway():
    kwargs = dict(batch_size=3, working_set=2)
    golden, fast = MicroBatchScheduler(**kwargs), FastMicroBatchScheduler(**kwargs)
    flags = [True, False, True, True]
    for i, p in enumerate(flags):
        golden.push(i, [Lookup(0, i, p)])
    fast.push_many(np.arange(4), np.asarray(flags))
    assert fast.held == golden.held == 1          # three popular left as a batch; one held


def test_scheduled_batch_of_golden_batch():
    golden = MicroBatchScheduler(batch_size=2, working_set=1)
    batches = golden.schedule([(5, [Lookup(0, 1, True)]), (9, [Lookup(0, 2, False)])])
    assert [ScheduledBatch.of(b).key() for b in batches] == \
        [ScheduledBatch.key_of(b) for b in batches]


def test_classify_many_rejects_1d():
    with pytest.raises(ValueError, match="2-D"):
        classify_many([True, False])


# -- gather and write-back -------------------------------------------------------------------


@st.composite
def gather_cases(draw):
    bus_bytes = draw(st.sampled_from([8, 16, 32, 64]))
    dim = draw(st.integers(1, 40))
    tables = draw(st.integers(1, 3))
    model = GatherModel(num_tables=tables + 1, bus_bytes=bus_bytes, addr_bits=20, dim=dim)
    address = draw(st.integers(0, 64)) * 4
    for t in range(tables):          # the last table register set stays unconfigured
        stride = 4 * dim + 4 * draw(st.integers(0, 3))
        rows = draw(st.integers(1, 20))
        model.configure(t, base=address, stride=stride, rows=rows)
        address += rows * stride + 4 * draw(st.integers(0, 300))
    memory = np.frombuffer(draw(st.binary(min_size=address, max_size=address)), np.uint8).copy()
    n = draw(st.integers(0, 30))
    requests = [(draw(st.integers(-1, tables + 1)), draw(st.integers(-2, 22)))
                for _ in range(n)]
    bus_errors = draw(st.lists(st.integers(0, max(address - 1, 0)), max_size=3)) \
        if address else []
    return model, memory, requests, bus_errors


def _clone(model):
    other = GatherModel(num_tables=model.num_tables, bus_bytes=model.bus_bytes,
                        addr_bits=model.addr_bits, dim=model.dim)
    other.tables = list(model.tables)
    other.next_tag = model.next_tag
    return other


@settings(max_examples=300, deadline=None)
@given(gather_cases())
def test_gather_many_equals_golden(case):
    model, memory, requests, bus_errors = case
    fast_model = _clone(model)
    golden = model.gather(requests, memory, frozenset(bus_errors))
    data, error = gather_many(fast_model, np.asarray(requests, np.int64).reshape(-1, 2),
                              memory, bus_errors)
    assert error.tolist() == [int(r.error) for r in golden]
    for i, response in enumerate(golden):
        expected = response.data if response.error != GatherError.RANGE else \
            bytes(model.row_beats * model.bus_bytes)
        assert data[i].tobytes() == expected, i
    assert fast_model.next_tag == model.next_tag


@settings(max_examples=300, deadline=None)
@given(gather_cases(), st.data())
def test_write_back_many_equals_golden(case, data):
    model, memory, requests, _ = case
    one_table = data.draw(st.booleans())
    table = data.draw(st.integers(-1, model.num_tables))
    tables = [table if one_table else t for t, _ in requests]
    rows = [r for _, r in requests]
    values = [data.draw(st.binary(min_size=model.row_bytes, max_size=model.row_bytes))
              for _ in rows]
    golden_memory, fast_memory = memory.copy(), memory.copy()
    stop = data.draw(st.booleans())
    expected = []
    for t, row, value in zip(tables, rows, values):
        error = model.write_back(t, row, value, golden_memory)
        expected.append(int(error))
        if stop and error:
            break
    payload = np.frombuffer(b"".join(values), np.uint8).reshape(len(rows), model.row_bytes)
    error = write_back_many(model, table if one_table else np.asarray(tables, np.int64), rows,
                            payload, fast_memory, stop_at_error=stop)
    assert error.tolist()[:len(expected)] == expected
    assert np.array_equal(fast_memory, golden_memory)


def test_gather_many_past_the_image_raises():
    model = GatherModel(num_tables=1, bus_bytes=16, dim=4)
    model.configure(0, base=0, stride=16, rows=10)
    with pytest.raises(IndexError, match="past"):
        gather_many(model, [(0, 9)], np.zeros(64, np.uint8))


# -- freeze: slot -> key -----------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([0.0, 0.5, 1.0]), st.booleans())
def test_slot_keys_equal_key_of_slot(seed, fill, odd):
    geometry = TableGeometry(table_bits=3, row_bits=8 if odd else 9, set_bits=4, ways=2)
    table = PopularityTable(geometry, Mode.LEARN)
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, [8, 1 << geometry.row_bits], (int(200 * fill), 2))
    table.lookup_many(keys[:, 0], keys[:, 1])          # empty, partly or entirely full
    table.mode = Mode.RUN
    expected = [(s, k) for s in range(geometry.entries)
                if (k := table.key_of_slot(s)) is not None]
    slots, tables, rows = slot_keys(table)
    assert [(s, (t, r)) for s, t, r in zip(slots.tolist(), tables.tolist(), rows.tolist())] \
        == expected


def test_slot_keys_bad_hash_raises_as_golden():
    geometry = TableGeometry(table_bits=3, row_bits=8, set_bits=4, ways=2)   # odd key width
    table = PopularityTable(geometry)
    for tag in range(1 << geometry.tag_bits):
        table.write_entry(0, True, 0, tag)
        try:
            table.key_of_slot(0)
        except KeyRangeError:
            break
    else:
        raise AssertionError("no tag of set 0 is outside the keys' hashes: pick a geometry")
    with pytest.raises(KeyRangeError):
        slot_keys(table)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([0.0, 0.5, 1.0]), st.integers(0, 50))
def test_frozen_table_lookups_equal_run_mode(seed, fill, n):
    geometry = TableGeometry(table_bits=3, row_bits=9, set_bits=4, ways=2)
    golden = PopularityTable(geometry, Mode.LEARN)
    rng = np.random.default_rng(seed)
    learned = rng.integers(0, [8, 512], (int(100 * fill), 2))
    golden.lookup_many(learned[:, 0], learned[:, 1])
    golden.mode = Mode.RUN
    golden.reset_counters()
    twin = PopularityTable(geometry, Mode.RUN)
    for _ in range(int(rng.integers(0, 4))):         # host writes: duplicates, any tag
        slot = int(rng.integers(0, geometry.entries))
        golden.write_entry(slot, True, 0, int(rng.integers(0, 1 << geometry.tag_bits)))
    if len(learned) and rng.random() < 0.5:           # a key in two ways of its set
        slot = int(golden.lookup_many(learned[:1, 0], learned[:1, 1])[1][0])
        entry = golden.read_entry(slot)
        golden.write_entry(slot ^ 1, True, 0, entry.tag)
    golden.reset_counters()
    for slot, entry in enumerate(zip(*golden.dump().values())):
        twin.write_entry(slot, bool(entry[0]), int(entry[1]), int(entry[2]))
    queries = np.concatenate([learned[:n], rng.integers(-1, [9, 513], (n, 2))])
    expected = golden.lookup_many(queries[:, 0], queries[:, 1])
    dense = rng.random() < 0.5                         # dense slot map over some tables
    sizes = rng.integers(1, 513, int(rng.integers(1, 9))) if dense else None
    frozen = FrozenTable(twin, dense_rows=sizes)
    got = frozen.lookup_many(queries[:, 0], queries[:, 1])
    for a, b in zip(got, expected):
        assert np.array_equal(a, b)
    if dense:                                           # the all-inside (indexed) case too
        inside = (queries[:, 0] >= 0) & (queries[:, 0] < len(sizes)) & (queries[:, 1] >= 0)
        inside &= queries[:, 1] < sizes[np.clip(queries[:, 0], 0, len(sizes) - 1)]
        q = queries[inside]
        golden_hit, golden_slot, _ = golden.lookup_many(q[:, 0], q[:, 1])
        hit, slot, _ = frozen.lookup_many(q[:, 0], q[:, 1])
        assert np.array_equal(hit, golden_hit) and np.array_equal(slot, golden_slot)
    assert (twin.lookups, twin.hits, twin.errors, twin.error_sticky) == \
        (golden.lookups, golden.hits, golden.errors, golden.error_sticky)


def test_frozen_table_needs_run_mode():
    table = PopularityTable(TableGeometry(table_bits=3, row_bits=9, set_bits=4, ways=2))
    with pytest.raises(ValueError, match="RUN"):
        FrozenTable(table)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 400), st.integers(1, 600))
def test_learn_many_equals_golden(seed, n, spread):
    geometry = TableGeometry(table_bits=3, row_bits=9, set_bits=3, ways=2)   # busy sets
    rng = np.random.default_rng(seed)
    _learn_many_matches_golden(geometry, [rng.integers(-1, [9, spread], (n, 2))
                                          for _ in range(2)])   # the second on a warm table


def _learn_many_matches_golden(geometry: TableGeometry, calls: list[np.ndarray]) -> None:
    """``learn_many`` and the golden ``lookup_many`` on the same ``(table, row)`` query arrays,
    one call each, from empty tables: same answers, entries and counters."""
    golden, fast = PopularityTable(geometry), PopularityTable(geometry)
    for queries in calls:
        expected = golden.lookup_many(queries[:, 0], queries[:, 1])
        got = learn_many(fast, queries[:, 0], queries[:, 1])
        for a, b in zip(got, expected):
            assert np.array_equal(a, b)
    for a, b in zip(fast.dump().values(), golden.dump().values()):
        assert np.array_equal(a, b)
    assert (fast.lookups, fast.hits, fast.errors, fast.error_sticky) == \
        (golden.lookups, golden.hits, golden.errors, golden.error_sticky)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 400), st.integers(1, 12),
       st.floats(0.0, 3.0))
def test_learn_many_equals_golden_on_runs_of_one_key(seed, n, pool, skew):
    """Skewed traffic from a few keys: long runs of one key per set (the lookups
    :func:`learn_many` answers without its SRRIP loop), interleaved with other keys and
    errors, across two calls."""
    geometry = TableGeometry(table_bits=3, row_bits=9, set_bits=2, ways=2)
    rng = np.random.default_rng(seed)
    keys = np.column_stack([rng.integers(-1, 9, pool), rng.integers(-1, 40, pool)])
    weights = 1.0 / np.arange(1, pool + 1) ** skew
    _learn_many_matches_golden(geometry, [keys[rng.choice(pool, n, p=weights / weights.sum())]
                                          for _ in range(2)])
