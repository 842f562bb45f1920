"""``make paper``'s drift stage: the popular share over an epoch whose popularity drifts, with
the EAL learned once (the paper's first window) and with periodic re-learning
(:mod:`sw_driver.relearn`: ``k`` mini-batches in ``LEARN`` every ``N`` working sets, the table
aged or cleared first).

The generator drifts by ``drift`` rankings per epoch (:class:`~sw_driver.data.SyntheticCriteo`:
the traffic turns linearly from one random ranking of each table to the next, as Criteo's day
order brings new ads). Every policy sees the same samples and the same first window; a
re-learning mini-batch counts as not popular (it is served from host memory, as the first
window is). Figures per bucket of the epoch (``popular``), their mean over the samples after
the first window (``mean_after_window``) and the share of those samples spent re-learning.

Defaults: ``k`` = a quarter of the first window, ``N`` such that the EAL re-learns about ten
times per epoch; ``--relearn-every`` / ``--relearn-batches`` override them.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from hotline_hw.model.popularity_table import PopularityTable  # noqa: E402
from scripts.paper_popularity import (  # noqa: E402
    PAPER_ENTRIES, PAPER_WAYS, eal_geometry, scaled_entries)
from scripts.paper_shapes import SHAPES  # noqa: E402
from sw_driver.relearn import RelearnPolicy, RelearningEal  # noqa: E402

__all__ = ["POLICIES", "default_schedule", "merge_drift", "run_drift"]

WORKING_SET, BATCH = 4, 1024
RELEARNS_PER_EPOCH = 10
#: The policies compared, by name: learned once, re-learned with the table aged or cleared.
POLICIES = ("learn once", "re-learn (age)", "re-learn (clear)")


def default_schedule(n: int, window: float, batch: int = BATCH,
                     working_set: int = WORKING_SET) -> tuple[int, int, int]:
    """``(initial, every, k)``: the first window's mini-batches, then ``k`` = a quarter of it
    every ``N`` working sets, about ten times per epoch."""
    batches = -(-n // batch)
    initial = math.ceil(window * batches)
    k = max(1, initial // 4)
    every = max(1, round((batches / RELEARNS_PER_EPOCH - k) / working_set))
    return initial, every, k


def run_drift(*, scale: float, n: int, seed: int, chunk: int, shape: str = "kaggle",
              drift: float = 1.0, every: int | None = None, learn_batches: int | None = None,
              buckets: int = 40, progress: bool = False, policies=POLICIES) -> dict:
    """The drift stage (module docstring); returns its part of ``results.json``.

    ``policies`` (names from :data:`POLICIES`) picks which to run: each is independent of the
    others, so ``make paper`` runs them in parallel processes and :func:`merge_drift` joins
    their results."""
    unknown = set(policies) - set(POLICIES)
    if unknown or not policies:
        raise ValueError(f"policies must be some of {POLICIES}, not {policies!r}")
    spec = SHAPES[shape]
    source = spec.source(n, scale=scale, seed=seed, drift=drift)
    sizes = np.asarray(source.table_sizes, dtype=np.int64)
    entries = scaled_entries(PAPER_ENTRIES, scale)
    initial, every_default, k_default = default_schedule(n, spec.window)
    every = every_default if every is None else every
    k = k_default if learn_batches is None else learn_batches
    every_policy = {"learn once": RelearnPolicy(initial)}
    for reset in ("age", "clear"):
        every_policy[f"re-learn ({reset})"] = RelearnPolicy(initial, every, k, WORKING_SET,
                                                            reset)
    policies = {name: every_policy[name] for name in POLICIES if name in policies}
    eals = {name: RelearningEal(PopularityTable(eal_geometry(entries, PAPER_WAYS, sizes)),
                                policy, BATCH, sizes) for name, policy in policies.items()}
    popular = {name: np.zeros(buckets) for name in eals}
    after = {name: 0 for name in eals}
    window_end = min(n, initial * BATCH)
    started = time.perf_counter()
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        sparse = source.generate_sparse(size, start=start)
        bucket = (np.arange(start, start + size) * buckets) // n
        for name, eal in eals.items():
            flags = eal.offer(start, sparse)
            popular[name] += np.bincount(bucket, weights=flags, minlength=buckets)
            after[name] += int(flags[max(0, window_end - start):].sum())
        if progress:
            print(f"\r[paper] drift: {start + size:,}/{n:,} samples", end="", file=sys.stderr,
                  flush=True)
    if progress:
        print(file=sys.stderr)
    per_bucket = np.bincount((np.arange(n) * buckets) // n, minlength=buckets)
    relearn = every_policy["re-learn (age)"]
    batches = np.arange(initial, -(-n // BATCH))
    learning_share = float(relearn.learning(batches).mean()) if len(batches) else 0.0
    run_samples = max(1, n - window_end)
    return {
        "shape": shape, "scale": scale, "samples": n, "drift": drift, "entries": entries,
        "batch_size": BATCH, "working_set": WORKING_SET, "initial_batches": initial,
        "every_working_sets": every, "learn_batches": k,
        "relearning_share_after_window": learning_share,
        "bucket_edges": [round(i * n / buckets) for i in range(buckets + 1)],
        "popular": {name: (popular[name] / np.maximum(per_bucket, 1)).tolist()
                    for name in eals},
        "mean_after_window": {name: after[name] / run_samples for name in eals},
        "relearned": {name: eal.relearned for name, eal in eals.items()},
        "seconds": round(time.perf_counter() - started, 1),
    }


def merge_drift(parts: list[dict]) -> dict:
    """One drift result from :func:`run_drift`'s results for disjoint sets of policies (the
    same epoch and schedule), policies in :data:`POLICIES` order."""
    if not parts:
        raise ValueError("nothing to merge")
    merged = dict(parts[0])
    for key in ("popular", "mean_after_window", "relearned"):
        joined = {}
        for part in parts:
            for other in ("samples", "drift", "every_working_sets", "learn_batches"):
                if part[other] != merged[other]:
                    raise ValueError(f"drift results differ in {other}: cannot merge")
            joined.update(part[key])
        merged[key] = {name: joined[name] for name in POLICIES if name in joined}
    merged["seconds"] = max(part["seconds"] for part in parts)
    return merged


def plot_drift(out: dict, path: Path) -> Path:
    """The popular share over the epoch per policy, as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    edges = np.asarray(out["bucket_edges"], dtype=float)
    mid = (edges[:-1] + edges[1:]) / 2 / out["samples"] * 100
    for name, series in out["popular"].items():
        mean = out["mean_after_window"][name]
        ax.plot(mid, series, "o-", ms=3, label=f"{name}: mean {mean:.3f}")
    ax.axvline(out["initial_batches"] * out["batch_size"] / out["samples"] * 100, color="grey",
               ls=":", label="end of the first learning window")
    ax.set(xlabel="position in the epoch (%)", ylabel="popular inputs",
           title=f"Drift of {out['drift']:g} rankings per epoch ({out['shape']}, scale "
                 f"{out['scale']:g}): re-learn {out['learn_batches']} mini-batches every "
                 f"{out['every_working_sets']} working sets")
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
