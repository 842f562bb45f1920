"""``make paper``: the paper's popularity experiment at the paper's scale, on the golden model.

One epoch of Kaggle-shaped synthetic data (:class:`~sw_driver.data.SyntheticCriteo`: 26 tables,
33.8M rows and a 45.8M-sample epoch at ``--scale 1``) is streamed in chunks (never held whole)
through the golden model's fast paths (:func:`~hotline_hw.model.fast_table.learn_many`, the
:class:`~hotline_hw.model.fast_table.FrozenTable` lookups, the
:class:`~hotline_hw.model.fast_scheduler.FastMicroBatchScheduler`, all proven equal to the
golden models), and ``docs/paper/results.json`` receives, each figure beside the paper's:

``popular``
    Popular-input share (every lookup of the input is a popular row) of the samples after the
    learning window, for the SRRIP EAL (learned on the first ``window`` of the mini-batches,
    then frozen), the oracle LFU of the same capacity (the rows most accessed over the whole
    epoch) and FAE's offline top-N (5% of the inputs sampled, small tables whole; same number
    of rows) (the paper's Fig. 10: Kaggle 76% oracle, 70% SRRIP).
``capacity``, ``ways``, ``window``
    The SRRIP share vs the EAL's entries (64K to 8M at scale 1, scaled with the tables), vs
    its ways (2 to 16), vs the learning window (1%, 5%, 20%) (Fig. 23's question).
``working_set``
    Share of the samples that leave in popular micro-batches vs the working set W = 1..8 at
    B = 1024, 2048, 4096 (the re-formed schedule of the scheduler model; Fig. 22's question).
``bytes``
    Embedding bytes between host memory and the training device per epoch, counted per step:
    the baseline moves each mini-batch's distinct rows to the device and back; Hotline
    gathers and writes back each step's distinct cold rows (every row in the learning phase),
    plus the hot set's one move (Table 6's question: 2.7x less).

Sizes scale with ``--scale`` (tables and EAL capacities); ``--samples`` defaults to Kaggle's
epoch. ``--quick`` runs scale 0.01 on 200K samples with a reduced sweep (tested by
``tests/test_paper.py``). ``--shape terabyte`` takes Criteo Terabyte's table sizes.

``calibration``
    The generator against the published statistics: the access share of the top 6.8% of rows
    (Kaggle: >= 76%), the oracle's popular share at a 512 MB hot set (Kaggle: 75.8%), and the
    access CDF (plotted with Kaggle's point). Measured, not fitted.

Not here yet (issue 16): fitting the generator where it misses, the Avazu shape and reader, the
run on the RTL, drift and re-learning.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from hotline_hw.model.fast_scheduler import FastMicroBatchScheduler  # noqa: E402
from hotline_hw.model.fast_table import FrozenTable, learn_many  # noqa: E402
from hotline_hw.model.popularity_table import Mode, PopularityTable, TableGeometry  # noqa: E402
from hotline_hw.model.scheduler import MicroBatchKind, ScheduleMode  # noqa: E402
from scripts.provenance import commit  # noqa: E402
from sw_driver.data import KAGGLE_N_SAMPLES, SyntheticCriteo, scaled_table_sizes  # noqa: E402
from sw_driver.dlrm.fae_profile import classify_inputs, profile_inputs  # noqa: E402

RESULTS = REPO / "docs" / "paper" / "results.json"
#: The paper's EAL: 2M entries (4 MB), 4 ways, learned on 5% of the mini-batches.
PAPER_ENTRIES, PAPER_WAYS, PAPER_WINDOW = 1 << 21, 4, 0.05
CAPACITIES = tuple(1 << b for b in range(16, 24))          # 64K .. 8M entries at scale 1
WAYS = (2, 4, 8, 16)
WINDOWS = (0.01, 0.05, 0.2)
WORKING_SETS = tuple(range(1, 9))
BATCHES = (1024, 2048, 4096)
DIM = 16                                                   # Kaggle's embedding dimension
#: Criteo Terabyte's 26 tables at dlrm's ``max_ind_range=10000000`` (shared/reference/data.md).
TERABYTE_TABLE_SIZES = (
    9980333, 36084, 17217, 7378, 20134, 3, 7112, 1442, 61, 9758201, 1333352, 313829, 10, 2208,
    11156, 122, 4, 970, 14, 9994222, 7267859, 9946608, 415421, 12420, 101, 36)
#: What the paper reports per data set (Fig. 10: oracle, SRRIP popular inputs).
PAPER_BY_SHAPE = {"kaggle": (0.76, 0.70), "terabyte": (0.81, 0.79)}
#: What the paper reports for the Kaggle data set (our reading, ../shared/reference).
PAPER = {"popular.oracle": 0.76, "popular.srrip": 0.70, "bytes.baseline_over_hotline": 2.7,
         "calibration.top_6.8%_access_share": 0.76, "calibration.oracle_popular_at_512MB": 0.758}


def eal_geometry(entries: int, ways: int, sizes) -> TableGeometry:
    """An EAL of ``entries`` (a power of two) in ``ways`` ways for tables of ``sizes``."""
    set_bits = max(0, int(math.log2(max(1, entries // ways))))
    row_bits = max(1, (int(max(sizes)) - 1).bit_length())
    table_bits = max(1, (len(sizes) - 1).bit_length())
    return TableGeometry(table_bits=table_bits, row_bits=row_bits, set_bits=set_bits, ways=ways)


def scaled_entries(entries: int, scale: float) -> int:
    """``entries`` scaled like the tables, rounded to a power of two (at least 64 x ways)."""
    return 1 << max(8, round(math.log2(max(1.0, entries * scale))))


class Eal:
    """One EAL configuration: learns on its window, then answers lookups frozen."""

    def __init__(self, name: str, entries: int, ways: int, window: float, sizes,
                 batch_size: int, n: int):
        self.name, self.entries, self.ways, self.window = name, entries, ways, window
        self.geometry = eal_geometry(entries, ways, sizes)
        self.table = PopularityTable(self.geometry, Mode.LEARN)
        self.learn_samples = min(n, math.ceil(window * -(-n // batch_size)) * batch_size)
        self.sizes = sizes
        self.frozen: FrozenTable | None = None
        self.popular = 0
        self.run_samples = 0

    def offer(self, start: int, sparse: np.ndarray, tables: np.ndarray) -> np.ndarray | None:
        """Learn from the samples of the window in this chunk; classify the rest. Returns the
        popular flags of the chunk's run-phase samples (``None`` if it had none)."""
        learn = max(0, min(len(sparse), self.learn_samples - start))
        if learn:
            learn_many(self.table, tables[:learn], sparse[:learn])
        if learn == len(sparse):
            return None
        if self.frozen is None:
            self.table.mode = Mode.RUN
            self.frozen = FrozenTable(self.table, dense_rows=self.sizes)
        rest = sparse[learn:]
        hit, _, _ = self.frozen.lookup_many(tables[:len(rest)], rest)
        popular = hit.reshape(rest.shape).all(axis=1)
        self.popular += int(popular.sum())
        self.run_samples += len(rest)
        return popular

    def result(self) -> dict:
        return {"entries": self.entries, "ways": self.ways, "window": self.window,
                "learn_samples": self.learn_samples, "run_samples": self.run_samples,
                "popular_fraction": self.popular / self.run_samples if self.run_samples else None,
                "valid_entries": int(np.count_nonzero(self.table.dump()["valid"]))}


