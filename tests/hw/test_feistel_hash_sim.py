# amaranth: UnusedElaboratable=no
"""amaranth.sim unit tests of the Feistel hash block (fast tier; the cocotb tier is in tb/)."""

import pytest
from amaranth.sim import Simulator

from hotline_hw.feistel_hash import FeistelHash
from hotline_hw.model.feistel import FeistelHash as FeistelHashModel


@pytest.mark.parametrize("width, rounds", [(8, 4), (30, 4), (12, 1)])
def test_stream_matches_model_with_backpressure(pyrng, width, rounds):
    dut = FeistelHash(width=width, rounds=rounds)
    model = FeistelHashModel(width, rounds)
    values = [0, (1 << width) - 1] + [pyrng.getrandbits(width) for _ in range(300)]
    received = []

    async def producer(ctx):
        for value in values:
            while pyrng.random() < 0.3:                       # idle gaps
                await ctx.tick()
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload.value, value)
            await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)

    async def consumer(ctx):
        while len(received) < len(values):
            ready = pyrng.random() < 0.6                       # random backpressure
            ctx.set(dut.o.ready, ready)
            _, _, valid, value, hashed = await ctx.tick().sample(
                dut.o.valid, dut.o.payload.value, dut.o.payload.hash)
            if valid and ready:
                received.append((value, hashed))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run_until(1e-6 * 20 * len(values))
    assert received == [(v, model.forward(v)) for v in values]


def test_parameters_validated():
    with pytest.raises(ValueError, match="even number"):
        FeistelHash(width=9)
    dut = FeistelHash(width=10, rounds=3)
    assert (dut.width, dut.rounds, dut.keys) == (10, 3, FeistelHashModel(10, 3).keys)


def test_empty_register_takes_input_under_backpressure(pyrng):
    """The documented ready and latency: ``i.ready`` is high while the last stage is empty,
    even with ``o.ready`` low (a value moves down a stalled, empty pipeline), the value comes
    out ``rounds`` cycles after it is taken, and ``i.ready`` falls once the last stage holds
    it."""
    dut = FeistelHash(width=8)
    value = pyrng.getrandbits(8)
    print(f"value {value}")
    seen = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 0)
        ctx.set(dut.i.valid, 1)
        ctx.set(dut.i.payload.value, value)
        seen.append((ctx.get(dut.o.valid), ctx.get(dut.i.ready)))
        await ctx.tick()
        ctx.set(dut.i.valid, 0)
        for _ in range(dut.rounds):
            seen.append((ctx.get(dut.o.valid), ctx.get(dut.i.ready)))
            await ctx.tick()
        seen.append((ctx.get(dut.o.valid), ctx.get(dut.i.ready), ctx.get(dut.o.payload.hash)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen[:dut.rounds] == [(0, 1)] * dut.rounds
    assert seen[dut.rounds] == (1, 0)
    assert seen[-1] == (1, 0, FeistelHashModel(8, 4).forward(value))
