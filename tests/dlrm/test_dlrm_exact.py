"""Exact mode (SPLIT): the Hotline schedule takes the baseline's steps, to float rounding."""

from __future__ import annotations

import numpy as np
import torch
from dlrm_helpers import SMALL_GEOMETRY, small_config, small_data

from hotline_hw.model.oracle import OracleProfiler
from sw_driver.data import MovieLens100K, SyntheticCriteo
from sw_driver.dlrm import (BaselineTrainer, DLRMConfig, HotlineTrainer, LRSchedule,
                            ScheduleMode, compare_parameters, default_geometry)


def run_both(config, data, *, batch_size, seed, geometry, **options):
    baseline = BaselineTrainer(config, batch_size=batch_size, seed=seed, device="cpu", **options)
    hotline = HotlineTrainer(config, mode=ScheduleMode.SPLIT, batch_size=batch_size, seed=seed,
                             geometry=geometry, learn_fraction=0.1, device="cpu", **options)
    return baseline, baseline.train(data), hotline, hotline.train(data)


def test_exact_mode_equals_baseline_float32(seed):
    """220 steps of a small model: every parameter within 1e-5 (measured: about 2e-7)."""
    data = small_data(32 * 220, seed)
    baseline, base_result, hotline, result = run_both(small_config(), data, batch_size=32,
                                                      seed=seed, geometry=SMALL_GEOMETRY)
    assert len(result.steps) == len(base_result.steps) == 220
    stats = result.stats
    # Both paths carry real traffic: a quarter of the samples popular, hot and cold rows used.
    assert 0.15 < stats["popular_fraction"] < 0.6
    assert stats["hot_rows"] > 100 and stats["cold_rows_written_back"] > 1000
    diff = compare_parameters(baseline, hotline)
    print(f"exact mode, float32, 220 steps: max |difference| = {diff}")
    assert diff["max"] < 1e-5
    np.testing.assert_allclose(result.losses, base_result.losses, rtol=0, atol=1e-5)


def test_exact_mode_equals_baseline_float64_kaggle_mlp(seed):
    """The Kaggle architecture (26 tables, dim 16, 512-256-64-16 / 512-256-1) in float64.

    In float32 a wide MLP amplifies summation-order rounding: a pre-activation within rounding
    of zero takes the other side of a ReLU, and the step changes by a whole gradient term (plain
    PyTorch, summing two halves' gradients, drifts by ~1e-3 in 200 steps). In float64 that
    never happens here, so any difference above rounding would be the schedule's: measured
    ~1e-15. With DLRM's warm-up and decay, so the cold rows' SGD must follow the schedule too.
    """
    data = SyntheticCriteo(16 * 200, scale=1e-4, seed=seed % 2**31)
    config = DLRMConfig.kaggle(data.table_sizes)
    baseline, _, hotline, result = run_both(
        config, data, batch_size=16, seed=seed, geometry=default_geometry(config, set_bits=8),
        dtype=torch.float64, lr_schedule=LRSchedule(20, 100, 100))
    assert len(result.steps) == 200 and result.stats["popular_fraction"] > 0.1
    diff = compare_parameters(baseline, hotline)
    print(f"exact mode, float64, Kaggle MLP, 200 steps: max |difference| = {diff}")
    assert diff["max"] < 1e-12


def test_exact_mode_on_movielens(seed):
    """Real data: the first 6,400 MovieLens-100K ratings in time order, 100 steps, with a hot
    set chosen by the oracle profiler (loaded up front: no learning phase)."""
    movielens = MovieLens100K()
    config = DLRMConfig.small(movielens.table_sizes, n_dense=4, dim=4, hidden=16)
    data = movielens.block[:6400]
    geometry = default_geometry(config, set_bits=7)
    profiler = OracleProfiler(geometry.key_layout)
    profiler.update(data.sparse)
    baseline = BaselineTrainer(config, batch_size=64, seed=seed, device="cpu")
    baseline.train(data)
    hotline = HotlineTrainer(config, mode=ScheduleMode.SPLIT, batch_size=64, seed=seed,
                             geometry=geometry, hot_set=profiler.top_fitting(geometry),
                             device="cpu")
    result = hotline.train(data)
    assert len(result.steps) == 100 and {s["phase"] for s in result.steps} == {"run"}
    assert 0.3 < result.stats["popular_fraction"] < 0.7
    diff = compare_parameters(baseline, hotline)
    print(f"exact mode, MovieLens, 100 steps: max |difference| = {diff}")
    assert diff["max"] < 1e-5
