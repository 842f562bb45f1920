"""DLRM (Naumov et al., facebookresearch/dlrm) in PyTorch, with its embeddings optional.

Architecture (DLRM's ``dot`` interaction, ``arch_interaction_itself=False``)::

    dense [B, n_dense] --bottom MLP (ReLU after every layer)--> x [B, dim]
    indices [T, B]     --one EmbeddingBag(mode="sum") per table--> e_t [B, dim]
    Z = [x, e_0 .. e_{T-1}] (T+1 vectors), pairwise dots z_ij = <Z_i, Z_j> for j < i
    top input = [x, z_10, z_20, z_21, z_30, ...]   (dim + (T+1)T/2 values; 367 for Kaggle)
    top MLP: ReLU after every layer but the last, sigmoid on the last (one output)

The Kaggle configuration (the default): 13 dense features, 26 tables with Criteo Kaggle's row
counts, ``dim = 16``, bottom 13-512-256-64-16, top 367-512-256-1; SGD with learning rate 0.1 and
binary cross-entropy (see :mod:`sw_driver.dlrm.trainer`).

Initialisation follows DLRM's ``create_mlp`` / ``create_emb`` (weights normal with standard
deviation ``sqrt(2 / (fan_in + fan_out))``, biases normal ``sqrt(1 / fan_out)``, embedding rows
uniform in ``+-sqrt(1 / rows)``), drawn with numpy from the model seed so that every component is
reproducible on its own: :func:`initial_table` gives table ``t`` without building the module,
which is how the Hotline trainer fills its host memory image with exactly the rows the baseline
starts from.

The module can be built without embedding tables (``with_embeddings=False``): the Hotline trainer
keeps its rows outside the module (hot rows on the device, cold rows in host memory) and feeds
the looked-up vectors to :meth:`DLRM.logits_from_embeddings`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from sw_driver.data import KAGGLE_TABLE_SIZES

__all__ = [
    "DLRMConfig",
    "DLRM",
    "EmbeddingIndexError",
    "check_indices",
    "default_device",
    "initial_table",
    "preprocess_dense",
]


def default_device() -> torch.device:
    """``cuda`` when a GPU is present, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class EmbeddingIndexError(IndexError):
    """A lookup names a row outside its table.

    Attributes
    ----------
    table, row, sample : int
        The table, the offending row id and the sample (its position in the batch, or in the
        epoch when raised by a trainer) that looked it up.
    rows : int
        The table's size.
    """

    def __init__(self, table: int, row: int, sample: int, rows: int, where: str = "batch"):
        super().__init__(
            f"embedding index out of range: table {table} row {row} (the table has {rows} rows, "
            f"0 .. {rows - 1}) looked up by sample {sample} of the {where}"
        )
        self.table, self.row, self.sample, self.rows = table, row, sample, rows


def check_indices(sparse: np.ndarray, table_sizes: Sequence[int], *, first_sample: int = 0,
                  where: str = "batch") -> None:
    """Raise :class:`EmbeddingIndexError` for the first lookup outside its table.

    ``sparse`` is ``[N, T]`` (sample ``n`` looks up row ``sparse[n, t]`` of table ``t``); the
    error names sample ``first_sample + n``. Ids are never clamped.
    """
    sparse = np.asarray(sparse)
    sizes = np.asarray(table_sizes, dtype=np.int64)
    if sparse.ndim != 2 or sparse.shape[1] != len(sizes):
        raise ValueError(f"sparse must be [N, {len(sizes)}], not of shape {sparse.shape}")
    bad = (sparse < 0) | (sparse >= sizes[None, :])
    if bad.any():
        n, t = np.argwhere(bad)[0]
        raise EmbeddingIndexError(int(t), int(sparse[n, t]), first_sample + int(n),
                                  int(sizes[t]), where)


def preprocess_dense(raw) -> torch.Tensor:
    """DLRM's dense input from raw integer features: negatives -> 0, then ``log(1 + x)``.

    ``raw`` is an int64 array or tensor ``[B, n_dense]``; the result is float32 (the integers
    are converted to float32 before the logarithm, as DLRM's collate function does; for a numpy
    input this is bit for bit :attr:`sw_driver.data.SampleBlock.dense`).
    """
    if isinstance(raw, torch.Tensor):
        return torch.log(raw.clamp_min(0).to(torch.float32) + 1)
    # numpy's log, bit for bit the data pipeline's (torch's may differ in the last place)
    raw = np.maximum(np.asarray(raw), 0).astype(np.float32)
    return torch.from_numpy(np.log(raw + np.float32(1)))


