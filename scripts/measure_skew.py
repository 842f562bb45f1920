#!/usr/bin/env python3
"""Measure the access skew of the synthetic Criteo generator and of MovieLens-100K.

For the synthetic generator at the Kaggle shape (26 tables, 33.8M rows at ``--scale 1``) over
``--samples`` samples (default: Kaggle's 45,840,617):

* **hot share**: the fraction of all embedding accesses that go to the top ``--hot-fraction``
  (6.8%) of rows, ranked globally over all tables by exact access counts (an oracle hot set);
* **popular inputs**: the fraction of samples whose 26 lookups all hit that hot set (the inputs
  Hotline/FAE can train entirely from the accelerator's cache).

Both are measured (two passes over the deterministic stream: count, then classify) and also
computed in the infinite-sample limit from the generator's exact row probabilities. The targets
from the literature (FAE, Hotline, on Criteo Kaggle) are a hot share >= 76% and ~76% popular
inputs. For MovieLens-100K: the share of interactions of the top 10% of items (reference: 43%),
and the same two figures over its 8 tables.

Usage, from a checkout installed with ``pip install -e .`` (or with ``PYTHONPATH=.``)::

    python scripts/measure_skew.py [--scale 1.0] [--samples N] [--json skew.json]

Memory at scale 1: about 1.2 GB (cumulative weights, permutations, counts, hot mask).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from sw_driver.data import KAGGLE_N_SAMPLES, MovieLens100K, SyntheticCriteo
from sw_driver.data.synthetic import STREAM_BLOCK

TARGET_HOT_SHARE = 0.76
TARGET_POPULAR = 0.76
MOVIELENS_TOP_ITEMS_REFERENCE = 0.43


def hot_set(counts: np.ndarray, fraction: float) -> tuple[np.ndarray, int]:
    """Boolean mask of the ``round(fraction * len(counts))`` most counted rows, and that count.

    Ties at the threshold are broken by argpartition's (deterministic) order; which of equally
    counted rows are hot changes neither figure's hot share and barely the popular fraction.
    """
    k = round(fraction * len(counts))
    mask = np.zeros(len(counts), bool)
    if k:
        mask[np.argpartition(-counts, k - 1)[:k]] = True
    return mask, k


def skew_of_sparse(sparse: np.ndarray, table_sizes, fraction: float) -> dict:
    """Hot share and popular fraction of an in-memory ``sparse`` [N, T] array."""
    offsets = np.concatenate([[0], np.cumsum(table_sizes)])
    counts = np.concatenate(
        [np.bincount(sparse[:, t], minlength=n) for t, n in enumerate(table_sizes)]
    )
    mask, k = hot_set(counts, fraction)
    popular = np.ones(len(sparse), bool)
    for t in range(len(table_sizes)):
        popular &= mask[offsets[t] + sparse[:, t]]
    return {
        "rows": int(offsets[-1]),
        "hot_rows": k,
        "hot_share": float(counts[mask].sum() / counts.sum()),
        "popular_inputs": float(popular.mean()),
        "rows_touched": int((counts > 0).sum()),
    }


def measure_synthetic(gen: SyntheticCriteo, n_samples: int, fraction: float, chunk: int,
                      progress: bool) -> dict:
    sizes = gen.table_sizes
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    counts = np.zeros(offsets[-1], np.int64)

    def chunks(label: str):
        starts = range(0, n_samples, chunk)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc=label, unit="chunk", file=sys.stderr)
        for start in starts:
            yield gen.generate_sparse(min(chunk, n_samples - start), start)

    t0 = time.perf_counter()
    for sparse in chunks("pass 1: count"):
        for t, n in enumerate(sizes):
            counts[offsets[t]:offsets[t + 1]] += np.bincount(sparse[:, t], minlength=n)
    mask, k = hot_set(counts, fraction)
    per_table_hits = np.zeros(len(sizes), np.int64)
    n_popular = 0
    for sparse in chunks("pass 2: classify"):
        popular = np.ones(len(sparse), bool)
        for t in range(len(sizes)):
            hit = mask[offsets[t] + sparse[:, t]]
            per_table_hits[t] += hit.sum()
            popular &= hit
        n_popular += int(popular.sum())
    seconds = time.perf_counter() - t0

    # The infinite-sample limit: rank rows by their exact lookup probability.
    probs = np.concatenate([gen.rank_pmf(t) for t in range(len(sizes))])
    table_of = np.repeat(np.arange(len(sizes)), sizes)
    limit_mask, _ = hot_set(probs, fraction)
    mass = np.bincount(table_of[limit_mask], weights=probs[limit_mask], minlength=len(sizes))
    return {
        "scale": None,
        "samples": n_samples,
        "rows": int(offsets[-1]),
        "hot_rows": k,
        "hot_share": float(counts[mask].sum() / counts.sum()),
        "popular_inputs": n_popular / n_samples,
        "rows_touched": int((counts > 0).sum()),
        "per_table_hot_hit_rate": (per_table_hits / n_samples).round(4).tolist(),
        "limit_hot_share": float(mass.sum() / len(sizes)),
        "limit_popular_inputs": float(np.prod(mass)),
        "seconds": round(seconds, 1),
    }


def measure_movielens(fraction: float) -> dict:
    ml = MovieLens100K()
    items = ml.block.sparse[:, ml.table_names.index("item")]
    item_counts = np.sort(np.bincount(items, minlength=ml.table_sizes[1]))[::-1]
    top = round(0.10 * len(item_counts))
    result = {"samples": len(ml), "top10pct_items_share": float(item_counts[:top].sum() / len(ml))}
    result.update(skew_of_sparse(ml.block.sparse, ml.table_sizes, fraction))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="table-size scale (default 1)")
    parser.add_argument("--samples", type=int, default=KAGGLE_N_SAMPLES,
                        help="synthetic samples (default: Criteo Kaggle's 45,840,617)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--alpha", type=float, default=1.15, help="Zipf exponent (default 1.15)")
    parser.add_argument("--hot-fraction", type=float, default=0.068,
                        help="fraction of rows in the hot set (default 0.068)")
    parser.add_argument("--chunk", type=int, default=16 * STREAM_BLOCK,
                        help="samples generated per step")
    parser.add_argument("--no-movielens", action="store_true")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)

    gen = SyntheticCriteo(args.samples, scale=args.scale, seed=args.seed, alpha=args.alpha)
    synthetic = measure_synthetic(gen, args.samples, args.hot_fraction, args.chunk,
                                  progress=not args.quiet)
    synthetic.update(scale=args.scale, seed=args.seed, alpha=args.alpha)
    report = {"hot_fraction": args.hot_fraction, "synthetic_criteo": synthetic}
    if not args.no_movielens:
        report["movielens_100k"] = measure_movielens(args.hot_fraction)

    pct = f"{100 * args.hot_fraction:g}%"
    s = synthetic
    print(f"Synthetic Criteo Kaggle shape: scale {args.scale:g}, {s['rows']:,} rows, "
          f"{s['samples']:,} samples, alpha {args.alpha:g}, seed {args.seed} ({s['seconds']} s)")
    print(f"  {'figure':<44} {'measured':>9} {'limit':>9} {'target':>9}")
    print(f"  {'share of accesses to the top ' + pct + ' of rows':<44} {s['hot_share']:>9.1%} "
          f"{s['limit_hot_share']:>9.1%} {'>= ' + format(TARGET_HOT_SHARE, '.0%'):>9}")
    print(f"  {'popular inputs (all 26 lookups hot)':<44} {s['popular_inputs']:>9.1%} "
          f"{s['limit_popular_inputs']:>9.1%} {'~' + format(TARGET_POPULAR, '.0%'):>9}")
    print(f"  rows touched at least once: {s['rows_touched']:,} of {s['rows']:,}")
    if "movielens_100k" in report:
        m = report["movielens_100k"]
        print(f"MovieLens-100K: {m['samples']:,} samples, {m['rows']:,} rows in 8 tables")
        print(f"  {'share of interactions of the top 10% of items':<44} "
              f"{m['top10pct_items_share']:>9.1%} {'':>9} "
              f"{'~' + format(MOVIELENS_TOP_ITEMS_REFERENCE, '.0%'):>9}")
        print(f"  {'share of accesses to the top ' + pct + ' of rows':<44} {m['hot_share']:>9.1%}")
        print(f"  {'popular inputs (all 8 lookups hot)':<44} {m['popular_inputs']:>9.1%}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
