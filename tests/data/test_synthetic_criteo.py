"""Synthetic Criteo generator: shape, determinism, chunking, round trip, skew, labels."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sw_driver.data import (
    KAGGLE_TABLE_SIZES,
    CriteoReader,
    SampleBlock,
    SyntheticCriteo,
    scaled_table_sizes,
)
from sw_driver.data.synthetic import STREAM_BLOCK

SCALE = 1e-3  # 33.8k rows: every test here runs in well under a second


@pytest.fixture(scope="module")
def small() -> SyntheticCriteo:
    return SyntheticCriteo(100_000, scale=SCALE, seed=7)


def test_kaggle_shape():
    assert len(KAGGLE_TABLE_SIZES) == 26
    assert sum(KAGGLE_TABLE_SIZES) == 33_762_577  # data.md: 33.76M rows
    assert SyntheticCriteo(1).table_sizes == KAGGLE_TABLE_SIZES


def test_scaled_table_sizes():
    sizes = scaled_table_sizes(SCALE)
    assert sizes[2] == 10_132 and sizes[8] == 2 and sizes[5] == 2  # ceil, floor of 2
    assert scaled_table_sizes(1.0) == KAGGLE_TABLE_SIZES
    assert scaled_table_sizes(1e-9, (1, 5)) == (1, 2)  # a 1-row table stays 1 row
    with pytest.raises(ValueError, match="scale"):
        scaled_table_sizes(0)


def test_determinism_from_seed(small):
    again = SyntheticCriteo(100_000, scale=SCALE, seed=7)
    assert again.generate(5000, 123).equals(small.generate(5000, 123))
    for t in range(26):
        np.testing.assert_array_equal(again.permutation(t), small.permutation(t))
    other = SyntheticCriteo(100_000, scale=SCALE, seed=8)
    assert not other.generate(5000).equals(small.generate(5000))
    assert not np.array_equal(other.permutation(2), small.permutation(2))


def test_chunked_generation_equals_one_shot(small, rng):
    n = 2 * STREAM_BLOCK + 1000
    whole = small.generate(n)
    cuts = np.sort(rng.choice(np.arange(1, n), size=6, replace=False)).tolist()
    cuts += [STREAM_BLOCK, STREAM_BLOCK + 1]  # exactly at and just past a stream boundary
    edges = sorted({0, n, *cuts})
    parts = [small.generate(b - a, a) for a, b in itertools.pairwise(edges)]
    assert SampleBlock.concat(parts).equals(whole)
    # A fresh generator (no cached stream block) starting mid-stream agrees too.
    fresh = SyntheticCriteo(100_000, scale=SCALE, seed=7)
    middle = whole[STREAM_BLOCK - 100:STREAM_BLOCK + 677]
    assert fresh.generate(777, STREAM_BLOCK - 100).equals(middle)
    np.testing.assert_array_equal(fresh.generate_sparse(n - 5, 5), whole.sparse[5:])
    assert small.generate(0, 99).sparse.shape == (0, 26)


def test_blocks_cover_the_data_set(rng):
    gen = SyntheticCriteo(10_000, scale=SCALE, seed=1)
    blocks = list(gen.blocks(3_000))
    assert [len(b) for b in blocks] == [3000, 3000, 3000, 1000]
    assert SampleBlock.concat(blocks).equals(gen.generate(10_000))
    # Callers own what they get: writing into it must not alter later results.
    blocks[0].sparse[:] = 0
    assert gen.generate(10).equals(SyntheticCriteo(10, scale=SCALE, seed=1).generate(10))


def test_ids_within_tables_and_dense_valid(small):
    block = small.generate(50_000)
    assert (block.sparse < np.array(small.table_sizes)).all() and (block.sparse >= 0).all()
    assert (block.dense_raw >= 0).all()
    zeros = (block.dense_raw == 0).mean(axis=0)
    assert zeros[11] > 0.7 and zeros[1] < 0.3  # I12 mostly missing, I2 mostly present
    assert set(np.unique(block.labels)) == {0.0, 1.0}


def test_round_trip_through_criteo_text(tmp_path):
    gen = SyntheticCriteo(3_000, scale=SCALE, seed=3)
    for name in ("syn.txt", "syn.txt.gz"):
        assert gen.write_criteo(tmp_path / name, chunk_rows=1_000) == 3_000
        block = CriteoReader(tmp_path / name, chunk_bytes=50_000).read()
        assert block.equals(gen.generate(3_000))


def test_rows_follow_the_zipf_law(small):
    sparse = small.generate_sparse(STREAM_BLOCK)
    for t in (2, 9, 23):  # 10132, 94, 287 rows
        counts = np.bincount(sparse[:, t], minlength=small.table_sizes[t])
        probs = small.row_probabilities(t)
        assert probs.sum() == pytest.approx(1.0)
        top = np.argsort(-probs)[:20]
        expected = probs[top] * len(sparse)
        # Each of the 20 hottest rows within 5 sigma of its binomial expectation.
        assert np.all(np.abs(counts[top] - expected) < 5 * np.sqrt(expected) + 1)
        # Hot rows are scattered by the permutation, not the ids 0..k.
        assert not np.array_equal(np.sort(top), np.arange(20))


def test_hot_rows_dominate(small):
    """Sanity at a small scale: the top 6.8% of rows take the bulk of the accesses."""
    sparse = small.generate_sparse(100_000)
    counts = np.concatenate(
        [np.bincount(sparse[:, t], minlength=n) for t, n in enumerate(small.table_sizes)]
    )
    k = round(0.068 * len(counts))
    hot_share = np.sort(counts)[::-1][:k].sum() / counts.sum()
    assert hot_share > 0.9


def test_labels_are_learnable_at_criteo_rate(small):
    block = small.generate(100_000)
    assert 0.24 < block.labels.mean() < 0.275  # Criteo Kaggle: 25.6%
    logit = small.click_logit(block)
    ranks = np.argsort(np.argsort(logit))
    positive = block.labels == 1
    n_pos, n_neg = positive.sum(), (~positive).sum()
    auc = (ranks[positive].sum() - n_pos * (n_pos - 1) / 2) / (n_pos * n_neg)
    assert auc > 0.72  # the Bayes-optimal score separates clicks as Criteo models do (~0.8)


def test_explicit_table_sizes_and_argument_checks():
    gen = SyntheticCriteo(100, table_sizes=[1, 3, 1000], seed=2)
    block = gen.generate(100)
    assert block.sparse.shape == (100, 3) and (block.sparse[:, 0] == 0).all()
    assert (block.sparse < [1, 3, 1000]).all()
    with pytest.raises(ValueError, match="26 categorical"):
        gen.write_criteo("unused.txt")
    with pytest.raises(ValueError, match="table_sizes"):
        SyntheticCriteo(1, table_sizes=[0])
    with pytest.raises(ValueError, match="alpha"):
        SyntheticCriteo(1, alpha=0)
    with pytest.raises(ValueError, match="non-negative"):
        SyntheticCriteo(1).generate(-1)


def test_full_kaggle_scale_smoke():
    """Scale 1.0 builds its 33.8M-row tables and generates valid samples."""
    gen = SyntheticCriteo(1_000, seed=0)
    block = gen.generate(1_000, start=12_345_678)
    assert (block.sparse < np.array(KAGGLE_TABLE_SIZES)).all()
    assert len(np.unique(block.sparse[:, 2])) > 100  # the 10M-row table is not degenerate


def test_drift_is_chunk_invariant_and_moves_the_hot_rows(rng):
    n = 3 * STREAM_BLOCK
    drifting = SyntheticCriteo(n, scale=SCALE, seed=7, drift=1.0)
    still = SyntheticCriteo(n, scale=SCALE, seed=7)
    whole = drifting.generate_sparse(n)
    cut = int(rng.integers(1, n))
    again = SyntheticCriteo(n, scale=SCALE, seed=7, drift=1.0)
    parts = np.concatenate([again.generate_sparse(cut), again.generate_sparse(n - cut, cut)])
    np.testing.assert_array_equal(parts, whole)
    np.testing.assert_array_equal(drifting.generate(100, cut).sparse, whole[cut:cut + 100])
    # The start is ranking 0 (as without drift); the end is the next ranking.
    start, end = whole[:2000, 2], whole[-2000:, 2]
    assert (start == still.generate_sparse(2000)[:, 2]).mean() > 0.95
    top_end = drifting.drift_ranking(2, 1)[:20]
    top_start = drifting.permutation(2)[:20]
    assert np.isin(end, top_end).mean() > 0.2 > np.isin(end, top_start).mean()
    with pytest.raises(ValueError, match="drift"):
        SyntheticCriteo(10, drift=-1.0)
    with pytest.raises(ValueError, match="n_samples"):
        SyntheticCriteo(0, drift=1.0)
