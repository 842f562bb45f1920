"""CriteoDataset: one pass, dense or hashed ids, DLRM's day split or a random one, several
files, samples=, empty files; and the DLRM memory estimate it feeds."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from sw_driver.data import (CriteoDataset, CriteoFormatError, CriteoVocabulary, make_split,
                            read_criteo)
from sw_driver.data.criteo_split import day_sizes
from sw_driver.dlrm.memory_estimate import (PEAK_TABLE_COPIES, ModelTooLargeError, check_fits,
                                            estimate_training_memory, format_bytes,
                                            largest_fitting_max_ind_range)
from tests.data.criteo_samples import (KAGGLE_HEAD, kaggle_like_lines, to_csv_lines,
                                       write_lines)


def test_day_split_is_dlrms():
    assert day_sizes(100) == [15, 15, 14, 14, 14, 14, 14]
    split = make_split("day", 100)
    assert split.train.tolist() == list(range(86))                       # days 0-5, in order
    assert split.test.tolist() == list(range(86, 93))                    # day 6, first half
    assert split.validation.tolist() == list(range(93, 100))             # day 6, second half
    split = make_split("day", 45_840_617)                                # Kaggle
    assert len(split.train) == 39_291_958 and len(split.test) == 3_274_330
    assert len(split.validation) == 3_274_329


def test_random_split_same_sizes_seeded_disjoint():
    day, one, same, other = (make_split("day", 1000), make_split("random", 1000, seed=1),
                             make_split("random", 1000, seed=1), make_split("random", 1000, seed=2))
    for part in ("train", "test", "validation"):
        assert len(getattr(one, part)) == len(getattr(day, part))
        assert np.array_equal(getattr(one, part), getattr(same, part))
    assert not np.array_equal(one.train, other.train)
    everything = np.concatenate([one.train, one.test, one.validation])
    assert np.array_equal(np.sort(everything), np.arange(1000))
    assert not np.array_equal(one.train, np.sort(one.train))             # not in time order


def test_split_refuses_too_few_and_unknown():
    assert len(make_split("day", 7).test) == 1
    with pytest.raises(ValueError, match="6 samples are too few"):
        make_split("day", 6)
    with pytest.raises(ValueError, match="split must be one of day, random"):
        make_split("time", 100)


def test_vocabulary_ids_size_tables_by_distinct_values(tmp_path, rng):
    lines = KAGGLE_HEAD + kaggle_like_lines(296, rng)
    path = write_lines(tmp_path / "train.txt", lines)
    data = CriteoDataset.open(path, chunk_bytes=3000)
    raw = read_criteo(path).sparse
    assert data.n_samples == 300 and data.stats.lines == 300
    assert list(data.table_sizes) == [len(np.unique(raw[:, t])) for t in range(26)]
    assert sum(data.table_sizes) < 26 * 400                 # never the largest raw id + 1
    sparse = data.sparse()
    assert sparse.shape == (300, 26) and (sparse < np.array(data.table_sizes)).all()
    for t in range(26):                                      # same raw value <-> same id
        same = raw[:, t][:, None] == raw[:, t][None, :]
        assert np.array_equal(same, sparse[:, t][:, None] == sparse[:, t][None, :])


def test_hash_ids_and_vocabulary_after_hash(tmp_path, rng):
    path = write_lines(tmp_path / "train.txt", kaggle_like_lines(100, rng))
    raw = read_criteo(path).sparse
    hashed = CriteoDataset.open(path, ids="hash", max_ind_range=1000)
    assert hashed.table_sizes == (1000,) * 26 and hashed.vocabulary is None
    assert np.array_equal(hashed.sparse(), raw % 1000)
    both = CriteoDataset.open(path, max_ind_range=50)
    assert list(both.table_sizes) == [len(np.unique(raw[:, t] % 50)) for t in range(26)]
    with pytest.raises(ValueError, match="needs max_ind_range"):
        CriteoDataset.open(path, ids="hash")
    with pytest.raises(ValueError, match="ids must be one of vocabulary, hash"):
        CriteoDataset.open(path, ids="raw")


def test_train_and_test_blocks_follow_the_split(tmp_path, rng):
    lines = kaggle_like_lines(140, rng)
    path = write_lines(tmp_path / "train.txt.gz", lines)
    data = CriteoDataset.open(path, chunk_bytes=2000)
    everything = data.reader().read()
    assert data.train_block().equals(everything[:120])
    assert data.train_block(50).equals(everything[:50])
    assert data.test_block().equals(everything[120:130])
    assert data.test_block(1000).equals(everything[120:130])           # capped at the part
    assert data.validation_block().equals(everything[130:])
    shuffled = CriteoDataset.open(path, split="random", seed=3, chunk_bytes=2000)
    assert shuffled.train_block(40).equals(everything[shuffled.split.train[:40]])
    assert shuffled.read([5, 1, 5]).equals(everything[[5, 1, 5]])
    with pytest.raises(IndexError):
        data.read([140])


def test_samples_limits_the_pass_and_the_data_set(tmp_path, rng):
    lines = kaggle_like_lines(600, rng)
    lines[500] = "garbage"                                # beyond samples: never read
    path = write_lines(tmp_path / "big.txt", lines)
    data = CriteoDataset.open(path, samples=210, chunk_bytes=4000)
    assert data.n_samples == 210 and data.stats.lines < 400
    assert data.vocabulary == CriteoVocabulary.build(write_lines(tmp_path / "h.txt", lines[:210]))
    assert len(data.split.train) == 180
    with pytest.raises(CriteoFormatError, match=r"big\.txt:501: "):
        CriteoDataset.open(path)


def test_several_files_in_several_layouts(tmp_path, rng):
    lines = kaggle_like_lines(210, rng)
    paths = [write_lines(tmp_path / f"day_{d}.gz", lines[70 * d:70 * (d + 1)]) for d in (0, 1)]
    paths.append(write_lines(tmp_path / "day_2.csv", to_csv_lines(lines[140:])))
    data = CriteoDataset.open(paths, samples=0)
    single = CriteoDataset.open(write_lines(tmp_path / "all.txt", lines))
    assert data.n_samples == 210 and data.table_sizes == single.table_sizes
    assert np.array_equal(data.sparse(), single.sparse())
    assert "3 files" in data.describe() and "CSV with header" in data.describe()


def test_empty_files_are_named(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(CriteoFormatError) as info:
        CriteoDataset.open(empty)
    assert str(info.value) == f"{empty}:1: no samples: the file is empty"
    assert pickle.loads(pickle.dumps(info.value)).line_no == 1
    header_only = write_lines(tmp_path / "h.csv", to_csv_lines([]))
    with pytest.raises(CriteoFormatError, match=r"h\.csv:2: no samples after the header"):
        CriteoDataset.open(header_only, ids="hash", max_ind_range=10)


def test_memory_estimate_and_refusal():
    estimate = estimate_training_memory([1000, 268], 16, vocabulary_values=1268,
                                        samples_held=100)
    assert estimate.table_bytes == 1268 * 16 * 4
    assert estimate.total_bytes == round(PEAK_TABLE_COPIES * 1268 * 64) + 8 * 1268 + \
        100 * 2 * (26 * 8 + 13 * 8 + 4)
    check_fits(estimate, estimate.total_bytes, "never shown")
    with pytest.raises(ModelTooLargeError, match="use --ids vocabulary") as info:
        check_fits(estimate, estimate.total_bytes - 1, "use --ids vocabulary")
    assert isinstance(info.value, MemoryError) and "1,268 embedding rows" in str(info.value)
    assert pickle.loads(pickle.dumps(info.value)).advice == "use --ids vocabulary"
    # The case: hashed ids at 10M rows per table, dim 16: 238M... rows, far over 12 GB.
    big = estimate_training_memory([10_000_000] * 26, 16)
    assert big.table_bytes == 16_640_000_000 and format_bytes(big.table_bytes) == "16.6 GB"
    fit = largest_fitting_max_ind_range([10_000_000] * 26, 16, 12 * 10**9)
    assert estimate_training_memory([fit] * 26, 16).total_bytes <= 12 * 10**9
    assert estimate_training_memory([fit + 1] * 26, 16).total_bytes > 12 * 10**9
    assert largest_fitting_max_ind_range([5, 3000], 16, 10**9) == 3000    # all fits
    with pytest.raises(ValueError, match="dim"):
        estimate_training_memory([1], 0)
