"""DLRM trained on the RTL through the native backend, for ``make sim``: the run of
:mod:`tb.test_dlrm_on_rtl` (which stays the regression's, on the cocotb backend) with
:class:`sw_driver.native.NativeTransport` in place of the simulator bridge, at a scale the
cocotb backend cannot reach.

:class:`~sw_driver.dlrm.accelerator.AcceleratorTrainer` drives ``HotlineTop`` under the C++
harness through a :class:`~sw_driver.driver.SyncHotlineDriver`; its host embedding image lives
in the harness's host memory (latency, reordering, stalls), so every step trains on rows the RTL
gathered and every updated row goes back through the RTL's write-back engine. The same training
then runs on the golden-model device: every loss, working set, counter and parameter must be
identical. ``fault=True`` makes one cold row answer SLVERR for good: both runs must stop with
:class:`AcceleratorTrainingError` at the same working set with the same parameters.
"""

from __future__ import annotations

import time

import torch

from hotline_hw.axi import AxiResp
from hotline_hw.device_config import HotlineConfig
from sw_driver.data import SampleBlock
from sw_driver.dlrm import DLRMConfig, HostEmbeddingMemory, ScheduleMode, compare_parameters
from sw_driver.dlrm.accelerator import (AcceleratorTrainer, AcceleratorTrainingError,
                                        device_config_for, model_device_driver)
from sw_driver.driver import SyncHotlineDriver
from tb.driver_scenarios import TIMING_DEPENDENT

__all__ = ["run"]


def _victim(data: SampleBlock, first_run_sample: int) -> tuple[int, int]:
    """A key first looked up after the learning phase (never hot: the table is frozen)."""
    seen = {(t, r) for row in data.sparse[:first_run_sample].tolist() for t, r in enumerate(row)}
    for row in data.sparse[first_run_sample + len(data) // 8:].tolist():
        for t, r in enumerate(row):
            if (t, r) not in seen:
                return t, r
    raise ValueError("no key is new after the learning phase")


def _train(trainer, data):
    try:
        trainer.train(data)
        return trainer.result, None
    except AcceleratorTrainingError as error:
        return trainer.result, error


def _outcome(trainer, result, error) -> dict:
    counters = {k: v for k, v in trainer.driver.status().items()
                if k not in TIMING_DEPENDENT and k != "errors"}
    return {"losses": [s["loss"] for s in result.steps],
            "working_sets": result.working_sets, "counters": counters,
            "error": None if error is None else {"errors": list(error.errors),
                                                 "untrained": error.untrained}}


def run(*, table_sizes, data: SampleBlock, batch_size: int, working_set: int,
        learn_batches: int, dim: int, hidden: int, geometry, mode: str = "REFORMED",
        fault: bool = False, seed: int = 0, read_latency: int = 40,
        stall_probability: float = 0.1, build: HotlineConfig | None = None) -> dict:
    """Train on the RTL (native backend) and on the golden-model device; returns the report
    (``passed``: every loss, working set, counter and parameter identical). ``build``: the
    ``HotlineTop`` configuration (default: sized for the model, as the cocotb run's)."""
    from sw_driver.native import NativeTransport

    # One torch thread: the comparison is bit for bit.
    torch.set_num_threads(1)
    config = DLRMConfig.small(list(table_sizes), dim=dim, hidden=hidden)
    if build is None:
        build = device_config_for(config, geometry, batch_size=batch_size,
                                  working_set=working_set,
                                  capacity=max(64, working_set * batch_size),
                                  max_lookups=len(table_sizes), max_dim=max(dim, 8),
                                  reads_in_flight=16, size_bits=10, working_set_bits=4)
    options = dict(mode=ScheduleMode[mode], batch_size=batch_size, working_set=working_set,
                   learn_batches=learn_batches, geometry=geometry, seed=seed, device="cpu")
    size = HostEmbeddingMemory(config.table_sizes, config.dim).size
    transport = NativeTransport(build, memory_size=size, read_latency=read_latency,
                                reorder=True, stall_probability=stall_probability, seed=seed)

    def on_rtl(image: HostEmbeddingMemory):
        image.relocate(transport.memory.array)     # the image lives in the harness's memory
        return SyncHotlineDriver(transport)

    victim = _victim(data, learn_batches * batch_size) if fault else None
    started = time.perf_counter()
    rtl_trainer = AcceleratorTrainer(config, driver=on_rtl, **options)
    if victim:
        transport.memory.inject_error(rtl_trainer.memory.address(*victim), 4, AxiResp.SLVERR,
                                      write=False)
    rtl_result, rtl_error = _train(rtl_trainer, data)
    rtl_seconds = time.perf_counter() - started
    got = _outcome(rtl_trainer, rtl_result, rtl_error)
    cycles = transport.cycle

    # The golden-model device of the same build (READ_BEATS counts bus beats: same width).
    model_trainer = AcceleratorTrainer(
        config, driver=lambda image: model_device_driver(image, build), **options)
    if victim:
        model_trainer.driver.transport.inject_error(model_trainer.memory.address(*victim), 4,
                                                    write=False)
    model_result, model_error = _train(model_trainer, data)
    want = _outcome(model_trainer, model_result, model_error)
    difference = compare_parameters(rtl_trainer, model_trainer)
    report = {"steps": len(rtl_result.steps), "cycles": cycles,
              "samples": rtl_result.stats.get("samples"),
              "popular_fraction": rtl_result.stats.get("popular_fraction"),
              "rows_gathered": got["counters"]["rows_gathered"],
              "rows_written": got["counters"]["rows_written"],
              "error": got["error"], "parameter_difference": difference,
              "identical": {key: got[key] == want[key] for key in got},
              "mode": mode, "rtl_seconds": rtl_seconds, "backend": "native"}
    if got["counters"] != want["counters"]:
        report["counters"] = {"rtl": got["counters"], "model": want["counters"]}
    report["passed"] = all(report["identical"].values()) and difference["max"] == 0.0
    transport.memory.check(idle=True)
    transport.close()
    return report
