"""``make sim``: learn a hot set on real DLRM traffic and measure it against the oracle.

What exists of the accelerator today is the popularity lookup table, so this runs that:

1. take the default data set (Kaggle-shaped synthetic Criteo, no download) or a Criteo-format
   file (``--data``), in mini-batches;
2. learn: the first ``--learn-fraction`` of the mini-batches (5%, the paper's figure) go through
   the golden model in LEARN mode (SRRIP);
3. run: the rest are classified in RUN mode (read-only): hit fraction and popular-sample
   fraction, beside the oracle hot sets of the same capacity (exact counts: FAE's way);
4. RTL: the same learning traffic goes through the generated Verilog under Verilator (cocotb),
   its table is dumped and compared entry by entry with the model's, and a slice of the run
   traffic is compared response by response (``--no-rtl`` skips this).

The report is printed and, with ``--json``, written as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hotline_hw.model import (Mode, OracleProfiler, PopularityTable,  # noqa: E402
                              TableGeometry, hit_fraction, popular_fraction)
from sw_driver.data import CriteoReader, SyntheticCriteo  # noqa: E402


def load_sparse(args) -> tuple[np.ndarray, str]:
    """The sparse features [N, T] of the data set, and its description."""
    if args.data:
        reader = CriteoReader(args.data, max_ind_range=args.max_ind_range)
        sparse = np.concatenate([block.sparse for block in reader.blocks()])
        if args.samples:
            sparse = sparse[:args.samples]
        return sparse, f"{args.data} (Criteo format, max_ind_range={args.max_ind_range})"
    source = SyntheticCriteo(args.samples, scale=args.scale, seed=args.seed)
    sparse = source.generate_sparse(args.samples)
    rows = sum(source.table_sizes)
    return sparse, (f"synthetic Criteo Kaggle shape, scale {args.scale} ({rows:,} rows), "
                    f"Zipf 1.15, seed {args.seed}")


def software_report(sparse: np.ndarray, geometry: TableGeometry, n_learn: int) -> dict:
    learn, run = sparse[:n_learn], sparse[n_learn:]
    table = PopularityTable(geometry, Mode.LEARN)
    start = time.perf_counter()
    table.classify(learn)
    learn_seconds = time.perf_counter() - start
    learned = table.hot_set()

    window = OracleProfiler(geometry.key_layout)
    window.update(learn)
    everything = OracleProfiler(geometry.key_layout)
    everything.update(sparse)
    hot_sets = {
        "SRRIP table, learned in LEARN mode": learned,
        "oracle top-N, counts of the learning window": window.top(geometry.entries),
        "oracle top-N, counts of all the data": everything.top(geometry.entries),
        "oracle fitted to the table's sets, all the data": everything.top_fitting(geometry),
    }
    rows = {name: {"keys": len(keys), "hit_fraction": hit_fraction(keys, run),
                   "popular_fraction": popular_fraction(keys, run)}
            for name, keys in hot_sets.items()}
    table.mode = Mode.RUN
    popular = table.classify(run)
    best = rows["oracle top-N, counts of all the data"]
    return {
        "samples_learn": int(n_learn),
        "samples_run": int(len(run)),
        "lookups_learn": int(learn.size),
        "model_learn_lookups_per_second": learn.size / learn_seconds,
        "hot_sets": rows,
        "run_popular_fraction": float(popular.mean()),
        "capture_hit_vs_oracle": rows["SRRIP table, learned in LEARN mode"]["hit_fraction"]
        / best["hit_fraction"],
        "capture_popular_vs_oracle": rows["SRRIP table, learned in LEARN mode"][
            "popular_fraction"] / max(best["popular_fraction"], 1e-12),
    }


def rtl_report(sparse: np.ndarray, geometry: TableGeometry, n_learn: int, lanes: int,
               run_samples: int) -> dict:
    """Co-simulate the learning traffic and a slice of the run traffic on the RTL (Verilator),
    comparing every response and the learned table with the golden model."""
    from tb.cosim_popularity_table import run_cosim

    return run_cosim(sparse[:n_learn], sparse[n_learn:n_learn + run_samples], geometry=geometry,
                     lanes=lanes, table_in_bits=8, row_in_bits=32,
                     test_id=f"make_sim_popularity_table_P{lanes}", sim="verilator",
                     check=False)


def print_report(description: str, geometry: TableGeometry, sw: dict, rtl: dict | None) -> None:
    print()
    print("hotline make sim: popularity lookup table")
    print(f"  data:  {description}")
    print(f"  table: {geometry.sets} sets x {geometry.ways} ways = {geometry.entries:,} entries "
          f"({geometry.entry_bits} bits each), Feistel {geometry.rounds} rounds")
    print(f"  learn: {sw['samples_learn']:,} samples ({sw['lookups_learn']:,} lookups); "
          f"run: {sw['samples_run']:,} samples")
    print()
    print(f"  {'hot set':50s} {'keys':>8s} {'hit %':>7s} {'popular %':>10s}")
    for name, row in sw["hot_sets"].items():
        print(f"  {name:50s} {row['keys']:8,d} {100 * row['hit_fraction']:7.2f} "
              f"{100 * row['popular_fraction']:10.2f}")
    print()
    print(f"  learned set captures {100 * sw['capture_hit_vs_oracle']:.1f}% of the oracle's hits "
          f"and {100 * sw['capture_popular_vs_oracle']:.1f}% of its popular samples "
          f"(paper: about 70% of an oracle LFU)")
    if rtl is not None:
        learn, table, run = rtl["learn"], rtl["table"], rtl["run"]
        same = "identical to" if table["entries_equal"] else "DIFFERENT FROM"
        print()
        print(f"  RTL (Verilator, {rtl['params']['lanes']} lanes): learned table {same} the "
              f"model's ({table['valid_entries']:,} valid entries, "
              f"{table['mismatching_slots']} slots differ)")
        print(f"    LEARN {learn['lookups']:,} lookups in {learn['cycles']:,} cycles "
              f"({learn['lookups_per_cycle']:.3f} lookups/cycle), "
              f"{learn['mismatches']} of {learn['responses_compared']:,} response beats differ")
        print(f"    RUN   {run['lookups']:,} lookups in {run['cycles']:,} cycles "
              f"({run['lookups_per_cycle']:.3f} lookups/cycle), "
              f"{run['mismatches']} of {run['responses_compared']:,} response beats differ; "
              f"popular {100 * run['popular_fraction']:.2f}% "
              f"(model {100 * run['model_popular_fraction']:.2f}%)")
        print(f"    counters equal to the model's: {rtl['counters']['equal']}")
    print()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="Criteo-format file (default: synthetic Kaggle shape)")
    parser.add_argument("--max-ind-range", type=int, default=10_000_000,
                        help="with --data: row id = hash %% this (DLRM's max_ind_range)")
    parser.add_argument("--samples", type=int, default=400_000,
                        help="samples to use (synthetic: generated; --data: first N, 0 = all)")
    parser.add_argument("--scale", type=float, default=0.01,
                        help="synthetic table sizes as a fraction of Criteo Kaggle's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--learn-fraction", type=float, default=0.05)
    parser.add_argument("--set-bits", type=int, default=12, help="sets = 2**set_bits")
    parser.add_argument("--ways", type=int, default=4)
    parser.add_argument("--lanes", type=int, default=4, help="RTL lookup lanes")
    parser.add_argument("--rtl-run-samples", type=int, default=4000,
                        help="run-phase samples also compared on the RTL")
    parser.add_argument("--no-rtl", action="store_true", help="skip the Verilator run")
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args(argv)

    sparse, description = load_sparse(args)
    n_batches = -(-len(sparse) // args.batch_size)
    n_learn = max(1, round(n_batches * args.learn_fraction)) * args.batch_size
    n_learn = min(n_learn, len(sparse) - 1)
    geometry = TableGeometry(table_bits=5, row_bits=24, set_bits=args.set_bits, ways=args.ways)
    if sparse.shape[1] > geometry.key_layout.num_tables:
        parser.error(f"{sparse.shape[1]} tables do not fit table_bits={geometry.table_bits}")

    sw = software_report(sparse, geometry, n_learn)
    rtl = None if args.no_rtl else rtl_report(sparse, geometry, n_learn, args.lanes,
                                              args.rtl_run_samples)
    print_report(description, geometry, sw, rtl)
    if args.json:
        args.json.write_text(json.dumps({"data": description, "software": sw, "rtl": rtl},
                                        indent=2))
    if rtl is not None and not rtl["passed"]:
        print("error: the RTL differs from the golden model", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
