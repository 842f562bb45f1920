"""Golden models: the popularity table's stale bits and the scheduler's skipped micro-batches
(Slipstream in the accelerator), by hand and as invariants."""

import random

import numpy as np
import pytest

from hotline_hw.model.micro_batch_beats import expected_beats
from hotline_hw.model.popularity_table import Mode, PopularityTable, TableGeometry
from hotline_hw.model.scheduler import (Lookup, MicroBatchKind, MicroBatchScheduler,
                                        ScheduleMode, cold_requests)

P, N, M, S = (MicroBatchKind.POPULAR, MicroBatchKind.NON_POPULAR, MicroBatchKind.MIXED,
              MicroBatchKind.SKIPPED)
GEOMETRY = TableGeometry(table_bits=3, row_bits=9, set_bits=3, ways=2)


def samples_from(pattern: str, lookups: int = 3):
    """Per sample: 'n' (last lookup misses), 'p' (all hit, none stale), or a digit k (all hit,
    the first k stale); ids 0, 1, ..."""
    out = []
    for i, c in enumerate(pattern):
        stale = int(c) if c.isdigit() else 0
        out.append((i, [Lookup(t, 100 * i + t, hit=c != "n" or t < lookups - 1, slot=t,
                               stale=t < stale) for t in range(lookups)]))
    return out


def summary(batches):
    return [(b.kind, b.working_set, b.index, [s.sample_id for s in b.samples]) for b in batches]


def test_alpha_boundary():
    # alpha = 2: 1 stale lookup (alpha - 1) trains, 2 (alpha) and 3 (alpha + 1) are skipped.
    s = MicroBatchScheduler(batch_size=2, working_set=1, alpha=2, capacity=100)
    assert summary(s.schedule(samples_from("1231"))) == [
        (P, 0, 0, [0, 3]), (S, 0, 1, [1, 2])]
    c = s.counters
    assert (c.samples_in, c.popular, c.non_popular, c.skipped) == (4, 2, 0, 2)


def test_non_popular_with_stale_lookups_is_trained():
    s = MicroBatchScheduler(batch_size=2, working_set=1, alpha=1)
    batch = s.schedule([(7, [Lookup(0, 1, True, 0, stale=True), Lookup(1, 2, False)])])
    assert summary(batch) == [(N, 0, 0, [7])]


def test_skipped_leave_last_in_batches_of_b():
    s = MicroBatchScheduler(batch_size=2, working_set=1, alpha=1, capacity=100)
    assert summary(s.schedule(samples_from("1p1n11" "1pp"))) == [
        (M, 0, 0, [1, 3]), (S, 0, 1, [0, 2]),
        (P, 1, 0, [7, 8]), (S, 1, 1, [4, 5]), (S, 1, 2, [6])]


def test_skipped_do_not_count_towards_the_working_set():
    # Slipstream drops skipped inputs before its scheduler: a working set is W * B others.
    s = MicroBatchScheduler(batch_size=2, working_set=2, alpha=1, capacity=100)
    batches = s.schedule(samples_from("p1p1pn1p" "p"))
    assert summary(batches) == [(P, 0, 0, [0, 2]), (M, 0, 1, [4, 5]), (S, 0, 2, [1, 3]),
                                (P, 1, 0, [7, 8]), (S, 1, 1, [6])]
    kept = [b for b in batches if b.kind is not S]
    assert [[x.sample_id for x in b.samples] for b in kept] == [[0, 2], [4, 5], [7, 8]]
    assert [x.sample_id for b in batches if b.kind is S for x in b.samples] == [1, 3, 6]
    assert s.counters.early_closes == 0


def test_split_skipped_only_when_any():
    s = MicroBatchScheduler(batch_size=3, mode=ScheduleMode.SPLIT, alpha=3, capacity=100)
    assert summary(s.schedule(samples_from("3pnp" "ppp"))) == [
        (P, 0, 0, [1, 3]), (N, 0, 1, [2]), (S, 0, 2, [0]),
        (P, 1, 0, [4, 5, 6]), (N, 1, 1, [])]


def test_flush_with_only_skipped_samples_open():
    s = MicroBatchScheduler(batch_size=2, working_set=1, alpha=1, capacity=100)
    assert summary(s.schedule(samples_from("pp1"))) == [(P, 0, 0, [0, 1]), (S, 1, 0, [2])]


def test_alpha_zero_and_learning_skip_nothing():
    pattern = "3333pn3"
    plain = MicroBatchScheduler(batch_size=2, working_set=2)
    off = MicroBatchScheduler(batch_size=2, working_set=2, alpha=0)
    assert summary(off.schedule(samples_from(pattern))) == \
        summary(plain.schedule(samples_from(pattern)))
    learn = MicroBatchScheduler(batch_size=2, working_set=2, alpha=1, learn=True)
    assert all(b.kind is not S for b in learn.schedule(samples_from(pattern)))


