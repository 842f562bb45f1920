"""No sample and no update lost: every sample trained exactly once per epoch, in every mode."""

from __future__ import annotations

import math

import numpy as np
import pytest
from dlrm_helpers import SMALL_GEOMETRY, small_config, small_data

import sw_driver.dlrm.trainer as trainer_module
from sw_driver.dlrm.lookup_cache import LookupCache
from hotline_hw.model.scheduler import Lookup, MicroBatchScheduler
from sw_driver.dlrm import BaselineTrainer, HotlineTrainer, ScheduleError, ScheduleMode


def hotline(mode, seed, **options):
    options.setdefault("learn_fraction", 0.1)
    return HotlineTrainer(small_config(), mode=mode, batch_size=32, seed=seed,
                          geometry=SMALL_GEOMETRY, device="cpu", **options)


@pytest.mark.parametrize("mode", [ScheduleMode.SPLIT, ScheduleMode.REFORMED],
                         ids=["split", "reformed"])
def test_every_sample_once_per_epoch(seed, mode):
    n = 32 * 41 + 7                                         # a partial last mini-batch
    trainer = hotline(mode, seed, working_set=3)
    result = trainer.train(small_data(n, seed), epochs=2)
    assert result.stats["samples"] == 2 * n
    for epoch in (0, 1):
        steps = [s for s in result.steps if s["epoch"] == epoch]
        sets = [w for w in result.working_sets if w["epoch"] == epoch]
        assert sum(s["samples"] for s in steps) == n
        assert sum(w["samples"] for w in sets) == n
        # As many optimizer steps as the baseline: one per mini-batch, partial one included.
        assert len(steps) == math.ceil(n / 32)
    # The learning phase: first epoch only, the first 10% of its mini-batches (rounded up).
    learn = [s for s in result.steps if s["phase"] == "learn"]
    assert len(learn) == math.ceil(0.1 * math.ceil(n / 32))
    assert [s["step"] for s in learn] == list(range(len(learn)))
    assert all(s["epoch"] == 0 and s["popular"] == 0 for s in learn)
    run = [s for s in result.steps if s["phase"] == "run"]
    if mode is ScheduleMode.REFORMED:
        assert all(s["popular"] == s["samples"] for s in run if s["kind"] == "popular")
        for epoch in (0, 1):
            sizes = [s["samples"] for s in run if s["epoch"] == epoch]
            assert sizes[:-1] == [32] * (len(sizes) - 1) and sizes[-1] == 7
    else:
        assert {s["kind"] for s in run} == {"split"}
    fractions = [w["popular_fraction"] for w in result.working_sets if w["phase"] == "run"]
    assert 0 < np.mean(fractions) < 1
    assert result.stats["popular_fraction"] == pytest.approx(
        sum(w["popular"] for w in result.working_sets if w["phase"] == "run")
        / sum(w["samples"] for w in result.working_sets if w["phase"] == "run"))


def test_baseline_takes_minibatches_in_order(seed):
    n = 32 * 10 + 5
    result = BaselineTrainer(small_config(), batch_size=32, seed=seed,
                             device="cpu").train(small_data(n, seed))
    assert [s["samples"] for s in result.steps] == [32] * 10 + [5]
    assert result.stats["samples"] == n


class _DroppingScheduler(MicroBatchScheduler):
    """Loses the last sample of the third non-empty micro-batch it emits."""

    def _emit(self, samples, role=None):
        self._emitted = getattr(self, "_emitted", 0) + bool(samples)
        if self._emitted == 3 and samples:
            samples = samples[:-1]
        return super()._emit(samples, role)


class _DuplicatingScheduler(MicroBatchScheduler):
    """Emits the first sample of the fourth non-empty micro-batch twice."""

    def _emit(self, samples, role=None):
        self._emitted = getattr(self, "_emitted", 0) + bool(samples)
        if self._emitted == 4 and samples:
            samples = [*samples, samples[0]]
        return super()._emit(samples, role)


@pytest.mark.parametrize("mode", [ScheduleMode.SPLIT, ScheduleMode.REFORMED],
                         ids=["split", "reformed"])
@pytest.mark.parametrize("broken, message", [(_DroppingScheduler, "never scheduled"),
                                             (_DuplicatingScheduler, "scheduled twice")])
def test_a_lost_or_duplicated_sample_is_caught(monkeypatch, seed, mode, broken, message):
    monkeypatch.setattr(trainer_module, "MicroBatchScheduler", broken)
    with pytest.raises(ScheduleError, match=message):
        hotline(mode, seed).train(small_data(32 * 12, seed))


def test_unknown_length_source_needs_learn_batches(seed):
    class Stream:                       # a source with blocks() but no length
        table_sizes, n_dense = small_data(1, 0).table_sizes, 13

        def blocks(self):
            yield from small_data(32 * 6, seed).blocks(50)

    with pytest.raises(TypeError, match="learn_batches"):
        hotline(ScheduleMode.SPLIT, seed).train(Stream())
    result = hotline(ScheduleMode.SPLIT, seed, learn_batches=2).train(Stream())
    assert [s["phase"] for s in result.steps] == ["learn"] * 2 + ["run"] * 4


@pytest.mark.parametrize("packed", [True, False], ids=["packed", "tuples"])
def test_lookup_records_are_the_schedulers(rng, packed):
    config = small_config()
    cache = LookupCache(config, SMALL_GEOMETRY)
    cache.packed = packed
    for _ in range(2):                       # the second pass reuses cached records
        sparse = rng.integers(0, 30, (40, 8))
        hit = rng.random((40, 8)) < 0.5
        slot = rng.integers(0, SMALL_GEOMETRY.entries, (40, 8))
        expected = [tuple(Lookup(t, int(sparse[i, t]), bool(hit[i, t]), int(slot[i, t]))
                          for t in range(8)) for i in range(40)]
        assert cache.of(sparse, hit, slot) == expected
