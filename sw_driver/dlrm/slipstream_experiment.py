"""Slipstream beside Hotline and the baseline, measured in one run: ``make slipstream``.

``python -m sw_driver.dlrm.slipstream_experiment --out docs/slipstream/results.json`` trains,
on each data set (synthetic Kaggle-shaped data and MovieLens-100K, as ``make fae``), the same
model from the same initial parameters: the baseline, Hotline re-formed, and Slipstream on the
re-formed schedule at each target drop ``D`` (0.1, 0.3, 0.5 by default). It reports per run
the samples trained and skipped, the optimizer steps, the training wall time, held-out
accuracy / AUC / log loss, and, against Hotline re-formed in the same run, the ratio of samples
trained (``hotline_over_trained``: how many times fewer Slipstream trains) and of wall time.
A plot puts AUC against training time relative to Hotline (the accuracy / time trade-off).

Slipstream's knobs are :class:`~sw_driver.dlrm.slipstream.SlipstreamTrainer`'s defaults (the
artifact's: ``alpha`` = every lookup, band 0.08, window 3% of the mini-batches) unless given.
Wall times are this machine's (2 shared cores): read them as ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from hotline_hw.model.scheduler import ScheduleMode

from .experiment import geometry_for_hot_fraction
from .fae_experiment import _data
from .model import DLRMConfig
from .slipstream import SlipstreamTrainer
from .trainer import BaselineTrainer, HotlineTrainer, LRSchedule

__all__ = ["markdown_table", "measure", "plot"]

DROPS = (0.1, 0.3, 0.5)
#: Share of all rows the popularity table holds. The paper's setting (6.8% of Kaggle's rows,
#: learned on 5% of a 45.8M-sample epoch) makes about 76% of the inputs popular; at this
#: experiment's size (200K samples, a 10K-sample learning window) 6.8% of the rows makes about
#: 20% popular, so the table holds a quarter of the rows (about 49% popular) instead.
HOT_FRACTION = 0.25


def measure(dataset: str, *, n_train: int = 200_000, n_eval: int = 50_000, scale: float = 1e-3,
            seed: int = 0, drops=DROPS, batch_size: int = 128, lr: float = 0.1,
            lr_decay: float = 0.5, hot_fraction: float = HOT_FRACTION, learn_fraction: float = 0.05,
            progress: bool = False,
            slipstream: dict | None = None) -> dict[str, Any]:
    """Train baseline, Hotline re-formed and Slipstream at each of ``drops`` on ``dataset``."""
    train, held_out, _, sizes, about = _data(dataset, n_train=n_train, n_eval=n_eval,
                                             n_monitor=0, scale=scale, seed=seed)
    config = DLRMConfig.small(sizes, n_dense=train.n_dense, dim=8, hidden=32)
    geometry = geometry_for_hot_fraction(config, hot_fraction)
    steps = -(-len(train) // batch_size)
    schedule = LRSchedule.decay_over(steps, lr_decay) if lr_decay else LRSchedule()
    common = dict(batch_size=batch_size, lr=lr, lr_schedule=schedule, seed=seed,
                  progress=progress)
    hotline_common = dict(mode=ScheduleMode.REFORMED, geometry=geometry,
                          learn_fraction=learn_fraction, **common)
    runs: dict[str, Any] = {}
    makers = {"baseline": lambda: BaselineTrainer(config, **common),
              "hotline": lambda: HotlineTrainer(config, **hotline_common)}
    for drop in drops:
        makers[f"slipstream-D{drop:g}"] = (
            lambda d=drop: SlipstreamTrainer(config, drop=d, **(slipstream or {}),
                                             **hotline_common))
    for name, make in makers.items():
        trainer = make()
        result = trainer.train(train, eval_source=held_out)
        stats = result.stats
        skipped = stats.get("skipped_samples", 0)
        trained = sum(s["samples"] for s in result.steps)
        if trained + skipped != len(train):
            raise RuntimeError(f"{dataset} {name}: trained {trained} + skipped {skipped} != "
                               f"{len(train)} samples")
        entry = {"metrics": {k: result.final[k] for k in ("accuracy", "auc", "logloss")},
                 "samples_trained": trained, "samples_skipped": skipped,
                 "steps": len(result.steps), "train_seconds": round(result.seconds, 3)}
        if name != "baseline":
            entry["popular_fraction"] = stats["popular_fraction"]
        if name.startswith("slipstream"):
            entry.update(calibration=stats["calibration"], stale_rows=stats["stale_rows"],
                         hot_rows=stats["hot_rows"], skip_reasons=stats["skip_reasons"])
        runs[name] = entry
        if progress:
            print(f"{dataset} {name}: {entry['metrics']} trained {trained} skipped {skipped} "
                  f"{entry['train_seconds']} s", file=sys.stderr)
    hotline = runs["hotline"]
    for name, entry in runs.items():
        if name.startswith("slipstream"):
            entry["hotline_over_trained"] = round(
                hotline["samples_trained"] / entry["samples_trained"], 4)
            entry["time_over_hotline"] = round(
                entry["train_seconds"] / hotline["train_seconds"], 4)
            # At most D of the popular inputs after the window are skipped: the most this
            # data allows at this D is about 1 / (1 - D x popular share).
            share = entry["popular_fraction"] or 0.0
            calibration = entry["calibration"] or {}
            drop = calibration["sample_drop"] if calibration.get("converged") else 0.0
            entry["bound_over_trained"] = round(1 / (1 - drop * share), 4)
            entry["minus_hotline"] = {k: round(entry["metrics"][k] - hotline["metrics"][k], 5)
                                      for k in ("accuracy", "auc", "logloss")}
    return {"data": {**about, "n_train": len(train), "n_eval": len(held_out),
                     "tables": len(sizes), "rows": sum(sizes)},
            "model": {"dim": config.dim, "bottom": list(config.bottom),
                      "top": list(config.top)},
            "batch_size": batch_size, "lr": lr, "lr_decay": lr_decay,
            "hot_entries": geometry.entries, "runs": runs}


def markdown_table(results: dict[str, Any]) -> str:
    """One row per data set and run."""
    lines = ["| data | run | trained | skipped | x fewer than Hotline | time / Hotline "
             "| accuracy | AUC | log loss | AUC - Hotline | log loss - Hotline |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for data, out in results["datasets"].items():
        for name, r in out["runs"].items():
            m, d = r["metrics"], r.get("minus_hotline")
            auc = "" if d is None else f"{d['auc']:+.4f}"
            logloss = "" if d is None else f"{d['logloss']:+.4f}"
            lines.append(
                f"| {data} | {name} | {r['samples_trained']:,} | {r['samples_skipped']:,} "
                f"| {r.get('hotline_over_trained', '')} | {r.get('time_over_hotline', '')} "
                f"| {m['accuracy']:.4f} | {m['auc']:.4f} | {m['logloss']:.4f} "
                f"| {auc} | {logloss} |")
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    """AUC against the work (samples trained) and against the training time, both relative to
    Hotline re-formed in the same run: one column per data set."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = results["datasets"]
    fig, axes = plt.subplots(2, len(datasets), figsize=(5.5 * len(datasets), 8),
                             squeeze=False)
    for column, (data, out) in enumerate(datasets.items()):
        hotline = out["runs"]["hotline"]
        for row, (key, label) in enumerate((
                ("samples_trained", "samples trained / Hotline re-formed"),
                ("train_seconds", "training time / Hotline re-formed (same run, wall clock)"))):
            ax = axes[row][column]
            for name, r in out["runs"].items():
                x = r[key] / hotline[key]
                marker = "s" if name == "baseline" else "o" if name == "hotline" else "^"
                ax.scatter([x], [r["metrics"]["auc"]], marker=marker, s=50)
                ax.annotate(name, (x, r["metrics"]["auc"]), textcoords="offset points",
                            xytext=(5, 4), fontsize=8)
            ax.set_xlabel(label)
            ax.set_ylabel("held-out AUC")
            ax.set_title(f"{data}: accuracy vs {'work' if row == 0 else 'time'}")
            ax.grid(alpha=0.3)
    fig.suptitle("Slipstream (skip inputs on stale hot rows) vs Hotline and the baseline")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sw_driver.dlrm.slipstream_experiment",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="synthetic,movielens")
    parser.add_argument("--drops", default=",".join(f"{d:g}" for d in DROPS),
                        help="Slipstream target drops D (comma-separated)")
    parser.add_argument("--train", type=int, default=200_000, help="synthetic training samples "
                        "(MovieLens: the first 80%% of the ratings)")
    parser.add_argument("--eval", type=int, default=50_000, help="synthetic held-out samples")
    parser.add_argument("--scale", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hot-fraction", type=float, default=HOT_FRACTION,
                        help="share of all rows the popularity table holds")
    parser.add_argument("--learn-fraction", type=float, default=0.05,
                        help="share of the mini-batches in the learning phase (the paper's 5%%)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: the timing ratios are not skewed by contention)")
    parser.add_argument("--quick", action="store_true",
                        help="synthetic only, 8,000 samples, D = 0.3: checks the experiment "
                             "runs, measures nothing")
    parser.add_argument("--out", type=Path, default=None, help="results JSON")
    parser.add_argument("--plot", type=Path, default=None, help="accuracy / time plot (PNG)")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    datasets = args.datasets.split(",")
    drops = tuple(float(d) for d in args.drops.split(","))
    n_train, n_eval = args.train, args.eval
    if args.quick:
        datasets, drops, n_train, n_eval = ["synthetic"], (0.3,), 8000, 1000
    unknown = set(datasets) - {"synthetic", "movielens"}
    if unknown:
        parser.error(f"unknown data sets {sorted(unknown)}: synthetic, movielens")
    started = time.perf_counter()
    results: dict[str, Any] = {"quick": args.quick, "drops": list(drops), "datasets": {}}
    for dataset in datasets:
        results["datasets"][dataset] = measure(
            dataset, n_train=n_train, n_eval=n_eval, scale=args.scale, seed=args.seed,
            drops=drops, hot_fraction=args.hot_fraction,
            learn_fraction=args.learn_fraction, progress=args.progress,
            **({"slipstream": {"window_batches": 8}} if args.quick else {}))
    results["seconds"] = round(time.perf_counter() - started, 1)
    table = markdown_table(results)
    results["table"] = table
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    if args.plot:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        plot(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
