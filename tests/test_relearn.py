"""Periodic re-learning (sw_driver/relearn.py) and the generator's drift: the schedule, the
fast path == the golden table == the driver on the golden-model backend, and what re-learning
is for (with drift, the popular share falls without it and stays up with it)."""

from __future__ import annotations

import numpy as np
import pytest

from hotline_hw.model.popularity_table import RRPV_MAX, PopularityTable, TableGeometry
from sw_driver import ModelDevice, SyncHotlineDriver
from sw_driver.data import SyntheticCriteo
from sw_driver.relearn import (RelearnPolicy, RelearningEal, age_table, drive,
                               golden_popular_flags)
from tb import driver_scenarios as sc
from tb.cosim_hotline import layouts_for


def test_schedule():
    p = RelearnPolicy(initial=3, every=2, learn_batches=1, working_set=2)
    assert p.period == 5
    want = [1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]
    assert [int(p.learning(b)) for b in range(14)] == want
    assert p.learning(np.arange(14)).astype(int).tolist() == want
    assert list(p.segments(14)) == [(0, 3, True), (3, 7, False), (7, 8, True), (8, 12, False),
                                    (12, 13, True), (13, 14, False)]
    static = RelearnPolicy(initial=2)
    assert list(static.segments(5)) == [(0, 2, True), (2, 5, False)]
    assert list(RelearnPolicy(initial=0).segments(3)) == [(0, 3, False)]
    for bad in (dict(initial=-1), dict(initial=1, every=2), dict(initial=1, reset="drop"),
                dict(initial=1, working_set=0), dict(initial=True)):
        with pytest.raises(ValueError):
            RelearnPolicy(**bad)


@pytest.mark.parametrize("initial,every,k,w", [(5, 3, 2, 4), (1, 1, 1, 1), (30, 2, 3, 1)])
def test_segments_cover_every_batch(initial, every, k, w):
    p = RelearnPolicy(initial=initial, every=every, learn_batches=k, working_set=w)
    segs = list(p.segments(97))
    assert segs[0][0] == 0 and segs[-1][1] == 97
    for (a0, a1, la), (b0, _, lb) in zip(segs, segs[1:]):
        assert a1 == b0 and la != lb
    for a0, a1, learn in segs:
        assert all(p.learning(b) == learn for b in range(a0, a1))


def test_age_keeps_entries_at_distant_rrpv(rng):
    table = PopularityTable(TableGeometry(table_bits=2, row_bits=8, set_bits=3))
    table.lookup_many(rng.integers(0, 4, 300), rng.integers(0, 256, 300))
    before = table.dump()
    age_table(table)
    after = table.dump()
    assert (after["valid"] == before["valid"]).all() and (after["tag"] == before["tag"]).all()
    assert (after["rrpv"][after["valid"]] == RRPV_MAX).all() and before["valid"].any()


@pytest.mark.parametrize("reset", ["age", "clear"])
def test_fast_path_equals_golden_table(seed, reset):
    n, batch = 6000, 100
    src = SyntheticCriteo(n, scale=2e-4, seed=seed % 2**31, drift=2.0)
    sparse = src.generate_sparse(n)
    geometry = TableGeometry(table_bits=5, row_bits=12, set_bits=6)
    policy = RelearnPolicy(initial=4, every=2, learn_batches=3, working_set=3, reset=reset)
    want = golden_popular_flags(PopularityTable(geometry), policy, batch, sparse)
    eal = RelearningEal(PopularityTable(geometry), policy, batch, src.table_sizes)
    got = np.concatenate([eal.offer(a, sparse[a:a + 1234]) for a in range(0, n, 1234)])
    print(seed, reset, want.mean(), eal.relearned)
    assert want.any() and eal.relearned >= 5
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("reset", ["age", "clear"])
def test_driver_equals_fast_path(seed, reset):
    config, batch, w = sc.SMALL_CONFIG, 16, 4                      # 64 held samples
    n = 40 * batch
    src = SyntheticCriteo(n, scale=1e-4, seed=seed % 2**31, drift=1.0)
    sparse = src.generate_sparse(n)
    policy = RelearnPolicy(initial=6, every=2, learn_batches=2, working_set=w, reset=reset)
    layouts = layouts_for(src.table_sizes, 16)
    memory = layouts[-1].base + layouts[-1].rows * layouts[-1].stride + 4096
    driver = SyncHotlineDriver(ModelDevice(config, memory_size=memory))
    driver.identify()
    driver.configure_tables(layouts, 16)
    driver.configure(batch_size=batch, working_set=w, lookups=sparse.shape[1])
    driver.clear_table()
    batches = [[(i, [(t, int(r)) for t, r in enumerate(sparse[i])])
                for i in range(b0, b0 + batch)] for b0 in range(0, n, batch)]
    got = np.zeros(n, bool)
    learned = 0
    for learning, _, result in drive(driver, batches, policy):
        learned += learning
        for mb in result.micro_batches:
            for sample, lanes in mb.samples():
                got[sample] = not learning and all(lane.hot for lane in lanes)
    eal = RelearningEal(PopularityTable(config.geometry), policy, batch, src.table_sizes)
    want = eal.offer(0, sparse)
    print(seed, reset, want.mean(), learned)
    assert want.any() and learned == 6 + 2 * eal.relearned and eal.relearned >= 3
    np.testing.assert_array_equal(got, want)
    driver.close()


def test_drift_falls_without_relearning_and_recovers_with_it(seed):
    n, batch = 160_000, 512
    src = SyntheticCriteo(n, scale=2e-3, seed=seed % 2**31, drift=1.0)
    geometry = TableGeometry(table_bits=5, row_bits=16, set_bits=10)
    initial = 16
    static = RelearningEal(PopularityTable(geometry), RelearnPolicy(initial), batch,
                           src.table_sizes)
    relearn = RelearningEal(PopularityTable(geometry),
                            RelearnPolicy(initial, every=4, learn_batches=4), batch,
                            src.table_sizes)
    quarters = {"static": [], "relearn": []}
    for q in range(4):
        sparse = src.generate_sparse(n // 4, q * n // 4)
        for name, eal in (("static", static), ("relearn", relearn)):
            quarters[name].append(eal.offer(q * n // 4, sparse).mean())
    print(seed, quarters)
    s, r = quarters["static"], quarters["relearn"]
    assert s[3] < 0.5 * s[1]                   # the learned hot set goes stale
    assert r[3] > 2 * s[3] and r[3] > 0.6 * r[1]   # re-learning follows the drift
    # Without drift the same generator does not fall.
    still = SyntheticCriteo(n, scale=2e-3, seed=seed % 2**31)
    eal = RelearningEal(PopularityTable(geometry), RelearnPolicy(initial), batch,
                        still.table_sizes)
    flags = [eal.offer(q * n // 4, still.generate_sparse(n // 4, q * n // 4)).mean()
             for q in range(4)]
    assert flags[3] > 0.9 * flags[1]
