"""SampleBlock validation and re-cutting streams of blocks into mini-batches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sw_driver.data import SampleBlock, iter_minibatches


def block_of(n: int, start: int = 0, n_dense: int = 3, n_tables: int = 2) -> SampleBlock:
    """Samples numbered ``start..start+n-1`` in every column, so order and loss are visible."""
    ids = np.arange(start, start + n)
    return SampleBlock(
        np.repeat(ids[:, None], n_dense, 1), np.repeat(ids[:, None], n_tables, 1), ids % 2
    )


def test_block_coerces_dtypes_and_validates():
    block = SampleBlock([[1, 2]], np.array([[3]], np.int32), [1])
    assert block.dense_raw.dtype == np.int64 and block.sparse.dtype == np.int64
    assert block.labels.dtype == np.float32
    assert (len(block), block.n_dense, block.n_tables) == (1, 2, 1)
    with pytest.raises(ValueError, match="sample counts differ"):
        SampleBlock([[1]], [[1], [2]], [0, 1])
    with pytest.raises(ValueError, match="non-negative"):
        SampleBlock([[-1]], [[1]], [0])
    with pytest.raises(ValueError, match="non-negative"):
        SampleBlock([[1]], [[-1]], [0])
    with pytest.raises(TypeError, match="integers"):
        SampleBlock([[1.5]], [[1]], [0])
    with pytest.raises(ValueError, match="2-D"):
        SampleBlock([1], [[1]], [0])
    with pytest.raises(TypeError, match="slice"):
        block[0]


def test_dense_is_dlrm_log1p_in_float32():
    block = SampleBlock([[0, 1, 2**24 + 1]], [[0]], [0])
    expected = np.log(np.float32([0, 1, 2**24 + 1]) + np.float32(1))
    np.testing.assert_array_equal(block.dense, expected[None])
    assert block.dense.dtype == np.float32


def test_concat_and_slicing():
    whole = block_of(10)
    parts = [whole[:3], whole[3:3], whole[3:10]]
    assert SampleBlock.concat(parts).equals(whole)
    assert whole[np.array([1, 3])].sparse[:, 0].tolist() == [1, 3]
    with pytest.raises(ValueError, match="different"):
        SampleBlock.concat([block_of(1), block_of(1, n_tables=3)])
    with pytest.raises(ValueError, match="empty"):
        SampleBlock.concat([])


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 40), max_size=8),
    batch_size=st.integers(1, 50),
    drop_last=st.booleans(),
)
def test_minibatches_preserve_order_and_sizes(sizes, batch_size, drop_last):
    starts = np.cumsum([0, *sizes])
    blocks = [block_of(n, int(s)) for n, s in zip(sizes, starts, strict=False)]
    total = int(starts[-1])
    batches = list(iter_minibatches(blocks, batch_size, drop_last=drop_last))
    full, rest = divmod(total, batch_size)
    assert len(batches) == full + (1 if rest and not drop_last else 0)
    assert all(len(b) == batch_size for b in batches[:full])
    if batches:
        kept = SampleBlock.concat(batches)
        assert kept.equals(block_of(len(kept)))  # in order, nothing lost or repeated


def test_minibatch_argument_checks():
    with pytest.raises(ValueError, match="positive"):
        list(iter_minibatches([block_of(3)], 0))
    with pytest.raises(TypeError, match="int"):
        list(iter_minibatches([block_of(3)], 2.0))
    assert [len(b) for b in block_of(5).batches(2)] == [2, 2, 1]
    assert [len(b) for b in block_of(5).batches(2, drop_last=True)] == [2, 2]
