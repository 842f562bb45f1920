"""Co-simulation of the whole accelerator for ``make sim``: the RTL (``HotlineTop`` under
Verilator, through the driver's cocotb backend) against the golden-model backend, on real
DLRM traffic.

The learning phase and then several working sets go through both backends with the same driver
calls; every micro-batch beat and every gathered row must be identical, the hot set the RTL
learned must be the model's, and the counters must agree. The report (JSON, ``params["report"]``)
carries what ``make sim`` prints: popular fraction per working set, cycles per working set,
gather bandwidth. :func:`run` builds and runs it.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hotline_hw.device_config import HotlineConfig
from hotline_hw.model import TableGeometry
from sw_driver.driver import HotlineDriver, TableLayout
from sw_driver.model_device import ModelDevice
from tb.driver_scenarios import TIMING_DEPENDENT, trace
from tb.runner import run_cocotb, tb_params
from tb.undriven import assert_inputs_driven

CLOCK_NS = 10


def config_params(config: HotlineConfig) -> dict:
    """``config`` as JSON-able test parameters (the inverse of :func:`config_from`)."""
    fields = {k: v for k, v in config.top_kwargs().items() if k != "geometry"}
    g = config.geometry
    fields["geometry"] = dict(table_bits=g.table_bits, row_bits=g.row_bits, set_bits=g.set_bits,
                              ways=g.ways)
    return fields


def config_from(params: dict) -> HotlineConfig:
    """The build a test's parameters name (``params["config"]``, see :func:`config_params`)."""
    fields = dict(params["config"])
    fields["geometry"] = TableGeometry(**fields["geometry"])
    return HotlineConfig(**fields)


