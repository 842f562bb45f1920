"""Read-bus utilisation of the gather engine RTL, in clock cycles (``make bench``).

Not a test: host memory (:class:`tb.axi_memory.HostMemory`) answers every read after a fixed
latency, in order, with no stall; requests come with no idle cycle and the output is always
ready. The figure is the R channel's utilisation: R beats / cycles from the first R beat to the
last (1.0 = one full beat every cycle, the physical limit), plus the share of the R bytes that
belong to requested rows (``useful``: < 1 when rows are not aligned to the bus). Every gathered
beat is still checked against the golden model, so a figure is never reported for wrong
results.

Parameters (``tb_params()``): the RTL parameters (``make_params``), ``cases`` (list of
``{"name", "latency", "dim", "rows", "misalign"}``, one cocotb test each, from reset) and
``report`` (JSON output path; each case writes ``<report>.<name>.json``).
"""

from __future__ import annotations

import json

import cocotb
from cocotb.triggers import RisingEdge

from tb.gather_engine_tb import GatherEngineTB
from tb.runner import tb_params

CASES = {case["name"]: case for case in tb_params().get("cases", [])}


@cocotb.parametrize(name=list(CASES) or ["none"])
async def measure_read_bus_utilisation(dut, name):
    params = tb_params()
    case = CASES[name]
    tb = GatherEngineTB(dut, params, read_latency=case["latency"], reorder=False)
    await tb.reset()
    dim = case["dim"]
    tb.fill_memory()
    tb.model.dim = dim
    stride = 4 * dim
    table_rows = min(1 << 14, (params["memory_size"] - 8192) // stride)
    await tb.configure([(4096 + 4 * case["misalign"], stride, table_rows)], dim)
    requests = [(0, tb.rng.randrange(table_rows)) for _ in range(case["rows"])]
    window = {"beats": 0}

    async def watch():
        while True:
            await RisingEdge(dut.clk)
            if dut.m_axi__rvalid.value and dut.m_axi__rready.value:
                window.setdefault("first", tb.memory.cycle)
                window["last"] = tb.memory.cycle
                window["beats"] += 1

    watcher = cocotb.start_soon(watch())
    start = tb.memory.cycle
    await tb.gather(requests)
    end = tb.memory.cycle
    watcher.cancel()
    tb.finish()
    span = window["last"] - window["first"] + 1
    bus_bytes = tb.bus_bytes
    result = {
        "rows": len(requests), "r_beats": window["beats"], "cycles": span,
        "total_cycles": end - start,
        "utilisation": window["beats"] / span,
        "useful": len(requests) * 4 * dim / (window["beats"] * bus_bytes),
        "rows_per_cycle": len(requests) / span,
    }
    dut._log.info("%s: %s", name, result)
    with open(f"{params['report']}.{name}.json", "w") as handle:
        json.dump(result, handle, indent=2)
