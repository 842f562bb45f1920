"""``make paper``'s main experiment: one epoch streamed in chunks through the golden model's
fast paths (the figures are listed in :mod:`scripts.paper`'s docstring): the SRRIP EAL, the
oracle LFU and FAE's top-N, the capacity / ways / window sweeps, the working-set sweep, bytes
moved and the generator's statistics. ``tests/test_paper.py`` checks it against a direct
golden-model computation across chunk boundaries."""

from __future__ import annotations

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
from scripts.paper_calibration import oracle_popular  # noqa: E402
from scripts.paper_shapes import SHAPES  # noqa: E402
from sw_driver.dlrm.fae_profile import classify_inputs, profile_inputs  # noqa: E402

#: The paper's EAL: 2M entries (4 MB), 4 ways (its window is per shape: SHAPES).
PAPER_ENTRIES, PAPER_WAYS = 1 << 21, 4
CAPACITIES = tuple(1 << b for b in range(16, 24))          # 64K .. 8M entries at scale 1
WAYS = (2, 4, 8, 16)
WINDOWS = (0.01, 0.05, 0.2)
WORKING_SETS = tuple(range(1, 9))
BATCHES = (1024, 2048, 4096)
DIM = 16                                                   # Kaggle's embedding dimension


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
    """Distinct values in ``keys`` (rows moved once per step however often they are used)."""
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
        working_sets, batches, progress: bool, shape: str = "kaggle",
        alpha: float | None = None) -> dict:
    """The streamed experiment (the module docstring's figures) on ``n`` samples of ``shape``
    at ``scale``; ``alpha`` overrides the shape's fitted Zipf exponent."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {sorted(SHAPES)}, not {shape!r}")
    spec = SHAPES[shape]
    source = spec.source(n, scale=scale, seed=seed, alpha=alpha)
    window = spec.window
    sizes = np.asarray(source.table_sizes, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])[:-1]
    n_tables = len(sizes)
    base_entries = scaled_entries(PAPER_ENTRIES, scale)
    batch = BATCHES[0]
    configs = {}
    for c in capacities:
        e = scaled_entries(c, scale)
        configs[f"capacity.{c}"] = (e, PAPER_WAYS, window)
    for w in ways_list:
        configs[f"ways.{w}"] = (base_entries, w, window)
    for f in windows:
        configs[f"window.{f:g}"] = (base_entries, PAPER_WAYS, f)
    configs["paper"] = (base_entries, PAPER_WAYS, window)
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
                   "alpha": source.alpha,
                   "closed_form_oracle_at_eal": oracle_popular(sizes.tolist(), source.alpha,
                                                               base_entries),
                   "access_cdf": cdf}

    results = {name: unique[key].result() for name, key in configs.items()}
    baseline_bytes = 2 * bytes_["baseline_rows"] * row_bytes
    hotline_bytes = 2 * (bytes_["hotline_learn_rows"] + bytes_["hotline_cold_rows"]) \
        * row_bytes + int(np.count_nonzero(paper.table.dump()["valid"])) * row_bytes
    return {
        "shape": shape, "scale": scale, "samples": n, "seed": seed, "rows": int(sizes.sum()),
        "window": window,
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