@dataclass(frozen=True)
class DLRMConfig:
    """Shape of a DLRM model.

    Parameters
    ----------
    table_sizes : sequence of int
        Rows per embedding table (one table per categorical feature). Default: Criteo Kaggle's.
    n_dense : int
        Dense features (13 for Criteo).
    dim : int
        Embedding dimension; the bottom MLP's last layer must have this width.
    bottom : sequence of int
        Bottom MLP layer widths after the input (Kaggle: 512, 256, 64, 16).
    top : sequence of int
        Top MLP layer widths after the interaction (Kaggle: 512, 256, 1); the last must be 1.

    Raises ``ValueError`` (naming the bad value) for an inconsistent shape.
    """

    table_sizes: tuple[int, ...] = KAGGLE_TABLE_SIZES
    n_dense: int = 13
    dim: int = 16
    bottom: tuple[int, ...] = (512, 256, 64, 16)
    top: tuple[int, ...] = (512, 256, 1)

    def __post_init__(self):
        for name in ("table_sizes", "bottom", "top"):
            value = tuple(int(v) for v in getattr(self, name))
            object.__setattr__(self, name, value)
            if not value or min(value) < 1:
                raise ValueError(f"{name} must be a non-empty list of positive ints, not {value}")
        for name in ("n_dense", "dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, not {value!r}")
        if self.bottom[-1] != self.dim:
            raise ValueError(f"the bottom MLP must end at dim={self.dim}, not {self.bottom}")
        if self.top[-1] != 1:
            raise ValueError(f"the top MLP must end in one output, not {self.top}")

    @property
    def n_tables(self) -> int:
        return len(self.table_sizes)

    @property
    def interaction_width(self) -> int:
        """Width of the top MLP's input: ``dim + (T + 1) * T / 2``."""
        n = self.n_tables + 1
        return self.dim + n * (n - 1) // 2

    @classmethod
    def kaggle(cls, table_sizes: Sequence[int] = KAGGLE_TABLE_SIZES) -> DLRMConfig:
        """DLRM's Kaggle run (``--arch-mlp-bot 13-512-256-64-16 --arch-mlp-top 512-256-1``)."""
        return cls(tuple(table_sizes))

    @classmethod
    def small(cls, table_sizes: Sequence[int], *, n_dense: int = 13, dim: int = 8,
              hidden: int = 32) -> DLRMConfig:
        """A narrow model of the same architecture, for fast tests."""
        return cls(tuple(table_sizes), n_dense, dim, (hidden, dim), (hidden, 1))


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), *stream]))


_MLP_STREAM, _EMB_STREAM = 0, 1


def initial_table(config: DLRMConfig, table: int, seed: int = 0) -> np.ndarray:
    """Initial rows of ``table`` (float32 ``[rows, dim]``), as :class:`DLRM` starts them.

    DLRM's ``create_emb``: uniform in ``[-sqrt(1/rows), sqrt(1/rows))``, from a stream of its
    own (so a table can be built without the others).
    """
    rows = config.table_sizes[table]
    bound = np.sqrt(1.0 / rows)
    values = _rng(seed, _EMB_STREAM, table).uniform(-bound, bound, size=(rows, config.dim))
    return values.astype(np.float32)


