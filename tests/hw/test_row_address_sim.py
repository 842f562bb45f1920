# amaranth: UnusedElaboratable=no
"""amaranth.sim tests of RowAddress at the rtl/ build's widths (26 tables, 24-bit rows, 32-bit
strides, 48-bit addresses, 128-bit bus): every address and beat count equals the golden
model's (``GatherModel.address`` and its bursts), including the partial products' carries
(strides and rows with their top bits set, addresses wrapping past 2**48), rejections, and
random backpressure; the documented latency and one result per cycle."""

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from hotline_hw.row_address import RowAddress, max_row_beats
from hotline_hw.table_parameters import TableParameters
from tests.hw.table_words import write_tables

TABLES, TABLE_BITS, ROW_BITS, ADDR_BITS, STRIDE_BITS, BUS_BYTES, MAX_DIM = 26, 5, 24, 48, 32, 16, 64


def expected(tables, dim, table, row):
    """(error, address, beats) as the model defines them, modulo 2**ADDR_BITS."""
    if not (table < TABLES and 1 <= dim <= MAX_DIM and row < tables[table][2]):
        return 1, 0, 0
    base, stride, _ = tables[table]
    address = (base + row * stride) % (1 << ADDR_BITS)
    first = address % BUS_BYTES
    return 0, address, -(-(first + 4 * dim) // BUS_BYTES)


def run(pyrng, tables, dim, requests, backpressure):
    dut = RowAddress(num_tables=TABLES, table_in_bits=TABLE_BITS, row_in_bits=ROW_BITS,
                     addr_bits=ADDR_BITS, stride_bits=STRIDE_BITS, bus_bytes=BUS_BYTES,
                     max_dim=MAX_DIM)
    params = TableParameters(num_tables=TABLES, table_in_bits=TABLE_BITS, row_in_bits=ROW_BITS,
                             addr_bits=ADDR_BITS, stride_bits=STRIDE_BITS, lookup_ports=1)
    top = Module()
    top.submodules.dut = dut
    top.submodules.params = params
    wiring.connect(top, dut.table_params, params.lookup[0])
    got, taken, seen = [], [], []
    configured = []

    async def producer(ctx):
        await write_tables(ctx, params.write, tables)
        configured.append(True)
        ctx.set(dut.dim, dim)
        cycle = 0
        for table, row in requests:
            ctx.set(dut.i.payload.table, table)
            ctx.set(dut.i.payload.row, row)
            ctx.set(dut.i.valid, 1)
            while True:
                _, _, ready = await ctx.tick().sample(dut.i.ready)
                cycle += 1
                if ready:
                    taken.append(cycle)
                    break
        ctx.set(dut.i.valid, 0)

    async def consumer(ctx):
        while not configured:
            await ctx.tick()
        cycle = 0
        while len(got) < len(requests):
            ready = pyrng.random() >= backpressure
            ctx.set(dut.o.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            cycle += 1
            if valid and ready:
                got.append((int(payload.error), int(payload.address), int(payload.beats)))
                seen.append(cycle)

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run_until(1e-6 * (20 * len(requests) + 4 * len(tables) + 150))
    return got, taken, seen


def random_tables(pyrng):
    tables = []
    for t in range(TABLES):
        # Strides and rows with their top bits set: every partial product and carry counts.
        stride = pyrng.choice([pyrng.randrange(1 << 30) * 4, (1 << STRIDE_BITS) - 4,
                               pyrng.randrange(1, 64) * 4])
        base = pyrng.choice([pyrng.randrange(1 << (ADDR_BITS - 2)) * 4, (1 << ADDR_BITS) - 4])
        # TABLE_ROWS past 2**ROW_BITS (up to 2**32 - 1) saturates: every row id is in range.
        tables.append((base, stride, pyrng.choice([0, 1, pyrng.randrange(1 << ROW_BITS),
                                                   1 << ROW_BITS, (1 << 32) - 1,
                                                   pyrng.randrange(1 << ROW_BITS, 1 << 32)])))
    return tables


@pytest.mark.parametrize("backpressure", [0.0, 0.5])
def test_row_address_matches_the_model_at_full_width(pyrng, backpressure):
    tables = random_tables(pyrng)
    dim = pyrng.choice([1, 16, 33, MAX_DIM])
    requests = [(pyrng.randrange(32), pyrng.choice([0, (1 << ROW_BITS) - 1,
                                                    pyrng.randrange(1 << ROW_BITS)]))
                for _ in range(300)]
    got, taken, seen = run(pyrng, tables, dim, requests, backpressure)
    want = [expected(tables, dim, t, r) for t, r in requests]
    assert got == want
    assert any(not e for e, _, _ in want) and any(e for e, _, _ in want)
    assert all(1 <= b <= max_row_beats(BUS_BYTES, MAX_DIM) for e, _, b in want if not e)
    if backpressure == 0:
        # Latency 3, then one result per cycle.
        assert seen[0] - taken[0] == 3
        assert seen == list(range(seen[0], seen[0] + len(requests)))


def test_dim_out_of_range_rejects(pyrng):
    tables = [(0x1000, 256, 10)] * TABLES
    for dim in (0, MAX_DIM + 1):
        got, _, _ = run(pyrng, tables, dim, [(0, 1), (3, 9)], 0.0)
        assert got == [(1, 0, 0), (1, 0, 0)]