def layouts_for(sizes, dim: int) -> list[TableLayout]:
    """Tables back to back from 4 KiB, rows 64-byte aligned strides."""
    stride = -(-4 * dim // 64) * 64
    out, cursor = [], 4096
    for rows in sizes:
        out.append(TableLayout(cursor, stride, int(rows)))
        cursor += int(rows) * stride
    return out


async def reset_and_configure(dut, drivers, layouts, *, dim: int, batch_size: int,
                              working_set: int, lookups: int) -> None:
    """Reset the DUT, then bring every driver (RTL and model) to the same configuration with
    an empty popularity table and cleared counters."""
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    assert_inputs_driven(dut)
    for driver in drivers:
        await driver.identify()
        await driver.configure_tables(layouts, dim)
        await driver.configure(batch_size=batch_size, working_set=working_set, lookups=lookups)
        await driver.clear_table()
        await driver.clear_counters()


@cocotb.test()
async def cosim(dut):
    from sw_driver.cocotb_transport import CocotbTransport
    from tb.axi_memory import HostMemory

    p = tb_params()
    config = config_from(p)
    data = np.load(p["data"])
    sparse, sizes = data["sparse"], data["sizes"]
    layouts = layouts_for(sizes, p["dim"])
    memory_size = layouts[-1].base + layouts[-1].rows * layouts[-1].stride + 4096
    contents = np.random.default_rng(p["seed"]).integers(0, 256, memory_size, dtype=np.uint8)

    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    memory = HostMemory.from_prefix(dut, "m_axi", size=memory_size,
                                    rng=random.Random(p["seed"]),
                                    read_latency=p["read_latency"], reorder=True)
    memory.write(0, contents.tobytes())
    rtl = HotlineDriver(CocotbTransport(dut, config, memory))
    model_device = ModelDevice(config, memory_size=memory_size)
    model_device.memory.write(0, contents.tobytes())
    model = HotlineDriver(model_device)
    await reset_and_configure(dut, (rtl, model), layouts, dim=p["dim"],
                              batch_size=p["batch_size"], working_set=p["working_set"],
                              lookups=sparse.shape[1])

    samples = [(n, [(t, int(r)) for t, r in enumerate(row)])
               for n, row in enumerate(sparse.tolist())]
    n_learn = p["learn"]
    size = p["batch_size"] * p["working_set"]
    phases = [("learn", samples[:n_learn], True)]
    phases += [(f"working set {k}", samples[start:start + size], False)
               for k, start in enumerate(range(n_learn, len(samples), size))]
    report = {"phases": [], "mismatches": []}
    wall = time.perf_counter()
    for name, part, learn in phases:
        cycles0 = await rtl.read("CYCLES")
        beats0 = await rtl.read("READ_BEATS")
        got = await rtl.submit(part, learn=learn)
        cycles = (await rtl.read("CYCLES") - cycles0) & 0xFFFFFFFF
        beats = (await rtl.read("READ_BEATS") - beats0) & 0xFFFFFFFF
        want = await model.submit(part, learn=learn)
        same = trace(got) == trace(want)
        if not same:
            report["mismatches"].append(name)
        report["phases"].append({
            "name": name, "samples": len(part), "micro_batches": len(got.micro_batches),
            "cold_rows": len(got.rows), "popular_fraction": got.popular_fraction(),
            "popular_samples": got.popular_sample_fraction(),
            "cycles": cycles, "read_beats": beats, "bus_utilisation": beats / max(cycles, 1),
            "identical": same})
        dut._log.info("%s: %d samples, %d micro-batches, %d cold rows, %.1f%% popular samples, "
                      "%.1f%% in popular micro-batches, %d cycles, RTL == model: %s", name,
                      len(part), len(got.micro_batches), len(got.rows),
                      100 * got.popular_sample_fraction(), 100 * got.popular_fraction(),
                      cycles, same)
    report["simulation_seconds"] = time.perf_counter() - wall
    rtl_hot = sorted(await rtl.read_hot_set()) if p["compare_hot_set"] else None
    model_hot = sorted(model_device.table.hot_set())
    report["hot_set"] = {"model_keys": len(model_hot),
                         "identical": rtl_hot == model_hot if rtl_hot is not None else None}
    rtl_status, model_status = await rtl.status(), await model.status()
    counters = {k: v for k, v in rtl_status.items() if k not in TIMING_DEPENDENT}
    report["counters"] = counters
    report["counters_equal"] = counters == {k: v for k, v in model_status.items()
                                            if k not in TIMING_DEPENDENT}
    report["cycles_total"] = rtl_status["cycles"]
    report["passed"] = (not report["mismatches"] and report["counters_equal"]
                        and report["hot_set"]["identical"] is not False)
    memory.check(idle=True)
    Path(p["report"]).write_text(json.dumps(report, indent=2))
    assert report["passed"], f"RTL differs from the model: {report['mismatches']}, " \
        f"counters equal {report['counters_equal']}, hot set {report['hot_set']}"


def run(*, sparse: np.ndarray, sizes, config: HotlineConfig, dim: int, batch_size: int,
        working_set: int, learn: int, work_dir: Path, seed: int = 0, read_latency: int = 40,
        compare_hot_set: bool = True, test_id: str = "make_sim_hotline_top") -> dict:
    """Build ``HotlineTop`` for ``config``, run the co-simulation, return its report."""
    from hotline_hw.hotline_top import HotlineTop

    work_dir.mkdir(parents=True, exist_ok=True)
    data = work_dir / "cosim_data.npz"
    np.savez(data, sparse=np.asarray(sparse, dtype=np.int64),
             sizes=np.asarray(sizes, dtype=np.int64))
    report = work_dir / "cosim_report.json"
    if report.exists():
        report.unlink()
    params = {
        "config": config_params(config),
        "data": str(data), "dim": dim, "batch_size": batch_size, "working_set": working_set,
        "learn": learn, "seed": seed, "read_latency": read_latency,
        "compare_hot_set": compare_hot_set, "report": str(report),
    }
    try:
        run_cocotb(test_id=test_id, component=HotlineTop(**config.top_kwargs()),
                   toplevel="hotline_top", test_module="tb.cosim_hotline", params=params,
                   sim="verilator")
    except (AssertionError, SystemExit):
        if not report.exists():           # it did not get as far as a report
            raise
    return json.loads(report.read_text())
