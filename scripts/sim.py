"""``make sim``: the accelerator on real DLRM traffic: learn, schedule, gather, train.

1. Data: the default data set (Kaggle-shaped synthetic Criteo, no download) or Criteo files
   (``--data``: raw TSV or CSV with header, ``.gz``, several files as one stream), in
   mini-batches. A file is read once before anything runs (:class:`~sw_driver.data.
   CriteoDataset`): its first ``--samples`` samples only, ids renumbered per table from that
   pass (``--ids vocabulary``, default) or hashed (``--ids hash``, ``--max-ind-range``), split
   into DLRM's pseudo-days or at random (``--split``). Every stage uses those ids, so the
   tables have as many rows as the data has distinct values, and the model's memory is
   estimated and printed first: a model that cannot fit (``--memory-limit``, default the
   memory available) stops at once, naming the flag that makes it fit.
2. Hot set (software, all the data): the first ``--learn-fraction`` of the mini-batches (5%, the
   paper's figure) train the popularity table's golden model in LEARN mode; the rest are
   classified in RUN mode: hit and popular-sample fractions beside oracle hot sets of the same
   capacity (exact counts: FAE's way).
3. RTL (``HotlineTop`` under Verilator, through the host driver's native backend,
   :mod:`tb.cosim_native`; ``--rtl-backend cocotb`` for the cocotb one, :mod:`tb.cosim_hotline`,
   at a tenth of the scale): a learning phase and working sets of the same data go through the
   RTL and through the golden-model backend with the same driver calls; every micro-batch beat,
   every gathered row, the learned hot set and the counters must be identical (``--no-rtl``
   skips this). Reported: popular fraction and cycles per working set, gather bandwidth.
4. DLRM on the RTL (PyTorch + Verilator): the first ``--rtl-train-samples`` training samples
   train DLRM on ``HotlineTop``'s own micro-batches and gathered rows, updated rows written back
   through its write-back engine (:class:`~sw_driver.dlrm.accelerator.AcceleratorTrainer`
   through the driver's native backend, :mod:`tb.dlrm_native`, on step 3's build; or the
   cocotb one, ``tb/test_dlrm_on_rtl.py``); the same training on the golden-model backend must
   give identical losses and parameters.
5. DLRM (PyTorch): baseline training and training on the accelerator's schedule (re-formed
   working sets, micro-batches and rows from the golden-model backend, which steps 3 and 4
   show the RTL equals), loss / accuracy / AUC on held-out samples (``--no-train`` skips
   steps 4 and 5).

Each stage's part of the report is printed when the stage ends (``stage N of M`` and a progress
bar while it runs, :mod:`sw_driver.console`); build logs and simulator output go to
``sim_build/make_sim.log`` (``VERBOSE=1``: to the terminal). With ``--json`` the report is also
written as JSON. Exit status 1 if the RTL differs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hotline_hw.model import (Mode, OracleProfiler, PopularityTable,  # noqa: E402
                              TableGeometry, hit_fraction, popular_fraction)
from sw_driver.console import Console  # noqa: E402
from sw_driver.console import ReadProgress  # noqa: E402
from sw_driver.data import CriteoDataset, CriteoFormatError, SyntheticCriteo  # noqa: E402

#: ``--ids hash`` without ``--max-ind-range``: the range DLRM's Criteo runs commonly use.
DEFAULT_HASH_RANGE = 10_000_000

LOG = Path(__file__).resolve().parent.parent / "sim_build" / "make_sim.log"


def open_dataset(args) -> CriteoDataset:
    """The ``--data`` files' first ``--samples`` samples, ids and split (one streaming pass,
    progress on a terminal). Raises CriteoFormatError / OSError / ValueError."""
    plain = all(not str(p).endswith(".gz") for p in args.data)
    total = sum(Path(p).stat().st_size for p in args.data) if plain and not args.samples \
        else None
    progress = ReadProgress(f"reading {args.data[0]}" + (
        f" (+{len(args.data) - 1} files)" if len(args.data) > 1 else ""), total_bytes=total)
    max_ind_range = args.max_ind_range
    if args.ids == "hash" and max_ind_range is None:
        max_ind_range = DEFAULT_HASH_RANGE
    try:
        dataset = CriteoDataset.open(args.data, ids=args.ids, max_ind_range=max_ind_range,
                                     samples=args.samples, split=args.split, seed=args.seed,
                                     short_lines=args.short_lines, progress=progress)
    finally:
        args.read_summary = progress.close()
    return dataset


def load_sparse(args, dataset: CriteoDataset | None) -> tuple[np.ndarray, str]:
    """The sparse features [N, T] of the data set, and its description."""
    if dataset is not None:
        return dataset.sparse(), dataset.describe()
    source = SyntheticCriteo(args.samples, scale=args.scale, seed=args.seed)
    sparse = source.generate_sparse(args.samples)
    rows = sum(source.table_sizes)
    return sparse, (f"synthetic Criteo Kaggle shape, scale {args.scale} ({rows:,} rows), "
                    f"Zipf 1.15, seed {args.seed}")


def memory_check(args, dataset: CriteoDataset):
    """The training run's memory estimate; ModelTooLargeError (naming the flags that make it
    fit) if training would exceed ``--memory-limit`` (default: the memory available)."""
    from sw_driver.dlrm.memory_estimate import (available_memory, check_dataset_fits,
                                                estimate_training_memory)

    limit = round(args.memory_limit * 1e9) if args.memory_limit else available_memory()
    args.memory_limit_bytes = limit
    held = dataset.n_samples + min(args.train_samples, len(dataset.split.train)) + min(
        args.eval_samples, len(dataset.split.test))
    if args.no_train:                                  # no model is built: nothing to refuse
        return estimate_training_memory(
            dataset.table_sizes, args.dim, samples_held=held,
            vocabulary_values=sum(dataset.table_sizes) if dataset.ids == "vocabulary" else 0)
    return check_dataset_fits(dataset, args.dim, limit_bytes=limit, samples_held=held)


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


def dense_ids(sparse: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """The rows ``sparse`` uses, numbered densely per table, and the resulting table sizes.
    The RTL runs see only a slice of the data: renumbering its rows (already the data set's
    dense or hashed ids) keeps the simulated host memory to the rows the slice uses."""
    columns = [np.unique(sparse[:, t], return_inverse=True) for t in range(sparse.shape[1])]
    dense = np.stack([inverse.ravel() for _, inverse in columns], axis=1).astype(np.int64)
    return dense, [len(values) for values, _ in columns]


def rtl_config(args, sparse: np.ndarray):
    """The ``HotlineTop`` build of the RTL stages (one build serves both on the native
    backend)."""
    from hotline_hw.device_config import HotlineConfig

    return HotlineConfig(
        geometry=TableGeometry(table_bits=5, row_bits=24, set_bits=args.set_bits,
                               ways=args.ways),
        lanes=args.lanes, table_in_bits=5, row_in_bits=24, sample_bits=32,
        max_lookups=-(-sparse.shape[1] // args.lanes) * args.lanes,
        capacity=args.rtl_batch_size * args.rtl_working_set, size_bits=16,
        working_set_bits=4, num_tables=sparse.shape[1], data_bits=128, addr_bits=48, id_bits=6,
        reads_in_flight=64, writes_in_flight=16, max_dim=args.dim)


def rtl_report(sparse: np.ndarray, sizes, args, stage=None) -> dict:
    """Co-simulate ``HotlineTop`` against the golden-model backend (see the module docstring)."""
    from tb.runner import BUILD_ROOT

    size = args.rtl_batch_size * args.rtl_working_set
    samples = sparse[:args.rtl_learn + args.rtl_working_sets * size]
    if args.data:
        samples, sizes = dense_ids(samples)
    config = rtl_config(args, sparse)
    common = dict(sparse=samples, sizes=sizes, config=config, dim=args.dim,
                  batch_size=args.rtl_batch_size, working_set=args.rtl_working_set,
                  learn=args.rtl_learn, seed=args.seed, read_latency=args.read_latency)
    if args.rtl_backend == "native":
        from tb.cosim_native import run

        progress = None if stage is None else (
            lambda done, total, note: stage.advance(done, total, note))
        report = run(progress=progress, **common)
    else:
        from tb.cosim_hotline import run

        report = run(work_dir=BUILD_ROOT / "make_sim", **common)
        report["backend"] = "cocotb"
    report["config"] = {"lanes": args.lanes, "entries": config.geometry.entries,
                        "capacity": size, "data_bits": 128, "dim": args.dim,
                        "reads_in_flight": 64, "read_latency": args.read_latency}
    return report


def training_data(args, dataset: CriteoDataset | None):
    """Training and held-out samples: the first ``--train-samples`` of the file's training
    part and ``--eval-samples`` of its test part (capped at what the split holds), or the
    generator's."""
    if dataset is not None:
        return dataset.train_block(args.train_samples), dataset.test_block(args.eval_samples)
    data = SyntheticCriteo(args.train_samples, scale=args.scale, seed=args.seed)
    return (data.generate(args.train_samples),
            data.generate(args.eval_samples, start=args.train_samples))


