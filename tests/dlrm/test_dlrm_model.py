"""The DLRM model: shapes, DLRM's interaction and initialisation, inputs from every source."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sw_driver.data import (KAGGLE_TABLE_SIZES, MovieLens100K, SyntheticCriteo, make_dataloader,
                            scaled_table_sizes)
from sw_driver.dlrm import (DLRM, DLRMConfig, EmbeddingIndexError, check_indices, default_device,
                            initial_table, preprocess_dense)


def test_kaggle_configuration_is_dlrms():
    config = DLRMConfig()
    assert config.table_sizes == KAGGLE_TABLE_SIZES
    assert (config.n_dense, config.dim, config.bottom, config.top) == \
        (13, 16, (512, 256, 64, 16), (512, 256, 1))
    assert config.interaction_width == 367            # 16 + 27 * 26 / 2, as DLRM's Kaggle run
    model = DLRM(DLRMConfig.kaggle(scaled_table_sizes(1e-3)), with_embeddings=False)
    linears = [m for m in model.bottom_mlp if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == \
        [(13, 512), (512, 256), (256, 64), (64, 16)]
    linears = [m for m in model.top_mlp if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(367, 512), (512, 256), (256, 1)]
    # ReLU after every bottom layer (DLRM's sigmoid_bot = -1); none after the top's last.
    assert isinstance(model.bottom_mlp[-1], torch.nn.ReLU)
    assert isinstance(model.top_mlp[-1], torch.nn.Linear)


@pytest.mark.parametrize("kwargs, message", [
    (dict(dim=8), "bottom MLP must end at dim=8"),
    (dict(top=(64, 2)), "one output"),
    (dict(table_sizes=()), "table_sizes"),
    (dict(table_sizes=(5, 0)), "table_sizes"),
    (dict(n_dense=0), "n_dense"),
])
def test_config_rejects_bad_shapes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DLRMConfig(**kwargs)


def test_forward_on_synthetic_kaggle_batch(seed):
    data = SyntheticCriteo(300, scale=1e-3, seed=seed)
    config = DLRMConfig.kaggle(data.table_sizes)
    model = DLRM(config, seed=seed).to(default_device())
    dense, offsets, indices, labels = next(iter(make_dataloader(data, batch_size=256)))
    device = default_device()
    probs = model(dense.to(device), offsets.to(device), indices.to(device))
    assert probs.shape == (256, 1)
    assert torch.all((probs > 0) & (probs < 1))
    loss = torch.nn.functional.binary_cross_entropy(probs, labels.to(device))
    loss.backward()
    assert model.embeddings[0].weight.grad.is_sparse        # DLRM's sparse embedding gradients
    assert all(p.grad is not None for p in model.mlp_parameters())


def test_forward_on_movielens():
    movielens = MovieLens100K()
    config = DLRMConfig(movielens.table_sizes, n_dense=4, dim=16)
    model = DLRM(config, seed=1)
    dense, offsets, indices, labels = next(iter(make_dataloader(movielens, batch_size=512)))
    assert indices.shape == (8, 512)
    probs = model(dense, offsets, indices)
    assert probs.shape == (512, 1)
    logits = model.logits(dense, offsets, indices)
    torch.testing.assert_close(torch.sigmoid(logits), probs)


def test_dot_interaction_by_hand(rng):
    config = DLRMConfig((7, 5, 9), n_dense=3, dim=2, bottom=(4, 2), top=(5, 1))
    model = DLRM(config, seed=3, with_embeddings=False)
    dense = torch.from_numpy(rng.random((6, 3)).astype(np.float32))
    emb = torch.from_numpy(rng.standard_normal((6, 3, 2)).astype(np.float32))
    x = model.bottom_mlp(dense)
    vectors = [x, emb[:, 0], emb[:, 1], emb[:, 2]]
    # DLRM's order: for i in 1..T, for j < i: <v_i, v_j>
    dots = [(vectors[i] * vectors[j]).sum(1) for i in range(4) for j in range(i)]
    expected = model.top_mlp(torch.cat([x, torch.stack(dots, 1)], 1))
    torch.testing.assert_close(model.logits_from_embeddings(dense, emb), expected)
    assert config.interaction_width == 2 + 6


def test_initialisation_is_dlrms_and_reproducible():
    config = DLRMConfig((1000, 16), n_dense=13, dim=16)
    a, b = DLRM(config, seed=5), DLRM(config, seed=5)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    c = DLRM(config, seed=6)
    assert not torch.equal(a.bottom_mlp[0].weight, c.bottom_mlp[0].weight)
    # Embedding rows: uniform in +-sqrt(1 / rows), and buildable table by table.
    for t, rows in enumerate(config.table_sizes):
        table = initial_table(config, t, seed=5)
        assert np.array_equal(a.embeddings[t].weight.detach().numpy(), table)
        assert np.abs(table).max() <= np.sqrt(1 / rows)
    # Weights normal with std sqrt(2 / (fan_in + fan_out)).
    w = a.bottom_mlp[0].weight.detach().numpy()           # 512 x 13
    assert w.std() == pytest.approx(np.sqrt(2 / (13 + 512)), rel=0.05)
    # Without embeddings, the same MLPs.
    bare = DLRM(config, seed=5, with_embeddings=False)
    assert bare.embeddings is None
    for p, q in zip(bare.parameters(), a.mlp_parameters()):
        assert torch.equal(p, q)
    with pytest.raises(RuntimeError, match="without embedding tables"):
        bare.logits(torch.zeros(1, 13), torch.zeros(2, 1, dtype=torch.long),
                    torch.zeros(2, 1, dtype=torch.long))


def test_preprocess_dense_is_dlrms():
    raw = np.array([[0, 1, 2**30, -5], [7, 0, 3, 100]], dtype=np.int64)
    out = preprocess_dense(raw)
    assert out.dtype == torch.float32
    expected = np.log(np.maximum(raw, 0).astype(np.float32) + np.float32(1))
    assert np.array_equal(out.numpy(), expected)
    block = SyntheticCriteo(100, scale=1e-3, seed=2).generate(100)
    assert np.array_equal(preprocess_dense(block.dense_raw).numpy(), block.dense)


def test_index_out_of_range_is_named_not_clamped():
    config = DLRMConfig((10, 20, 30), n_dense=2, dim=4, bottom=(4,), top=(1,))
    model = DLRM(config)
    indices = torch.tensor([[1, 2, 3], [4, 20, 6], [7, 8, 9]])
    offsets = torch.arange(3).expand(3, 3)
    with pytest.raises(EmbeddingIndexError, match=r"table 1 row 20 .*20 rows.* sample 1") as info:
        model(torch.zeros(3, 2), offsets, indices)
    assert (info.value.table, info.value.row, info.value.sample) == (1, 20, 1)
    with pytest.raises(EmbeddingIndexError, match="table 0 row -1"):
        model(torch.zeros(3, 2), offsets, torch.tensor([[-1, 0, 0], [0, 0, 0], [0, 0, 0]]))
    sparse = np.array([[0, 0, 0], [0, 0, 0], [9, 19, 30]])
    with pytest.raises(EmbeddingIndexError, match="table 2 row 30 .* sample 102 of the epoch 0"):
        check_indices(sparse, config.table_sizes, first_sample=100, where="epoch 0")
