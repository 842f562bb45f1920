"""Results as JSON, progress, plots, the learning-rate policy and the metrics."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from dlrm_helpers import SMALL_GEOMETRY, small_config, small_data

from sw_driver.dlrm import (HotlineTrainer, LRSchedule, ScheduleMode, TrainResult,
                            binary_metrics, plot_results, roc_auc)


@pytest.fixture(scope="module")
def result() -> TrainResult:
    torch.set_num_threads(1)
    trainer = HotlineTrainer(small_config(), mode=ScheduleMode.REFORMED, batch_size=32, seed=5,
                             geometry=SMALL_GEOMETRY, learn_fraction=0.1, device="cpu")
    data = small_data(32 * 30, 5)
    return trainer.train(data, eval_source=data.generate(2000, start=10_000))


def test_result_is_json(result, tmp_path):
    data = json.loads(result.to_json())
    assert data["name"] == "hotline-reformed"
    assert data["config"]["mode"] == "REFORMED" and data["config"]["geometry"]["entries"] == 512
    assert len(data["steps"]) == 30
    assert all(isinstance(s["loss"], float) and s["loss"] > 0 for s in data["steps"])
    fields = {"step", "epoch", "phase", "kind", "samples", "popular", "loss"}
    assert fields <= data["steps"][0].keys()
    assert all(0 <= w["popular_fraction"] <= 1 for w in data["working_sets"])
    assert set(data["final"]) == {"accuracy", "auc", "logloss", "n"} and data["final"]["n"] == 2000
    assert data["stats"]["samples"] == 960 and data["seconds"] > 0
    path = tmp_path / "result.json"
    result.save(path)
    assert json.loads(path.read_text()) == data


def test_plot_is_written(result, tmp_path):
    path = tmp_path / "losses.png"
    assert plot_results([result], path) is True
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_says_why(result, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)       # import matplotlib -> ImportError
    path = tmp_path / "losses.png"
    assert plot_results([result], path) is False and not path.exists()
    assert "matplotlib is not installed" in capsys.readouterr().err


@pytest.mark.parametrize("tqdm", [True, False], ids=["tqdm", "no-tqdm"])
def test_progress_with_and_without_tqdm(monkeypatch, capsys, tqdm):
    if not tqdm:                      # tqdm is a dependency; the fallback is tested by hiding it
        monkeypatch.setitem(sys.modules, "tqdm", None)          # import tqdm -> ImportError
    trainer = HotlineTrainer(small_config(), batch_size=32, geometry=SMALL_GEOMETRY,
                             device="cpu", progress=True)
    trainer.train(small_data(32 * 8, 1))
    err = capsys.readouterr().err
    assert "hotline-reformed" in err and "loss" in err
    if not tqdm:
        assert "batches" in err


def test_lr_schedule_is_dlrms_policy():
    constant = LRSchedule()
    assert [constant.factor(i) for i in range(5)] == [1.0] * 5
    # warm-up 4 steps: DLRM's scale 1 - (W - count) / W with count = step + 1
    schedule = LRSchedule(warmup_steps=4, decay_start_step=6, decay_steps=4)
    factors = [schedule.factor(i) for i in range(12)]
    assert factors[:3] == [0.25, 0.5, 0.75]
    assert factors[3:5] == [1.0, 1.0]
    # quadratic decay: ((D - (count - start)) / D) ** 2 from count = start, then frozen
    assert factors[5:9] == [1.0, 0.5625, 0.25, 0.0625]
    assert factors[9:] == [0.0625] * 3
    assert LRSchedule.decay_over(100, 1.0) == LRSchedule(0, 0, 100)
    assert LRSchedule.decay_over(100, 0.25) == LRSchedule(0, 75, 25)
    with pytest.raises(ValueError, match="warm-up must finish"):
        LRSchedule(10, 5, 5)


def test_metrics(rng):
    scores = rng.integers(0, 5, 400).astype(float)             # many ties
    labels = (rng.random(400) < 0.3).astype(float)
    pos, neg = scores[labels == 1], scores[labels == 0]
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert roc_auc(scores, labels) == pytest.approx(pairs, abs=1e-12)
    logits = rng.standard_normal(400) * 3
    metrics = binary_metrics(logits, labels)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.from_numpy(logits), torch.from_numpy(labels)).item()
    assert metrics["logloss"] == pytest.approx(expected, rel=1e-12)
    assert metrics["accuracy"] == np.mean((logits > 0) == (labels == 1))
    assert np.isnan(roc_auc([0.1, 0.2], [1, 1]))
