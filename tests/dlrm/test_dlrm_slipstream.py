"""Slipstream (sw_driver/dlrm/slipstream.py): stale rows, the threshold's bisection, and the
trainer's accounting: every input trained or skipped exactly once, and the inputs kept trained
exactly as Hotline trains them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hotline_hw.model.scheduler import ScheduleMode
from sw_driver.data import SampleBlock
from sw_driver.dlrm import HotlineTrainer
from sw_driver.dlrm.slipstream import (BISECTION_STEPS, SlipstreamTrainer, calibrate_threshold,
                                       skippable, stale_rows)
from tests.dlrm.dlrm_helpers import SMALL_GEOMETRY, small_config, small_data


def test_stale_rows_every_dimension_and_nan():
    before = torch.zeros(4, 3)
    after = torch.tensor([[0.01, 0.0, 0.0], [0.01, 0.2, 0.0], [0.0, 0.0, 0.0],
                          [float("nan"), 0.0, 0.0]])
    assert stale_rows(before, after, 0.05).tolist() == [True, False, True, False]
    assert stale_rows(before, after, 0.0).tolist() == [False, False, False, False]


def test_skippable_needs_popular_and_alpha_stale_lookups():
    stale = np.array([True, False, True, True])
    slots = np.array([[0, 2, 3], [0, 1, 3], [0, 2, 3], [1, 1, 1]])
    popular = np.array([True, True, False, True])
    skip, count = skippable(slots, popular, stale, alpha=3)
    assert skip.tolist() == [True, False, False, False]
    assert count.tolist() == [3, 2, 0, 0]             # a non-popular sample counts nothing
    skip, _ = skippable(slots, popular, stale, alpha=2)
    assert skip.tolist() == [True, True, False, False]


def _moves(seed, rows=400, dim=4):
    """Hot rows that moved by a spread of amounts (log-uniform 1e-5 .. 1e-1)."""
    rng = np.random.default_rng(seed)
    before = torch.zeros(rows, dim, dtype=torch.float64)
    scale = 10 ** rng.uniform(-5, -1, size=(rows, 1))
    after = before + torch.from_numpy(scale * rng.uniform(0.5, 1.0, size=(rows, dim)))
    return before, after, rng


@pytest.mark.parametrize("drop", [0.1, 0.3, 0.5])
def test_bisection_lands_in_the_band(seed, drop):
    before, after, rng = _moves(seed)
    sample = rng.integers(0, len(before), size=(2000, 2))
    out = calibrate_threshold(before, after, sample, drop=drop, band=0.08, alpha=2)
    print(seed, out)
    assert out["converged"] and abs(out["sample_drop"] - drop) <= 0.08
    assert 0 < out["threshold"] < 0.1 and 1 <= out["steps"] <= BISECTION_STEPS
    skip, _ = skippable(sample, np.ones(len(sample), bool),
                        stale_rows(before, after, out["threshold"]), 2)
    assert skip.mean() == pytest.approx(out["sample_drop"])


def test_bisection_that_cannot_land_skips_nothing():
    before = torch.zeros(10, 2)
    after = torch.full((10, 2), 0.5)                    # every row moved past [0, 0.1]
    out = calibrate_threshold(before, after, np.zeros((50, 2), np.int64), drop=0.3, band=0.08,
                              alpha=2)
    assert out == {"threshold": 0.0, "converged": False, "steps": BISECTION_STEPS,
                   "sample_drop": 0.0, "sample_size": 50}


COMMON = dict(batch_size=32, lr=0.1, geometry=SMALL_GEOMETRY, learn_batches=10)


def _data(seed, n=6000):
    return small_data(n, seed).generate(n)


@pytest.mark.parametrize("mode", [ScheduleMode.REFORMED, ScheduleMode.SPLIT])
def test_every_input_trained_or_skipped_once_and_kept_ones_train_as_hotline(seed, mode):
    """Slipstream's run == Hotline's run on the inputs Slipstream kept (same learning phase,
    same stream into the scheduler): parameters bit for bit, steps and working sets equal."""
    data = _data(seed)
    slip = SlipstreamTrainer(small_config(), mode=mode, seed=seed, drop=0.3, alpha=8,
                             window_batches=20, **COMMON)
    result = slip.train(data)
    stats = result.stats
    skipped = slip.skipped_ids(0)
    print(seed, mode, stats["calibration"], stats["skipped_samples"], stats["skip_reasons"])
    assert stats["calibration"]["converged"]
    assert stats["skipped_samples"] == len(skipped) > 0
    assert len(np.unique(skipped)) == len(skipped) and skipped.max() < len(data)
    assert stats["trained_samples"] == sum(s["samples"] for s in result.steps) \
        == len(data) - len(skipped)
    assert stats["skip_reasons"] == {"8": len(skipped)}
    # Nothing is skipped before the calibration: learning phase + start + window.
    assert skipped.min() >= (10 + 20) * 32
    keep = np.setdiff1d(np.arange(len(data)), skipped)
    kept = SampleBlock(data.dense_raw[keep], data.sparse[keep], data.labels[keep])
    hot = HotlineTrainer(small_config(), mode=mode, seed=seed, **COMMON)
    reference = hot.train(kept)
    assert [s["loss"] for s in result.steps] == [s["loss"] for s in reference.steps]
    assert result.working_sets == reference.working_sets
    for a, b in zip(slip.embedding_tables(), hot.embedding_tables()):
        np.testing.assert_array_equal(a, b)
    for name, value in slip.mlp_state().items():
        np.testing.assert_array_equal(value, hot.mlp_state()[name])


def test_skipped_inputs_were_popular_on_stale_rows(seed):
    data = _data(seed)
    slip = SlipstreamTrainer(small_config(), seed=seed, drop=0.5, band=0.1, alpha=8,
                             window_batches=20, **COMMON)
    slip.train(data)
    skipped = slip.skipped_ids(0)
    tables = np.broadcast_to(np.arange(8), (len(skipped), 8))
    hit, slot, _ = slip.table.lookup_many(tables, data.sparse[skipped])
    assert hit.all()
    assert slip.stale[slot].reshape(len(skipped), 8).all()


def test_window_past_the_epoch_is_hotline_exactly(seed):
    """Never calibrated (the window outlasts the data): Hotline's run, bit for bit."""
    data = _data(seed, 3000)
    slip = SlipstreamTrainer(small_config(), seed=seed, window_batches=10_000, **COMMON)
    hot = HotlineTrainer(small_config(), seed=seed, **COMMON)
    a, b = slip.train(data), hot.train(data)
    assert a.stats["skipped_samples"] == 0 and a.stats["calibration"] is None
    assert [s["loss"] for s in a.steps] == [s["loss"] for s in b.steps]


