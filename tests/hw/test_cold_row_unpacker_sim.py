# amaranth: UnusedElaboratable=no
"""amaranth.sim unit test of the cold-row unpacker: every valid lane, in order, nothing else."""

import pytest
from amaranth.sim import Simulator

from hotline_hw.cold_row_unpacker import ColdRowUnpacker


@pytest.mark.parametrize("lanes", [1, 3, 4])
def test_unpacks_valid_lanes_in_order(pyrng, lanes):
    dut = ColdRowUnpacker(lanes=lanes, table_in_bits=5, row_in_bits=12, size_bits=8,
                          beat_bits=3)
    beats = [[(pyrng.random() < 0.6, pyrng.randrange(32), pyrng.randrange(4096))
              for _ in range(lanes)] for _ in range(300)]
    expected = [(t, r) for beat in beats for valid, t, r in beat if valid]
    got = []
    cycles = {}

    async def bench(ctx):
        pending = list(beats)
        cycle = 0
        while pending or len(got) < len(expected):
            cycle += 1
            assert cycle < 10_000, "stuck"
            valid = bool(pending) and pyrng.random() >= 0.2
            if valid:
                for k, (v, t, r) in enumerate(pending[0]):
                    lane = dut.i.payload.lanes[k]
                    ctx.set(lane.valid, v)
                    ctx.set(lane.table, t)
                    ctx.set(lane.row, r)
            ctx.set(dut.i.valid, valid)
            ready = pyrng.random() >= 0.3
            ctx.set(dut.o.ready, ready)
            if ready and ctx.get(dut.o.valid):
                got.append((ctx.get(dut.o.payload.table), ctx.get(dut.o.payload.row)))
            if valid and ctx.get(dut.i.ready):
                pending.pop(0)
            await ctx.tick()
        cycles["n"] = cycle

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == expected


def test_full_rate(pyrng):
    """No pauses: one request per cycle; a beat with no valid lane takes one cycle. The last
    request leaves ``requests + empty + 1`` cycles after the first beat is offered (the two skid
    buffers' cycle, less the one in which the first beat is taken)."""
    dut = ColdRowUnpacker(lanes=4, table_in_bits=5, row_in_bits=12, size_bits=8, beat_bits=3)
    beats = [[(pyrng.random() < 0.5, 1, n) for _ in range(4)] for n in range(200)]
    beats.append([(True, 1, 200)] + [(False, 1, 200)] * 3)     # end on a request
    requests = sum(sum(v for v, _, _ in beat) for beat in beats)
    empty = sum(not any(v for v, _, _ in beat) for beat in beats)
    result = {}

    async def feed(ctx):
        for beat in beats:
            for k, (v, t, r) in enumerate(beat):
                ctx.set(dut.i.payload.lanes[k].valid, v)
                ctx.set(dut.i.payload.lanes[k].row, r)
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)

    async def drain(ctx):
        ctx.set(dut.o.ready, 1)
        taken, cycle = 0, 0
        while taken < requests:
            await ctx.tick()
            cycle += 1
            assert cycle < 10_000, "stuck"
            taken += ctx.get(dut.o.valid)
        result["cycles"] = cycle

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(feed)
    sim.add_testbench(drain)
    sim.run()
    print(f"{requests} requests, {empty} empty beats: last request after {result['cycles']} cycles")
    assert result["cycles"] == requests + empty + 1
