"""Baseline vs Hotline (exact and re-formed) on the Kaggle-shaped synthetic data set.

:func:`compare_schedules` trains the same model from the same initial parameters three ways on
the same samples and reports what the paper's claims need: the exact schedule's largest
parameter difference from the baseline, and the re-formed schedule's accuracy, AUC and log loss
next to the baseline's on held-out data (the samples that follow the training set in the
generator's stream, as DLRM holds out the last day). ``python -m sw_driver.dlrm`` runs it and
writes the JSON.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np
import torch

from hotline_hw.model.oracle import OracleProfiler
from hotline_hw.model.popularity_table import TableGeometry
from hotline_hw.model.scheduler import ScheduleMode
from sw_driver.data import CriteoDataset, SampleBlock, SyntheticCriteo

from .accelerator import AcceleratorTrainer
from .fae_profile import SMALL_TABLE_BYTES
from .fae_trainer import FAETrainer
from .model import DLRMConfig
from .trainer import (BaselineTrainer, HotlineTrainer, LRSchedule, compare_parameters,
                      default_geometry)

__all__ = ["compare_schedules", "geometry_for_hot_fraction"]

#: The paper's hot-set share of Criteo Kaggle's rows (FAE / Hotline: 6.8% of rows, >= 76% of
#: accesses).
HOT_ROW_FRACTION = 0.068


def geometry_for_hot_fraction(config: DLRMConfig, fraction: float = HOT_ROW_FRACTION, *,
                              ways: int = 4) -> TableGeometry:
    """A popularity table holding about ``fraction`` of all rows (sets a power of two)."""
    rows = sum(config.table_sizes)
    set_bits = max(0, round(math.log2(max(1.0, fraction * rows / ways))))
    return default_geometry(config, set_bits=set_bits, ways=ways)


def _shuffle_within(block: SampleBlock, window: int, seed: int) -> SampleBlock:
    """``block`` with its samples permuted at random inside consecutive windows of ``window``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    order = np.concatenate([start + rng.permutation(min(window, len(block) - start))
                            for start in range(0, len(block), window)])
    return block[order]


