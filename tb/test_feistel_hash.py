"""Testbench of the Feistel hash block: every output against the golden model's hash.

Runs the stream through cocotbext-axi stream models with idle gaps on the input and random
backpressure on the output; the scoreboard compares each (value, hash) in order with
``hotline_hw.model.feistel.FeistelHash.forward``.
"""

from __future__ import annotations

import random

import cocotb
import pytest
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout

from hotline_hw.feistel_hash import FeistelHash
from hotline_hw.model.feistel import FeistelHash as FeistelHashModel
from tb.runner import run_cocotb, tb_params
from tb.streams import (StreamSink, StreamSource, StructCodec, bind_stream, duty_cycle_pause,
                        random_pause)


class FeistelHashTB:
    """Clock, reset, bus models and the golden model for one ``feistel_hash`` DUT."""

    def __init__(self, dut, params: dict):
        self.dut = dut
        self.model = FeistelHashModel(params["width"], params["rounds"])
        self.rng = random.Random(cocotb.RANDOM_SEED)
        self.in_codec = StructCodec({"value": params["width"]})
        self.out_codec = StructCodec({"value": params["width"], "hash": params["width"]})
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.source = bind_stream(StreamSource, dut, "i", dut.clk, dut.rst)
        self.sink = bind_stream(StreamSink, dut, "o", dut.clk, dut.rst)

    async def reset(self):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    async def check(self, values, timeout_cycles: int):
        for value in values:
            await self.source.send(self.source._transaction_obj(
                payload=self.in_codec.pack(value=value)))
        for index, value in enumerate(values):
            beat = await with_timeout(self.sink.recv(), timeout_cycles * 10, "ns")
            got = self.out_codec.unpack(beat.payload)
            expected = {"value": value, "hash": self.model.forward(value)}
            assert got == expected, f"beat {index}: got {got}, expected {expected}"
        assert self.sink.empty(), "the DUT emitted more beats than it was given"


def _values(rng: random.Random, width: int, count: int) -> list[int]:
    edges = [0, 1, (1 << width) - 1, 1 << (width - 1), (1 << (width // 2)) - 1]
    return edges + [rng.getrandbits(width) for _ in range(count)]


@cocotb.test()
async def hash_matches_model_full_rate(dut):
    """No pauses: one value per cycle, every hash equal to the model's."""
    params = tb_params()
    tb = FeistelHashTB(dut, params)
    await tb.reset()
    values = _values(tb.rng, params["width"], 2000)
    start = cocotb.utils.get_sim_time("ns")
    await tb.check(values, timeout_cycles=len(values) + 20)
    cycles = (cocotb.utils.get_sim_time("ns") - start) / 10
    # Throughput contract: one value per cycle (plus the pipeline latency).
    assert cycles <= len(values) + 4, f"{len(values)} values took {cycles} cycles"


@cocotb.test()
async def hash_matches_model_under_backpressure(dut):
    """Random idle gaps on the input and random backpressure on the output lose nothing."""
    params = tb_params()
    tb = FeistelHashTB(dut, params)
    tb.source.set_pause_generator(random_pause(tb.rng, 0.3))
    tb.sink.set_pause_generator(random_pause(tb.rng, 0.5))
    await tb.reset()
    values = _values(tb.rng, params["width"], 1000)
    await tb.check(values, timeout_cycles=20 * len(values))
    tb.sink.set_pause_generator(duty_cycle_pause((1, 1, 0)))
    values = _values(tb.rng, params["width"], 300)
    await tb.check(values, timeout_cycles=20 * len(values))


@pytest.mark.parametrize("width, rounds", [(8, 4), (30, 4), (20, 2)])
def test_feistel_hash(request, width, rounds):
    run_cocotb(
        test_id=request.node.nodeid,
        component=FeistelHash(width=width, rounds=rounds),
        toplevel="feistel_hash",
        test_module="tb.test_feistel_hash",
        params={"width": width, "rounds": rounds},
    )
