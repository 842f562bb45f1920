"""``make paper``'s main experiment: one epoch streamed in chunks through the golden model's
fast paths (the figures are listed in :mod:`scripts.paper`'s docstring): the SRRIP EAL, the
oracle LFU and FAE's top-N, the capacity / ways / window sweeps, the working-set sweep, bytes
moved and the generator's statistics. ``tests/test_paper.py`` checks it against a direct
golden-model computation across chunk boundaries."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
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


@dataclass(frozen=True)
class LearnedEal:
    """One EAL after its learning window, as the run phase needs it: which rows it holds.

    ``hot`` is the packed bit (``np.packbits``) of every row of the epoch's tables in key order
    (``offsets[table] + row``), set iff a ``RUN``-mode lookup of it hits; equal to
    ``FrozenTable(table, dense_rows=sizes).dense >= 0``, the golden model's fast path."""

    entries: int
    ways: int
    window: float
    learn_samples: int
    valid_entries: int
    rows: int
    hot: np.ndarray
    seconds: float

    def hot_rows(self) -> np.ndarray:
        """bool ``[rows]``: the rows a ``RUN`` lookup hits."""
        return np.unpackbits(self.hot, count=self.rows).astype(bool)


def learn_samples(n: int, window: float, batch_size: int) -> int:
    """Samples of the learning window: ``window`` of the epoch's mini-batches, whole ones."""
    return min(n, math.ceil(window * -(-n // batch_size)) * batch_size)


def learn_eal(*, shape: str, scale: float, n: int, seed: int, chunk: int, entries: int,
              ways: int, window: float, batch_size: int = 1024,
              alpha: float | None = None) -> LearnedEal:
    """Learn one EAL (SRRIP, :func:`~hotline_hw.model.fast_table.learn_many`) on the first
    ``window`` of the epoch's mini-batches, generating only those samples, and freeze it.

    A module-level function of plain arguments, so that ``make paper`` runs the EALs of its
    sweeps in parallel processes; the generator is a function of the sample index, so every
    process sees the same samples."""
    started = time.perf_counter()
    source = SHAPES[shape].source(n, scale=scale, seed=seed, alpha=alpha)
    sizes = np.asarray(source.table_sizes, dtype=np.int64)
    table = PopularityTable(eal_geometry(entries, ways, sizes), Mode.LEARN)
    learn = learn_samples(n, window, batch_size)
    tables = np.broadcast_to(np.arange(len(sizes), dtype=np.int64), (chunk, len(sizes)))
    for start in range(0, learn, chunk):
        size = min(chunk, learn - start)
        learn_many(table, tables[:size], source.generate_sparse(size, start=start))
    table.mode = Mode.RUN
    dense = FrozenTable(table, dense_rows=sizes).dense
    return LearnedEal(entries=entries, ways=ways, window=window, learn_samples=learn,
                      valid_entries=int(np.count_nonzero(table.dump()["valid"])),
                      rows=len(dense), hot=np.packbits(dense >= 0),
                      seconds=round(time.perf_counter() - started, 1))


def eal_configs(scale: float, window: float, capacities, ways_list, windows) -> dict:
    """``{name: (entries, ways, window)}`` of the sweeps' EALs and the paper's (``"paper"``)."""
    base_entries = scaled_entries(PAPER_ENTRIES, scale)
    configs = {}
    for c in capacities:
        configs[f"capacity.{c}"] = (scaled_entries(c, scale), PAPER_WAYS, window)
    for w in ways_list:
        configs[f"ways.{w}"] = (base_entries, w, window)
    for f in windows:
        configs[f"window.{f:g}"] = (base_entries, PAPER_WAYS, f)
    configs["paper"] = (base_entries, PAPER_WAYS, window)
    return configs


def submit_learning(executor, *, shape: str, scale: float, n: int, seed: int, chunk: int,
                    configs: dict, alpha: float | None = None) -> dict:
    """Submit the learning of every distinct EAL of ``configs`` to ``executor`` (longest
    window first); returns ``{(entries, ways, window): Future}`` for :func:`run`'s
    ``learned``."""
    keys = sorted(set(configs.values()), key=lambda k: (-k[2], -k[0]))
    return {key: executor.submit(learn_eal, shape=shape, scale=scale, n=n, seed=seed,
                                 chunk=chunk, entries=key[0], ways=key[1], window=key[2],
                                 alpha=alpha) for key in keys}


class HotRowMask:
    """The hot rows of several frozen EALs as one bit per EAL in one word per row: a chunk's
    lookups are answered for every EAL with one gather and one AND across the sample's
    lookups (a sample is popular iff all of its lookups hit)."""

    def __init__(self, learned: list[LearnedEal], rows: int):
        if len(learned) > 64:
            raise ValueError(f"at most 64 EALs in one pass, not {len(learned)}")
        dtype = next(t for t in (np.uint8, np.uint16, np.uint32, np.uint64)
                     if np.iinfo(t).bits >= len(learned))
        self.words = np.zeros(rows, dtype=dtype)
        for bit, eal in enumerate(learned):
            if eal.rows != rows:
                raise ValueError(f"an EAL learned over {eal.rows} rows, the epoch has {rows}")
            self.words |= eal.hot_rows().astype(dtype) << dtype(bit)
        self.dtype = dtype

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(bits, popular_bits)``: every lookup's word, and per sample the AND of its
        lookups' words (bit ``i``: the sample is popular for EAL ``i``)."""
        bits = self.words[keys]
        return bits, np.bitwise_and.reduce(bits, axis=1)

    def bit(self, words: np.ndarray, index: int) -> np.ndarray:
        """bool: bit ``index`` of ``words``."""
        return ((words >> self.dtype(index)) & self.dtype(1)).astype(bool)


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


class KeyCounts:
    """Accesses per row over keys fed in chunks, with one ``bincount`` per ``batch`` keys (a
    ``bincount`` over tens of millions of rows costs its length, not its input's)."""

    def __init__(self, rows: int, batch: int = 1 << 24):
        self.counts = np.zeros(rows, dtype=np.int64)
        self.batch, self.pending, self.held = batch, [], 0

    def feed(self, keys: np.ndarray) -> None:
        self.pending.append(keys.ravel())
        self.held += keys.size
        if self.held >= self.batch:
            self.flush()

    def flush(self) -> np.ndarray:
        if self.pending:
            self.counts += np.bincount(np.concatenate(self.pending), minlength=len(self.counts))
            self.pending, self.held = [], 0
        return self.counts


def run(*, scale: float, n: int, seed: int, chunk: int, capacities, ways_list, windows,
        working_sets, batches, progress: bool, shape: str = "kaggle",
        alpha: float | None = None, learned: dict | None = None) -> dict:
    """The streamed experiment (the module docstring's figures) on ``n`` samples of ``shape``
    at ``scale``; ``alpha`` overrides the shape's fitted Zipf exponent.

    Three steps: every EAL learns its window (:func:`learn_eal`; ``learned`` may hold them, or
    futures of them, from :func:`submit_learning`, else they are learned here, one after the
    other); one pass over the epoch counts the rows' accesses, answers every EAL's run-phase
    lookups at once (:class:`HotRowMask`) and feeds the schedulers and byte counters; a second
    pass, once the counts are known, ranks the samples for the oracle and classifies them for
    FAE."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {sorted(SHAPES)}, not {shape!r}")
    spec = SHAPES[shape]
    source = spec.source(n, scale=scale, seed=seed, alpha=alpha)
    window = spec.window
    sizes = np.asarray(source.table_sizes, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])[:-1]
    n_tables = len(sizes)
    rows = int(sizes.sum())
    base_entries = scaled_entries(PAPER_ENTRIES, scale)
    batch = BATCHES[0]
    configs = eal_configs(scale, window, capacities, ways_list, windows)
    started = time.perf_counter()
    learned = dict(learned or {})
    unique = sorted(set(configs.values()), key=lambda k: (-k[2], -k[0]))
    eals: dict[tuple, LearnedEal] = {}
    for key in unique:
        got = learned.get(key)
        if got is None:
            got = learn_eal(shape=shape, scale=scale, n=n, seed=seed, chunk=chunk,
                            entries=key[0], ways=key[1], window=key[2], alpha=alpha)
        elif hasattr(got, "result"):
            got = got.result()
        eals[key] = got
        if progress:
            print(f"[paper] {shape}: EAL of {key[0]:,} entries, {key[1]} ways, window "
                  f"{key[2]:g} learned ({got.seconds:.0f} s)", file=sys.stderr, flush=True)
    learn_seconds = round(time.perf_counter() - started, 1)
    order = list(eals)
    mask = HotRowMask([eals[k] for k in order], rows)
    paper_key = configs["paper"]
    paper, paper_bit = eals[paper_key], order.index(paper_key)
    popular_count = dict.fromkeys(order, 0)

    counts = KeyCounts(rows)
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
            ids = b.sample_ids - held["base"]
            if ids.size and ids.min() < 0:
                raise RuntimeError("a micro-batch names a sample no longer held")
            cold = held["cold"][ids]
            held["scheduled"] += len(ids)
            if b.kind is MicroBatchKind.POPULAR:
                if cold.any():
                    raise RuntimeError("a popular micro-batch has a cold lookup")
                continue
            bytes_["hotline_cold_rows"] += distinct_rows(held["keys"][ids][cold])

    def hold(first_id, keys, cold):
        drop = max(0, len(held["keys"]) - chunk)         # keep the previous chunk, at most
        held["base"] += drop
        held["keys"] = np.concatenate([held["keys"][drop:], keys])
        held["cold"] = np.concatenate([held["cold"][drop:], cold])
        if held["base"] + len(held["keys"]) != first_id + len(keys):
            raise RuntimeError("run-phase samples out of order")

    def generate(size, start):
        sparse = source.generate_sparse(size, start=start)
        if (sparse < 0).any() or (sparse >= sizes).any():
            raise ValueError(f"the generator gave a row out of range in samples {start:,} to "
                             f"{start + size:,}")
        return sparse, sparse + offsets

    baseline_rows, learn_rows = MiniBatchRows(batch), MiniBatchRows(batch)
    pass_started = time.perf_counter()
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        sparse, keys = generate(size, start)
        counts.feed(keys)
        lo, hi = np.searchsorted(fae_picks, [start, start + size])
        if hi > lo:
            fae_sample.append(sparse[fae_picks[lo:hi] - start])
        baseline_rows.feed(keys)                              # baseline: per mini-batch
        bits, popular_bits = mask.lookup(keys)
        for i, key in enumerate(order):
            run_from = max(0, min(size, eals[key].learn_samples - start))
            if run_from < size:
                popular_count[key] += int(np.count_nonzero(mask.bit(popular_bits[run_from:],
                                                                    i)))
        run_from = max(0, min(size, paper.learn_samples - start))
        learn_rows.feed(keys[:run_from])                      # Hotline's learning phase
        if run_from < size:
            popular = mask.bit(popular_bits[run_from:], paper_bit)
            ids = np.arange(start + run_from, start + size)
            for counter in schedulers.values():
                counter.push(ids, popular)
            if not len(held["keys"]):
                held["base"] = int(ids[0])
            hold(int(ids[0]), keys[run_from:], ~mask.bit(bits[run_from:], paper_bit))
            count_steps(bytes_scheduler.push_many(ids, popular))
        if progress:
            done = start + size
            rate = done / (time.perf_counter() - pass_started)
            print(f"\r[paper] {shape}: {done:,}/{n:,} samples ({rate:,.0f}/s)", end="",
                  file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    bytes_["baseline_rows"] = baseline_rows.finish()
    bytes_["hotline_learn_rows"] = learn_rows.finish()
    for counter in schedulers.values():
        counter.flush()
    count_steps(bytes_scheduler.flush())
    paper_run = n - paper.learn_samples
    if held["scheduled"] != paper_run:
        raise RuntimeError(f"{paper_run - held['scheduled']} run-phase samples were never "
                           f"scheduled")
    counts = counts.flush()

    # Second pass: the oracle LFU (top rows by the epoch's counts) and FAE's top-N.
    rank = np.empty(len(counts), dtype=np.int64)
    rank[np.argsort(-counts, kind="stable")] = np.arange(len(counts))
    profile = profile_inputs(np.concatenate(fae_sample), sizes, DIM, sample_rate=1.0,
                             budget_bytes=paper.entries * 4 * DIM,
                             small_table_bytes=round((1 << 20) * scale), seed=seed)
    del fae_sample
    hot_512mb = scaled_entries((512 << 20) // (4 * DIM), scale)
    # The oracle of E entries holds the E rows of lowest rank: a sample is popular for it iff
    # its worst (highest) rank is below E. Counted for every E asked for.
    thresholds = np.unique([min(e, rows) for e in
                            [k[0] for k in order] + [hot_512mb, paper.entries]])
    below = np.zeros(len(thresholds) + 1, dtype=np.int64)
    fae_hot = ranked = 0
    for start in range(paper.learn_samples, n, chunk):
        size = min(chunk, n - start)
        sparse, keys = generate(size, start)
        worst = rank[keys].max(axis=1)
        below += np.bincount(np.searchsorted(thresholds, worst, side="right"),
                             minlength=len(below))
        fae_hot += int(classify_inputs(sparse, profile).sum())
        ranked += size
        if progress:
            print(f"\r[paper] {shape}: oracle and FAE, {start + size:,}/{n:,} samples", end="",
                  file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    within = np.cumsum(below)                   # within[j]: samples whose worst < thresholds[j]

    def oracle(entries: int) -> float:
        j = int(np.searchsorted(thresholds, min(entries, rows)))
        return float(within[j] / max(1, ranked))

    # The generator against the published statistics: the access share of the most accessed
    # rows (Kaggle: the top 6.8% take >= 76%), and the oracle's popular share at a 512 MB hot
    # set (8M rows of 64 B at scale 1; Kaggle: 75.8%).
    ordered_counts = np.sort(counts)[::-1]
    share = np.cumsum(ordered_counts) / max(1, ordered_counts.sum())
    fractions = np.unique(np.concatenate([np.geomspace(1e-4, 1, 60), [0.068]]))
    cdf = {f"{f:.6g}": float(share[max(0, math.ceil(f * len(share)) - 1)]) for f in fractions}
    calibration = {"top_6.8%_access_share": cdf["0.068"],
                   "oracle_popular_at_512MB": oracle(hot_512mb), "rows_at_512MB": hot_512mb,
                   "alpha": source.alpha,
                   "closed_form_oracle_at_eal": oracle_popular(sizes.tolist(), source.alpha,
                                                               base_entries),
                   "access_cdf": cdf}

    def share_of(key):
        run_samples = n - eals[key].learn_samples
        return popular_count[key] / run_samples if run_samples else None

    results = {name: {"entries": key[0], "popular_fraction": share_of(key)}
               for name, key in configs.items()}
    baseline_bytes = 2 * bytes_["baseline_rows"] * row_bytes
    hotline_bytes = 2 * (bytes_["hotline_learn_rows"] + bytes_["hotline_cold_rows"]) \
        * row_bytes + paper.valid_entries * row_bytes
    return {
        "shape": shape, "scale": scale, "samples": n, "seed": seed, "rows": rows,
        "window": window,
        "eal_entries": {"paper_scaled": base_entries},
        "popular": {"srrip": share_of(paper_key),
                    "oracle": oracle(paper.entries),
                    "fae_top_n": fae_hot / ranked if ranked else None,
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
        "eals": {f"{k[0]}x{k[1]}@{k[2]:g}": {"learn_samples": eals[k].learn_samples,
                                             "valid_entries": eals[k].valid_entries,
                                             "learn_seconds": eals[k].seconds} for k in order},
        "seconds": {"learn_wait": learn_seconds,
                    "passes": round(time.perf_counter() - pass_started, 1),
                    "total": round(time.perf_counter() - started, 1)},
    }
