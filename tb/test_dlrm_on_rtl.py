"""DLRM trained on the RTL: :class:`~sw_driver.dlrm.accelerator.AcceleratorTrainer` driving
``HotlineTop`` under the simulator through the host driver's cocotb backend.

The trainer is synchronous; it runs in a cocotb bridge thread and every driver call runs in
the simulation (:class:`~sw_driver.cocotb_transport.BridgedHotlineDriver`). Its host embedding
image lives in the simulated host memory (``HostMemory``: latency, reordering), so the rows a
step trains on are the ones the RTL gathered, and the rows it writes back go through the RTL's
write-back engine. The same training then runs on the golden-model device: every step's loss,
every working set and every parameter must be identical, and so must the device counters.

With ``fault`` set, one cold row's bytes answer SLVERR for good: both runs must stop with
:class:`AcceleratorTrainingError` at the same working set, with the same parameters (every
earlier step complete).

:func:`run` builds and runs it (``make sim`` uses a larger run); ``test_dlrm_on_rtl`` is the
regression's small one.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import cocotb
import numpy as np
import torch
from cocotb.clock import Clock
from cocotb.task import bridge
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiResp

from hotline_hw.model import TableGeometry
from sw_driver.data import SampleBlock, SyntheticCriteo
from sw_driver.dlrm import DLRMConfig, HostEmbeddingMemory, ScheduleMode, compare_parameters
from sw_driver.dlrm.accelerator import (AcceleratorTrainer, AcceleratorTrainingError,
                                        device_config_for)
from sw_driver.driver import HotlineDriver
from tb.cosim_hotline import config_from, config_params
from tb.driver_scenarios import TIMING_DEPENDENT
from tb.runner import run_cocotb, tb_params

CLOCK_NS = 10


def _setup(p: dict, mode: str):
    config = DLRMConfig.small(p["table_sizes"], dim=p["dim"], hidden=p["hidden"])
    if p["data"]:
        arrays = np.load(p["data"])
        data = SampleBlock(arrays["dense_raw"], arrays["sparse"], arrays["labels"])
    else:
        data = SyntheticCriteo(p["samples"], table_sizes=p["table_sizes"],
                               seed=p["seed"]).generate(p["samples"])
    options = dict(mode=ScheduleMode[mode], batch_size=p["batch_size"],
                   working_set=p["working_set"], learn_batches=p["learn_batches"],
                   geometry=config_from(p).geometry, seed=p["seed"], device="cpu")
    return config, data, options


def _victim(data, first_run_sample: int) -> tuple[int, int]:
    """A key first looked up after the learning phase (so never hot: the table is read-only
    by then)."""
    seen = {(t, r) for row in data.sparse[:first_run_sample].tolist() for t, r in enumerate(row)}
    for row in data.sparse[first_run_sample + len(data) // 8:].tolist():
        for t, r in enumerate(row):
            if (t, r) not in seen:
                return t, r
    raise ValueError("no key is new after the learning phase")


def _outcome(trainer, result, error) -> dict:
    counters = {k: v for k, v in trainer.driver.status().items()
                if k not in TIMING_DEPENDENT and k != "errors"}
    return {"losses": [s["loss"] for s in result.steps],
            "working_sets": result.working_sets, "counters": counters,
            "error": None if error is None else {"errors": list(error.errors),
                                                 "untrained": error.untrained}}


def _train(trainer, data):
    try:
        trainer.train(data)
        return trainer.result, None
    except AcceleratorTrainingError as error:
        return trainer.result, error


@cocotb.test()
async def dlrm_trains_on_the_rtl(dut):
    """The whole run: learning phase, freeze, working sets: RTL == model."""
    await _train_and_compare(dut, "clean")


@cocotb.test()
async def dlrm_stops_on_an_axi_error(dut):
    """A cold row answering SLVERR: both stop at the same working set, nothing lost."""
    await _train_and_compare(dut, "fault")


async def _train_and_compare(dut, name: str):
    from sw_driver.cocotb_transport import BridgedHotlineDriver, CocotbTransport
    from tb.axi_memory import HostMemory

    # One torch thread: a multi-threaded reduction's order depends on the thread running it
    # (the RTL run trains in a bridge thread), and the comparison is bit for bit.
    torch.set_num_threads(1)
    p = tb_params()
    run = p["runs"][name]
    fault = name == "fault"
    build = config_from(p)
    config, data, options = _setup(p, run["mode"])
    size = HostEmbeddingMemory(config.table_sizes, config.dim).size
    storage = bytearray(size)
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    memory = HostMemory.from_prefix(dut, "m_axi", size=size, mem=storage,
                                    rng=random.Random(p["seed"]), reorder=True,
                                    read_latency=p["read_latency"],
                                    stall_probability=p["stall_probability"])
    rtl = BridgedHotlineDriver(HotlineDriver(CocotbTransport(dut, build, memory)))
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)

    def on_rtl(image: HostEmbeddingMemory):
        image.relocate(storage)              # the image now lives in the simulated memory
        return rtl

    victim = _victim(data, p["learn_batches"] * p["batch_size"]) if fault else None

    def train_on_rtl():
        trainer = AcceleratorTrainer(config, driver=on_rtl, **options)
        if victim:
            memory.inject_error(trainer.memory.address(*victim), 4, AxiResp.SLVERR, write=False)
        result, error = _train(trainer, data)
        return trainer, result, error, _outcome(trainer, result, error)

    rtl_trainer, rtl_result, rtl_error, got = await bridge(train_on_rtl)()
    cycles = await rtl.driver.read("CYCLES")

    model_trainer = AcceleratorTrainer(config, **options)        # the golden-model device
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
              "identical": {key: got[key] == want[key] for key in got}}
    report["passed"] = all(report["identical"].values()) and difference["max"] == 0.0
    report["mode"] = run["mode"]
    Path(run["report"]).write_text(json.dumps(report, indent=2))
    dut._log.info("DLRM on the RTL (%s): %s", name, report)
    if fault:
        assert rtl_error is not None and "gather_bus" in rtl_error.errors, rtl_error
    else:
        assert rtl_error is None and rtl_result.stats["samples"] == len(data)
    assert report["passed"], f"training on the RTL differs from the model: {report}"
    memory.check(idle=True)


def run(*, table_sizes, work_dir: Path, runs: dict[str, str], samples: int = 0,
        data: SampleBlock | None = None,
        batch_size: int = 32, working_set: int = 4, learn_batches: int = 8, dim: int = 4,
        hidden: int = 16, geometry=TableGeometry(table_bits=3, row_bits=10, set_bits=7),
        seed: int = 0, read_latency: int = 40, stall_probability: float = 0.1,
        test_id: str = "dlrm_on_rtl", sim: str | None = None) -> dict[str, dict]:
    """Build a ``HotlineTop`` sized for the model, train on it and on the model.

    ``runs`` maps ``"clean"`` (the whole training) and / or ``"fault"`` (a persistent AXI
    error) to the schedule mode (``"REFORMED"`` or ``"SPLIT"``). The samples: ``data`` (ids
    below ``table_sizes``), or ``samples`` synthetic ones (``SyntheticCriteo`` on the tables).
    Returns each run's report."""
    from hotline_hw.hotline_top import HotlineTop

    config = DLRMConfig.small(table_sizes, dim=dim, hidden=hidden)
    build = device_config_for(config, geometry, batch_size=batch_size, working_set=working_set,
                              capacity=max(64, working_set * batch_size),
                              max_lookups=len(table_sizes), max_dim=max(dim, 8),
                              reads_in_flight=16, size_bits=10, working_set_bits=4)
    work_dir.mkdir(parents=True, exist_ok=True)
    stem = test_id.replace("/", "_").replace(":", "_")
    reports = {name: work_dir / f"{stem}.{name}.json" for name in runs}
    for report in reports.values():
        if report.exists():
            report.unlink()
    data_file = None
    if data is not None:
        data_file = work_dir / f"{stem}.data.npz"
        np.savez(data_file, dense_raw=data.dense_raw, sparse=data.sparse, labels=data.labels)
    params = {
        "config": config_params(build),
        "table_sizes": [int(n) for n in table_sizes], "samples": samples,
        "data": str(data_file) if data_file else None, "batch_size": batch_size,
        "working_set": working_set, "learn_batches": learn_batches, "dim": dim,
        "hidden": hidden, "seed": seed, "read_latency": read_latency,
        "stall_probability": stall_probability,
        "runs": {name: {"mode": mode, "report": str(reports[name])}
                 for name, mode in runs.items()}}
    cases = {"clean": "dlrm_trains_on_the_rtl", "fault": "dlrm_stops_on_an_axi_error"}
    try:
        run_cocotb(test_id=test_id, component=HotlineTop(**build.top_kwargs()),
                   toplevel="hotline_top", test_module="tb.test_dlrm_on_rtl", params=params,
                   testcase=[cases[name] for name in runs], sim=sim)
    except (AssertionError, SystemExit):
        if not all(report.exists() for report in reports.values()):
            raise
    return {name: json.loads(report.read_text()) for name, report in reports.items()}


#: Small tables (8 of them): a fast build and a short run for the regression.
TABLES = (50, 200, 30, 500, 80, 1000, 20, 300)


def test_dlrm_on_rtl(request):
    from tb.runner import BUILD_ROOT

    reports = run(table_sizes=TABLES, samples=1536, work_dir=BUILD_ROOT / "dlrm_on_rtl",
                  runs={"clean": "REFORMED", "fault": "SPLIT"}, test_id=request.node.nodeid)
    print(json.dumps(reports))
    clean, fault = reports["clean"], reports["fault"]
    assert clean["passed"] and fault["passed"], reports
    assert clean["error"] is None and clean["samples"] == 1536
    assert 0.05 < clean["popular_fraction"] < 0.9, clean["popular_fraction"]
    assert "gather_bus" in fault["error"]["errors"] and fault["error"]["untrained"]
    assert fault["steps"] * 32 == fault["error"]["untrained"][0]   # SPLIT: B = 32 per step