class ScheduleCounter:
    """The re-formed scheduler over popular flags: samples leaving in popular micro-batches."""

    def __init__(self, working_set: int, batch_size: int):
        self.scheduler = FastMicroBatchScheduler(batch_size=batch_size, working_set=working_set,
                                                 mode=ScheduleMode.REFORMED)
        self.in_popular = self.samples = 0

    def push(self, ids: np.ndarray, popular: np.ndarray) -> list:
        out = self.scheduler.push_many(ids, popular)
        self.samples += len(ids)
        self.in_popular += sum(b.size for b in out if b.kind is MicroBatchKind.POPULAR)
        return out

    def flush(self) -> list:
        out = self.scheduler.flush()
        self.in_popular += sum(b.size for b in out if b.kind is MicroBatchKind.POPULAR)
        return out


def distinct_rows(keys: np.ndarray) -> int:
    return int(len(np.unique(keys)))


class MiniBatchRows:
    """Distinct rows per mini-batch of ``batch`` samples, summed, over keys fed in chunks
    (a mini-batch may straddle two chunks)."""

    def __init__(self, batch: int):
        self.batch, self.rows, self.tail = batch, 0, None

    def feed(self, keys: np.ndarray) -> None:
        if self.tail is not None and len(self.tail):
            keys = np.concatenate([self.tail, keys])
        whole = len(keys) - len(keys) % self.batch
        for b0 in range(0, whole, self.batch):
            self.rows += distinct_rows(keys[b0:b0 + self.batch])
        self.tail = keys[whole:]

    def finish(self) -> int:
        if self.tail is not None and len(self.tail):
            self.rows += distinct_rows(self.tail)
        self.tail = None
        return self.rows


