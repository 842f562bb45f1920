"""cocotb regression of the banked popularity table (generated Verilog) against the golden model.

The table-level tests of :mod:`tb.test_popularity_table` (hand-made SRRIP hazards, uniform
random traffic with out-of-range keys, host reads amid LEARN traffic, bad input; random idle
cycles and backpressure) run unchanged on a small banked build, with the same scoreboard: every
response beat compared with :class:`hotline_hw.model.PopularityTable` applied lookup by lookup in
stream order, the whole table dumped and compared after every phase. The tests below add the
crossbar's hazards -- every lane of a beat on one bank, on one set, on one key -- and check the
cycle model (:mod:`hotline_hw.model.banked_timing`) against the Verilog's cycle counts.
"""

from __future__ import annotations

import cocotb
import pytest

from hotline_hw.model import Mode
from hotline_hw.model.banked_timing import BankedTiming, hashed_beats
from tb.popularity_table_tb import Beat, make_component, make_params
from tb.runner import run_cocotb
from tb.test_popularity_table import (BACKPRESSURE, IDLE, learn_and_check, new_tb,
                                      run_and_check)

# 4 tables x 64 rows in 16 sets x 4 ways; request fields one bit wider (out-of-range keys).
GEOMETRY = dict(table_bits=2, row_bits=6, set_bits=4, ways=4, table_in_bits=3, row_in_bits=7)
SHARED_TESTS = ["hazards", "uniform_random", "host_reads_during_learn", "bad_input"]
BANKED_TESTS = ["crossbar_hazards", "cycles_match_model"]


def all_keys(tb):
    g = tb.geometry
    return [(t, r) for t in range(1 << g.table_bits) for r in range(1 << g.row_bits)]


def hazard_traffic(tb, count: int) -> list[Beat]:
    """Beats whose lanes all address one bank (different sets), one set (more keys than ways),
    one key, or a key around other keys of its set."""
    rng, banks, p = tb.rng, tb.params["banks"], tb.lanes
    keys = all_keys(tb)
    bank = rng.randrange(banks)
    one_bank = [k for k in keys if tb.model.set_and_tag(*k)[0] % banks == bank]
    target = rng.choice([tb.model.set_and_tag(*k)[0] for k in one_bank])
    one_set = [k for k in keys if tb.model.set_and_tag(*k)[0] == target]
    beats = []
    for _ in range(count):
        kind = rng.randrange(4)
        key = rng.choice(one_set[:6])
        if kind == 0:
            lanes = [rng.choice(one_bank) for _ in range(p)]
        elif kind == 1:
            lanes = [rng.choice(one_set) for _ in range(p)]
        elif kind == 2:
            lanes = [key] * p
        else:
            lanes = [rng.choice([key, key, rng.choice(one_set), None]) for _ in range(p)]
        beats.append(Beat(tuple(lanes), rng.random() < 0.5, rng.random() < 0.5,
                          rng.getrandbits(max(1, tb.meta_bits)), -1))
    return beats


@cocotb.test()
async def crossbar_hazards(dut):
    """One bank / one set / one key per beat, LEARN then RUN, with no pauses, with random idle
    cycles and backpressure, and with duty-cycle patterns; table and counters compared after
    every phase."""
    tb = await new_tb(dut, pauses=False)
    for idle, backpressure in ((None, None), (IDLE, BACKPRESSURE), ((0, 1), (1, 1, 0))):
        tb.set_pauses(idle, backpressure)
        beats = hazard_traffic(tb, 150)
        await learn_and_check(tb, beats, f"crossbar hazards, pauses {idle}/{backpressure}")
        await run_and_check(tb, beats, f"crossbar hazards, pauses {idle}/{backpressure}")


@cocotb.test()
async def cycles_match_model(dut):
    """With no pauses, the cycles of a run minus the cycle model's are the same constant (the
    testbench's edge alignment, at most 3) for short and long, random and hazard runs."""
    tb = await new_tb(dut, pauses=False, protocol_checks=False)
    params = tb.params
    timing = BankedTiming(lanes=tb.lanes, banks=params["banks"], depth=params["depth"])
    keys = all_keys(tb)
    offsets = []
    for mode in (Mode.LEARN, Mode.RUN):
        await tb.set_mode(mode)
        for count in (40, 160):
            beats = [Beat(tuple(tb.rng.choice(keys) for _ in range(tb.lanes)))
                     for _ in range(count)] + hazard_traffic(tb, count // 2)
            predicted = timing.run(hashed_beats(tb.model, [b.keys for b in beats]),
                                   learn=mode == Mode.LEARN)
            cycles = await tb.run_timed(beats)
            offsets.append(cycles - predicted.cycles)
            tb.log.info("%s: %d beats, %d cycles (model %d)", mode.name, len(beats), cycles,
                        predicted.cycles)
    assert len(set(offsets)) == 1 and 0 <= offsets[0] <= 3, \
        f"seed {tb.seed}: RTL cycles - model cycles = {offsets}"
    await tb.compare_dump("after the timed runs")


@pytest.mark.parametrize("lanes,banks,depth", [(4, 4, 3)])
def test_banked_popularity_table(request, lanes, banks, depth):
    params = make_params(**GEOMETRY, lanes=lanes, meta_bits=6, counter_bits=16, size="tiny",
                         banks=banks, depth=depth)
    run_cocotb(
        test_id=request.node.nodeid,
        component=make_component(params),
        toplevel="banked_popularity_table",
        test_module="tb.test_popularity_table,tb.test_banked_popularity_table",
        testcase=SHARED_TESTS + BANKED_TESTS,
        params=params,
    )
