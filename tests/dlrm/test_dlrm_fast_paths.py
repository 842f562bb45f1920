"""The trainer on the fast paths trains exactly as on the golden models (bit for bit)."""

from __future__ import annotations

import pytest
from dlrm_helpers import SMALL_GEOMETRY, small_config, small_data

from sw_driver.dlrm import GatherModelPort, HotlineTrainer, ScheduleMode, compare_parameters


def trainer(mode, seed, fast, **options):
    port = (lambda memory: GatherModelPort(memory, fast=fast))
    return HotlineTrainer(small_config(), mode=mode, batch_size=32, seed=seed, working_set=3,
                          geometry=SMALL_GEOMETRY, device="cpu", learn_fraction=0.1,
                          fast=fast, port_factory=port, **options)


def same_training(a, b, result_a, result_b):
    assert result_a.steps == result_b.steps               # every loss, kind, size, popular count
    assert result_a.working_sets == result_b.working_sets
    for key in ("cold_rows_gathered", "cold_rows_written_back", "popular_samples", "hot_rows",
                "port_rows_gathered", "port_rows_written", "early_closes"):
        assert result_a.stats[key] == result_b.stats[key], key
    assert compare_parameters(a, b)["max"] == 0.0
    assert a.memory.memory.tobytes() == b.memory.memory.tobytes()   # the host image, NaNs too


@pytest.mark.parametrize("mode", [ScheduleMode.SPLIT, ScheduleMode.REFORMED],
                         ids=["split", "reformed"])
def test_fast_paths_train_as_the_golden_models(seed, mode):
    data = small_data(32 * 23 + 5, seed)                  # a partial last mini-batch
    golden, fast = trainer(mode, seed, False), trainer(mode, seed, True)
    same_training(golden, fast, golden.train(data, epochs=2), fast.train(data, epochs=2))
    assert fast.result.stats["popular_fraction"] > 0      # the hot path was exercised
