# amaranth: UnusedElaboratable=no
"""amaranth.sim tests of TableParameters, the gather engine's per-table register memory,
against a Python model of the register words: random word writes with random byte strobes
(words past the tables included, which must not change a table's), read-back of the word as written,
every lookup port's fields (base cut to addr_bits, stride cut to stride_bits, rows saturated at
2**row_in_bits) one cycle after ``en`` and held while ``en`` is low, and the clearing after
reset (``ready`` low exactly for the sweep, every word zero afterwards, also after a reset in
the middle of a run)."""

import pytest
from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from hotline_hw.gather_stream import table_word_bits
from hotline_hw.table_parameters import TableParameters

CASES = {
    # name: (num_tables, table_in_bits, row_in_bits, addr_bits, stride_bits, lookup_ports)
    "rtl_build": (26, 5, 24, 48, 32, 2),
    "odd": (5, 3, 10, 40, 20, 3),
    "one_table": (1, 1, 31, 64, 32, 1),
    "wide_rows": (3, 2, 32, 33, 7, 2),
}


def _fields(words, t, row_in_bits, addr_bits, stride_bits):
    """(base, stride, rows) of table ``t`` as the lookup ports give them."""
    w = [words.get(4 * t + r, 0) for r in range(4)]
    base = (w[0] | w[1] << 32) & ((1 << addr_bits) - 1)
    return base, w[2] & ((1 << stride_bits) - 1), min(w[3], 1 << row_in_bits)


@pytest.mark.parametrize("case", list(CASES))
def test_table_parameters_match_the_register_words(pyrng, case):
    num_tables, table_in_bits, row_in_bits, addr_bits, stride_bits, ports = CASES[case]
    dut = TableParameters(num_tables=num_tables, table_in_bits=table_in_bits,
                          row_in_bits=row_in_bits, addr_bits=addr_bits, stride_bits=stride_bits,
                          lookup_ports=ports)
    word_limit = 1 << table_word_bits(num_tables)
    fields = dict(row_in_bits=row_in_bits, addr_bits=addr_bits, stride_bits=stride_bits)
    top = Module()
    top.domains.sync = sync = ClockDomain("sync")
    top.submodules.dut = dut
    checked = {"reads": 0, "lookups": 0, "writes": 0, "held": 0, "sweeps": 0}

    async def sweep(ctx, words):
        """``ready`` low for exactly ``depth`` cycles after reset, then every word is 0."""
        low = 0
        while not ctx.get(dut.write.ready):
            await ctx.tick()
            low += 1
        assert low == dut.depth, f"ready low {low} cycles, depth {dut.depth}"
        words.clear()
        checked["sweeps"] += 1

    async def bench(ctx):
        # The memory starts at zero in simulation: the reset half-way (after random writes)
        # shows that the sweep clears what was written.
        words = {}
        await sweep(ctx, words)
        held_read = None
        held_lookup = [None] * ports
        for cycle in range(3000):
            if cycle == 1500:
                assert any(words.values()), "nothing written before the reset"
                ctx.set(sync.rst, 1)
                await ctx.tick()
                ctx.set(sync.rst, 0)
                await sweep(ctx, words)
                for k in range(ports):          # the cleared words, through every port
                    ctx.set(dut.lookup[k].en, 1)
                    ctx.set(dut.lookup[k].table, pyrng.randrange(num_tables))
                ctx.set(dut.read.en, 1)
                ctx.set(dut.read.word, pyrng.randrange(4 * num_tables))
                await ctx.tick()
                assert ctx.get(dut.read.data) == 0
                assert all(ctx.get(dut.lookup[k].data.as_value()) == 0 for k in range(ports))
                held_read, held_lookup = 0, [(0, 0, 0)] * ports
            write = pyrng.random() < 0.5
            w_word = pyrng.randrange(word_limit)
            w_data = pyrng.getrandbits(32)
            w_strobe = pyrng.randrange(16)
            ctx.set(dut.write.en, write)
            ctx.set(dut.write.word, w_word)
            ctx.set(dut.write.data, w_data)
            ctx.set(dut.write.strobe, w_strobe)
            read = pyrng.random() < 0.5
            r_word = pyrng.randrange(4 * num_tables)
            ctx.set(dut.read.en, read)
            ctx.set(dut.read.word, r_word)
            want_read = words.get(r_word, 0) if read else held_read
            want_lookup = []
            for k in range(ports):
                en = pyrng.random() < 0.6
                table = pyrng.randrange(num_tables)
                ctx.set(dut.lookup[k].en, en)
                ctx.set(dut.lookup[k].table, table)
                want_lookup.append(_fields(words, table, **fields) if en else held_lookup[k])
            _, _, ready = await ctx.tick().sample(dut.write.ready)
            assert ready
            if write and w_word < 4 * num_tables:
                mask = sum(0xFF << 8 * b for b in range(4) if w_strobe >> b & 1)
                old = words.get(w_word, 0)
                words[w_word] = (old & ~mask) | (w_data & mask)
                checked["writes"] += 1
            if want_read is not None:
                assert ctx.get(dut.read.data) == want_read, f"cycle {cycle}: read {r_word}"
                checked["reads"] += read
                checked["held"] += not read
            held_read = want_read
            for k in range(ports):
                if want_lookup[k] is not None:
                    data = ctx.get(dut.lookup[k].data)
                    got = (int(data.base), int(data.stride), int(data.rows))
                    assert got == want_lookup[k], f"cycle {cycle}: lookup port {k}"
                    checked["lookups"] += 1
            held_lookup = want_lookup

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert checked["sweeps"] == 2 and checked["writes"] > 500 and checked["reads"] > 500
    assert checked["held"] > 500 and checked["lookups"] > 1000


def test_rows_saturate_and_base_spans_both_words(pyrng):
    """TABLE_ROWS above 2**row_in_bits reads as 2**row_in_bits; base = HI:LO cut to
    addr_bits; partial strobes merge bytes."""
    dut = TableParameters(num_tables=2, table_in_bits=1, row_in_bits=8, addr_bits=40,
                          stride_bits=32, lookup_ports=1)

    async def bench(ctx):
        while not ctx.get(dut.write.ready):
            await ctx.tick()
        for word, data, strobe in [(0, 0x89ABCDEF, 0xF), (1, 0xFFFFFF12, 0xF),
                                   (2, 0x11223344, 0b0101), (3, 0x00000100, 0xF),
                                   (7, 0xFFFFFFFF, 0xF), (6, 0xAABBCCDD, 0b1010)]:
            ctx.set(dut.write.en, 1)
            ctx.set(dut.write.word, word)
            ctx.set(dut.write.data, data)
            ctx.set(dut.write.strobe, strobe)
            await ctx.tick()
        ctx.set(dut.write.en, 0)
        ctx.set(dut.lookup[0].en, 1)
        ctx.set(dut.lookup[0].table, 0)
        await ctx.tick()
        data = ctx.get(dut.lookup[0].data)
        assert (int(data.base), int(data.stride), int(data.rows)) == \
            (0x1289ABCDEF, 0x00220044, 0x100)
        ctx.set(dut.lookup[0].table, 1)
        await ctx.tick()
        data = ctx.get(dut.lookup[0].data)
        assert (int(data.base), int(data.stride), int(data.rows)) == (0, 0xAA00CC00, 0x100)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