def test_skipped_count_toward_capacity():
    s = MicroBatchScheduler(batch_size=2, working_set=4, alpha=1, capacity=3)
    assert summary(s.schedule(samples_from("111p"))) == [
        (S, 0, 0, [0, 1]), (S, 0, 1, [2]), (P, 1, 0, [3])]
    assert s.counters.early_closes == 1


@pytest.mark.parametrize("seed", range(20))
def test_every_sample_once_and_skipped_have_no_cold_rows(seed):
    print(f"seed {seed}")
    rng = random.Random(seed)
    mode = rng.choice(list(ScheduleMode))
    alpha = rng.randrange(0, 4)
    s = MicroBatchScheduler(batch_size=rng.randrange(1, 5), working_set=rng.randrange(1, 4),
                            mode=mode, alpha=alpha)
    pattern = "".join(rng.choice("np0123") for _ in range(rng.randrange(0, 40)))
    batches = s.schedule(samples_from(pattern))
    ids = [sample.sample_id for b in batches for sample in b.samples]
    assert sorted(ids) == list(range(len(pattern)))
    for b in batches:
        skipped = [sample.skipped for sample in b.samples]
        assert all(skipped) if b.kind is S else not any(skipped)
        if b.kind is S:
            assert b.size and all(sum(lk.stale for lk in sample.lookups) >= alpha > 0
                                  for sample in b.samples)
    assert all(batches[r.step].kind is not S for r in cold_requests(batches))
    beats, cold = expected_beats(batches, lanes=2, learn=False)
    assert sum(b.desc == 0 and b.last for b in beats) == len(pattern)
    skipped_steps = {b.step for b in batches if b.kind is S}
    assert all(not any(lane.valid for lane in beat.lanes)
               for beat in beats if beat.step in skipped_steps)
    assert not {c.step for c in cold} & skipped_steps


def test_table_stale_bits():
    t = PopularityTable(GEOMETRY, Mode.LEARN)
    keys = [(1, 5), (2, 9), (3, 33)]
    slots = [t.lookup(*k).slot for k in keys]
    assert t.mark_stale(1, 5) == (True, slots[0], False)
    assert t.mark_stale(7, 500) == (False, 0, False)          # not in the table: no-op
    assert t.mark_stale(8, 0) == (False, 0, True)             # out of range
    assert not t.lookup_stale(t.lookup(1, 5))                 # LEARN never reports stale
    assert t.is_stale(slots[0])                               # ... and a LEARN hit keeps it
    t.mode = Mode.RUN
    answers = [t.lookup(*k) for k in keys]
    assert [t.lookup_stale(a) for a in answers] == [True, False, False]
    hit, slot, _ = t.lookup_many([k[0] for k in keys], [k[1] for k in keys])
    assert t.stale_many(hit, slot).tolist() == [True, False, False]
    t.clear_stale()
    assert not t.stale_slots().any()
    t.mark_stale(2, 9)
    t.write_entry(slots[1], True, 0, t.read_entry(slots[1]).tag)   # a host write clears it
    assert not t.is_stale(slots[1])
    t.mark_stale(2, 9)
    t.clear()
    assert not t.stale_slots().any()


def test_learn_insertion_clears_the_victims_stale_bit():
    t = PopularityTable(TableGeometry(table_bits=3, row_bits=9, set_bits=1, ways=1))
    first = t.lookup(0, 0)
    t.mark_stale(0, 0)
    other = next((0, r) for r in range(1, 512) if t.set_and_tag(0, r)[0] == t.set_and_tag(0, 0)[0])
    assert t.lookup(*other) == (False, first.slot, False)       # evicts (0, 0)
    assert not t.is_stale(first.slot)


def test_stale_many_equals_lookup_stale():
    rng = np.random.default_rng(3)
    t = PopularityTable(GEOMETRY, Mode.LEARN)
    keys = rng.integers(0, [8, 512], (60, 2))
    t.lookup_many(keys[:, 0], keys[:, 1])
    hot = t.hot_set()
    for table, row in hot[::2]:
        assert t.mark_stale(table, row).hit
    t.mode = Mode.RUN
    queries = rng.integers(0, [8, 512], (40, 2))
    queries[:len(hot)] = hot
    hit, slot, _ = t.lookup_many(queries[:, 0], queries[:, 1])
    want = [t.lookup_stale(t.lookup(int(a), int(b))) for a, b in queries]
    assert t.stale_many(hit, slot).tolist() == want
    assert any(want) and not all(want)