def dlrm_rtl_report(args, train, sizes, all_sparse: np.ndarray) -> dict:
    """DLRM trained on HotlineTop under Verilator == on the golden-model backend (native
    backend: the co-simulation's build, :mod:`tb.dlrm_native`; cocotb:
    :mod:`tb.test_dlrm_on_rtl`'s build and run)."""
    from sw_driver.data import SampleBlock
    from tb.runner import BUILD_ROOT

    block = train
    if len(block) < args.rtl_train_samples and not args.data:      # more of the same stream
        block = SyntheticCriteo(args.rtl_train_samples, scale=args.scale,
                                seed=args.seed).generate(args.rtl_train_samples)
    block = block[:args.rtl_train_samples]
    sparse = block.sparse
    if args.data:
        sparse, sizes = dense_ids(sparse)
    block = SampleBlock(block.dense_raw, sparse, block.labels)
    batch = args.train_batch_size
    learn_batches = max(1, round(args.learn_fraction * -(-len(block) // batch)))
    common = dict(table_sizes=sizes, data=block, batch_size=batch, working_set=4,
                  learn_batches=learn_batches, dim=args.dim, hidden=64, seed=args.seed,
                  read_latency=args.read_latency)
    if args.rtl_backend == "native":
        from tb.dlrm_native import run

        build = rtl_config(args, all_sparse)
        report = run(geometry=build.geometry, build=build, **common)
    else:
        from tb.test_dlrm_on_rtl import run

        geometry = TableGeometry(table_bits=5, row_bits=24, set_bits=args.rtl_train_set_bits,
                                 ways=args.ways)
        report = run(work_dir=BUILD_ROOT / "make_sim_dlrm", runs={"clean": "REFORMED"},
                     geometry=geometry, test_id="make_sim_dlrm", **common)["clean"]
        report["backend"] = "cocotb"
    report["config"] = {"samples": len(block), "batch_size": batch, "working_set": 4,
                        "learn_batches": learn_batches,
                        "entries": (build.geometry if args.rtl_backend == "native"
                                    else geometry).entries}
    return report


def train_report(args, sizes, train, held_out, stage=None) -> dict:
    """Baseline DLRM vs DLRM on the accelerator's re-formed schedule (golden-model backend),
    same data, same seed."""
    import torch

    from sw_driver.dlrm import (AcceleratorTrainer, BaselineTrainer, DLRMConfig, LRSchedule,
                                ScheduleMode, default_geometry)

    torch.set_num_threads(1)
    config = DLRMConfig.small(list(sizes), dim=args.dim, hidden=64)
    batch = args.train_batch_size
    steps = -(-len(train) // batch)
    common = dict(batch_size=batch, lr=0.1, lr_schedule=LRSchedule.decay_over(steps, 0.5),
                  seed=args.seed)
    geometry = default_geometry(config, set_bits=args.set_bits, ways=args.ways)
    out = {}
    builders = (
        ("baseline", lambda: BaselineTrainer(config, **common)),
        ("hotline", lambda: AcceleratorTrainer(config, mode=ScheduleMode.REFORMED,
                                               working_set=4,
                                               learn_fraction=args.learn_fraction,
                                               geometry=geometry, **common)))
    for done, (name, build) in enumerate(builders):
        if stage is not None:
            stage.advance(done, 2, name)
        # One trainer at a time: the memory estimate (PEAK_TABLE_COPIES) counts on it.
        trainer = build()
        result = trainer.train(train, eval_source=held_out)
        del trainer
        out[name] = {"metrics": {k: result.final[k] for k in ("accuracy", "auc", "logloss")},
                     "final_loss": float(np.mean(result.losses[-50:])),
                     "seconds": result.seconds,
                     "popular_fraction": result.stats.get("popular_fraction")}
    out["data"] = {"train": len(train), "held_out": len(held_out), "batch_size": batch,
                   "train_asked": args.train_samples, "held_out_asked": args.eval_samples,
                   "model": f"DLRM small (dim {args.dim}, MLPs 64 wide), SGD 0.1 decaying"}
    return out


def print_software(description: str, geometry: TableGeometry, sw: dict,
                   data_notes: list[str]) -> None:
    print(f"  data:  {description}")
    for note in data_notes:
        print(f"         {note}")
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


def print_rtl(rtl: dict) -> None:
    if rtl is not None:
        c = rtl["config"]
        backend = rtl.get("backend", "cocotb")
        print(f"  RTL: HotlineTop under Verilator ({c['lanes']} lanes, {c['entries']:,}-entry "
              f"table, {c['capacity']}-sample buffer, 128-bit AXI4, {c['reads_in_flight']} "
              f"reads in flight, memory latency {c['read_latency']} cycles), driven through "
              f"the host driver's {backend} backend, against the golden-model backend:")
        print(f"  {'phase':16s} {'samples':>8s} {'micro-b.':>8s} {'cold rows':>9s} "
              f"{'popular %':>9s} {'in pop. mb %':>12s} {'cycles':>9s} {'R beats/cyc':>11s}"
              f"  RTL == model")
        for phase in _phase_rows(rtl["phases"]):
            print(f"  {phase['name']:16s} {phase['samples']:8,d} {phase['micro_batches']:8,d} "
                  f"{phase['cold_rows']:9,d} {100 * phase['popular_samples']:9.1f} "
                  f"{100 * phase['popular_fraction']:12.1f} "
                  f"{phase['cycles']:9,d} {phase['bus_utilisation']:11.3f}  "
                  f"{'yes' if phase['identical'] else 'NO'}")
        print(f"  (popular %: samples whose lookups all hit; in pop. mb %: samples that left in "
              f"popular micro-batches of B; cycles from the first sample in to the last row "
              f"out, as fast as the {backend} driver feeds it)")
        hot = rtl["hot_set"]
        cycles = rtl.get("simulated_cycles")
        speed = (f" ({cycles:,} cycles, {cycles / rtl['simulation_seconds']:,.0f} cycles/s)"
                 if cycles else "")
        print(f"  learned hot set identical to the model's: {hot['identical']} "
              f"({hot['model_keys']:,} keys); counters equal: {rtl['counters_equal']}; "
              f"{rtl['simulation_seconds']:.0f} s of simulation{speed}")


def _phase_rows(phases: list[dict], shown: int = 3) -> list[dict]:
    """The phases to print: all of them, or (many working sets) the learning phase, the first
    ``shown`` working sets and one row summing the rest."""
    if len(phases) <= shown + 3:
        return phases
    head, rest = phases[:shown + 1], phases[shown + 1:]
    total = {key: sum(p[key] for p in rest) for key in
             ("samples", "micro_batches", "cold_rows", "cycles", "read_beats")}
    total["name"] = f"{len(rest)} more sets"
    for key in ("popular_samples", "popular_fraction"):
        total[key] = sum(p[key] * p["samples"] for p in rest) / max(total["samples"], 1)
    total["bus_utilisation"] = total["read_beats"] / max(total["cycles"], 1)
    total["identical"] = all(p["identical"] for p in rest)
    return head + [total]


def print_dlrm_rtl(dlrm_rtl: dict) -> None:
    if dlrm_rtl is not None:
        c, same = dlrm_rtl["config"], dlrm_rtl["identical"]
        print()
        print(f"  DLRM on the RTL ({dlrm_rtl.get('backend', 'cocotb')} backend): "
              f"{c['samples']:,} samples (B = {c['batch_size']}, "
              f"W = {c['working_set']}, {c['learn_batches']} learning mini-batches, "
              f"{c['entries']:,}-entry table): {dlrm_rtl['steps']} steps on HotlineTop's "
              f"micro-batches, {dlrm_rtl['rows_gathered']:,} rows gathered and "
              f"{dlrm_rtl['rows_written']:,} written back by it, {dlrm_rtl['cycles']:,} cycles")
        print(f"  identical to the golden-model backend: losses {same['losses']}, working sets "
              f"{same['working_sets']}, counters {same['counters']}, parameters "
              f"{dlrm_rtl['parameter_difference']['max'] == 0.0} (max |difference| "
              f"{dlrm_rtl['parameter_difference']['max']})")


def print_train(train: dict) -> None:
    if train is not None:
        b, h = train["baseline"], train["hotline"]
        print()
        data = train["data"]
        print(f"  DLRM ({data['model']}; {data['train']:,} samples, "
              f"{data['held_out']:,} held out):")
        if (data["train"], data["held_out"]) != (data["train_asked"], data["held_out_asked"]):
            print(f"  (--train-samples {data['train_asked']:,} / --eval-samples "
                  f"{data['held_out_asked']:,}: the data's split holds only these)")
        print(f"  {'':24s} {'accuracy':>9s} {'AUC':>8s} {'logloss':>8s} {'final loss':>10s}")
        for name, row in (("baseline", b), ("Hotline (re-formed)", h)):  # on the model device
            m = row["metrics"]
            print(f"  {name:24s} {m['accuracy']:9.4f} {m['auc']:8.4f} {m['logloss']:8.4f} "
                  f"{row['final_loss']:10.4f}")
        diff = {k: h["metrics"][k] - b["metrics"][k] for k in b["metrics"]}
        print(f"  difference: accuracy {diff['accuracy']:+.4f}, AUC {diff['auc']:+.4f}, "
              f"logloss {diff['logloss']:+.4f}; popular samples in training "
              f"{100 * (h['popular_fraction'] or 0):.1f}%")


def _report(console: Console, printer, *args) -> None:
    """``printer``'s lines as part of the report."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        printer(*args)
    console.report(buffer.getvalue().rstrip("\n"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+",
                        help="Criteo files: raw TSV (Kaggle train.txt, Terabyte day_N) or CSV "
                             "with header, .gz allowed, several read as one stream (default: "
                             "synthetic Kaggle shape)")
    parser.add_argument("--ids", choices=("vocabulary", "hash"), default="vocabulary",
                        help="with --data: row ids renumbered per table from a first pass "
                             "(default; tables as large as the data's distinct values) or "
                             "hashed (hash %% --max-ind-range, every table that large)")
    parser.add_argument("--max-ind-range", type=int, default=None,
                        help="with --data: hash %% this (DLRM's max_ind_range; --ids hash "
                             f"default {DEFAULT_HASH_RANGE:,}; with --ids vocabulary applied "
                             "before renumbering)")
    parser.add_argument("--split", choices=("day", "random"), default="day",
                        help="with --data: DLRM's 7 pseudo-days in time order (train on days "
                             "0-5, hold out the first half of day 6) or a seeded random split")
    parser.add_argument("--short-lines", choices=("pad", "raise"), default="pad",
                        help="with --data: lines missing trailing fields are read with them "
                             "empty and counted (pad) or refused (raise)")
    parser.add_argument("--memory-limit", type=float, default=None,
                        help="with --data: GB the training may use (default: the memory "
                             "available now); a larger model is refused before it is built")
    parser.add_argument("--samples", type=int, default=400_000,
                        help="samples to use (synthetic: generated; --data: the first N are "
                             "read, no further; 0 = all)")
    parser.add_argument("--scale", type=float, default=0.01,
                        help="synthetic table sizes as a fraction of Criteo Kaggle's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--learn-fraction", type=float, default=0.05)
    parser.add_argument("--set-bits", type=int, default=12, help="sets = 2**set_bits")
    parser.add_argument("--ways", type=int, default=4)
    parser.add_argument("--lanes", type=int, default=4, help="RTL lookup lanes")
    parser.add_argument("--dim", type=int, default=16, help="embedding dimension")
    parser.add_argument("--rtl-backend", choices=("native", "cocotb"), default="native",
                        help="the driver's backend for the RTL co-simulation (native: C++ "
                             "harness, default scale; cocotb: the regression's, use a tenth "
                             "of the scale)")
    parser.add_argument("--rtl-learn", type=int, default=None,
                        help="samples of the RTL's learning phase (default 40,960; cocotb "
                             "backend 4,096)")
    parser.add_argument("--rtl-batch-size", type=int, default=128)
    parser.add_argument("--rtl-working-set", type=int, default=8)
    parser.add_argument("--rtl-working-sets", type=int, default=None,
                        help="working sets run through the RTL after learning (default 60; "
                             "cocotb backend 6)")
    parser.add_argument("--read-latency", type=int, default=100,
                        help="host memory latency in cycles (RTL run)")
    parser.add_argument("--no-rtl", action="store_true", help="skip the Verilator run")
    parser.add_argument("--train-samples", type=int, default=60_000)
    parser.add_argument("--eval-samples", type=int, default=20_000)
    parser.add_argument("--train-batch-size", type=int, default=128)
    parser.add_argument("--rtl-train-samples", type=int, default=None,
                        help="samples of DLRM training on the RTL (0: none; default 81,920, "
                             "cocotb backend 8,192)")
    parser.add_argument("--rtl-train-set-bits", type=int, default=10,
                        help="cocotb backend: popularity table sets = 2**this in the "
                             "DLRM-on-RTL build (its hot set is read back over AXI4-Lite, one "
                             "entry at a time; the native backend uses the co-simulation's "
                             "build)")
    parser.add_argument("--no-train", action="store_true", help="skip DLRM training")
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args(argv)
    native = args.rtl_backend == "native"          # the native backend runs 10x the samples
    for name, at_scale, cocotb_scale in (("rtl_learn", 40_960, 4096),
                                         ("rtl_working_sets", 60, 6),
                                         ("rtl_train_samples", 81_920, 8192)):
        if getattr(args, name) is None:
            setattr(args, name, at_scale if native else cocotb_scale)

    from sw_driver.dlrm.memory_estimate import ModelTooLargeError

    dataset, data_notes = None, []
    try:
        if args.data:
            dataset = open_dataset(args)
            estimate = memory_check(args, dataset)
            data_notes = [f"read once: {args.read_summary}", f"split: {dataset.split.describe()}",
                          f"model memory: {estimate.describe()}; limit "
                          f"{args.memory_limit_bytes / 1e9:.1f} GB"]
        sparse, description = load_sparse(args, dataset)
    except (CriteoFormatError, OSError, ValueError, ModelTooLargeError) as error:
        print(f"error: {error}", file=sys.stderr)        # names the file and the line, or
        return 2                                         # the flag that makes the model fit
    n_batches = -(-len(sparse) // args.batch_size)
    n_learn = max(1, round(n_batches * args.learn_fraction)) * args.batch_size
    n_learn = min(n_learn, len(sparse) - 1)
    geometry = TableGeometry(table_bits=5, row_bits=24, set_bits=args.set_bits, ways=args.ways)
    if sparse.shape[1] > geometry.key_layout.num_tables:
        parser.error(f"{sparse.shape[1]} tables do not fit table_bits={geometry.table_bits}")

    stages = ["hot set (software)"] + ([] if args.no_rtl else ["RTL co-simulation"]) + (
        [] if args.no_train or args.no_rtl or not args.rtl_train_samples
        else ["DLRM on the RTL"]) + ([] if args.no_train else ["DLRM training"])
    console = Console(stages, log=LOG, title="hotline make sim")
    with console.stage("hot set (software)"):
        sw = software_report(sparse, geometry, n_learn)
        sizes = table_sizes(args, dataset)
    _report(console, print_software, description, geometry, sw, data_notes)
    rtl = dlrm_rtl = train = None
    if "RTL co-simulation" in stages:
        with console.stage("RTL co-simulation") as stage:
            rtl = rtl_report(sparse, sizes, args, stage)
        _report(console, print_rtl, rtl)
    if not args.no_train:
        train_block, held_out = training_data(args, dataset)
        if "DLRM on the RTL" in stages:
            with console.stage("DLRM on the RTL"):
                dlrm_rtl = dlrm_rtl_report(args, train_block, sizes, sparse)
            _report(console, print_dlrm_rtl, dlrm_rtl)
        with console.stage("DLRM training") as stage:
            train = train_report(args, sizes, train_block, held_out, stage)
        _report(console, print_train, train)
    console.report()
    if args.json:
        args.json.write_text(json.dumps({"data": description, "software": sw, "rtl": rtl,
                                         "dlrm_rtl": dlrm_rtl, "train": train}, indent=2))
    failed = [name for name, report in (("co-simulation", rtl), ("DLRM on the RTL", dlrm_rtl))
              if report is not None and not report["passed"]]
    if failed:
        print(f"error: the RTL differs from the golden model ({', '.join(failed)})",
              file=sys.stderr)
        return 1
    return 0


def table_sizes(args, dataset: CriteoDataset | None) -> list[int]:
    """Rows per table: the generator's, or the data set's under its id mapping (never the
    largest raw id)."""
    if dataset is not None:
        return list(dataset.table_sizes)
    return list(SyntheticCriteo(1, scale=args.scale, seed=args.seed).table_sizes)


if __name__ == "__main__":
    sys.exit(main())
