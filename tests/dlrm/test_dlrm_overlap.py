"""Overlapped host path (planner thread, read-ahead, asynchronous write-back) == serial, bit for
bit; errors on the planner thread reach the caller."""

from __future__ import annotations

import pytest
from dlrm_helpers import SMALL_GEOMETRY, small_config, small_data

from sw_driver.dlrm import (EmbeddingIndexError, HotlineTrainer, ScheduleMode,
                            compare_parameters)


def trainer(mode, seed, overlap, **options):
    return HotlineTrainer(small_config(), mode=mode, batch_size=32, seed=seed, working_set=3,
                          geometry=SMALL_GEOMETRY, device="cpu", learn_fraction=0.1,
                          overlap=overlap, **options)


@pytest.mark.parametrize("depth", [1, 8])
@pytest.mark.parametrize("mode", [ScheduleMode.SPLIT, ScheduleMode.REFORMED],
                         ids=["split", "reformed"])
def test_overlap_trains_as_the_serial_path(seed, mode, depth):
    data = small_data(32 * 23 + 5, seed)
    serial = trainer(mode, seed, False)
    overlapped = trainer(mode, seed, True, overlap_depth=depth)
    a, b = serial.train(data, epochs=2), overlapped.train(data, epochs=2)
    assert overlapped.overlap and not serial.overlap
    assert a.steps == b.steps and a.working_sets == b.working_sets
    assert compare_parameters(serial, overlapped)["max"] == 0.0
    assert serial.memory.memory.tobytes() == overlapped.memory.memory.tobytes()
    assert a.stats["cold_rows_written_back"] == b.stats["cold_rows_written_back"] > 0


def test_overlap_default_is_off_on_the_cpu(seed):
    assert not trainer(ScheduleMode.REFORMED, seed, None).overlap
    assert trainer(ScheduleMode.REFORMED, seed, True).overlap


def test_planner_error_reaches_the_caller_after_the_steps_before_it(seed):
    data = small_data(32 * 10, seed)
    block = data.generate(32 * 10)
    block.sparse[32 * 7 + 3, 2] = 10_000                 # row outside table 2
    for overlap in (False, True):
        t = trainer(ScheduleMode.SPLIT, seed, overlap)
        with pytest.raises(EmbeddingIndexError, match="table 2"):
            t.train(block)
        assert len(t.result.steps) == 7                    # the mini-batches before it trained
