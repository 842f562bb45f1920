"""Co-simulation of the whole accelerator on the native backend, for ``make sim``: the RTL
(``HotlineTop`` under Verilator with the C++ harness, :class:`sw_driver.native.NativeTransport`)
against the golden-model backend, on real DLRM traffic, at a scale the cocotb backend
(:mod:`tb.cosim_hotline`, which stays the regression's reference) cannot reach.

Same driver calls on both backends: the learning phase (submitted in chunks so that progress
shows), then working sets of ``W * B`` samples; every micro-batch beat and gathered row must be
identical, and so must the learned hot set and the counters. :func:`run` returns the same report
as :func:`tb.cosim_hotline.run` (``phases``, ``hot_set``, ``counters_equal``, ``passed``, ...).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from hotline_hw.device_config import HotlineConfig
from sw_driver.driver import SyncHotlineDriver
from sw_driver.model_device import ModelDevice
from tb.cosim_hotline import layouts_for
from tb.driver_scenarios import TIMING_DEPENDENT, trace

__all__ = ["run"]

#: Learning samples per submit (the progress bar's step).
LEARN_CHUNK = 4096


def run(*, sparse: np.ndarray, sizes, config: HotlineConfig, dim: int, batch_size: int,
        working_set: int, learn: int, seed: int = 0, read_latency: int = 40,
        compare_hot_set: bool = True,
        progress: Callable[[int, int, str], None] | None = None) -> dict:
    """Run the co-simulation (see the module docstring); ``progress(done, total, note)`` is
    called after each submit with samples done / total."""
    from sw_driver.native import NativeTransport

    layouts = layouts_for(sizes, dim)
    memory_size = layouts[-1].base + layouts[-1].rows * layouts[-1].stride + 4096
    contents = np.random.default_rng(seed).integers(0, 256, memory_size, dtype=np.uint8)
    build_started = time.perf_counter()
    native = NativeTransport(config, memory_size=memory_size, read_latency=read_latency,
                             reorder=True, seed=seed)
    build_seconds = time.perf_counter() - build_started
    native.memory.array[:] = contents
    model_device = ModelDevice(config, memory_size=memory_size)
    model_device.memory.write(0, contents.tobytes())
    rtl, model = SyncHotlineDriver(native), SyncHotlineDriver(model_device)
    for driver in (rtl, model):
        driver.identify()
        driver.configure_tables(layouts, dim)
        driver.configure(batch_size=batch_size, working_set=working_set,
                         lookups=sparse.shape[1])
        driver.clear_table()
        driver.clear_counters()

    samples = [(n, [(t, int(r)) for t, r in enumerate(row)])
               for n, row in enumerate(np.asarray(sparse).tolist())]
    size = batch_size * working_set
    phases = [("learn", start, min(start + LEARN_CHUNK, learn), True)
              for start in range(0, learn, LEARN_CHUNK)]
    phases += [(f"working set {k}", start, min(start + size, len(samples)), False)
               for k, start in enumerate(range(learn, len(samples), size))]
    report = {"phases": [], "mismatches": [], "build_seconds": build_seconds,
              "backend": "native"}
    wall = time.perf_counter()
    for name, start, stop, learning in phases:
        part = samples[start:stop]
        cycles0, beats0 = rtl.read("CYCLES"), rtl.read("READ_BEATS")
        got = rtl.submit(part, learn=learning)
        cycles = (rtl.read("CYCLES") - cycles0) & 0xFFFFFFFF
        beats = (rtl.read("READ_BEATS") - beats0) & 0xFFFFFFFF
        want = model.submit(part, learn=learning)
        same = trace(got) == trace(want)
        if not same and name not in report["mismatches"]:
            report["mismatches"].append(name)
        entry = {"name": name, "samples": len(part), "micro_batches": len(got.micro_batches),
                 "cold_rows": len(got.rows),
                 "popular_fraction": got.popular_fraction() * len(part),
                 "popular_samples": got.popular_sample_fraction() * len(part),
                 "cycles": cycles, "read_beats": beats, "identical": same}
        if report["phases"] and report["phases"][-1]["name"] == name:     # learning chunks
            last = report["phases"][-1]
            for key in ("samples", "micro_batches", "cold_rows", "popular_fraction",
                        "popular_samples", "cycles", "read_beats"):
                last[key] += entry[key]
            last["identical"] = last["identical"] and same
        else:
            report["phases"].append(entry)
        if progress is not None:
            progress(stop, len(samples), name)
    for phase in report["phases"]:
        phase["popular_fraction"] /= phase["samples"]
        phase["popular_samples"] /= phase["samples"]
        phase["bus_utilisation"] = phase["read_beats"] / max(phase["cycles"], 1)
    report["simulation_seconds"] = time.perf_counter() - wall
    report["simulated_cycles"] = native.cycle
    rtl_hot = sorted(rtl.read_hot_set()) if compare_hot_set else None
    model_hot = sorted(model_device.table.hot_set())
    report["hot_set"] = {"model_keys": len(model_hot),
                         "identical": rtl_hot == model_hot if rtl_hot is not None else None}
    rtl_status, model_status = rtl.status(), model.status()
    counters = {k: v for k, v in rtl_status.items() if k not in TIMING_DEPENDENT}
    report["counters"] = counters
    report["counters_equal"] = counters == {k: v for k, v in model_status.items()
                                            if k not in TIMING_DEPENDENT}
    report["cycles_total"] = native.cycle
    report["passed"] = (not report["mismatches"] and report["counters_equal"]
                        and report["hot_set"]["identical"] is not False)
    native.memory.check(idle=True)
    rtl.close()
    model.close()
    native.close()
    return report
