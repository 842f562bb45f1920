"""DLRM batches through a PyTorch DataLoader, from every source."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sw_driver.data import (
    CriteoReader,
    MovieLens100K,
    SampleBlock,
    SyntheticCriteo,
    make_dataloader,
    to_batch,
)


def check_batch(batch, block: SampleBlock) -> None:
    """``batch`` is DLRM's (X_int, lS_o, lS_i, T) for exactly the samples of ``block``."""
    dense, offsets, indices, labels = batch
    n, n_tables = block.sparse.shape
    assert dense.dtype == torch.float32 and dense.shape == (n, block.n_dense)
    assert offsets.dtype == torch.int64 and offsets.shape == (n_tables, n)
    assert indices.dtype == torch.int64 and indices.shape == (n_tables, n)
    assert labels.dtype == torch.float32 and labels.shape == (n, 1)
    assert torch.equal(offsets, torch.arange(n).expand(n_tables, n))
    assert torch.equal(indices, torch.from_numpy(block.sparse.T.copy()))
    assert torch.equal(labels[:, 0], torch.from_numpy(block.labels))
    expected = torch.log(torch.from_numpy(block.dense_raw).to(torch.float32) + 1)
    torch.testing.assert_close(dense, expected, rtol=1e-6, atol=0)


def collect(loader) -> SampleBlock:
    """The samples of all batches, back as one block."""
    blocks = [
        SampleBlock(
            torch.round(torch.expm1(dense.double())).long().numpy(), indices.T.numpy(),
            labels[:, 0].numpy(),
        )
        for dense, _, indices, labels in loader
    ]
    return SampleBlock.concat(blocks)


def test_to_batch_is_dlrms_layout():
    block = SyntheticCriteo(100, scale=1e-3, seed=4).generate(37)
    batch = to_batch(block)
    check_batch(batch, block)
    assert batch._fields == ("dense", "offsets", "indices", "labels")
    batch.indices[0, 0] = -1  # the batch owns its memory
    assert block.sparse[0, 0] >= 0


def test_embedding_bag_lookup_is_one_row_per_sample():
    block = SyntheticCriteo(100, table_sizes=[50, 7], seed=1).generate(64)
    _, offsets, indices, _ = to_batch(block)
    bag = torch.nn.EmbeddingBag(50, 4, mode="sum")
    np.testing.assert_array_equal(
        bag(indices[0], offsets[0]).detach().numpy(), bag.weight[indices[0]].detach().numpy()
    )


@pytest.mark.parametrize(("n", "batch_size", "drop_last"), [
    (1000, 128, False), (1000, 128, True), (1024, 128, False), (5, 128, False), (5, 128, True),
])
def test_batches_of_a_block(n, batch_size, drop_last):
    block = SyntheticCriteo(n, scale=1e-3, seed=5).generate(n)
    loader = make_dataloader(block, batch_size, drop_last=drop_last)
    batches = list(loader)
    full, rest = divmod(n, batch_size)
    expected_count = full + (1 if rest and not drop_last else 0)
    assert len(batches) == expected_count
    for i, batch in enumerate(batches):
        check_batch(batch, block[i * batch_size:(i + 1) * batch_size])
    if rest and not drop_last:
        assert batches[-1].labels.shape == (rest, 1)


def test_synthetic_source_and_determinism():
    gen = SyntheticCriteo(3_000, scale=1e-3, seed=6)
    loader = make_dataloader(gen, 256)
    assert len(loader) == math.ceil(3_000 / 256)
    first = collect(loader)
    assert first.equals(gen.generate(3_000))
    assert collect(loader).equals(first)  # every pass yields the same batches


def test_criteo_file_source(tmp_path):
    gen = SyntheticCriteo(2_000, scale=1e-3, seed=8)
    gen.write_criteo(tmp_path / "d.txt")
    reader = CriteoReader(tmp_path / "d.txt", chunk_bytes=30_000)  # blocks of ~120 samples
    batches = list(make_dataloader(reader, 500, drop_last=True))
    assert [len(b.labels) for b in batches] == [500] * 4
    for i, batch in enumerate(batches):
        check_batch(batch, gen.generate(500, 500 * i))


def test_movielens_source():
    ml = MovieLens100K()        # raises with the install command if the wheel is missing
    batches = list(make_dataloader(ml, 4096))
    assert len(batches) == 25 and batches[-1].labels.shape == (100_000 - 24 * 4096, 1)
    check_batch(batches[3], ml.block[3 * 4096:4 * 4096])
    assert batches[0].indices.shape == (8, 4096) and batches[0].dense.shape == (4096, 4)


def test_workers_keep_the_order():
    gen = SyntheticCriteo(2_500, scale=1e-3, seed=9)
    serial = [b.indices for b in make_dataloader(gen, 300)]
    parallel = [b.indices for b in make_dataloader(gen, 300, num_workers=2,
                                                   multiprocessing_context="fork")]
    assert len(parallel) == len(serial) == 9
    assert all(torch.equal(a, b) for a, b in zip(serial, parallel, strict=True))


def test_fixed_loader_options_are_refused():
    with pytest.raises(TypeError, match="shuffle"):
        make_dataloader(SampleBlock.empty(13, 26), 8, shuffle=True)
    with pytest.raises(ValueError, match="positive"):
        make_dataloader(SampleBlock.empty(13, 26), 0)