@pytest.mark.parametrize("bad, match", [
    ({"overlap": True}, "serially"), ({"drop": 1.5}, "drop"), ({"band": -0.1}, "band"),
    ({"alpha": 0}, "alpha"), ({"alpha": 9}, "exceeds"), ({"start": -1}, "start"),
    ({"window": 2.0}, "window"), ({"window_batches": 0}, "window_batches"),
    ({"sample_size": 0}, "sample_size")])
def test_bad_knobs_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        SlipstreamTrainer(small_config(), **{**COMMON, **bad})


def test_experiment_quick_writes_results_and_plot(tmp_path):
    """``python -m sw_driver.dlrm.slipstream_experiment --quick`` (what ``make slipstream``
    runs at full size): the JSON accounts for every sample and compares against Hotline."""
    import json

    from sw_driver.dlrm.slipstream_experiment import main

    out, png = tmp_path / "results.json", tmp_path / "plot.png"
    assert main(["--quick", "--out", str(out), "--plot", str(png)]) == 0
    results = json.loads(out.read_text())
    runs = results["datasets"]["synthetic"]["runs"]
    assert set(runs) == {"baseline", "hotline", "slipstream-D0.3"}
    slip = runs["slipstream-D0.3"]
    assert slip["samples_trained"] + slip["samples_skipped"] == 8000 and slip["samples_skipped"]
    assert slip["hotline_over_trained"] == pytest.approx(8000 / slip["samples_trained"],
                                                         rel=1e-3)
    assert slip["hotline_over_trained"] > 1 and slip["bound_over_trained"] > 1
    assert runs["hotline"]["samples_skipped"] == 0 and "slipstream-D0.3" in results["table"]
    assert png.stat().st_size > 10_000
