"""FAE beside the baseline and Hotline, measured in one run: ``make fae``.

``python -m sw_driver.dlrm.fae_experiment --out docs/fae/results.json`` trains, on each data set
(synthetic Kaggle-shaped data and MovieLens-100K), the same model from the same initial
parameters five ways and reports held-out accuracy / AUC / log loss and the embedding bytes
moved between host memory and the training device, *counted* at the port
(:mod:`~sw_driver.dlrm.traffic`):

* ``baseline``: :class:`~sw_driver.dlrm.trainer.BaselineTrainer`, every table in device memory
  (moves no rows);
* ``hybrid``: every table in host memory (:class:`FAETrainer` with no budget: all inputs cold,
  the baseline's steps), the Intel-style CPU-GPU DLRM's row traffic;
* ``fae``: :class:`~sw_driver.dlrm.fae_trainer.FAETrainer`, the paper's shuffle scheduler
  (R(50) start, driven by the log loss on a monitor set disjoint from the held-out set);
* ``fae-epoch``: the released code's swap once per epoch;
* ``hotline``: :class:`~sw_driver.dlrm.trainer.HotlineTrainer` (re-formed, learned hot set).

Same budget: FAE's ``L`` is the bytes of the Hotline popularity table's entries
(``entries * 4 * dim``), so both may keep the same number of rows on the device; the small-table
threshold is 1 MB scaled like the tables (1 MB on MovieLens, which is real-sized). One epoch:
the bytes are per epoch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import torch

from hotline_hw.model.scheduler import ScheduleMode
from sw_driver.data import MovieLens100K, SampleBlock, SyntheticCriteo

from .cold_rows import GatherModelPort
from .experiment import geometry_for_hot_fraction
from .fae_profile import SMALL_TABLE_BYTES
from .fae_trainer import FAETrainer
from .model import DLRMConfig
from .traffic import CountingPort, HostDeviceTraffic
from .trainer import BaselineTrainer, HotlineTrainer, LRSchedule

__all__ = ["CountedHotlineTrainer", "markdown_table", "measure"]

RUNS = ("baseline", "hybrid", "fae", "fae-epoch", "hotline")


class CountedHotlineTrainer(HotlineTrainer):
    """:class:`HotlineTrainer` whose port counts into ``traffic`` (the freeze's move of the hot
    set as ``hot_load``). No NaN poisoning: the poison writes are a check, not traffic."""

    def __init__(self, config: DLRMConfig, *, traffic: HostDeviceTraffic, **options):
        self.traffic = traffic
        super().__init__(config, port_factory=lambda m: CountingPort(GatherModelPort(m), traffic),
                         poison=False, **options)

    def _freeze(self) -> None:
        with self.port.tagged("hot_load"):
            super()._freeze()

    def _stats(self):
        return {**super()._stats(), "traffic": self.traffic.to_dict()}


def _data(dataset: str, *, n_train: int, n_eval: int, n_monitor: int, scale: float,
          seed: int) -> tuple[SampleBlock, SampleBlock, SampleBlock, tuple[int, ...], dict]:
    if dataset == "synthetic":
        gen = SyntheticCriteo(n_train, scale=scale, seed=seed)
        blocks = (gen.generate(n_train), gen.generate(n_eval, start=n_train),
                  gen.generate(n_monitor, start=n_train + n_eval))
        return (*blocks, tuple(gen.table_sizes),
                {"source": "SyntheticCriteo (Kaggle shape)", "scale": scale, "seed": seed})
    if dataset == "movielens":
        ml = MovieLens100K()
        n_train = round(0.8 * len(ml))         # the first 80% of the ratings in time
        # time order: train, then the monitor window, then the held-out ratings
        block = ml.block
        return (block[:n_train], block[n_train + n_monitor:], block[n_train:n_train + n_monitor],
                tuple(ml.table_sizes), {"source": "MovieLens-100K (time order)"})
    raise ValueError(f'dataset must be "synthetic" or "movielens", not {dataset!r}')


def measure(dataset: str, *, n_train: int = 50_000, n_eval: int = 20_000,
            n_monitor: int = 2048, scale: float = 1e-3, seed: int = 0, small: bool = True,
            batch_size: int = 128, lr: float = 0.1, lr_decay: float = 0.5,
            runs: tuple[str, ...] = RUNS, progress: bool = False) -> dict[str, Any]:
    """Train ``runs`` on ``dataset`` and return metrics, counted traffic and hot fractions."""
    unknown = set(runs) - set(RUNS)
    if unknown:
        raise ValueError(f"unknown runs {sorted(unknown)} (known: {RUNS})")
    train, held_out, monitor, sizes, about = _data(dataset, n_train=n_train, n_eval=n_eval,
                                                   n_monitor=n_monitor, scale=scale, seed=seed)
    config = (DLRMConfig.small(sizes, n_dense=train.n_dense, dim=8, hidden=32) if small
              else DLRMConfig.kaggle(sizes))
    geometry = geometry_for_hot_fraction(config)
    budget = geometry.entries * 4 * config.dim
    small_bytes = round(SMALL_TABLE_BYTES * (scale if dataset == "synthetic" else 1.0))
    steps = -(-len(train) // batch_size)
    schedule = LRSchedule.decay_over(steps, lr_decay) if lr_decay else LRSchedule()
    common = dict(batch_size=batch_size, lr=lr, lr_schedule=schedule, seed=seed,
                  progress=progress)
    fae_common = dict(budget_bytes=budget, small_table_bytes=small_bytes, profile_seed=seed,
                      **common)
    out: dict[str, Any] = {
        "data": {**about, "n_train": len(train), "n_eval": len(held_out),
                 "n_monitor": len(monitor), "tables": len(sizes), "rows": sum(sizes)},
        "model": {"dim": config.dim, "bottom": list(config.bottom), "top": list(config.top)},
        "batch_size": batch_size, "lr": lr, "lr_decay": lr_decay,
        "budget": {"bytes": budget, "rows": geometry.entries, "hotline_sets": geometry.sets,
                   "hotline_ways": geometry.ways, "small_table_bytes": small_bytes},
        "runs": {},
    }
    for run in runs:
        if run == "baseline":
            trainer = BaselineTrainer(config, **common)
        elif run == "hybrid":
            trainer = FAETrainer(config, **{**fae_common, "budget_bytes": 0,
                                            "small_table_bytes": 0}, swap="epoch")
        elif run == "fae":
            trainer = FAETrainer(config, **fae_common, swap="adaptive", monitor=monitor)
        elif run == "fae-epoch":
            trainer = FAETrainer(config, **fae_common, swap="epoch")
        else:
            trainer = CountedHotlineTrainer(config, traffic=HostDeviceTraffic(),
                                            mode=ScheduleMode.REFORMED, geometry=geometry,
                                            **common)
        start = time.perf_counter()
        result = trainer.train(train, eval_source=held_out)
        stats = result.stats
        traffic = stats.get("traffic") or HostDeviceTraffic().to_dict()
        entry = {"metrics": {k: result.final[k] for k in ("accuracy", "auc", "logloss")},
                 "traffic": traffic, "steps": stats["steps"],
                 "train_seconds": round(result.seconds, 2),
                 "wall_seconds": round(time.perf_counter() - start, 2)}
        if run in ("fae", "fae-epoch", "hybrid"):
            entry.update(hot_input_fraction=stats["hot_input_fraction"], swaps=stats["swaps"],
                         hot_rows=stats["profile"]["hot_rows"], rates=stats["rates"],
                         small_tables=stats["profile"]["small_tables"])
        if run == "hotline":
            entry.update(popular_fraction=stats["popular_fraction"], hot_rows=stats["hot_rows"])
        out["runs"][run] = entry
        if progress:
            print(f"{dataset} {run}: {entry['metrics']} {traffic['total_bytes']} B",
                  file=sys.stderr)
    return out


def _mb(value: int) -> str:
    return f"{value / 1e6:.1f}"


def markdown_table(results: dict[str, Any]) -> str:
    """One row per data set and run: metrics, counted MB per epoch, hot fractions."""
    lines = ["| data | run | accuracy | AUC | log loss | MB host->dev (cold / sync / load) "
             "| MB dev->host (cold / sync) | swaps | hot inputs |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, data in results["datasets"].items():
        for run, r in data["runs"].items():
            b = r["traffic"]["bytes"]
            m = r["metrics"]
            hot = r.get("hot_input_fraction", r.get("popular_fraction"))
            lines.append(
                f"| {name} | {run} | {m['accuracy']:.4f} | {m['auc']:.4f} | {m['logloss']:.4f} "
                f"| {_mb(r['traffic']['h2d_bytes'])} ({_mb(b['cold_gather'])} / "
                f"{_mb(b['sync_to_device'])} / {_mb(b['hot_load'])}) "
                f"| {_mb(r['traffic']['d2h_bytes'])} ({_mb(b['cold_write_back'])} / "
                f"{_mb(b['sync_to_host'])}) | {r.get('swaps', '')} "
                f"| {'' if hot is None else f'{hot:.3f}'} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sw_driver.dlrm.fae_experiment",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="synthetic,movielens")
    parser.add_argument("--runs", default=",".join(RUNS))
    parser.add_argument("--train", type=int, default=50_000, help="synthetic training samples "
                        "(MovieLens: the first 80%% of the ratings)")
    parser.add_argument("--eval", type=int, default=20_000, help="synthetic held-out samples")
    parser.add_argument("--scale", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kaggle-model", action="store_true",
                        help="the Kaggle architecture instead of the small model (dim 8)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    results = {"datasets": {}}
    for dataset in args.datasets.split(","):
        results["datasets"][dataset] = measure(
            dataset, n_train=args.train, n_eval=args.eval, scale=args.scale, seed=args.seed,
            small=not args.kaggle_model, runs=tuple(args.runs.split(",")),
            progress=args.progress)
    table = markdown_table(results)
    results["table"] = table
    print(table)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1)
            handle.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
