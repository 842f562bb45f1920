"""``make bench``: performance figures in clock cycles, written to ``bench/results.json``.

Hardware figures come from RTL simulation (Verilator) and are exact cycle counts, independent
of the machine; every benchmarked response is also checked against the golden model. Each
figure is printed beside its goal from the issues. Software figures (``software.*``,
``sim_speed.*``) are wall-clock rates of this machine: compare them only as the ratios given.

Parts (``--only a,b``; all by default): ``popularity_table``, ``banked_table`` (the banked
table's lookups per cycle vs lanes, banks and queue depth, from its cycle model:
:mod:`scripts.bench_banked`), ``micro_batch_scheduler``,
``gather_engine``, ``hotline_top``, ``sim_speed``, ``native_speed`` (the native backend vs the
cocotb backend vs Verilator's own loop, one run: :mod:`scripts.bench_native`), ``software``,
``hotline_host`` (the Hotline
trainers' host path vs the baseline at 7 / 30 / 75% popular samples, with and without overlap,
and a profile: :mod:`scripts.bench_hotline`), ``distributed``
(``scripts/bench_distributed.py``: DLRM on 1 and 2 torchrun workers), ``criteo_files``
(``scripts/bench_criteo.py``: a Kaggle-sized generated Criteo file, ``--criteo-scale`` of its
45.8M lines: reader lines per CPU-second, peak RSS of the vocabulary pass and of ``make sim
DATA=`` on it). A full run rewrites the file;
a subset run merges into the existing file: the parts it ran replace every figure, goal and
config entry of those parts (keys starting ``<part>.``), the other parts are kept as they were,
and ``parts`` records the commit and date each part was measured at (``commit`` / ``date`` at
the top are the latest run's).

``--quick`` runs every part on token sizes (one lane count, one gather build, a few hundred
samples) into ``sim_build/bench_quick.json`` unless ``--out`` is given: it checks that the
whole benchmark runs and that every figure is produced (``tests/test_bench.py`` runs it);
its figures are not measurements.

Where things are: the blocks' parts in :mod:`scripts.bench_blocks`, the whole accelerator and
simulation speed in :mod:`scripts.bench_top`, software in :mod:`scripts.bench_software`,
``hotline_host`` in :mod:`scripts.bench_hotline`, ``distributed`` in
:mod:`scripts.bench_distributed`; the results file's schema and merging in
:mod:`scripts.bench_results`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from scripts.bench_banked import bench_banked_table  # noqa: E402
from scripts.bench_blocks import (bench_gather_engine, bench_micro_batch_scheduler,  # noqa: E402
                                  bench_popularity_table)
from scripts.bench_results import (PARTS, format_value, merge_results, ordered,  # noqa: E402,F401
                                   part_of)
from scripts.bench_software import bench_software  # noqa: E402
from scripts.bench_top import (TOP_LATENCY, TOP_SCALE, RTLMismatch,  # noqa: E402
                               hotline_top_figures, kaggle_sparse, run_hotline_top,
                               sim_speed_figures, speed_case, top_case)
from scripts.provenance import commit  # noqa: E402

RESULTS = REPO / "bench" / "results.json"
QUICK_RESULTS = REPO / "sim_build" / "bench_quick.json"

#: ``--quick``: token sizes for every part (see the module docstring).
QUICK = {"lanes": [4], "samples": 64, "scheduler_samples": 64, "gather_rows": 48,
         "top_learn": 256, "top_batch": 128, "top_working_sets": 1, "top_streamed": 2,
         "speed_learn": 64, "speed_batch": 64, "software_repeats": 1, "dlrm_samples": 1024,
         "dlrm_repeats": 1, "hotline_repeats": 1, "dist_samples": 2048, "banked_beats": 200}
#: ``--quick``: the software parts' mini-batches (a few of them, past the learning phase).
QUICK_SOFTWARE = {"batch_size": 64, "learn": 256}
#: ``--quick``: a Criteo file of ~900 lines over tiny tables, make sim without the RTL.
QUICK_CRITEO = {"scale": 2e-5, "table_scale": 1e-4,
                "sim_args": ("--no-rtl", "--set-bits", "6", "--batch-size", "100",
                             "--train-samples", "300", "--eval-samples", "50",
                             "--train-batch-size", "64")}
#: ``--quick``: one gather build (the rtl/ one) at one latency.
QUICK_GATHER = {"builds": ((128, 64),), "latencies": (200,)}


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated parts to run (default all: {','.join(PARTS)}); "
                             f"a subset merges into the existing --out")
    parser.add_argument("--quick", action="store_true",
                        help="every part on token sizes, into sim_build/bench_quick.json: "
                             "checks that the benchmark runs, measures nothing")
    parser.add_argument("--lanes", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--samples", type=int, default=1000, help="samples per traffic case")
    parser.add_argument("--scheduler-samples", type=int, default=2000,
                        help="samples per scheduler case")
    parser.add_argument("--gather-rows", type=int, default=1500,
                        help="rows gathered per gather engine case")
    parser.add_argument("--top-learn", type=int, default=4096,
                        help="whole accelerator: samples of the learning phase")
    parser.add_argument("--top-batch", type=int, default=1024,
                        help="whole accelerator: mini-batch size B (working sets of 4 x B)")
    parser.add_argument("--top-working-sets", type=int, default=3,
                        help="whole accelerator: working sets submitted one at a time")
    parser.add_argument("--top-streamed", type=int, default=3,
                        help="whole accelerator: working sets submitted back to back")
    parser.add_argument("--top-latency", type=int, default=TOP_LATENCY,
                        help="whole accelerator: host memory latency in cycles")
    parser.add_argument("--speed-learn", type=int, default=256,
                        help="simulation speed run: learning samples (then one working set "
                             "of 4 x --speed-batch)")
    parser.add_argument("--speed-batch", type=int, default=256)
    parser.add_argument("--native-learn", type=int, default=1024,
                        help="native_speed: learning samples (then one working set of "
                             "4 x 1024)")
    parser.add_argument("--native-idle-cycles", type=int, default=2_000_000,
                        help="native_speed: cycles of Verilator's own loop")
    parser.add_argument("--software-repeats", type=int, default=5)
    parser.add_argument("--dlrm-samples", type=int, default=16384)
    parser.add_argument("--dlrm-repeats", type=int, default=5)
    parser.add_argument("--hotline-repeats", type=int, default=7,
                        help="hotline_host: interleaved repeats per case (their median ratio)")
    parser.add_argument("--dist-samples", type=int, default=65536,
                        help="distributed part: training samples per torchrun launch")
    parser.add_argument("--criteo-scale", type=float, default=1.0,
                        help="criteo_files part: fraction of Kaggle's 45.8M lines written and "
                             "read (1: about 11 GB in a temporary directory)")
    parser.add_argument("--criteo-sim-args", default="",
                        help="criteo_files part: extra scripts/sim.py arguments")
    parser.add_argument("--banked-beats", type=int, default=1500,
                        help="banked_table part: beats per case (cycle model)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None,
                        help=f"results file (default {RESULTS.relative_to(REPO)}; with --quick "
                             f"{QUICK_RESULTS.relative_to(REPO)})")
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
    if args.out is None:
        args.out = QUICK_RESULTS if args.quick else RESULTS
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown or not parts:
        parser.error(f"unknown part(s) {unknown}; choose from {', '.join(PARTS)}")
    return args, parts


def run_top_parts(args, parts, *, old, figures, add, errors) -> None:
    """``hotline_top`` and ``sim_speed``: one Verilator build of the ``rtl/`` top serves both."""
    from hotline_hw.device_config import HotlineConfig

    top_config = HotlineConfig()                  # the rtl/ build
    size = 4 * args.top_batch
    total = max(args.top_learn + (args.top_working_sets + args.top_streamed) * size,
                args.speed_learn + 4 * args.speed_batch)
    sparse, sizes = kaggle_sparse(total, TOP_SCALE, args.seed)
    traffic = (f"SyntheticCriteo Kaggle shape: 26 lookups per sample, tables scaled by "
               f"{TOP_SCALE} ({sum(sizes):,} rows), Zipf 1.15, seed {args.seed}")
    cases = []
    if "hotline_top" in parts:
        cases.append(top_case("kaggle", batch_size=args.top_batch, working_set=4,
                              learn=args.top_learn, isolated=args.top_working_sets,
                              streamed=args.top_streamed, read_latency=args.top_latency,
                              seed=args.seed))
    speed = speed_case(args.speed_learn, args.speed_batch, args.seed)
    if "sim_speed" in parts:
        cases.append(speed)
    started = time.perf_counter()
    try:
        reports = run_hotline_top(cases=cases, sparse=sparse, sizes=sizes, config=top_config,
                                  sim="verilator")
    except (RTLMismatch, RuntimeError) as error:
        errors.append(str(error))
        return
    if "hotline_top" in parts:
        known = {**(old or {}).get("figures", {}), **figures}
        add("hotline_top", started, hotline_top_figures(
            reports["kaggle"], known=known, config=top_config, traffic=traffic,
            seconds=reports["_seconds"]))
    if "sim_speed" in parts:
        started = time.perf_counter()
        notes = {"verilator": f"build and run {reports['_seconds']:.0f} s (both parts)"}
        speed_reports = {"verilator": reports["speed"], "icarus": None}
        if shutil.which("iverilog") is None:
            notes["icarus"] = "iverilog is not installed: no figure"
        else:
            try:
                icarus = run_hotline_top(cases=[speed], sparse=sparse, sizes=sizes,
                                         config=top_config, sim="icarus",
                                         test_id="bench_hotline_top_icarus")
                speed_reports["icarus"] = icarus["speed"]
                notes["icarus"] = f"build and run {icarus['_seconds']:.0f} s"
            except (RTLMismatch, RuntimeError) as error:
                errors.append(f"icarus: {error}")
                notes["icarus"] = f"failed: {error}"
        add("sim_speed", started, sim_speed_figures(speed_reports, notes, speed))


def part_runners(args) -> dict:
    """Part -> a call returning ``(figures, goals, config)``; ``hotline_top`` and
    ``sim_speed`` run together in :func:`run_top_parts`."""
    gather = QUICK_GATHER if args.quick else {}
    software = QUICK_SOFTWARE if args.quick else {}

    def hotline_host():
        from scripts.bench_hotline import bench_hotline_host
        return bench_hotline_host(samples=args.dlrm_samples, repeats=args.hotline_repeats,
                                  seed=args.seed,
                                  **({"batch_size": software["batch_size"]} if software else {}))

    def distributed():
        from scripts.bench_distributed import bench_distributed
        return bench_distributed(samples=args.dist_samples, seed=args.seed,
                                 **({"eval_samples": args.dist_samples // 4}
                                    if args.quick else {}))

    def native_speed():
        from scripts.bench_native import bench_native_speed
        if args.quick:          # the tests' small build, tiny traffic, the cocotb run included
            return bench_native_speed(learn=64, batch_size=16, working_set=4,
                                      idle_cycles=50_000, seed=args.seed, quick=True)
        return bench_native_speed(learn=args.native_learn, idle_cycles=args.native_idle_cycles,
                                  seed=args.seed)

    def criteo_files():
        from scripts.bench_criteo import bench_criteo_files
        if args.quick:
            return bench_criteo_files(seed=args.seed, **QUICK_CRITEO)
        return bench_criteo_files(scale=args.criteo_scale, seed=args.seed,
                                  sim_args=tuple(args.criteo_sim_args.split()))

    return {
        "popularity_table": lambda: bench_popularity_table(args.lanes, args.samples, args.seed),
        "banked_table": lambda: bench_banked_table(
            beats=args.banked_beats, seed=args.seed, quick=args.quick,
            **({"plot": args.out.parent / "banked_table_quick.png"} if args.quick else {})),
        "micro_batch_scheduler": lambda: bench_micro_batch_scheduler(args.lanes,
                                                                     args.scheduler_samples),
        "gather_engine": lambda: bench_gather_engine(args.gather_rows, **gather),
        "software": lambda: bench_software(
            repeats=args.software_repeats, dlrm_samples=args.dlrm_samples,
            dlrm_repeats=args.dlrm_repeats, seed=args.seed, **software),
        "native_speed": native_speed,
        "hotline_host": hotline_host,
        "distributed": distributed,
        "criteo_files": criteo_files,
    }


def main(argv=None) -> int:
    args, parts = parse_arguments(argv)
    subset = set(parts) != set(PARTS)
    old = json.loads(args.out.read_text()) if args.out.exists() else None

    figures, goals, config, provenance, errors = {}, {}, {}, {}, []
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    tree = commit()

    def add(part, started, result):
        figures.update(result[0])
        goals.update(result[1])
        config.update(result[2])
        provenance[part] = {"commit": tree, "date": now,
                            "seconds": round(time.perf_counter() - started, 1)}

    runners = part_runners(args)
    for part in PARTS:
        if part not in parts:
            continue
        if part == "hotline_top" or (part == "sim_speed" and "hotline_top" not in parts):
            run_top_parts(args, parts, old=old, figures=figures, add=add, errors=errors)
        elif part in runners:
            started = time.perf_counter()
            try:
                add(part, started, runners[part]())
            except (RTLMismatch, RuntimeError) as error:
                errors.append(f"{part}: {error}")

    results = {"schema": 1, "commit": tree, "date": now, "parts": provenance,
               "config": config, "figures": ordered(figures), "goals": goals}
    if args.quick:
        results["quick"] = "token sizes (--quick): checks the benchmark runs; not measurements"
    if subset:
        results = merge_results(old, results, parts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")

    print(f"\n{'figure':72s} {'value':>10s}  goal")
    for key, value in results["figures"].items():
        mark = "" if part_of(key) in parts else " (kept)"
        print(f"{key:72s} {format_value(value):>10s}  {results['goals'].get(key, '')}{mark}")
    print("\nparts: " + ", ".join(f"{p} {v.get('seconds', '?')} s"
                                  for p, v in provenance.items()))
    print(f"written to {args.out}" + (" (merged: subset run)" if subset else ""))
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
