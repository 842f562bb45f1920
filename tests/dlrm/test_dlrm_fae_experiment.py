"""The FAE / Hotline / baseline measurement: counted traffic, same budget, registration."""

from __future__ import annotations

import pytest

from sw_driver.dlrm.experiment import compare_schedules
from sw_driver.dlrm.fae_experiment import markdown_table, measure


def test_measure_counts_every_run_on_the_same_budget(seed):
    print(f"seed={seed}")
    out = measure("synthetic", n_train=3000, n_eval=500, n_monitor=256, scale=1e-4,
                  seed=seed % 1000, runs=("baseline", "hybrid", "fae", "hotline"))
    runs, budget = out["runs"], out["budget"]
    assert budget["bytes"] == budget["rows"] * 4 * out["model"]["dim"]
    assert runs["baseline"]["traffic"]["total_bytes"] == 0          # tables on the device
    row = 4 * out["model"]["dim"]
    hybrid = runs["hybrid"]["traffic"]
    assert hybrid["bytes"]["cold_gather"] == hybrid["rows"]["cold_gather"] * row > 0
    assert hybrid["rows"]["hot_load"] == hybrid["rows"]["sync_to_host"] == 0
    # the hybrid trains the baseline's steps
    assert runs["hybrid"]["metrics"]["logloss"] == pytest.approx(
        runs["baseline"]["metrics"]["logloss"], abs=1e-4)
    fae, hotline = runs["fae"], runs["hotline"]
    assert fae["hot_rows"] <= budget["rows"] and hotline["hot_rows"] <= budget["rows"]
    assert fae["traffic"]["rows"]["hot_load"] == fae["hot_rows"]
    assert hotline["traffic"]["rows"]["hot_load"] == hotline["hot_rows"]
    assert hotline["traffic"]["rows"]["cold_gather"] == hotline["traffic"]["rows"][
        "cold_write_back"] > 0
    assert 0 <= fae["hot_input_fraction"] <= 1 and 0 <= hotline["popular_fraction"] <= 1
    table = markdown_table({"datasets": {"synthetic": out}})
    assert table.count("\n") == 2 + 3 and "| synthetic | fae |" in table


def test_fae_runs_in_compare_schedules(seed):
    print(f"seed={seed}")
    from sw_driver.data import scaled_table_sizes
    from sw_driver.dlrm import DLRMConfig
    config = DLRMConfig.small(scaled_table_sizes(1e-4), dim=4, hidden=8)
    out = compare_schedules(n_train=2000, n_eval=500, scale=1e-4, config=config,
                            runs=("baseline", "fae"), fae_swap="epoch", data_seed=seed % 1000)
    assert set(out["metrics"]) == {"baseline", "fae"}
    assert "fae_minus_baseline" in out["differences"]
    assert 0 <= out["popular_fraction"]["fae"] <= 1
    with pytest.raises(ValueError, match="unknown runs"):
        compare_schedules(n_train=10, n_eval=10, runs=("faee",))
