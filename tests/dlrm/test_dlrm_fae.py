"""FAE: profiler, classification, bundling, swap schedule, hot-row syncs, exactness, traffic."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sw_driver.dlrm import BaselineTrainer, compare_parameters
from sw_driver.dlrm.fae_profile import bundle, classify_inputs, num_hot_rows, profile_inputs
from sw_driver.dlrm.fae_trainer import FAETrainer, SwapRateSchedule
from sw_driver.dlrm.trainer import ScheduleError
from sw_driver.dlrm.traffic import CountingPort, HostDeviceTraffic

from dlrm_helpers import SMALL_TABLES, RecordingPort, small_config, small_data

DIM = 4                         # small_config's
#: 300 rows of budget: the three smallest tables (20 + 30 + 50) whole, 200 rows of the rest.
BUDGET = 300 * 4 * DIM
SMALL = 60 * 4 * DIM            # tables under 60 rows are "small": 20, 30, 50


def _fae(seed, **options):
    defaults = dict(batch_size=32, budget_bytes=BUDGET, small_table_bytes=SMALL,
                    sample_rate=0.2, profile_seed=seed, seed=seed, dtype=torch.float64,
                    device="cpu")
    return FAETrainer(small_config(), **{**defaults, **options})


def _replay_on_baseline(fae, train, seed):
    """The baseline stepped on FAE's mini-batches in FAE's order (float64)."""
    base = BaselineTrainer(small_config(), batch_size=32, seed=seed, dtype=torch.float64,
                           device="cpu")
    for _, indices in fae.executed:
        base.train(train[indices])
    return base


# -- profiler ----------------------------------------------------------------------------------

def test_budget_gives_num_hot_rows(seed):
    print(f"seed={seed}")
    assert num_hot_rows(256 * 1024 * 1024, 16) == 4 * 1024 * 1024     # the code's default
    assert num_hot_rows(1000, 4) == 62
    assert num_hot_rows(0, 4) == 0
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError):
            num_hot_rows(bad, 4)
    data = small_data(2000, seed).generate(2000)
    for rows in (0, 7, 100, 299, 1000):
        profile = profile_inputs(data.sparse, SMALL_TABLES, DIM, budget_bytes=rows * 4 * DIM,
                                 small_table_bytes=0, seed=seed)
        assert profile.num_hot == rows
        assert profile.hot_rows == min(rows, sum(int((c > 0).sum())
                                                 for c in profile.sampled_counts))


def test_small_tables_hot_whole_and_most_accessed_rows_next(seed):
    print(f"seed={seed}")
    data = small_data(3000, seed).generate(3000)
    profile = profile_inputs(data.sparse, SMALL_TABLES, DIM, budget_bytes=BUDGET,
                             small_table_bytes=SMALL, sample_rate=0.1, seed=seed)
    small = [t for t, rows in enumerate(SMALL_TABLES) if rows * 4 * DIM < SMALL]
    assert list(profile.small_tables) == sorted(small) == [0, 2, 6]
    for t in small:
        assert profile.hot[t].all()
    assert profile.hot_rows == 300 and profile.sampled_inputs == 300
    # every hot row of a large table was sampled at least as often as every cold one
    hot_counts = np.concatenate([profile.sampled_counts[t][profile.hot[t]]
                                 for t in range(8) if t not in small])
    cold_counts = np.concatenate([profile.sampled_counts[t][~profile.hot[t]]
                                  for t in range(8) if t not in small])
    assert hot_counts.min() >= cold_counts.max() and hot_counts.min() > 0
    # a budget smaller than the small tables: smallest first while they fit
    tight = profile_inputs(data.sparse, SMALL_TABLES, DIM, budget_bytes=60 * 4 * DIM,
                           small_table_bytes=SMALL, seed=seed)
    assert list(tight.small_tables) == [2, 6] and tight.hot_rows <= 60
    assert not tight.hot[0].all()


def test_profile_rejects_bad_input(seed):
    print(f"seed={seed}")
    sparse = np.zeros((10, 8), dtype=np.int64)
    sparse[3, 5] = SMALL_TABLES[5]
    with pytest.raises(ValueError, match="input 3 looks up row 1000 of table 5"):
        profile_inputs(sparse, SMALL_TABLES, DIM)
    with pytest.raises(ValueError, match="sample_rate"):
        profile_inputs(sparse[:2] * 0, SMALL_TABLES, DIM, sample_rate=0)


def test_input_is_hot_iff_all_lookups_hot_and_bundles_are_pure(seed, rng):
    print(f"seed={seed}")
    data = small_data(2000, seed).generate(2000)
    profile = profile_inputs(data.sparse, SMALL_TABLES, DIM, budget_bytes=BUDGET,
                             small_table_bytes=SMALL, seed=seed)
    is_hot = classify_inputs(data.sparse, profile)
    expected = [all(profile.hot[t][row] for t, row in enumerate(sample))
                for sample in data.sparse.tolist()]
    assert is_hot.tolist() == expected
    assert 0 < is_hot.sum() < len(is_hot)
    batch = int(rng.integers(5, 50))
    hot, cold = bundle(is_hot, batch)
    every = np.concatenate(hot + cold)
    assert np.array_equal(np.sort(every), np.arange(len(is_hot)))       # each exactly once
    assert all(is_hot[b].all() for b in hot) and not any(is_hot[b].any() for b in cold)
    assert all(len(b) == batch for b in hot[:-1] + cold[:-1])
    assert all((np.diff(b) > 0).all() for b in hot + cold)              # data order


# -- swap schedule -------------------------------------------------------------------------------

def test_swap_rate_schedule(seed):
    print(f"seed={seed}")
    s = SwapRateSchedule()
    assert s.rate == 50
    assert s.observe(1.0) == 50                 # the first loss only sets the reference
    assert s.observe(1.1) == 25                 # a rise halves
    for loss in (1.0, 0.9, 0.8):
        assert s.observe(loss) == 25            # three falls: not yet
    assert s.observe(0.7) == 50                 # the fourth doubles
    assert s.observe(0.7) == 50                 # equal: neither
    for expected in (25, 12, 6, 3, 1, 1):
        assert s.observe(s._last + 1) == expected
    for _ in range(7 * 4):
        s.observe(s._last - 0.01)
    assert s.rate == 100                        # capped at R(100)
    assert s.chunk(250) == 3 and SwapRateSchedule(1).chunk(250) == 250
    once = SwapRateSchedule.once_per_epoch()
    for loss in (1.0, 2.0, 0.5, 0.4, 0.3, 0.2, 0.1):
        assert once.observe(loss) == 1
    with pytest.raises(ValueError):
        SwapRateSchedule(101)
    with pytest.raises(ValueError):
        FAETrainer(small_config(), swap="adaptive")     # needs a monitor set


# -- training --------------------------------------------------------------------------------------

@pytest.mark.parametrize("swap", ["epoch", 4])
def test_every_input_trained_exactly_once_per_epoch(seed, swap):
    print(f"seed={seed}")
    train = small_data(1200, seed).generate(1200)
    fae = _fae(seed, swap=swap, dtype=torch.float32)
    for epoch in range(2):
        result = fae.train(train)
        kinds = [k for k, _ in fae.executed]
        order = np.concatenate([i for _, i in fae.executed])
        assert np.array_equal(np.sort(order), np.arange(len(train)))
        assert len(result.steps) == len(fae.executed)
        # R(r): chunks of ceil(count / r) mini-batches, a cold chunk then a hot chunk, ...
        rate = 1 if swap == "epoch" else swap
        n_cold, n_hot = kinds.count("cold"), kinds.count("hot")
        expected, c, h = [], 0, 0
        while c < n_cold or h < n_hot:
            take = min(n_cold - c, -(-n_cold // rate))
            expected += ["cold"] * take
            c += take
            take = min(n_hot - h, -(-n_hot // rate))
            expected += ["hot"] * take
            h += take
        assert kinds == expected
        if swap == "epoch":
            assert kinds == sorted(kinds)                   # all cold, then all hot
        for kind, indices in fae.executed:
            assert fae._is_hot[indices].all() == (kind == "hot")
            assert fae._is_hot[indices].any() == (kind == "hot")


def test_a_given_profile_trains_as_the_own_one(seed):
    print(f"seed={seed}")
    train = small_data(800, seed).generate(800)
    own = _fae(seed, swap=3)
    own.train(train)
    given = _fae(seed, swap=3, profile=own.profile)
    given.train(train)
    assert compare_parameters(own, given)["max"] == 0
    assert given.traffic.to_dict() == own.traffic.to_dict()
    with pytest.raises(ValueError, match="does not match"):
        other = profile_inputs(train.sparse[:, :7], SMALL_TABLES[:7], DIM)
        _fae(seed, profile=other, swap=3).train(train)


def test_a_lost_or_repeated_input_raises(seed):
    print(f"seed={seed}")
    train = small_data(600, seed).generate(600)

    class Repeating(FAETrainer):
        def _before_training(self, source):
            super()._before_training(source)
            self._cold_batches = self._cold_batches + [self._cold_batches[0]]

    with pytest.raises(ScheduleError, match="not exactly once"):
        Repeating(small_config(), batch_size=32, budget_bytes=BUDGET, small_table_bytes=SMALL,
                  swap="epoch", device="cpu").train(train)


@pytest.mark.parametrize("sync,swap", [("all", 5), ("touched", 5), ("all", "adaptive")])
def test_fae_equals_the_baseline_on_its_mini_batches(seed, sync, swap):
    """Float64: FAE's steps are the baseline's on the same mini-batches in the same order, so
    the parameters agree to rounding, and a skipped sync cannot go unnoticed."""
    print(f"seed={seed}")
    data = small_data(1800, seed)
    train, monitor = data.generate(1500), data.generate(300, start=1500)
    fae = _fae(seed, sync=sync, swap=swap, start_rate=8, monitor=monitor)
    result = fae.train(train, eval_source=monitor)
    assert result.stats["swaps"] >= 3
    if swap == "adaptive":
        assert result.stats["rates"]                        # the monitor drove it
    base = _replay_on_baseline(fae, train, seed)
    assert compare_parameters(base, fae)["max"] < 1e-10
    metrics = base.evaluate(monitor)
    assert result.final["logloss"] == pytest.approx(metrics["logloss"], abs=1e-10)


@pytest.mark.parametrize("skipped", ["_sync_to_host", "_sync_to_device"])
def test_a_skipped_sync_breaks_equality(seed, skipped, monkeypatch):
    """The check above fails if either direction of the swap sync is skipped."""
    print(f"seed={seed}")
    train = small_data(1500, seed).generate(1500)
    fae = _fae(seed, swap=5)
    monkeypatch.setattr(fae, skipped, lambda: None)
    fae.train(train)
    base = _replay_on_baseline(fae, train, seed)
    assert compare_parameters(base, fae)["max"] > 1e-6


def test_every_swap_syncs_the_hot_rows_and_is_counted(seed):
    print(f"seed={seed}")
    train = small_data(1500, seed).generate(1500)
    ports = []
    fae = _fae(seed, swap=6, port_factory=lambda m: ports.append(RecordingPort(m)) or ports[0])
    result = fae.train(train)
    kinds = [k for k, _ in fae.executed]
    to_host = sum(a == "hot" and b == "cold" for a, b in zip(kinds, kinds[1:]))
    to_device = sum(a == "cold" and b == "hot" for a, b in zip(kinds, kinds[1:]))
    assert to_host >= 2 and to_device >= 2 and result.stats["swaps"] == to_host + to_device
    hot_rows = fae.profile.hot_rows
    traffic = fae.traffic
    assert traffic.rows["sync_to_host"] == to_host * hot_rows
    assert traffic.rows["sync_to_device"] == to_device * hot_rows
    assert traffic.rows["hot_load"] == hot_rows
    row_bytes = 8 * DIM                                     # float64 rows here
    assert traffic.bytes["sync_to_device"] == to_device * hot_rows * row_bytes
    # cold steps: every distinct row of each cold mini-batch, gathered once, written back once
    distinct = sum(len({(t, r) for s in train.sparse[i].tolist() for t, r in enumerate(s)})
                   for k, i in fae.executed if k == "cold")
    assert traffic.rows["cold_gather"] == traffic.rows["cold_write_back"] == distinct
    # and the counter saw what the port moved, no more, no less
    port = ports[0]
    assert sum(len(g) for g in port.gathers) == (traffic.rows["cold_gather"]
                                                 + traffic.rows["hot_load"]
                                                 + traffic.rows["sync_to_device"])
    assert port.rows_written == traffic.rows["cold_write_back"] + traffic.rows["sync_to_host"]


def test_no_budget_is_the_hybrid_baseline(seed):
    print(f"seed={seed}")
    data = small_data(1000, seed)
    train, held_out = data.generate(800), data.generate(200, start=800)
    fae = _fae(seed, budget_bytes=0, small_table_bytes=0, swap="epoch")
    result = fae.train(train, eval_source=held_out)
    assert result.stats["hot_input_fraction"] == 0 and result.stats["swaps"] == 0
    assert np.array_equal(np.concatenate([i for _, i in fae.executed]), np.arange(800))
    base = BaselineTrainer(small_config(), batch_size=32, seed=seed, dtype=torch.float64,
                           device="cpu")
    base.train(train)
    assert compare_parameters(base, fae)["max"] < 1e-10
    assert fae.traffic.total_bytes() == (fae.traffic.bytes["cold_gather"]
                                         + fae.traffic.bytes["cold_write_back"]) > 0


def test_counting_port_tags(seed):
    print(f"seed={seed}")
    from sw_driver.dlrm import GatherModelPort, HostEmbeddingMemory
    memory = HostEmbeddingMemory((10, 20), 4)
    traffic = HostDeviceTraffic()
    port = CountingPort(GatherModelPort(memory), traffic)
    port.gather(np.array([[0, 1], [1, 2]]))
    with port.tagged("sync_to_host"):
        port.write_back(1, np.array([3]), np.ones((1, 4), np.float32))
    port.write_back(0, np.array([3]), np.ones((1, 4), np.float32))
    assert traffic.rows == {"cold_gather": 2, "cold_write_back": 1, "hot_load": 0,
                            "sync_to_host": 1, "sync_to_device": 0}
    assert traffic.to_dict()["h2d_bytes"] == 32 and traffic.to_dict()["d2h_bytes"] == 32
    with pytest.raises(ValueError, match="unknown traffic category"):
        with port.tagged("elsewhere"):
            pass
