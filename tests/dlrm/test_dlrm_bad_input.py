"""Bad input raises clear exceptions: rows outside their tables, hot sets that do not fit."""

from __future__ import annotations

import pytest
from dlrm_helpers import SMALL_GEOMETRY, SMALL_TABLES, small_config, small_data

from hotline_hw.model.popularity_table import PopularityTable, TableGeometry
from sw_driver.data import SampleBlock
from sw_driver.dlrm import (BaselineTrainer, EmbeddingIndexError, HotlineTrainer,
                            HotSetOverflowError, ScheduleMode)


def corrupt(block: SampleBlock, sample: int, table: int, row: int) -> SampleBlock:
    sparse = block.sparse.copy()
    sparse[sample, table] = row
    return SampleBlock(block.dense_raw, sparse, block.labels)


@pytest.mark.parametrize("make", [
    lambda: BaselineTrainer(small_config(), batch_size=32, device="cpu"),
    lambda: HotlineTrainer(small_config(), mode=ScheduleMode.SPLIT, batch_size=32,
                           geometry=SMALL_GEOMETRY, device="cpu"),
    lambda: HotlineTrainer(small_config(), mode=ScheduleMode.REFORMED, batch_size=32,
                           geometry=SMALL_GEOMETRY, device="cpu"),
], ids=["baseline", "split", "reformed"])
@pytest.mark.parametrize("sample", [3, 700], ids=["learning", "running"])
def test_index_out_of_range_names_table_row_and_sample(make, sample):
    block = small_data(32 * 30, 1).generate(32 * 30)
    bad = corrupt(block, sample, 5, SMALL_TABLES[5])          # one past the end, never clamped
    with pytest.raises(EmbeddingIndexError,
                       match=rf"table 5 row 1000 \(the table has 1000 rows.*sample {sample} "
                             r"of the epoch 0") as info:
        make().train(bad)
    assert (info.value.table, info.value.row, info.value.sample) == (5, 1000, sample)


def test_index_error_in_evaluation():
    trainer = BaselineTrainer(small_config(), batch_size=32, device="cpu")
    bad = corrupt(small_data(100, 2).generate(100), 42, 0, 10**6)
    with pytest.raises(EmbeddingIndexError, match="table 0 row 1000000"):
        trainer.evaluate(bad)


def test_hot_set_larger_than_the_table_raises():
    keys = [(t, r) for t in range(8) for r in range(SMALL_TABLES[t])][:SMALL_GEOMETRY.entries + 1]
    with pytest.raises(HotSetOverflowError, match="513 rows is larger than the popularity table "
                                                  r"\(512 entries = 128 sets x 4 ways\)"):
        HotlineTrainer(small_config(), geometry=SMALL_GEOMETRY, hot_set=keys, device="cpu")


def test_hot_set_overflowing_one_set_raises():
    table = PopularityTable(SMALL_GEOMETRY)
    by_set = {}
    for t, rows in enumerate(SMALL_TABLES):
        for r in range(rows):
            by_set.setdefault(table.set_and_tag(t, r)[0], []).append((t, r))
    crowded = next(keys for keys in by_set.values() if len(keys) > SMALL_GEOMETRY.ways)
    with pytest.raises(HotSetOverflowError,
                       match=r"set \d+ would need more than 4 ways.*\(hot set of 5 rows\)"):
        HotlineTrainer(small_config(), geometry=SMALL_GEOMETRY, hot_set=crowded[:5], device="cpu")
    # The same keys minus one fit, and training uses them as the hot set from the start.
    trainer = HotlineTrainer(small_config(), mode=ScheduleMode.SPLIT, batch_size=32,
                             geometry=SMALL_GEOMETRY, hot_set=crowded[:4], device="cpu")
    assert trainer.store.frozen and len(trainer.store.hot_slots) == 4
    result = trainer.train(small_data(64, 0))
    assert {s["phase"] for s in result.steps} == {"run"}


def test_hot_set_key_outside_the_tables():
    with pytest.raises(IndexError, match=r"\(table=2, row=30\) is outside the tables"):
        HotlineTrainer(small_config(), geometry=SMALL_GEOMETRY, hot_set=[(2, 30)], device="cpu")


def test_popularity_table_too_narrow_for_the_tables():
    narrow = TableGeometry(table_bits=2, row_bits=10, set_bits=5)
    with pytest.raises(ValueError, match="cannot name every row of 8 tables"):
        HotlineTrainer(small_config(), geometry=narrow, device="cpu")


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(batch_size=0), ValueError, "batch_size must be a positive int"),
    (dict(batch_size=32.0), ValueError, "batch_size must be a positive int"),
    (dict(lr="0.1"), ValueError, "lr must be a positive number"),
    (dict(seed="7"), TypeError, "seed must be an int"),
    (dict(progress="yes"), TypeError, "progress must be True or False"),
    (dict(working_set=0), ValueError, "working_set must be a positive int"),
    (dict(learn_fraction="5%"), ValueError, "learn_fraction must be in [0, 1]"),
    (dict(learn_fraction=1.5), ValueError, "learn_fraction must be in [0, 1]"),
])
def test_trainer_arguments_are_checked_at_the_call(kwargs, error, words):
    with pytest.raises(error) as info:
        HotlineTrainer(small_config(), geometry=SMALL_GEOMETRY, device="cpu", **kwargs)
    assert words in str(info.value)


def test_compare_schedules_arguments_are_checked_before_training():
    from sw_driver.dlrm.experiment import compare_schedules
    for kwargs, words in ((dict(runs=("fast",)), "unknown runs ['fast']"), (dict(runs=()),
                          "no runs given"), (dict(n_train=0), "n_train must be an integer"),
                          (dict(lr_decay=2), "lr_decay must be from 0 to 1")):
        with pytest.raises(ValueError) as info:
            compare_schedules(**kwargs)
        assert words in str(info.value)
