"""``make bench`` part ``software``: throughput of the golden models, of the driver over
``ModelDevice`` and of the DLRM step with and without the Hotline schedule (wall clock of this
machine: read the ratios).

Software keys (``software.``): ``model.classify_run.samples_per_second`` (popularity table
model, ``lookup_many`` in RUN mode, 26 lookups per sample), ``model.classify_learn...``,
``model.schedule.samples_per_second`` (``MicroBatchScheduler`` on classified samples),
``driver_model_device.samples_per_second`` (``HotlineDriver.submit`` of a working set over
``ModelDevice``'s in-process path, given as an ``(N, 26, 2)`` array; ``..._lists``: the same
as lists of ``(table, row)`` pairs; ``..._wire``: lists over the beat-level wire path,
``ModelDevice(fast=False)``), ``dlrm.baseline.samples_per_second`` and the ratios
``dlrm.hotline_<reformed|split>_over_baseline_step_time`` (training time per sample, CPU, same
data, same run) and ``schedule_over_dlrm_throughput`` (software scheduling rate / baseline
training rate).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from scripts.bench_top import TOP_SCALE, kaggle_sparse  # noqa: E402
from sw_driver.data import SyntheticCriteo  # noqa: E402


def _median_seconds(function, repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``function()`` over ``repeats`` calls, after ``warmup`` calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_software(*, working_set: int = 4, batch_size: int = 1024, learn: int = 4096,
                   scale: float = TOP_SCALE, repeats: int = 5, dlrm_samples: int = 16384,
                   dlrm_repeats: int = 5, dlrm_hidden: int = 64, dim: int = 16,
                   seed: int = 0) -> tuple[dict, dict, dict]:
    """Software throughput (wall clock, this machine): the golden models, the driver over
    ``ModelDevice`` and the DLRM training step with and without the Hotline schedule."""
    import torch

    from hotline_hw.device_config import HotlineConfig
    from hotline_hw.model import Mode, PopularityTable
    from hotline_hw.model.scheduler import Lookup, MicroBatchScheduler
    from sw_driver.driver import HotlineDriver
    from sw_driver.dlrm import (BaselineTrainer, DLRMConfig, HotlineTrainer, ScheduleMode,
                                default_geometry)
    from sw_driver.model_device import ModelDevice
    from tb.cosim_hotline import layouts_for

    torch.set_num_threads(1)
    config = HotlineConfig()                        # the rtl/ build's table and scheduler
    size = working_set * batch_size
    sets = max(2, repeats)
    sparse, sizes = kaggle_sparse(learn + sets * size, scale, seed)
    n_tables = sparse.shape[1]
    learn_part, run_parts = sparse[:learn], [sparse[learn + k * size:learn + (k + 1) * size]
                                             for k in range(sets)]
    tables = np.broadcast_to(np.arange(n_tables), (size, n_tables))

    # Golden models: classification (popularity table) and scheduling of one working set.
    table = PopularityTable(config.geometry, Mode.LEARN)
    start = time.perf_counter()
    table.classify(learn_part)
    learn_rate = len(learn_part) / (time.perf_counter() - start)
    table.mode = Mode.RUN
    classify = _median_seconds(lambda: table.lookup_many(tables, run_parts[0]), repeats)
    hit, slot, error = table.lookup_many(tables, run_parts[0])
    records = [Lookup(t, r, h, s, e) for t, r, h, s, e in zip(
        tables.ravel().tolist(), run_parts[0].ravel().tolist(), hit.tolist(), slot.tolist(),
        error.tolist())]
    samples = [(n, records[n * n_tables:(n + 1) * n_tables]) for n in range(size)]
    schedule = _median_seconds(
        lambda: MicroBatchScheduler(batch_size=batch_size, working_set=working_set)
        .schedule(samples), repeats)

    # The host driver over the golden-model backend: one submit per working set.
    layouts = layouts_for(sizes, dim)
    memory_size = layouts[-1].base + layouts[-1].rows * layouts[-1].stride + 4096
    keys = [[[(t, int(r)) for t, r in enumerate(row)] for row in part.tolist()]
            for part in [learn_part] + run_parts]
    # the same working sets as (N, 26, 2) arrays of (table, row), as a DataLoader batch gives
    arrays = [np.stack(np.broadcast_arrays(np.arange(n_tables), part), axis=-1)
              for part in [learn_part] + run_parts]

    async def driver_run(fast: bool = True, given=keys) -> list[float]:
        driver = HotlineDriver(ModelDevice(config, memory_size=memory_size, fast=fast))
        await driver.configure_tables(layouts, dim)
        await driver.configure(batch_size=batch_size, working_set=working_set,
                               lookups=n_tables)
        await driver.clear_table()
        await driver.submit(given[0], learn=True)
        times = []
        for part in given[1:]:
            start = time.perf_counter()
            result = await driver.submit(part, learn=False)
            times.append(time.perf_counter() - start)
            assert result.samples == size
        return times

    def median_after_first(times: list[float]) -> float:
        return statistics.median(times[1:] if len(times) > 2 else times)

    driver_seconds = median_after_first(asyncio.run(driver_run(given=arrays)))
    list_seconds = median_after_first(asyncio.run(driver_run()))
    wire_times = asyncio.run(driver_run(fast=False))      # the beat-level path, same run
    wire_seconds = median_after_first(wire_times)

    # DLRM on the CPU: seconds per trained sample, baseline vs the Hotline schedules.
    source = SyntheticCriteo(dlrm_samples + batch_size, scale=scale, seed=seed)
    block = source.generate(dlrm_samples)
    warm = source.generate(2 * batch_size, start=dlrm_samples)
    model = DLRMConfig.small(list(source.table_sizes), dim=dim, hidden=dlrm_hidden)
    geometry = default_geometry(model, set_bits=config.geometry.set_bits,
                                ways=config.geometry.ways)
    common = dict(batch_size=batch_size, lr=0.1, seed=seed)
    makers = {
        "baseline": lambda: BaselineTrainer(model, **common),
        "hotline_reformed": lambda: HotlineTrainer(model, mode=ScheduleMode.REFORMED,
                                                   working_set=working_set, geometry=geometry,
                                                   **common),
        "hotline_split": lambda: HotlineTrainer(model, mode=ScheduleMode.SPLIT,
                                                working_set=working_set, geometry=geometry,
                                                **common),
    }
    per_sample = {name: [] for name in makers}
    stats = {}
    for name, make in makers.items():           # warm-up: torch's lazy initialisation
        make().train(warm)
    for _ in range(dlrm_repeats):               # interleaved, so drift hits all alike
        for name, make in makers.items():
            result = make().train(block)
            per_sample[name].append(result.seconds / result.stats["samples"])
            stats[name] = result.stats
    step = {name: statistics.median(v) for name, v in per_sample.items()}
    # Ratios within each repeat (the three runs are back to back), then the median: the
    # machine's load changes between repeats more than within one.
    over_baseline = {name: statistics.median(
        t / b for t, b in zip(per_sample[name], per_sample["baseline"]))
        for name in ("hotline_reformed", "hotline_split")}

    classify_rate = size / classify
    schedule_rate = size / schedule
    both_rate = size / (classify + schedule)
    figures = {
        "software.model.classify_learn.samples_per_second": round(learn_rate, 1),
        "software.model.classify_run.samples_per_second": round(classify_rate, 1),
        "software.model.schedule.samples_per_second": round(schedule_rate, 1),
        "software.model.classify_and_schedule.samples_per_second": round(both_rate, 1),
        "software.driver_model_device.samples_per_second": round(size / driver_seconds, 1),
        "software.driver_model_device_lists.samples_per_second": round(size / list_seconds, 1),
        "software.driver_model_device_wire.samples_per_second": round(size / wire_seconds, 1),
        "software.driver_model_device.in_process_over_wire": round(
            wire_seconds / driver_seconds, 2),
        "software.dlrm.baseline.samples_per_second": round(1 / step["baseline"], 1),
        "software.dlrm.hotline_reformed.samples_per_second": round(
            1 / step["hotline_reformed"], 1),
        "software.dlrm.hotline_split.samples_per_second": round(1 / step["hotline_split"], 1),
        "software.dlrm.hotline_reformed_over_baseline_step_time": round(
            over_baseline["hotline_reformed"], 4),
        "software.dlrm.hotline_split_over_baseline_step_time": round(
            over_baseline["hotline_split"], 4),
        "software.dlrm.hotline_popular_fraction": round(
            stats["hotline_reformed"]["popular_fraction"], 4),
        "software.schedule_over_dlrm_throughput": round(both_rate * step["baseline"], 3),
    }
    goals = {
        "software.schedule_over_dlrm_throughput": (
            ">= 1: the scheduler is never the bottleneck (golden-model classification + "
            "scheduling of a working set vs the baseline DLRM step, same run)"),
        "software.dlrm.hotline_reformed_over_baseline_step_time": (
            "overhead of the Hotline schedule in software (learning phase included); "
            "1.0 = none"),
        "software.dlrm.hotline_split_over_baseline_step_time": (
            "as above, exact (SPLIT) schedule"),
        "software.driver_model_device.samples_per_second": (
            "HotlineDriver.submit over ModelDevice (in-process path), a 4096-sample working "
            "set as an (N, 26, 2) array, RUN mode; issue 22: >= 50x the wire path's 1,932"),
        "software.driver_model_device.in_process_over_wire": (
            "in-process path (arrays) over the beat-level wire path (ModelDevice(fast=False), "
            "lists), same run: >= 50 (issue 22)"),
    }
    cfg = {"software": {
        "machine": "wall clock (time.perf_counter) on this machine, torch 1 thread, CPU; "
                   "rates drift with load: compare ratios measured in the same run",
        "working_set": f"W={working_set} x B={batch_size} = {size} samples x {n_tables} "
                       f"lookups, SyntheticCriteo scale {scale}, seed {seed}",
        "table": "rtl/ geometry (16384 sets x 4 ways), learned in LEARN mode on "
                 f"{learn} samples",
        "classify": f"PopularityTable.lookup_many in RUN mode, median of {repeats} after a "
                    "warm-up; classify_learn: LEARN mode on the learning samples, once",
        "schedule": f"MicroBatchScheduler(B={batch_size}, W={working_set}, REFORMED).schedule "
                    f"of classified samples (Lookup records prebuilt), median of {repeats}",
        "driver": f"HotlineDriver over ModelDevice (rtl/ config, dim {dim}): learn on {learn} "
                  f"samples, then {sets} working sets submitted one by one; median, "
                  "first excluded (warm-up)",
        "dlrm": f"DLRMConfig.small (tables of the scale above, dim {dim}, MLPs {dlrm_hidden} "
                f"wide), B={batch_size}, W={working_set}, {dlrm_samples} samples, SGD 0.1; "
                f"Hotline trainers learn on their first 5% of mini-batches (included); "
                f"training seconds per sample, median of {dlrm_repeats} interleaved runs "
                "after a warm-up; the *_over_baseline ratios: median of the per-repeat ratios",
        "dlrm_stats": {k: {s: v for s, v in st.items() if s in (
            "samples", "steps", "popular_fraction", "cold_rows_gathered", "hot_rows")}
            for k, st in stats.items()}}}
    return figures, goals, cfg

