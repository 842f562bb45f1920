"""Throughput benchmark of the popularity table RTL, in clock cycles (run by ``make bench``).

Not a test: it streams prepared traffic with no idle cycles and no backpressure and counts the
cycles from the first request taken to the last response taken. Cycle counts are exact and
independent of the machine. Every response is still checked against the golden model, so a
figure is never reported for wrong results.

Parameters (``tb_params()``): ``traffic`` (an ``.npz`` of named int64 [N, T] sparse arrays),
``cases`` (list of ``{"name", "array", "mode", "packing"}``; packing ``dense`` fills every lane
with consecutive lookups regardless of sample boundaries, ``sample`` starts each sample on a new
beat as a sample-framed stream does), geometry fields, ``lanes``, ``report`` (JSON output path).
"""

from __future__ import annotations

import json

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hotline_hw.lookup_stream import lookup_request_layout, lookup_response_layout
from hotline_hw.model import Mode, PopularityTable, TableGeometry
from tb.popularity_table_tb import beats_from_sparse
from tb.runner import tb_params
from tb.streams import StreamSink, StreamSource, StructCodec, bind_stream


def beats_of(sparse: np.ndarray, lanes: int, packing: str) -> list[tuple[tuple[int, int], ...]]:
    """Lookups of ``sparse`` (table = column) grouped into beats of ``lanes`` keys."""
    if packing == "sample":
        return [beat.keys for beat in beats_from_sparse(sparse, lanes)]
    keys = [(col, int(row)) for sample in sparse.tolist() for col, row in enumerate(sample)]
    return [tuple(keys[i:i + lanes]) for i in range(0, len(keys), lanes)]


@cocotb.test()
async def measure_throughput(dut):
    params = tb_params()
    lanes = params["lanes"]
    geometry = TableGeometry(table_bits=params["table_bits"], row_bits=params["row_bits"],
                             set_bits=params["set_bits"], ways=params["ways"])
    req_codec = StructCodec.from_layout(lookup_request_layout(
        lanes=lanes, table_in_bits=params["table_in_bits"], row_in_bits=params["row_in_bits"]))
    resp_codec = StructCodec.from_layout(lookup_response_layout(
        lanes=lanes, table_in_bits=params["table_in_bits"], row_in_bits=params["row_in_bits"],
        slot_bits=geometry.slot_bits))
    # one lane of the response, as lookup_response_layout lays it out
    lane_codec = StructCodec.from_layout(lookup_response_layout(
        lanes=1, table_in_bits=params["table_in_bits"], row_in_bits=params["row_in_bits"],
        slot_bits=geometry.slot_bits).members["lanes"].elem_shape)
    lane_in_codec = StructCodec({"valid": 1, "table": params["table_in_bits"],
                                 "row": params["row_in_bits"]})
    traffic = np.load(params["traffic"])

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    source = bind_stream(StreamSource, dut, "req", dut.clk, dut.rst)
    sink = bind_stream(StreamSink, dut, "resp", dut.clk, dut.rst)
    dut.host_cmd__valid.value = 0
    dut.host_resp__ready.value = 1
    dut.counters_clear.value = 0
    dut.errors_clear.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0

    model = PopularityTable(geometry)
    results = {}
    for case in params["cases"]:
        mode = Mode[case["mode"]]
        dut.mode.value = int(mode)
        model.mode = mode
        beats = beats_of(traffic[case["array"]], lanes, case["packing"])
        lookups = sum(len(beat) for beat in beats)

        first_in, last_out, seen = None, None, 0

        async def watch(expected: int):
            nonlocal first_in, last_out, seen
            cycle = 0
            while seen < expected:
                await RisingEdge(dut.clk)
                cycle += 1
                if first_in is None and dut.req__valid.value and dut.req__ready.value:
                    first_in = cycle
                if dut.resp__valid.value and dut.resp__ready.value:
                    seen += 1
                    last_out = cycle

        watcher = cocotb.start_soon(watch(len(beats)))
        for beat in beats:
            word = 0
            for i, (table, row) in enumerate(beat):
                lane = lane_in_codec.pack(valid=1, table=table, row=row)
                word |= lane << (i * lane_in_codec.width)
            payload = req_codec.pack(lanes=word, first=1, last=1)
            await source.send(source._transaction_obj(payload=payload))
        mismatches = 0
        for beat in beats:
            got = resp_codec.unpack((await sink.recv()).payload)["lanes"]
            for i, (table, row) in enumerate(beat):
                lane = lane_codec.unpack(got >> (i * lane_codec.width))
                want = model.lookup(table, row)
                if (lane["hit"], lane["slot"], lane["error"]) != tuple(int(x) for x in want):
                    mismatches += 1
        await watcher
        assert mismatches == 0, f"{case['name']}: {mismatches} responses differ from the model"
        cycles = last_out - first_in + 1
        results[case["name"]] = {"lookups": lookups, "beats": len(beats), "cycles": cycles,
                                 "lookups_per_cycle": lookups / cycles,
                                 "lane_utilisation": lookups / cycles / lanes}
        dut._log.info("%s: %d lookups in %d cycles (%.3f lookups/cycle)", case["name"],
                      lookups, cycles, lookups / cycles)
        await ClockCycles(dut.clk, 10)

    with open(params["report"], "w") as handle:
        json.dump(results, handle, indent=2)