def compare_schedules(*, n_train: int = 200_000, n_eval: int = 50_000, scale: float = 1e-3,
                      data_seed: int = 0, model_seed: int = 0,
                      config: DLRMConfig | None = None, batch_size: int = 128,
                      lr: float = 0.1, lr_decay: float = 0.5, working_set: int = 4,
                      learn_fraction: float = 0.05,
                      geometry: TableGeometry | None = None, hot_set: str = "learned",
                      runs: tuple[str, ...] = ("baseline", "split", "reformed"),
                      epochs: int = 1, num_threads: int | None = None, device=None,
                      backend: str = "models", fae_swap: str = "adaptive",
                      progress: bool = False, data: CriteoDataset | None = None,
                      on_run_start: Callable[[int, int, str], None] | None = None,
                      on_run: Callable[[str, dict], None] | None = None) -> dict[str, Any]:
    """Train ``runs`` and compare them.

    Runs: ``"baseline"`` (DLRM), ``"split"`` (Hotline, exact), ``"reformed"`` (Hotline, the
    paper's), and ``"shuffled"``: the baseline on the same samples shuffled within each window of
    ``working_set`` mini-batches (a random re-forming), which measures how much any change of
    order within working sets moves the metrics: the noise floor the re-formed run is judged
    against. ``"fae"``: :class:`~sw_driver.dlrm.fae_trainer.FAETrainer` with the popularity
    table's entries as its budget (``entries * 4 * dim`` bytes), 1 MB scaled by ``scale`` as the
    small-table threshold and ``fae_swap`` (``"adaptive"``: the paper's scheduler, driven by
    2048 samples after the held-out ones; ``"epoch"``: once per epoch).

    Data: ``SyntheticCriteo(n_train, scale=scale, seed=data_seed)`` for training, its next
    ``n_eval`` samples held out; or, with ``data`` (a :class:`~sw_driver.data.CriteoDataset`:
    Criteo files with their ids and split), the first ``n_train`` samples of its training
    part and ``n_eval`` of its test part (fewer if the split holds fewer; FAE's monitor
    samples come from its validation part), the tables sized by its id mapping. Model:
    ``config`` (default: the Kaggle architecture on the scaled tables). Popularity table: ``geometry`` (default: about 6.8% of the rows, the
    paper's hot share), ``hot_set="learned"`` (the learning phase) or ``"oracle"`` (FAE's
    profiler: the most accessed keys of the training data that fit the table, loaded before
    training; no learning phase). Learning rate ``lr``, constant, or decaying to zero over the
    last ``lr_decay`` fraction of the steps (DLRM's quadratic policy, :class:`LRSchedule`).
    ``num_threads`` sets torch's CPU threads for the run (restored after). ``backend``: the
    Hotline runs schedule with the golden models directly (``"models"``,
    :class:`HotlineTrainer`) or train on the micro-batches and rows of the golden-model device
    through the host driver (``"device"``, :class:`~sw_driver.dlrm.accelerator.
    AcceleratorTrainer`; identical results, slower).

    Returns a JSON-able dict: ``data``, ``metrics`` (per run: accuracy, auc, logloss),
    ``differences`` (``reformed_minus_baseline`` and ``shuffled_minus_baseline`` metrics;
    ``split_vs_baseline`` largest absolute parameter differences), ``popular_fraction`` per
    Hotline run, ``seconds`` per run (training only), and ``results`` (every run's
    :class:`~sw_driver.dlrm.trainer.TrainResult` as a dict).

    ``on_run_start(index, count, run)`` is called before each run (index from 1) and
    ``on_run(run, summary)`` after it, with the summary of the runs done so far (the same dict
    as the return value), so a caller can write results as runs finish.
    """
    if hot_set not in ("learned", "oracle"):
        raise ValueError(f'hot_set must be "learned" or "oracle", not {hot_set!r}')
    if backend not in ("models", "device"):
        raise ValueError(f'backend must be "models" or "device", not {backend!r}')
    unknown = set(runs) - {"baseline", "shuffled", "split", "reformed", "fae"}
    if unknown or not runs:
        raise ValueError(f"unknown runs {sorted(unknown)}: choose from baseline, shuffled, "
                         f"split, reformed, fae" if unknown else "no runs given")
    for name, value, low in (("n_train", n_train, 1), ("n_eval", n_eval, 1),
                             ("batch_size", batch_size, 1), ("working_set", working_set, 1),
                             ("epochs", epochs, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, not {value!r}")
    for name, value in (("scale", scale), ("lr", lr)):
        if not (isinstance(value, (int, float)) and value > 0):
            raise ValueError(f"{name} must be a number > 0, not {value!r}")
    for name, value in (("lr_decay", lr_decay), ("learn_fraction", learn_fraction)):
        if not (isinstance(value, (int, float)) and 0 <= value <= 1):
            raise ValueError(f"{name} must be from 0 to 1, not {value!r}")
    if data is None:
        synthetic = SyntheticCriteo(n_train, scale=scale, seed=data_seed)
        train = synthetic.generate(n_train)
        held_out = synthetic.generate(n_eval, start=n_train)
        table_sizes = synthetic.table_sizes
        source = {"source": "SyntheticCriteo", "scale": scale, "seed": data_seed}

        def monitor_samples() -> SampleBlock:
            return synthetic.generate(2048, start=n_train + n_eval)
    else:
        train, held_out = data.train_block(n_train), data.test_block(n_eval)
        n_train, n_eval = len(train), len(held_out)
        table_sizes = data.table_sizes
        source = {"source": data.describe(), "split": data.split.describe()}

        def monitor_samples() -> SampleBlock:
            return data.validation_block(2048)
    config = DLRMConfig.kaggle(table_sizes) if config is None else config
    geometry = geometry_for_hot_fraction(config) if geometry is None else geometry
    oracle_keys = None
    if hot_set == "oracle":
        # FAE's profiler: exact counts over the training data, the best set the table holds.
        profiler = OracleProfiler(geometry.key_layout)
        profiler.update(train.sparse)
        oracle_keys = profiler.top_fitting(geometry)
    threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    trainers = {}
    results = {}
    settings = {
        "data": {**source, "n_train": n_train, "n_eval": n_eval, "tables": len(table_sizes),
                 "rows": sum(table_sizes), "epochs": epochs},
        "geometry": {"sets": geometry.sets, "ways": geometry.ways, "entries": geometry.entries},
        "hot_set": hot_set, "backend": backend, "lr": lr, "lr_decay": lr_decay,
        "batch_size": batch_size, "working_set": working_set, "learn_fraction": learn_fraction}
    try:
        steps = epochs * -(-n_train // batch_size)
        schedule = LRSchedule.decay_over(steps, lr_decay) if lr_decay else LRSchedule()
        common = dict(batch_size=batch_size, lr=lr, lr_schedule=schedule, seed=model_seed,
                      device=device, progress=progress)
        for index, run in enumerate(runs, 1):
            if on_run_start is not None:
                on_run_start(index, len(runs), run)
            data_for_run = train
            if run in ("baseline", "shuffled"):
                trainer = BaselineTrainer(config, **common)
                if run == "shuffled":
                    data_for_run = _shuffle_within(train, working_set * batch_size, data_seed)
            elif run == "fae":
                monitor = monitor_samples()
                trainer = FAETrainer(config, budget_bytes=geometry.entries * 4 * config.dim,
                                     small_table_bytes=round(SMALL_TABLE_BYTES * scale),
                                     swap=fae_swap, monitor=monitor, profile_seed=data_seed,
                                     **common)
            else:
                mode = ScheduleMode.SPLIT if run == "split" else ScheduleMode.REFORMED
                kind = HotlineTrainer if backend == "models" else AcceleratorTrainer
                trainer = kind(config, mode=mode, working_set=working_set,
                               learn_fraction=learn_fraction, geometry=geometry,
                               hot_set=oracle_keys, **common)
            start = time.perf_counter()
            results[run] = trainer.train(data_for_run, epochs=epochs, eval_source=held_out)
            results[run].stats["wall_seconds_with_eval"] = time.perf_counter() - start
            trainers[run] = trainer
            if on_run is not None:
                on_run(run, _summary(settings, results, trainers))
    finally:
        torch.set_num_threads(threads)
    return _summary(settings, results, trainers)


def _summary(settings: dict, results: dict, trainers: dict) -> dict[str, Any]:
    """The JSON-able report of the runs in ``results`` (see :func:`compare_schedules`)."""
    out: dict[str, Any] = {
        **settings,
        "metrics": {run: {k: r.final[k] for k in ("accuracy", "auc", "logloss")}
                    for run, r in results.items()},
        "seconds": {run: r.seconds for run, r in results.items()},
        "popular_fraction": {run: r.stats["popular_fraction"] for run, r in results.items()
                             if run in ("split", "reformed")}
                            | {run: r.stats["hot_input_fraction"] for run, r in results.items()
                               if run == "fae"},
        "differences": {},
        "results": {run: r.to_dict() for run, r in results.items()},
    }
    for run in ("reformed", "shuffled", "fae"):
        if "baseline" in results and run in results:
            out["differences"][f"{run}_minus_baseline"] = {
                k: results[run].final[k] - results["baseline"].final[k]
                for k in ("accuracy", "auc", "logloss")}
    if "baseline" in trainers and "split" in trainers:
        out["differences"]["split_vs_baseline"] = {
            **compare_parameters(trainers["baseline"], trainers["split"]),
            "steps": results["split"].stats["steps"]}
    return out
