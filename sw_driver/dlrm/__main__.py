"""``python -m sw_driver.dlrm``: baseline vs Hotline (exact, re-formed) vs FAE on synthetic Criteo.

Runs :func:`sw_driver.dlrm.experiment.compare_schedules`, prints a summary and writes the full
JSON (every step's loss, every working set's popular fraction, final metrics) to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys

from .experiment import compare_schedules
from .model import DLRMConfig
from .trainer import TrainResult, default_geometry, plot_results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sw_driver.dlrm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=200_000, help="training samples")
    parser.add_argument("--eval", type=int, default=50_000, help="held-out samples")
    parser.add_argument("--scale", type=float, default=1e-3, help="Kaggle table-size scale")
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
    parser.add_argument("--plot", default=None, help="write a loss / popular-fraction plot here (PNG)")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)

    from sw_driver.data import scaled_table_sizes
    sizes = scaled_table_sizes(args.scale)
    config = DLRMConfig.small(sizes, dim=8, hidden=32) if args.small else DLRMConfig.kaggle(sizes)
    geometry = None if args.set_bits is None else default_geometry(config,
                                                                   set_bits=args.set_bits)
    out = compare_schedules(
        n_train=args.train, n_eval=args.eval, scale=args.scale, data_seed=args.seed,
        model_seed=args.seed, config=config, batch_size=args.batch_size, lr=args.lr,
        lr_decay=args.lr_decay, learn_fraction=args.learn_fraction, geometry=geometry,
        hot_set=args.hot_set, runs=tuple(args.runs.split(",")), num_threads=args.threads,
        backend=args.backend, fae_swap=args.fae_swap,
        progress=args.progress)
    summary = {k: v for k, v in out.items() if k != "results"}
    print(json.dumps(summary, indent=1))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(out, handle, indent=1)
            handle.write("\n")
    if args.plot:
        plot_results([TrainResult(**r) for r in out["results"].values()], args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