def _mlp(widths: Sequence[int], rng: np.random.Generator, sigmoid_last: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (n, m) in enumerate(zip(widths[:-1], widths[1:])):
        linear = nn.Linear(n, m, bias=True)
        with torch.no_grad():
            w = rng.normal(0.0, np.sqrt(2.0 / (m + n)), size=(m, n)).astype(np.float32)
            b = rng.normal(0.0, np.sqrt(1.0 / m), size=m).astype(np.float32)
            linear.weight.copy_(torch.from_numpy(w))
            linear.bias.copy_(torch.from_numpy(b))
        layers.append(linear)
        last = i == len(widths) - 2
        if not (last and sigmoid_last):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class DLRM(nn.Module):
    """DLRM with dot interaction (see the module docstring).

    Parameters
    ----------
    config : DLRMConfig
        Shape (default: Kaggle).
    seed : int
        Initialisation seed; the same seed gives the same MLPs and embedding rows whatever
        ``with_embeddings`` says.
    with_embeddings : bool
        Build the embedding tables (``nn.EmbeddingBag(mode="sum", sparse=True)``, one per table,
        in :attr:`embeddings`). Without them only :meth:`logits_from_embeddings` works.

    Members
    -------
    bottom_mlp, top_mlp : nn.Sequential
        The MLPs; ``top_mlp`` ends in the last linear layer (the sigmoid is applied by
        :meth:`forward`, and left out of :meth:`logits` so that the loss can use the stable
        ``binary_cross_entropy_with_logits``, which equals DLRM's ``BCELoss(sigmoid(z))``).
    embeddings : nn.ModuleList of nn.EmbeddingBag, or None

    Inputs are DLRM's batch fields: ``dense`` ``[B, n_dense]`` of the module's dtype (already
    :func:`preprocess_dense`-ed, as the data loader delivers it), ``offsets`` and ``indices``
    int64 ``[T, B]``. Any device: the module computes where its parameters live. A row id
    outside its table raises :class:`EmbeddingIndexError` (never clamped).
    """

    def __init__(self, config: DLRMConfig = DLRMConfig(), *, seed: int = 0,
                 with_embeddings: bool = True):
        super().__init__()
        if not isinstance(config, DLRMConfig):
            raise TypeError(f"config must be a DLRMConfig, not {config!r}")
        self.config = config
        rng = _rng(seed, _MLP_STREAM)
        self.bottom_mlp = _mlp((config.n_dense, *config.bottom), rng, sigmoid_last=False)
        self.top_mlp = _mlp((config.interaction_width, *config.top), rng, sigmoid_last=True)
        self.embeddings: nn.ModuleList | None = None
        if with_embeddings:
            bags = []
            for t, rows in enumerate(config.table_sizes):
                bag = nn.EmbeddingBag(rows, config.dim, mode="sum", sparse=True)
                with torch.no_grad():
                    bag.weight.copy_(torch.from_numpy(initial_table(config, t, seed)))
                bags.append(bag)
            self.embeddings = nn.ModuleList(bags)
        n = config.n_tables + 1
        li = [i for i in range(n) for j in range(i)]
        lj = [j for i in range(n) for j in range(i)]
        self.register_buffer("_li", torch.tensor(li, dtype=torch.int64), persistent=False)
        self.register_buffer("_lj", torch.tensor(lj, dtype=torch.int64), persistent=False)

    def mlp_parameters(self) -> list[nn.Parameter]:
        """Parameters of the two MLPs (everything but the embedding tables)."""
        return [*self.bottom_mlp.parameters(), *self.top_mlp.parameters()]

    def lookup(self, offsets: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """Pooled embeddings ``[B, T, dim]`` of DLRM's ``(lS_o, lS_i)``."""
        if self.embeddings is None:
            raise RuntimeError("this DLRM was built without embedding tables "
                               "(with_embeddings=False): use logits_from_embeddings")
        if offsets.shape[0] != self.config.n_tables or indices.shape[0] != self.config.n_tables:
            raise ValueError(f"offsets and indices must have {self.config.n_tables} rows "
                             f"(tables), not {offsets.shape[0]} and {indices.shape[0]}")
        sizes = torch.as_tensor(self.config.table_sizes, device=indices.device)
        bad = (indices < 0) | (indices >= sizes[:, None])
        if bool(bad.any()):
            t, k = (int(v) for v in torch.nonzero(bad)[0])
            # Bag (sample) of position k: the last offset at or before it.
            sample = int(torch.searchsorted(offsets[t], torch.tensor(k, device=offsets.device),
                                            right=True)) - 1
            raise EmbeddingIndexError(t, int(indices[t, k]), sample, self.config.table_sizes[t])
        pooled = [bag(indices[t], offsets[t]) for t, bag in enumerate(self.embeddings)]
        return torch.stack(pooled, dim=1)

    def logits_from_embeddings(self, dense: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, 1]`` from dense inputs ``[B, n_dense]`` and pooled embeddings
        ``[B, T, dim]`` (wherever the embeddings came from)."""
        x = self.bottom_mlp(dense)
        z = torch.cat([x.unsqueeze(1), emb], dim=1)                  # [B, T + 1, dim]
        dots = torch.bmm(z, z.transpose(1, 2))                       # [B, T + 1, T + 1]
        flat = dots[:, self._li, self._lj]
        return self.top_mlp(torch.cat([x, flat], dim=1))

    def logits(self, dense: torch.Tensor, offsets: torch.Tensor,
               indices: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid scores ``[B, 1]``."""
        return self.logits_from_embeddings(dense, self.lookup(offsets, indices))

    def forward(self, dense: torch.Tensor, offsets: torch.Tensor,
                indices: torch.Tensor) -> torch.Tensor:
        """Click probabilities ``[B, 1]`` (DLRM's output, after the sigmoid)."""
        return torch.sigmoid(self.logits(dense, offsets, indices))

    def embedding_tables(self) -> list[np.ndarray]:
        """Copies of the tables as numpy arrays ``[rows, dim]`` (the module's dtype)."""
        if self.embeddings is None:
            raise RuntimeError("this DLRM was built without embedding tables")
        return [bag.weight.detach().cpu().numpy().copy() for bag in self.embeddings]

