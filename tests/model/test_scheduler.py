"""Golden model of the micro-batch scheduler: hand-worked schedules and invariants."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline_hw.model.scheduler import (ColdRequest, Lookup, MicroBatchKind, MicroBatchScheduler,
                                        ScheduleMode, cold_requests)

P, N, M = MicroBatchKind.POPULAR, MicroBatchKind.NON_POPULAR, MicroBatchKind.MIXED


def samples_from(pattern: str, lookups: int = 2):
    """'p' = popular (all hit), 'n' = not (its last lookup misses); sample ids 0, 1, ..."""
    return [(i, [Lookup(t, 100 * i + t, hit=(c == "p" or t < lookups - 1), slot=t)
                 for t in range(lookups)]) for i, c in enumerate(pattern)]


def summary(batches):
    return [(b.kind, b.working_set, b.index, [s.sample_id for s in b.samples]) for b in batches]


def test_reformed_by_hand():
    # B = 2, W = 3: a working set is 6 samples.
    s = MicroBatchScheduler(batch_size=2, working_set=3)
    batches = s.schedule(samples_from("pnppnp" + "nnnn" + "ppp"))
    assert summary(batches) == [
        (P, 0, 0, [0, 2]),                 # emitted as soon as two popular samples arrived
        (P, 0, 1, [3, 5]),
        (N, 0, 2, [1, 4]),                 # then the rest
        (P, 1, 0, [10, 11]),               # popular first even though they arrived last
        (N, 1, 1, [6, 7]),
        (N, 1, 2, [8, 9]),
        (P, 2, 0, [12]),                   # partial last working set, flushed at the end
    ]
    assert [b.step for b in batches] == list(range(7))
    c = s.counters
    assert (c.samples_in, c.popular, c.non_popular, c.micro_batches, c.early_closes) == \
        (13, 7, 6, 7, 0)


def test_reformed_leftovers_go_first():
    s = MicroBatchScheduler(batch_size=2, working_set=2)
    assert summary(s.schedule(samples_from("pnnn"))) == [(M, 0, 0, [0, 1]), (N, 0, 1, [2, 3])]
    s = MicroBatchScheduler(batch_size=3, working_set=2)
    assert summary(s.schedule(samples_from("nppnpn"))) == [(P, 0, 0, [1, 2, 4]),
                                                          (N, 0, 1, [0, 3, 5])]


def test_split_by_hand():
    s = MicroBatchScheduler(batch_size=3, mode=ScheduleMode.SPLIT)
    assert summary(s.schedule(samples_from("pnp" "ppp" "nn"))) == [
        (P, 0, 0, [0, 2]), (N, 0, 1, [1]),
        (P, 1, 0, [3, 4, 5]), (N, 1, 1, []),          # both always emitted, either may be empty
        (P, 2, 0, []), (N, 2, 1, [6, 7]),
    ]


def test_learning_has_no_popular_sample():
    s = MicroBatchScheduler(batch_size=2, working_set=2, learn=True)
    batches = s.schedule(samples_from("pppp"))
    assert summary(batches) == [(N, 0, 0, [0, 1]), (N, 0, 1, [2, 3])]
    assert len(cold_requests(batches, learn=True)) == 8          # every lookup from CPU memory
    assert s.counters.popular == 0


def test_capacity_closes_the_working_set_early():
    # B = 2, W = 4 but room for 3 samples: the third held sample closes the working set.
    s = MicroBatchScheduler(batch_size=2, working_set=4, capacity=3)
    assert summary(s.schedule(samples_from("nnnpp"))) == [
        (N, 0, 0, [0, 1]), (N, 0, 1, [2]), (P, 1, 0, [3, 4])]
    assert s.counters.early_closes == 1
    with pytest.raises(ValueError, match="capacity"):
        MicroBatchScheduler(batch_size=4, capacity=3)


def test_cold_requests_order():
    s = MicroBatchScheduler(batch_size=2, working_set=2)
    batches = s.schedule(samples_from("npnp", lookups=3))
    # P[1, 3] then N[0, 2]: cold rows are the last lookups of samples 0 and 2.
    assert cold_requests(batches) == [ColdRequest(1, 0, 2, 2, 2), ColdRequest(1, 1, 2, 2, 202)]


def test_parameter_errors():
    with pytest.raises(ValueError, match="batch_size"):
        MicroBatchScheduler(batch_size=0)
    with pytest.raises(ValueError, match="working_set"):
        MicroBatchScheduler(batch_size=2, working_set=0)


@settings(max_examples=200, deadline=None)
@given(pattern=st.text(alphabet="pn", max_size=60), batch_size=st.integers(1, 7),
       working_set=st.integers(1, 5), mode=st.sampled_from(list(ScheduleMode)),
       slack=st.integers(0, 30), learn=st.booleans())
def test_invariants(pattern, batch_size, working_set, mode, slack, learn):
    full = batch_size * working_set if mode is ScheduleMode.REFORMED else batch_size
    capacity = batch_size + slack if slack < 30 else None
    s = MicroBatchScheduler(batch_size=batch_size, working_set=working_set, mode=mode,
                            learn=learn, capacity=capacity)
    samples = samples_from(pattern)
    batches = s.schedule(samples)
    ids = [x.sample_id for b in batches for x in b.samples]
    # Conservation: a permutation of the input.
    assert sorted(ids) == list(range(len(pattern)))
    # Order within each class is arrival order.
    popular_ids = [i for i in ids if pattern[i] == "p" and not learn]
    assert popular_ids == sorted(popular_ids)
    non_popular_ids = [i for i in ids if not (pattern[i] == "p" and not learn)]
    assert non_popular_ids == sorted(non_popular_ids)
    assert [b.step for b in batches] == list(range(len(batches)))
    for b in batches:
        assert b.size <= batch_size
        pops = sum(x.popular for x in b.samples)
        assert b.kind == (MicroBatchKind.POPULAR if pops == b.size and b.size else
                          MicroBatchKind.NON_POPULAR if pops == 0 and b.size else
                          MicroBatchKind.MIXED if b.size else b.kind)
    by_set = {}
    for b in batches:
        by_set.setdefault(b.working_set, []).append(b)
    for set_batches in by_set.values():
        assert [b.index for b in set_batches] == list(range(len(set_batches)))
        if mode is ScheduleMode.SPLIT:
            assert [b.kind for b in set_batches][0] in (P,) and len(set_batches) == 2
        else:
            # Every micro-batch full but the last of a short (flushed / early-closed) set.
            assert all(b.size == batch_size for b in set_batches[:-1])
            if sum(b.size for b in set_batches) == full:
                assert len(set_batches) == working_set
    assert s.held == 0
    assert s.counters.samples_in == len(pattern)
    assert s.counters.popular + s.counters.non_popular == len(pattern)