def run(*, scale: float, n: int, seed: int, chunk: int, capacities, ways_list, windows,
        working_sets, batches, progress: bool, shape: str = "kaggle") -> dict:
    if shape == "kaggle":
        source = SyntheticCriteo(n, scale=scale, seed=seed)
    elif shape == "terabyte":
        source = SyntheticCriteo(n, table_sizes=scaled_table_sizes(scale, TERABYTE_TABLE_SIZES),
                                 seed=seed)
    else:
        raise ValueError(f'shape must be "kaggle" or "terabyte", not {shape!r}')
    sizes = np.asarray(source.table_sizes, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])[:-1]
    n_tables = len(sizes)
    base_entries = scaled_entries(PAPER_ENTRIES, scale)
    batch = BATCHES[0]
    configs = {}
    for c in capacities:
        e = scaled_entries(c, scale)
        configs[f"capacity.{c}"] = (e, PAPER_WAYS, PAPER_WINDOW)
    for w in ways_list:
        configs[f"ways.{w}"] = (base_entries, w, PAPER_WINDOW)
    for f in windows:
        configs[f"window.{f:g}"] = (base_entries, PAPER_WAYS, f)
    configs["paper"] = (base_entries, PAPER_WAYS, PAPER_WINDOW)
    # Configurations that are the same EAL share one table.
    unique: dict[tuple, Eal] = {}
    for name, (e, w, f) in configs.items():
        if (e, w, f) not in unique:
            unique[(e, w, f)] = Eal(name, e, w, f, sizes, batch, n)
    paper = unique[configs["paper"]]

    counts = np.zeros(int(sizes.sum()), dtype=np.int64)
    fae_rng = np.random.default_rng(np.random.SeedSequence([seed, 21]))
    fae_picks = np.sort(fae_rng.integers(0, n, size=int(0.05 * n)))
    fae_sample = []
    schedulers = {(w, b): ScheduleCounter(w, b) for w in working_sets for b in batches}
    # Bytes: the baseline's distinct rows per mini-batch; Hotline's per step (W=4, B=1024).
    row_bytes = DIM * 4
    bytes_ = {"baseline_rows": 0, "hotline_learn_rows": 0, "hotline_cold_rows": 0}
    bytes_scheduler = FastMicroBatchScheduler(batch_size=batch, working_set=4,
                                              mode=ScheduleMode.REFORMED)
    # The run-phase samples the scheduler may still hold (at most a working set, so the last
    # two chunks): their keys and which lookups are cold, from sample id ``held["base"]`` on.
    held = {"base": 0, "keys": np.zeros((0, n_tables), np.int64),
            "cold": np.zeros((0, n_tables), bool), "scheduled": 0}

    def count_steps(batches_out):
        for b in batches_out:
            rows = b.sample_ids - held["base"]
            if rows.size and rows.min() < 0:
                raise RuntimeError("a micro-batch names a sample no longer held")
            cold = held["cold"][rows]
            held["scheduled"] += len(rows)
            if b.kind is MicroBatchKind.POPULAR:
                if cold.any():
                    raise RuntimeError("a popular micro-batch has a cold lookup")
                continue
            bytes_["hotline_cold_rows"] += distinct_rows(held["keys"][rows][cold])

    def hold(first_id, keys, cold):
        drop = max(0, len(held["keys"]) - chunk)         # keep the previous chunk, at most
        held["base"] += drop
        held["keys"] = np.concatenate([held["keys"][drop:], keys])
        held["cold"] = np.concatenate([held["cold"][drop:], cold])
        if held["base"] + len(held["keys"]) != first_id + len(keys):
            raise RuntimeError("run-phase samples out of order")

    baseline_rows, learn_rows = MiniBatchRows(batch), MiniBatchRows(batch)
    started = time.perf_counter()
    tables = np.broadcast_to(np.arange(n_tables, dtype=np.int64), (chunk, n_tables))
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        sparse = source.generate_sparse(size, start=start)
        keys = sparse + offsets
        counts += np.bincount(keys.ravel(), minlength=len(counts))
        lo, hi = np.searchsorted(fae_picks, [start, start + size])
        if hi > lo:
            fae_sample.append(sparse[fae_picks[lo:hi] - start])
        baseline_rows.feed(keys)                              # baseline: per mini-batch
        for eal in unique.values():
            popular = eal.offer(start, sparse, tables[:size])
            if eal is not paper or popular is None:
                continue
            run_from = size - len(popular)
            ids = np.arange(start + run_from, start + size)
            for counter in schedulers.values():
                counter.push(ids, popular)
            hit, _, _ = paper.frozen.lookup_many(tables[:len(popular)], sparse[run_from:])
            if not len(held["keys"]):
                held["base"] = int(ids[0])
            hold(int(ids[0]), keys[run_from:], ~hit.reshape(len(popular), n_tables))
            count_steps(bytes_scheduler.push_many(ids, popular))
        learn_end = min(size, max(0, paper.learn_samples - start))
        learn_rows.feed(keys[:learn_end])                     # Hotline's learning phase
        if progress:
            done = start + size
            rate = done / (time.perf_counter() - started)
            print(f"\r[paper] {done:,}/{n:,} samples ({rate:,.0f}/s)", end="", file=sys.stderr,
                  flush=True)
    if progress:
        print(file=sys.stderr)
    bytes_["baseline_rows"] = baseline_rows.finish()
    bytes_["hotline_learn_rows"] = learn_rows.finish()
    for counter in schedulers.values():
        counter.flush()
    count_steps(bytes_scheduler.flush())
    if held["scheduled"] != paper.run_samples:
        raise RuntimeError(f"{paper.run_samples - held['scheduled']} run-phase samples were "
                           f"never scheduled")

    # Second pass: the oracle LFU (top rows by the epoch's counts) and FAE's top-N.
    rank = np.empty(len(counts), dtype=np.int64)
    rank[np.argsort(-counts, kind="stable")] = np.arange(len(counts))
    profile = profile_inputs(np.concatenate(fae_sample), sizes, DIM, sample_rate=1.0,
                             budget_bytes=paper.entries * 4 * DIM,
                             small_table_bytes=round((1 << 20) * scale), seed=seed)
    max_rank_hist = np.zeros(len(counts) + 1, dtype=np.int64)
    fae_hot = fae_total = 0
    for start in range(paper.learn_samples, n, chunk):
        size = min(chunk, n - start)
        sparse = source.generate_sparse(size, start=start)
        worst = rank[sparse + offsets].max(axis=1)
        max_rank_hist += np.bincount(worst, minlength=len(max_rank_hist))
        fae_hot += int(classify_inputs(sparse, profile).sum())
        fae_total += size
    cumulative = np.cumsum(max_rank_hist)

    def oracle(entries: int) -> float:
        return float(cumulative[min(entries, len(counts)) - 1] / max(1, cumulative[-1]))

    # The generator against the published statistics: the access share of the most accessed
    # rows (Kaggle: the top 6.8% take >= 76%), and the oracle's popular share at a 512 MB hot
    # set (8M rows of 64 B at scale 1; Kaggle: 75.8%).
    ordered_counts = np.sort(counts)[::-1]
    share = np.cumsum(ordered_counts) / max(1, ordered_counts.sum())
    fractions = np.unique(np.concatenate([np.geomspace(1e-4, 1, 60), [0.068]]))
    cdf = {f"{f:.6g}": float(share[max(0, math.ceil(f * len(share)) - 1)]) for f in fractions}
    hot_512mb = scaled_entries((512 << 20) // (4 * DIM), scale)
    calibration = {"top_6.8%_access_share": cdf["0.068"],
                   "oracle_popular_at_512MB": oracle(hot_512mb), "rows_at_512MB": hot_512mb,
                   "access_cdf": cdf}

    results = {name: unique[key].result() for name, key in configs.items()}
    baseline_bytes = 2 * bytes_["baseline_rows"] * row_bytes
    hotline_bytes = 2 * (bytes_["hotline_learn_rows"] + bytes_["hotline_cold_rows"]) \
        * row_bytes + int(np.count_nonzero(paper.table.dump()["valid"])) * row_bytes
    return {
        "shape": shape, "scale": scale, "samples": n, "seed": seed, "rows": int(sizes.sum()),
        "eal_entries": {"paper_scaled": base_entries},
        "popular": {"srrip": paper.result()["popular_fraction"],
                    "oracle": oracle(paper.entries),
                    "fae_top_n": fae_hot / fae_total if fae_total else None,
                    "fae_hot_rows": int(profile.num_hot)},
        "capacity": {str(results[f"capacity.{c}"]["entries"]): {
            "srrip": results[f"capacity.{c}"]["popular_fraction"],
            "oracle": oracle(results[f"capacity.{c}"]["entries"])} for c in capacities},
        "ways": {str(w): results[f"ways.{w}"]["popular_fraction"] for w in ways_list},
        "window": {f"{f:g}": results[f"window.{f:g}"]["popular_fraction"] for f in windows},
        "working_set": {f"B{b}": {str(w): schedulers[(w, b)].in_popular
                                  / max(1, schedulers[(w, b)].samples)
                                  for w in working_sets} for b in batches},
        "bytes": {"baseline": baseline_bytes, "hotline": hotline_bytes,
                  "baseline_over_hotline": baseline_bytes / hotline_bytes if hotline_bytes
                  else None, "row_bytes": row_bytes, "batch_size": batch, "working_set": 4,
                  **bytes_},
        "calibration": calibration,
        "seconds": round(time.perf_counter() - started, 1),
    }


def markdown_table(out: dict) -> str:
    p = out["popular"]
    b = out["bytes"]
    c = out["calibration"]
    rows = [("accesses to the top 6.8% of rows (generator)", f"{c['top_6.8%_access_share']:.3f}",
             f">= {PAPER['calibration.top_6.8%_access_share']}"),
            ("popular inputs, oracle at a 512 MB hot set (generator)",
             f"{c['oracle_popular_at_512MB']:.3f}", PAPER["calibration.oracle_popular_at_512MB"]),
            ("popular inputs, oracle LFU", f"{p['oracle']:.3f}", PAPER_BY_SHAPE[out["shape"]][0]),
            ("popular inputs, SRRIP EAL", f"{p['srrip']:.3f}", PAPER_BY_SHAPE[out["shape"]][1]),
            ("popular inputs, FAE top-N", f"{p['fae_top_n']:.3f}", ""),
            ("bytes host<->device, baseline / Hotline", f"{b['baseline_over_hotline']:.2f}",
             PAPER["bytes.baseline_over_hotline"])]
    lines = [f"| figure | measured | paper ({out['shape']}) |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {paper} |" for name, value, paper in rows]
    return "\n".join(lines)


def plot(out: dict, folder: Path) -> list[Path]:
    """The access CDF with the published point, the capacity / ways / window sweeps and the
    working-set sweep, as PNGs in ``folder``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig, axes, name):
        for ax in axes:
            ax.grid(alpha=0.3)
        written.append(folder / name)
        fig.tight_layout()
        fig.savefig(written[-1], dpi=100)
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4.2))
    cdf = out["calibration"]["access_cdf"]
    ax.plot([float(k) * 100 for k in cdf], list(cdf.values()), label="synthetic generator")
    ax.scatter([6.8], [0.76], color="red", zorder=3, label="Criteo Kaggle: top 6.8% -> 76%")
    ax.set_xscale("log")
    ax.set(xlabel="most accessed rows (% of all rows)", ylabel="share of all accesses",
           title=f"Access CDF (scale {out['scale']:g}, {out['samples']:,} samples)")
    ax.legend()
    save(fig, [ax], "access_cdf.png")

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    entries = [int(k) for k in out["capacity"]]
    axes[0].plot(entries, [v["srrip"] for v in out["capacity"].values()], "o-", label="SRRIP EAL")
    axes[0].plot(entries, [v["oracle"] for v in out["capacity"].values()], "s--",
                 label="oracle LFU")
    axes[0].axvline(out["eal_entries"]["paper_scaled"], color="grey", ls=":",
                    label="the paper's 2M entries (scaled)")
    axes[0].set(xscale="log", xlabel="EAL entries", ylabel="popular inputs",
                title="popular inputs vs EAL capacity (4 ways, 5% window)")
    axes[0].legend()
    axes[1].plot([int(k) for k in out["ways"]], list(out["ways"].values()), "o-")
    axes[1].set(xscale="log", xlabel="ways", ylabel="popular inputs (SRRIP)",
                title="vs ways (2M entries scaled, 5% window)")
    axes[2].plot([float(k) * 100 for k in out["window"]], list(out["window"].values()), "o-")
    axes[2].set(xlabel="learning window (% of the mini-batches)", ylabel="popular inputs (SRRIP)",
                title="vs learning window")
    save(fig, axes, "eal_sweeps.png")

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for b, by_w in out["working_set"].items():
        ax.plot([int(w) for w in by_w], list(by_w.values()), "o-", label=f"B = {b[1:]}")
    ax.axhline(out["popular"]["srrip"], color="grey", ls=":", label="popular inputs (SRRIP)")
    ax.set(xlabel="working set W (mini-batches)", ylabel="samples in popular micro-batches",
           title="Re-formed schedule: samples leaving in popular micro-batches")
    ax.legend()
    save(fig, [ax], "working_set.png")
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--samples", type=int, default=None,
                        help=f"epoch length (default Kaggle's {KAGGLE_N_SAMPLES:,})")
    parser.add_argument("--shape", choices=sorted(PAPER_BY_SHAPE), default="kaggle",
                        help="table sizes: Criteo Kaggle's or Terabyte's (max_ind_range 10M)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk", type=int, default=1 << 16)
    parser.add_argument("--quick", action="store_true",
                        help="scale 0.01, 200K samples, reduced sweeps: checks it runs")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    sweeps = dict(capacities=CAPACITIES, ways_list=WAYS, windows=WINDOWS,
                  working_sets=WORKING_SETS, batches=BATCHES)
    scale, n = args.scale, args.samples or KAGGLE_N_SAMPLES
    if args.quick:
        scale, n = 0.01, args.samples or 200_000
        sweeps = dict(capacities=(1 << 19, 1 << 21), ways_list=(4, 8), windows=(0.05, 0.2),
                      working_sets=(1, 4), batches=(1024,))
    out = run(scale=scale, n=n, seed=args.seed, chunk=args.chunk, progress=args.progress,
              shape=args.shape, **sweeps)
    out["quick"] = args.quick
    out["commit"] = commit()
    out["paper"] = PAPER
    out["table"] = markdown_table(out)
    print(out["table"])
    path = args.out or (REPO / "sim_build" / "paper_quick.json" if args.quick else RESULTS)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"written to {path}")
    for png in plot(out, path.parent if not args.quick else path.parent / "paper_quick"):
        print(f"plot: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
