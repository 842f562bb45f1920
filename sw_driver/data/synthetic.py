"""Synthetic Criteo-Kaggle-shaped samples with the skew of real recommendation traffic.

The generator reproduces what matters to an embedding cache: 26 one-hot tables with Criteo
Kaggle's row counts (optionally scaled), per-table Zipf popularity (alpha = 1.15, the figure
FBGEMM's embedding benchmark recommends for training traffic), hot rows scattered over the table
by a fixed random permutation, 13 Criteo-like integer features, and labels a model can learn.

Model of one sample
-------------------
* **Sparse.** For table ``t`` with ``R_t`` rows, a rank ``r`` is drawn with
  ``P(r) ~ (r + 1) ** -alpha`` for ``r < R_t`` (inverse-CDF sampling: ``searchsorted`` of a
  uniform variate in the cumulative weights, computed once per table and cached); the row id is
  ``perm_t[r]`` for a per-table random permutation ``perm_t``. Tables are independent.
* **Dense.** Feature ``j`` is missing (0) with Criteo's missing rate for ``I{j+1}``; otherwise
  ``x = floor(exp(mu_j + sigma_j * z)) - 1`` clipped at 0, with ``z`` standard normal: a
  log-normal count with many zeros and a heavy tail, shaped like (not fitted to) Criteo's columns.
* **Label.** ``Bernoulli(sigmoid(logit))`` with
  ``logit = c + sum_j w_j * f_j(x_j) + sum_t e_t(row_t)`` where ``f_j(x) = (log(x + 1) - mu_j) /
  sigma_j`` for ``x > 0`` and 0 for ``x == 0``, and ``e_t(row)`` is a per-row effect uniform on
  ``[-sqrt(3), sqrt(3)] * EFFECT_SCALE`` derived from a hash of ``(seed, t, row)`` (nothing
  table-sized is stored for it). The logit depends only on what a model sees, so it is the
  Bayes-optimal score (:meth:`SyntheticCriteo.click_logit`); the intercept ``c`` is calibrated
  on a pilot sample so that about ``positive_rate`` of labels are 1 (default 25.6%, Criteo
  Kaggle's click rate).
* **Drift** (``drift > 0``; off by default). Popularity moves over the epoch, as in Criteo's
  day order where new ads appear and old ones fade. Each table has a chain of rankings
  ``perm_t = perm_t^0, perm_t^1, ...`` (independent random permutations). At sample ``i`` let
  ``u = drift * i / n_samples``, ``j = floor(u)``: each lookup takes its row from
  ``perm_t^(j+1)`` with probability ``u - j``, else from ``perm_t^j`` (the same Zipf rank
  ``r`` either way). So the traffic turns from one ranking to the next linearly, ``drift``
  times per ``n_samples`` samples: at ``drift = 1`` the first sample sees only ranking 0, the
  middle one half each, the last only ranking 1. Any window keeps the Zipf skew; only which
  rows are hot changes. The choices are extra draws after the ranks, so ``drift = 0`` leaves
  the stream exactly as it was.

Determinism
-----------
Everything follows from ``seed``: the permutations from ``SeedSequence([seed, 0, t])``, sample
``i`` from the stream of its fixed-size block ``i // STREAM_BLOCK`` seeded with
``SeedSequence([seed, 1, i // STREAM_BLOCK])``. So ``generate(n, start=k)`` returns the same
samples whatever chunking produced them, and the same seed gives the same bytes (for a given
numpy version: ``Generator.permutation`` and friends may change between numpy releases).

Cost
----
Full Kaggle scale holds the cumulative weights (float64) and permutations (int32) of 33.8M rows,
about 410 MB, built lazily per table on first use (about 2.5 s in all). On one core of the CI
machine a full sample costs about 2.5 us at full scale and its ids alone
(:meth:`SyntheticCriteo.generate_sparse`) about 1.4 us; small scales are cheaper. Memory per
call is proportional to the samples asked for.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence

import numpy as np

from .criteo import N_DENSE, N_TABLES, write_criteo
from .samples import SampleBlock

__all__ = [
    "KAGGLE_N_SAMPLES",
    "KAGGLE_TABLE_SIZES",
    "SyntheticCriteo",
    "scaled_table_sizes",
]

#: Rows per embedding table of Criteo Kaggle (distinct values of C1..C26), in column order.
KAGGLE_TABLE_SIZES: tuple[int, ...] = (
    1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194, 27, 14992,
    5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572,
)
#: Samples in Criteo Kaggle's ``train.txt``.
KAGGLE_N_SAMPLES = 45_840_617

#: Samples per independently seeded block of the sample stream. Part of the stream's
#: definition: changing it changes every sample.
STREAM_BLOCK = 1 << 16

_PERM_STREAM, _SAMPLE_STREAM, _PILOT_STREAM, _EFFECT_STREAM, _DRIFT_STREAM = 0, 1, 2, 3, 4

# Criteo Kaggle's missing rates of I1..I13 (rounded); the log-scale location and spread are
# rough guesses at each column's shape, not fits.
DENSE_MISSING = (0.45, 0.0, 0.21, 0.22, 0.03, 0.22, 0.04, 0.0, 0.04, 0.45, 0.04, 0.77, 0.22)
DENSE_MU = (1.0, 2.5, 2.5, 1.8, 7.5, 4.0, 2.0, 2.5, 4.0, 0.5, 1.2, 0.5, 1.8)
DENSE_SIGMA = (1.0, 1.5, 1.3, 1.0, 1.5, 1.5, 1.2, 1.0, 1.3, 0.7, 0.9, 0.8, 1.0)
# Label weights of the standardised dense features: mixed signs and sizes so that no single
# feature decides the label.
DENSE_WEIGHT = (0.4, -0.2, 0.1, -0.3, 0.2, -0.1, 0.3, 0.15, -0.25, 0.35, -0.15, 0.2, -0.1)
#: Standard deviation of each table's per-row logit effect. With 26 tables and the dense
#: weights this gives a logit spread (about 1.6) whose Bayes-optimal AUC is near Criteo models'.
EFFECT_SCALE = 0.25
#: Criteo Kaggle's click rate.
KAGGLE_POSITIVE_RATE = 0.2562

_PILOT_SAMPLES = 1 << 16
_SORT_ABOVE_ROWS = 64
_MASK64 = np.uint64(0xFFFF_FFFF_FFFF_FFFF)


def scaled_table_sizes(
    scale: float, table_sizes: Sequence[int] = KAGGLE_TABLE_SIZES
) -> tuple[int, ...]:
    """Table sizes scaled by ``scale``: ``max(min(R, 2), ceil(R * scale))`` per table.

    ``ceil`` keeps ``scale=1`` exact; the floor of 2 rows (or the original size, if smaller)
    keeps every table a real categorical feature, since a one-row table carries no information.
    Small tables shrink with the rest so that the total scales; at ``scale=1e-3`` Kaggle's 33.8M
    rows become about 34k.
    """
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive finite number, not {scale!r}")
    return tuple(max(min(int(r), 2), math.ceil(int(r) * scale)) for r in table_sizes)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, vectorised over uint64 (wrapping arithmetic)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class SyntheticCriteo:
    """A deterministic stream of synthetic Criteo-Kaggle-shaped samples.

    Parameters
    ----------
    n_samples : int
        Length of the data set that :meth:`blocks`, iteration and :meth:`write_criteo` cover.
        :meth:`generate` can produce samples beyond it: the stream is unbounded.
    scale : float
        Scales Kaggle's table sizes, see :func:`scaled_table_sizes`. Ignored if ``table_sizes``
        is given.
    table_sizes : sequence of int, optional
        Explicit rows per table (any number of tables, each >= 1) instead of scaled Kaggle ones.
    seed : int
        Determines everything (permutations, samples, effects), see the module notes.
    alpha : float
        Zipf exponent of every table (> 0). 1.15 is FBGEMM's training figure, 1.09 its inference.
    positive_rate : float
        Target fraction of positive labels, in (0, 1).
    drift : float
        Rankings the popularity turns through per ``n_samples`` samples (>= 0; 0: it never
        changes), see the module notes. Needs ``n_samples > 0``.

    Attributes
    ----------
    table_sizes : tuple of int
        Rows per table; every id generated for table ``t`` is below ``table_sizes[t]``.
    n_dense : int
        13.
    """

    n_dense: int = N_DENSE

    def __init__(
        self,
        n_samples: int,
        *,
        scale: float = 1.0,
        table_sizes: Sequence[int] | None = None,
        seed: int = 0,
        alpha: float = 1.15,
        positive_rate: float = KAGGLE_POSITIVE_RATE,
        drift: float = 0.0,
    ) -> None:
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
            raise TypeError(f"n_samples must be an int, not {n_samples!r}")
        if n_samples < 0:
            raise ValueError(f"n_samples must be non-negative, not {n_samples}")
        if table_sizes is None:
            table_sizes = scaled_table_sizes(scale)
        table_sizes = tuple(int(r) for r in table_sizes)
        if not table_sizes or min(table_sizes) < 1:
            raise ValueError(
                f"table_sizes must be a non-empty list of sizes >= 1, not {table_sizes}"
            )
        if max(table_sizes) >= 2**31:
            raise ValueError("tables of 2**31 rows or more are not supported (int32 permutations)")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, not {seed!r}")
        if not (isinstance(alpha, (int, float)) and alpha > 0):
            raise ValueError(f"alpha must be positive, not {alpha!r}")
        if not 0 < positive_rate < 1:
            raise ValueError(f"positive_rate must be in (0, 1), not {positive_rate!r}")
        if not (isinstance(drift, (int, float)) and math.isfinite(drift) and drift >= 0):
            raise ValueError(f"drift must be a non-negative finite number, not {drift!r}")
        if drift and not n_samples:
            raise ValueError("drift is per epoch of n_samples samples: n_samples must be > 0")
        self.n_samples = int(n_samples)
        self.drift = float(drift)
        self.table_sizes = table_sizes
        self.seed = int(seed)
        self.alpha = float(alpha)
        self.positive_rate = float(positive_rate)
        self._cdf: dict[int, np.ndarray] = {}
        self._perm: dict[int, np.ndarray] = {}
        self._drift_perm: dict[tuple[int, int], np.ndarray] = {}
        self._intercept: float | None = None
        effect_key = np.random.SeedSequence([self.seed, _EFFECT_STREAM]).generate_state(
            1, np.uint64
        )
        self._table_keys = _splitmix64(effect_key ^ np.arange(self.n_tables, dtype=np.uint64))
        # Sequential readers ask for ranges smaller than a stream block; keeping the last block
        # generated avoids generating it once per request.
        self._last_block: tuple[int, SampleBlock] | None = None

    @property
    def n_tables(self) -> int:
        """Number of embedding tables (26 unless ``table_sizes`` says otherwise)."""
        return len(self.table_sizes)

    def __len__(self) -> int:
        return self.n_samples

    def __repr__(self) -> str:
        return (
            f"SyntheticCriteo(n_samples={self.n_samples}, rows={sum(self.table_sizes)}, "
            f"tables={self.n_tables}, seed={self.seed}, alpha={self.alpha}"
            + (f", drift={self.drift})" if self.drift else ")")
        )

    # -- per-table distributions -------------------------------------------------------------

    def rank_cdf(self, table: int) -> np.ndarray:
        """Cumulative Zipf weights of ``table`` (float64, last element exactly 1); cached."""
        cdf = self._cdf.get(table)
        if cdf is None:
            ranks = np.arange(1, self.table_sizes[table] + 1, dtype=np.float64)
            cdf = np.cumsum(ranks ** -self.alpha)
            cdf /= cdf[-1]
            cdf[-1] = 1.0
            self._cdf[table] = cdf
        return cdf

    def rank_pmf(self, table: int) -> np.ndarray:
        """Probability of each rank of ``table`` (float64, decreasing); computed, not cached."""
        return np.diff(self.rank_cdf(table), prepend=0.0)

    def permutation(self, table: int) -> np.ndarray:
        """Row id of each popularity rank of ``table`` (int32, a permutation); cached."""
        perm = self._perm.get(table)
        if perm is None:
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, _PERM_STREAM, table]))
            perm = rng.permutation(self.table_sizes[table]).astype(np.int32)
            self._perm[table] = perm
        return perm

    def row_probabilities(self, table: int) -> np.ndarray:
        """Probability that a sample looks up each row of ``table`` (float64, by row id)."""
        probs = np.empty(self.table_sizes[table])
        probs[self.permutation(table)] = self.rank_pmf(table)
        return probs

    def row_effect(self, table: int, rows: np.ndarray) -> np.ndarray:
        """Logit effect ``e_t(row)`` of the given rows of ``table`` (float64, same shape)."""
        rows = np.asarray(rows).astype(np.uint64)
        bits = _splitmix64(rows ^ self._table_keys[table])
        unit = (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53  # uniform [0, 1)
        return (unit * 2.0 - 1.0) * (math.sqrt(3.0) * EFFECT_SCALE)

    # -- samples -----------------------------------------------------------------------------

    def _ranks(self, table: int, uniforms: np.ndarray) -> np.ndarray:
        """Zipf ranks for ``uniforms``: ``searchsorted(cdf, u, side="right")``, done fast.

        numpy's binary search starts each key where the previous one ended when keys ascend, so
        sorting the variates first keeps the search paths in cache: 2-3x faster on the
        multi-million-row tables, identical results.
        """
        cdf = self.rank_cdf(table)
        if len(cdf) <= _SORT_ABOVE_ROWS:
            ranks = np.searchsorted(cdf, uniforms, side="right")
        else:
            order = np.argsort(uniforms)
            ranks = np.empty(len(uniforms), np.int64)
            ranks[order] = np.searchsorted(cdf, uniforms[order], side="right")
        # A variate can only reach the last step through rounding; keep it inside the table.
        return np.minimum(ranks, len(cdf) - 1, out=ranks)

    def drift_ranking(self, table: int, index: int) -> np.ndarray:
        """Ranking ``index`` of ``table``'s drift chain (0: :meth:`permutation`); the two most
        recently used of each table are cached."""
        if index == 0:
            return self.permutation(table)
        key = (table, index)
        perm = self._drift_perm.get(key)
        if perm is None:
            rng = np.random.default_rng(
                np.random.SeedSequence([self.seed, _DRIFT_STREAM, table, index]))
            perm = rng.permutation(self.table_sizes[table]).astype(np.int32)
            for old in [k for k in self._drift_perm if k[0] == table and k[1] < index - 1]:
                del self._drift_perm[old]
            self._drift_perm[key] = perm
        return perm

    def drift_position(self, samples) -> np.ndarray:
        """``u = drift * i / n_samples`` of the sample indices ``samples`` (float64)."""
        return np.asarray(samples, dtype=np.float64) * (self.drift / max(1, self.n_samples))

    def _draw_sparse(self, rng: np.random.Generator, n: int, first: int = 0) -> np.ndarray:
        """Row ids [n, T] of samples ``first .. first + n - 1``: always the first draws of a
        stream block (``first`` only places the drift)."""
        uniforms = rng.random((self.n_tables, n))
        sparse = np.empty((n, self.n_tables), np.int64)
        if self.drift:
            u = self.drift_position(np.arange(first, first + n))
            base = np.floor(u).astype(np.int64)
            # A function of the sample index and the block's stream alone: any chunking agrees.
            chain = base[None, :] + (rng.random((self.n_tables, n)) < (u - base)[None, :])
        for t in range(self.n_tables):
            ranks = self._ranks(t, uniforms[t])
            if not self.drift:
                sparse[:, t] = self.permutation(t)[ranks]
                continue
            for index in np.unique(chain[t]).tolist():
                where = chain[t] == index
                sparse[where, t] = self.drift_ranking(t, index)[ranks[where]]
        return sparse

    @staticmethod
    def _draw_dense(rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` samples' raw dense counts [n, 13]."""
        z = rng.standard_normal((n, N_DENSE))
        missing = rng.random((n, N_DENSE)) < np.asarray(DENSE_MISSING)
        log_x = np.asarray(DENSE_MU) + np.asarray(DENSE_SIGMA) * z
        # Clamp the log first: exp(44) ~ 1.3e19 would overflow int64; real counts stay far below.
        dense = np.floor(np.exp(np.minimum(log_x, 40.0))).astype(np.int64) - 1
        dense[missing | (dense < 0)] = 0
        return dense

    def _logit_without_intercept(self, dense_raw: np.ndarray, sparse: np.ndarray) -> np.ndarray:
        log_x = np.log1p(dense_raw.astype(np.float64))
        standard = (log_x - np.asarray(DENSE_MU)) / np.asarray(DENSE_SIGMA)
        logit = np.where(dense_raw > 0, standard, 0.0) @ np.asarray(DENSE_WEIGHT)
        for t in range(self.n_tables):
            logit += self.row_effect(t, sparse[:, t])
        return logit

    @property
    def intercept(self) -> float:
        """The calibrated intercept ``c`` of the click logit (computed on first use).

        Chosen by bisection so that the mean of ``sigmoid(logit)`` over a pilot sample of 65536
        (from its own seeded stream) equals ``positive_rate``. The pilot mean has a standard
        error below 0.1 percentage point, so the expected positive rate is on target however
        the seed shifts the hot rows' effects (which would move an analytic intercept off).
        """
        if self._intercept is None:
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, _PILOT_STREAM]))
            sparse = self._draw_sparse(rng, _PILOT_SAMPLES)
            dense = self._draw_dense(rng, _PILOT_SAMPLES)
            base = self._logit_without_intercept(dense, sparse)
            lo, hi = -30.0, 30.0
            for _ in range(60):  # bisection: the mean is increasing in c
                mid = (lo + hi) / 2
                if np.mean(1.0 / (1.0 + np.exp(-(base + mid)))) < self.positive_rate:
                    lo = mid
                else:
                    hi = mid
            self._intercept = (lo + hi) / 2
        return self._intercept

    def click_logit(self, block: SampleBlock) -> np.ndarray:
        """The logit the labels of ``block`` were drawn from (float64 [N]).

        Exactly ``sigmoid(click_logit)`` is each sample's click probability, so it is the
        Bayes-optimal score: a model's AUC can be compared with this one's.
        """
        return self.intercept + self._logit_without_intercept(block.dense_raw, block.sparse)

    def _stream_block(self, index: int) -> SampleBlock:
        if self._last_block is not None and self._last_block[0] == index:
            return self._last_block[1]
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, _SAMPLE_STREAM, index]))
        sparse = self._draw_sparse(rng, STREAM_BLOCK, index * STREAM_BLOCK)
        dense = self._draw_dense(rng, STREAM_BLOCK)
        logit = self.intercept + self._logit_without_intercept(dense, sparse)
        labels = rng.random(STREAM_BLOCK) < 1.0 / (1.0 + np.exp(-logit))
        block = SampleBlock(dense, sparse, labels.astype(np.float32))
        self._last_block = (index, block)
        return block

    @staticmethod
    def _covering(n: int, start: int) -> Iterator[tuple[int, int, int]]:
        """``(stream block, lo, hi)`` slices that together cover samples ``start .. start+n-1``."""
        if n == 0:
            return
        for index in range(start // STREAM_BLOCK, (start + n - 1) // STREAM_BLOCK + 1):
            lo = max(start - index * STREAM_BLOCK, 0)
            hi = min(start + n - index * STREAM_BLOCK, STREAM_BLOCK)
            yield index, lo, hi

    def generate(self, n: int, start: int = 0) -> SampleBlock:
        """Samples ``start .. start + n - 1`` of the stream, as one block.

        Any ``start >= 0`` and ``n >= 0`` are allowed (the stream is unbounded). The result does
        not depend on how a range is split across calls. Cost: the covering stream blocks of
        65536 samples are generated in full.
        """
        if n < 0 or start < 0:
            raise ValueError(f"n and start must be non-negative, not n={n}, start={start}")
        if n == 0:
            return SampleBlock.empty(self.n_dense, self.n_tables)
        parts = [self._stream_block(index)[lo:hi] for index, lo, hi in self._covering(n, start)]
        if len(parts) == 1:
            # Callers may modify what they get; never hand out the cached block's arrays.
            part = parts[0]
            return SampleBlock(part.dense_raw.copy(), part.sparse.copy(), part.labels.copy())
        return SampleBlock.concat(parts)

    def generate_sparse(self, n: int, start: int = 0) -> np.ndarray:
        """Just the row ids of samples ``start .. start + n - 1``: int64 [n, T].

        Equal to ``generate(n, start).sparse`` at about half the cost (no dense features, no
        labels): the fast path for lookup traces and skew measurements.
        """
        if n < 0 or start < 0:
            raise ValueError(f"n and start must be non-negative, not n={n}, start={start}")
        parts = [np.zeros((0, self.n_tables), np.int64)]
        for index, lo, hi in self._covering(n, start):
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, _SAMPLE_STREAM, index]))
            parts.append(self._draw_sparse(rng, STREAM_BLOCK, index * STREAM_BLOCK)[lo:hi])
        return np.concatenate(parts)

    def blocks(self, chunk_rows: int = STREAM_BLOCK) -> Iterator[SampleBlock]:
        """The ``n_samples`` samples of the data set in order, ``chunk_rows`` per block (the last
        block holds the remainder)."""
        if chunk_rows <= 0:
            raise ValueError(f"chunk_rows must be positive, not {chunk_rows}")
        for start in range(0, self.n_samples, chunk_rows):
            yield self.generate(min(chunk_rows, self.n_samples - start), start)

    __iter__ = blocks

    def write_criteo(self, path: str | os.PathLike, *, chunk_rows: int = STREAM_BLOCK) -> int:
        """Write the data set as Criteo text (``.gz`` compresses); returns the lines written.

        Reading it back with :class:`~sw_driver.data.criteo.CriteoReader` (no
        ``max_ind_range``, no vocabulary) gives exactly the samples of :meth:`blocks`.
        """
        if self.n_tables != N_TABLES:
            raise ValueError(f"Criteo text has {N_TABLES} categorical columns, not {self.n_tables}")
        return write_criteo(path, self.blocks(chunk_rows))
