"""Throughput benchmark of the micro-batch scheduler RTL, in clock cycles (``make bench``).

Not a test: it streams samples with no idle cycles and no backpressure and counts the cycles
from the first to the last input beat taken: the rate the scheduler takes samples at while its
outputs drain (the input stalls if the buffer fills, so the output rate is included). Use many
more samples than a working set holds. The scoreboard and the invariants of
:class:`tb.micro_batch_scheduler_tb.MicroBatchSchedulerTB` still check every beat, so a figure
is never reported for wrong results.

Parameters (``tb_params()``): the RTL parameters (``make_params``), ``cases`` (list of
``{"name", "lookups", "batch_size", "working_set", "samples", "popular_rate"}``, one cocotb test
each, from reset) and ``report`` (JSON output path; each case writes ``<report>.<name>.json``).
"""

from __future__ import annotations

import json
import random

import cocotb

from tb.micro_batch_scheduler_tb import MicroBatchSchedulerTB, random_samples
from tb.runner import tb_params


CASES = {case["name"]: case for case in tb_params().get("cases", [])}


@cocotb.parametrize(name=list(CASES) or ["none"])
async def measure_scheduler_throughput(dut, name):
    params = tb_params()
    case = CASES[name]
    tb = MicroBatchSchedulerTB(dut, params)
    await tb.reset()
    rng = random.Random(cocotb.RANDOM_SEED)
    tb.configure(batch_size=case["batch_size"], working_set=case["working_set"])
    samples = random_samples(rng, case["samples"], lookups=case["lookups"], hit_rate=0.9,
                             popular_rate=case["popular_rate"],
                             table_bits=params["table_in_bits"], row_bits=params["row_in_bits"],
                             slot_bits=params["slot_bits"])
    watch = tb.watch_flow()
    await tb.send(samples)
    await tb.drain(timeout_cycles=50 * len(samples) * case["lookups"] + 10_000)
    flow = watch.stop()
    tb.check_invariants()
    counters = tb.check_counters()
    cycles = flow.in_cycles
    lanes, lookups = params["lanes"], case["lookups"]
    result = {
        "samples": len(samples), "cycles": cycles, "input_beats": flow.in_beats,
        "stalls": int(dut.stalls.value),
        "output_beats": flow.out_beats, "micro_batches": counters["micro_batches"],
        "samples_per_cycle": len(samples) / cycles,
        "vs_lanes_over_lookups": len(samples) / cycles / (lanes / lookups),
        "framing_bound": 1 / -(-lookups // lanes) / (lanes / lookups),
    }
    dut._log.info("%s: %s", name, result)
    with open(f"{params['report']}.{name}.json", "w") as handle:
        json.dump(result, handle, indent=2)
