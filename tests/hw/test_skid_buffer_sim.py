# amaranth: UnusedElaboratable=no
"""amaranth.sim unit tests of the skid buffer: order, no loss or repeat, registered ready."""

import pytest
from amaranth.sim import Simulator

from hotline_hw.skid_buffer import SkidBuffer


def run(beats, pyrng, *, send_rate, take_rate, cycles_per_beat=8):
    """Push ``beats`` through a 16-bit SkidBuffer with random ``i.valid`` and ``o.ready``; return
    what came out, a log of (cycle, i.ready, o.valid, o.ready) and the cycles used."""
    dut = SkidBuffer(16)
    got, log = [], []
    state = {"cycle": 0}

    async def producer(ctx):
        for value in beats:
            while pyrng.random() >= send_rate:
                ctx.set(dut.i.valid, 0)
                await ctx.tick()
            ctx.set(dut.i.payload, value)
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)
        state["sent"] = True

    async def consumer(ctx):
        while len(got) < len(beats):
            ready = pyrng.random() < take_rate
            ctx.set(dut.o.ready, ready)
            _, _, i_ready, o_valid, payload = await ctx.tick().sample(
                dut.i.ready, dut.o.valid, dut.o.payload)
            log.append((state["cycle"], i_ready, o_valid, ready))
            state["cycle"] += 1
            if o_valid and ready:
                got.append(payload)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run_until(1e-6 * (cycles_per_beat * len(beats) + 50))
    assert len(got) == len(beats), f"stalled after {len(got)} of {len(beats)} beats"
    return got, log, state["cycle"]


@pytest.mark.parametrize("send_rate, take_rate", [(1.0, 1.0), (1.0, 0.5), (0.5, 1.0),
                                                  (0.7, 0.3), (0.3, 0.8)])
def test_every_beat_once_in_order(pyrng, send_rate, take_rate):
    beats = [pyrng.randrange(1 << 16) for _ in range(300)]
    got, _, _ = run(beats, pyrng, send_rate=send_rate, take_rate=take_rate)
    assert got == beats


def test_one_beat_per_cycle_when_the_output_is_always_ready(pyrng):
    beats = [pyrng.randrange(1 << 16) for _ in range(200)]
    got, log, cycles = run(beats, pyrng, send_rate=1.0, take_rate=1.0)
    assert got == beats
    assert cycles <= len(beats) + 2, cycles
    assert all(i_ready for _, i_ready, _, _ in log), "i.ready fell with the output always ready"


def test_input_ready_is_a_register(pyrng):
    """``i.ready`` falls only in the cycle after the output held a beat with ``o.ready`` low (the
    skid entry filled), never in the same cycle as ``o.ready``: the consumer's ``ready`` does
    not reach the producer combinationally."""
    beats = [pyrng.randrange(1 << 16) for _ in range(300)]
    _, log, _ = run(beats, pyrng, send_rate=1.0, take_rate=0.5)
    falls = 0
    for (_, ready_before, valid_before, o_ready_before), (_, i_ready, _, _) in zip(log, log[1:]):
        if not i_ready and ready_before:
            falls += 1
            assert valid_before and not o_ready_before, "i.ready fell without a held beat"
    assert falls > 10, "the test never filled the skid entry"
    dut = SkidBuffer(8)
    seen = {}

    async def same_cycle(ctx):
        ctx.set(dut.i.valid, 1)
        ctx.set(dut.i.payload, 1)
        await ctx.tick()                        # the output register holds beat 1
        for o_ready in (0, 1, 0, 1):            # i.ready does not follow o.ready in-cycle
            ctx.set(dut.o.ready, o_ready)
            await ctx.delay(1e-9)
            seen.setdefault("ready", set()).add((o_ready, ctx.get(dut.i.ready)))
        ctx.set(dut.o.ready, 0)
        await ctx.tick()                        # beat 2 into the skid entry
        seen["after_stall"] = ctx.get(dut.i.ready)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(same_cycle)
    sim.run()
    assert seen == {"ready": {(0, 1), (1, 1)}, "after_stall": 0}


def test_skid_entry_is_what_the_output_register_takes_next(pyrng):
    """In every cycle the output register is free, ``o`` shows the next cycle ``skid`` if
    ``skid_valid`` (which is ``i.ready`` low), else the input's payload, under random
    ``i.valid`` and ``o.ready``."""
    dut = SkidBuffer(16)
    checked = {"loads": 0, "from_skid": 0}

    async def bench(ctx):
        expect = None
        skid_full = False
        for _ in range(2000):
            if expect is not None:
                assert ctx.get(dut.o.payload) == expect, "o is not what was to follow"
                checked["loads"] += 1
            ctx.set(dut.i.payload, pyrng.randrange(1 << 16))
            ctx.set(dut.i.valid, pyrng.random() < 0.7)
            ctx.set(dut.o.ready, pyrng.random() < 0.5)
            await ctx.delay(1e-9)
            free = not ctx.get(dut.o.valid) or ctx.get(dut.o.ready)
            skid_full = ctx.get(dut.skid_valid)
            assert skid_full == (not ctx.get(dut.i.ready))
            following = ctx.get(dut.skid) if skid_full else ctx.get(dut.i.payload)
            expect = following if free else None
            if free and skid_full:
                checked["from_skid"] += 1
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert checked["loads"] > 500 and checked["from_skid"] > 50, checked
