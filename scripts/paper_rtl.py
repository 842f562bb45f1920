"""``make paper``'s RTL stage: the paper's experiment on ``HotlineTop`` itself, through the
host driver's fastest backend (:class:`~sw_driver.native.NativeTransport`: Verilator under a
C++ harness), checked against the golden model.

``make paper-rtl`` runs it at the paper's 2M entries (``--set-bits 19``; about an hour, 17 GB,
``docs/paper/rtl_2m.json``). ``make paper``'s build is ``rtl/hotline_top.v`` as committed
(:class:`HotlineConfig` defaults): 65,536 EAL entries (16K sets x 4 ways), 4096 held
samples, 4 lanes, 128-bit AXI4. 65,536 entries are the paper's 2M at scale 1/32, so the data are Kaggle-shaped at that scale (1.05M rows, a
1.43M-sample epoch) and the learning window is the paper's: 5% of that epoch's mini-batches of
1024 (71,680 samples, every lookup gathered from host memory), then ``working_sets`` working
sets of 4 x 1024 in ``RUN`` (25 by default: 102,400 run-phase samples).

Checks (:func:`tb.cosim_native.run`): the golden-model backend gets the same driver calls and
every micro-batch beat, every gathered row, the learned hot set (read back entry by entry) and
the counters must be identical; and the count of run-phase popular samples must equal the
fast path's (:func:`~hotline_hw.model.fast_table.learn_many` + ``FrozenTable``, what the
software experiment uses) on the same samples and geometry. Host memory answers after 40
cycles, in any order. The wall time of the whole stage (build excluded) is recorded.
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

from hotline_hw.device_config import HotlineConfig  # noqa: E402
from hotline_hw.model.fast_table import FrozenTable, learn_many  # noqa: E402
from hotline_hw.model.popularity_table import Mode, PopularityTable  # noqa: E402
from scripts.paper_popularity import PAPER_ENTRIES  # noqa: E402
from scripts.paper_shapes import SHAPES  # noqa: E402

__all__ = ["run_rtl"]

BATCH, WORKING_SET, DIM = 1024, 4, 16


def run_rtl(*, working_sets: int = 25, seed: int = 0, config: HotlineConfig | None = None,
            batch_size: int = BATCH, learn_samples: int | None = None,
            progress: bool = False) -> dict:
    """The RTL stage (module docstring). ``config``, ``batch_size`` and ``learn_samples``
    change the build, the mini-batch and the window (tests use a small build)."""
    from tb.cosim_native import run

    config = config or HotlineConfig()
    entries = config.geometry.entries
    scale = entries / PAPER_ENTRIES
    spec = SHAPES["kaggle"]
    epoch = round(spec.epoch * scale)
    if learn_samples is None:
        learn_samples = math.ceil(spec.window * -(-epoch // batch_size)) * batch_size
    n = learn_samples + working_sets * WORKING_SET * batch_size
    source = spec.source(epoch, scale=scale, seed=seed)
    sparse = source.generate_sparse(n)
    sizes = list(source.table_sizes)
    if max(sizes) > 1 << config.row_in_bits or len(sizes) > config.num_tables:
        raise ValueError(f"the build takes {config.num_tables} tables of at most "
                         f"2**{config.row_in_bits} rows, not {len(sizes)} of {max(sizes)}")

    def note(done, total, name):
        if progress:
            print(f"\r[paper] RTL: {done:,}/{total:,} samples ({name})    ", end="",
                  file=sys.stderr, flush=True)

    started = time.perf_counter()
    report = run(sparse=sparse, sizes=sizes, config=config, dim=DIM, batch_size=batch_size,
                 working_set=WORKING_SET, learn=learn_samples, seed=seed, progress=note)
    if progress:
        print(file=sys.stderr)
    wall = time.perf_counter() - started
    run_phases = [p for p in report["phases"] if p["name"] != "learn"]
    rtl_popular = round(sum(p["popular_samples"] * p["samples"] for p in run_phases))
    # The software experiment's fast path on the same samples and geometry.
    table = PopularityTable(config.geometry, Mode.LEARN)
    tables = np.broadcast_to(np.arange(sparse.shape[1]), sparse.shape)
    learn_many(table, tables[:learn_samples], sparse[:learn_samples])
    table.mode = Mode.RUN
    hit, _, _ = FrozenTable(table, dense_rows=sizes).lookup_many(
        tables[learn_samples:], sparse[learn_samples:])
    fast_popular = int(hit.reshape(n - learn_samples, -1).all(axis=1).sum())
    run_samples = n - learn_samples
    return {
        "build": "rtl/hotline_top.v" if config == HotlineConfig() else "generated",
        "entries": entries, "ways": config.geometry.ways, "lanes": config.lanes,
        "scale": scale, "epoch": epoch, "rows": int(sum(sizes)), "batch_size": batch_size,
        "working_set": WORKING_SET, "learn_samples": learn_samples, "run_samples": run_samples,
        "popular_fraction": rtl_popular / max(1, run_samples),
        "fast_path_popular_fraction": fast_popular / max(1, run_samples),
        "rtl_equals_model": bool(report["passed"]),
        "fast_path_equal": rtl_popular == fast_popular,
        "hot_set_keys": report["hot_set"]["model_keys"],
        "mismatches": report["mismatches"], "counters_equal": report["counters_equal"],
        "simulated_cycles": report["simulated_cycles"],
        "simulation_seconds": round(report["simulation_seconds"], 1),
        "build_seconds": round(report["build_seconds"], 1),
        "wall_seconds": round(wall, 1),
        "cycles_per_second": report["simulated_cycles"] / max(report["simulation_seconds"], 1e-9),
        "passed": bool(report["passed"]) and rtl_popular == fast_popular,
    }


def config_with_set_bits(set_bits: int | None) -> HotlineConfig | None:
    """The ``rtl/`` build's configuration with ``2**set_bits`` EAL sets (None: the ``rtl/`` build
    itself). Everything else (4 lanes, 128-bit AXI4, 4096 held samples) stays."""
    if set_bits is None:
        return None
    import dataclasses

    default = HotlineConfig()
    return dataclasses.replace(default, geometry=dataclasses.replace(
        default.geometry, set_bits=set_bits))


def main(argv=None) -> int:
    """The RTL stage on its own, e.g. at the paper's 2M entries (``--set-bits 19``: 512K sets x
    4 ways), written as JSON (what ``make paper`` records under ``rtl``)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("--set-bits", type=int, default=None,
                        help="EAL sets = 2**N (default: the rtl/ build's 2**14)")
    parser.add_argument("--working-sets", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = run_rtl(working_sets=args.working_sets, seed=args.seed,
                     config=config_with_set_bits(args.set_bits), progress=args.progress)
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
