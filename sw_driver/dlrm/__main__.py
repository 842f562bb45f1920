"""``python -m sw_driver.dlrm``: baseline vs Hotline (exact, re-formed) vs FAE on synthetic Criteo
or on Criteo files (``--data``).

Runs :func:`sw_driver.dlrm.experiment.compare_schedules`: one stage per run (``run 2 of 3``,
a progress bar), each run's metrics printed and ``--out`` (the full JSON: every step's loss,
every working set's popular fraction, final metrics) and ``--plot`` rewritten as it finishes,
so an interrupted training keeps the runs done. ``--out`` and ``--plot`` are checked before
training starts.

With ``--data`` (raw TSV or CSV with header, ``.gz``, several files as one stream) the files'
first ``--samples`` samples are read once (:class:`~sw_driver.data.CriteoDataset`: ids
renumbered per table or hashed, ``--ids``; DLRM's day split or random, ``--split``), training
uses ``--train`` samples of the training part and ``--eval`` of the test part, and a model
whose estimated memory exceeds ``--memory-limit`` (default: the memory available) is refused
before it is built, naming the flag that makes it fit.

Duration: ``--train 20000 --eval 5000`` (Kaggle architecture, three runs on the golden-model
device) took 14 minutes on two heavily shared cores; the defaults (200K samples) take about ten
times as long.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..console import Console
from .experiment import compare_schedules
from .model import DLRMConfig
from .trainer import TrainResult, default_geometry, plot_results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sw_driver.dlrm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=200_000, help="training samples")
    parser.add_argument("--eval", type=int, default=50_000, help="held-out samples")
    parser.add_argument("--scale", type=float, default=1e-3, help="Kaggle table-size scale")
    parser.add_argument("--data", nargs="+", default=None,
                        help="Criteo files instead of the synthetic data (see above)")
    parser.add_argument("--ids", choices=("vocabulary", "hash"), default="vocabulary",
                        help="with --data: dense ids from a first pass, or hash %% "
                             "--max-ind-range")
    parser.add_argument("--max-ind-range", type=int, default=None,
                        help="with --data: DLRM's max_ind_range (required by --ids hash)")
    parser.add_argument("--samples", type=int, default=0,
                        help="with --data: read only the first N samples (0: all)")
    parser.add_argument("--split", choices=("day", "random"), default="day",
                        help="with --data: DLRM's pseudo-days in time order, or random")
    parser.add_argument("--memory-limit", type=float, default=None,
                        help="with --data: GB the training may use (default: available)")
    parser.add_argument("--seed", type=int, default=0, help="data and model seed")
    parser.add_argument("--runs", default="baseline,split,reformed",
                        help="comma-separated: baseline, shuffled, split, reformed, fae")
    parser.add_argument("--fae-swap", choices=("adaptive", "epoch"), default="adaptive",
                        help="FAE's swap schedule: the paper's (R(50), loss-driven) or the "
                             "released code's once per epoch")
    parser.add_argument("--small", action="store_true",
                        help="a narrow model (dim 8, MLPs 32 wide) instead of Kaggle's")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--lr-decay", type=float, default=0.5,
                        help="fraction of the steps over which the rate decays to 0 (0: constant)")
    parser.add_argument("--set-bits", type=int, default=None,
                        help="popularity table sets = 2**SET_BITS (default: ~6.8%% of the rows)")
    parser.add_argument("--hot-set", choices=("learned", "oracle"), default="learned")
    parser.add_argument("--learn-fraction", type=float, default=0.05)
    parser.add_argument("--backend", choices=("device", "models"), default="device",
                        help="Hotline runs on the golden-model device through the host driver "
                             "(default) or on the golden models directly (faster, identical)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", default=None, help="write the JSON here")
    parser.add_argument("--plot", default=None,
                        help="write a loss / popular-fraction plot here (PNG)")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    for option, path in (("--out", args.out), ("--plot", args.plot)):
        if path is None:
            continue
        folder = Path(path).resolve().parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            parser.error(f"{option} {path}: the folder {folder} does not exist or is not "
                         f"writable (nothing was trained)")
    runs = tuple(args.runs.split(","))
    unknown = sorted(set(runs) - {"baseline", "shuffled", "split", "reformed", "fae"})
    if unknown:
        parser.error(f"--runs: unknown {', '.join(unknown)}; choose from baseline, shuffled, "
                     f"split, reformed, fae")
    if args.train < 1 or args.eval < 1 or args.batch_size < 1:
        parser.error("--train, --eval and --batch-size must be at least 1")

    from sw_driver.data import CriteoDataset, CriteoFormatError, scaled_table_sizes

    from .memory_estimate import ModelTooLargeError, check_dataset_fits
    data = None
    if args.data:
        try:
            data = CriteoDataset.open(args.data, ids=args.ids, max_ind_range=args.max_ind_range,
                                      samples=args.samples, split=args.split, seed=args.seed)
            dim = 8 if args.small else DLRMConfig.kaggle([1] * 26).dim
            estimate = check_dataset_fits(
                data, dim, samples_held=min(args.train, len(data.split.train)) + args.eval,
                limit_bytes=None if args.memory_limit is None else round(args.memory_limit * 1e9))
        except (CriteoFormatError, OSError, ValueError, ModelTooLargeError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        sizes = list(data.table_sizes)
    else:
        sizes = scaled_table_sizes(args.scale)
    config = DLRMConfig.small(sizes, dim=8, hidden=32) if args.small else DLRMConfig.kaggle(sizes)
    geometry = None if args.set_bits is None else default_geometry(config,
                                                                   set_bits=args.set_bits)
    console = Console([f"run {n} of {len(runs)}: {run}" for n, run in enumerate(runs, 1)],
                      log=None, title=f"hotline make train: {args.train:,} samples, "
                      f"{args.eval:,} held out, {'small' if args.small else 'Kaggle'} DLRM, "
                      f"runs {', '.join(runs)}")
    if data is not None:
        console.report(f"data: {data.describe()}\n      split: {data.split.describe()}\n"
                       f"      model memory: {estimate.describe()}")
    stages = {}

    def started(index: int, count: int, run: str) -> None:
        stage = console.stage(f"run {index} of {count}: {run}", capture=False)
        stage.__enter__()
        stages[run] = stage

    def finished(run: str, summary: dict) -> None:
        stages.pop(run).__exit__(None, None, None)
        m = summary["metrics"][run]
        popular = summary["popular_fraction"].get(run)
        console.report(f"  {run}: accuracy {m['accuracy']:.4f}, AUC {m['auc']:.4f}, log loss "
                       f"{m['logloss']:.4f}, {summary['seconds'][run]:.0f} s of training"
                       + (f", popular fraction {popular:.3f}" if popular is not None else ""))
        write(summary)

    def write(summary: dict) -> None:
        if args.out:
            with open(args.out, "w", encoding="utf-8") as handle:
                json.dump(summary, handle, indent=1)
                handle.write("\n")
        if args.plot:
            plot_results([TrainResult(**r) for r in summary["results"].values()], args.plot,
                         title=_plot_title(summary, args))

    out = compare_schedules(
        n_train=args.train, n_eval=args.eval, scale=args.scale, data_seed=args.seed,
        model_seed=args.seed, config=config, batch_size=args.batch_size, lr=args.lr,
        lr_decay=args.lr_decay, learn_fraction=args.learn_fraction, geometry=geometry,
        hot_set=args.hot_set, runs=runs, num_threads=args.threads,
        backend=args.backend, fae_swap=args.fae_swap, progress=args.progress, data=data,
        on_run_start=started, on_run=finished)
    for name, diff in out["differences"].items():
        if name == "split_vs_baseline":
            console.report(f"exact (split) vs baseline: largest parameter difference "
                           f"{diff['max']:.3g} after {diff['steps']} steps")
        else:
            console.report(f"{name.replace('_minus_', ' - ')}: accuracy "
                           f"{diff['accuracy']:+.4f}, AUC {diff['auc']:+.4f}, log loss "
                           f"{diff['logloss']:+.4f}")
    if args.out:
        console.report(f"wrote {args.out}" + (f" and {args.plot}" if args.plot else ""))
    return 0


def _plot_title(summary: dict, args) -> str:
    data = summary["data"]
    model = "small DLRM (dim 8, MLPs 32 wide)" if args.small else "DLRM, Kaggle architecture"
    source = (f"Synthetic Criteo Kaggle shape (scale {data['scale']:g}, {data['rows']:,} rows)"
              if "scale" in data else f"Criteo files ({data['rows']:,} rows)")
    return (f"{source}: "
            f"{model}\n{data['n_train']:,} training samples, batch {summary['batch_size']}, "
            f"{-(-data['n_train'] // summary['batch_size']):,} mini-batches per run, "
            f"{summary['backend']} backend")


if __name__ == "__main__":
    sys.exit(main())
