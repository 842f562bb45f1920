# amaranth: UnusedElaboratable=no
"""amaranth.sim unit tests of the banked popularity table against the golden model (fast tier).

Every response beat is compared with :class:`hotline_hw.model.PopularityTable` applied lookup by
lookup in stream order; LEARN phases end with a dump of the whole table through the host port;
inputs pause and outputs refuse at random. Hazard traffic puts every lane of a beat on one bank,
one set or one key. The cycle model (:mod:`hotline_hw.model.banked_timing`) is checked against
the RTL's cycle of every response beat.
"""

import pytest
from amaranth.sim import Simulator

from hotline_hw.banked_popularity_table import BankedPopularityTable
from hotline_hw.lookup_crossbar import LookupCrossbar
from hotline_hw.lookup_stream import HostOp
from hotline_hw.model import Mode, TableGeometry, beat_set_conflicts
from hotline_hw.model import PopularityTable as Model
from hotline_hw.model.banked_timing import BankedTiming, hashed_beats
from hotline_hw.table_bank import TableBank

TINY = TableGeometry(table_bits=2, row_bits=6, set_bits=4, ways=4)     # 16 sets, 64 entries


class Harness:
    """Runs phases of host commands and lookup beats through one simulation of the DUT, with
    random input pauses (``pause``) and output backpressure (``backpressure``)."""

    def __init__(self, dut, pyrng, pause=0.3, backpressure=0.4):
        self.dut, self.rng = dut, pyrng
        self.pause, self.backpressure = pause, backpressure
        self.phases = []
        self.responses, self.host_responses, self.counters = [], [], {}
        self.response_cycles = []
        self.cycles = 0

    def host(self, commands):
        self.phases.append(("host", list(commands)))

    def lookups(self, beats, mode, host=()):
        """A phase of lookup beats in ``mode``, with host ``commands`` sent alongside them."""
        self.phases.append(("lookups", list(beats), mode, list(host)))

    def run(self):
        dut, rng = self.dut, self.rng
        n_beats = sum(len(p[1]) for p in self.phases if p[0] == "lookups")
        n_host = sum(len(p[1]) for p in self.phases if p[0] == "host") \
            + sum(len(p[3]) for p in self.phases if p[0] == "lookups")
        done = {"producer": False}
        alongside = {"commands": None}

        async def send_host(ctx, commands):
            for op, slot, entry in commands:
                while rng.random() < self.pause:
                    await ctx.tick()
                ctx.set(dut.host_cmd.payload.op, op)
                ctx.set(dut.host_cmd.payload.slot, slot)
                ctx.set(dut.host_cmd.payload.entry.valid, entry[0])
                ctx.set(dut.host_cmd.payload.entry.rrpv, entry[1])
                ctx.set(dut.host_cmd.payload.entry.tag, entry[2])
                ctx.set(dut.host_cmd.valid, 1)
                await ctx.tick().until(dut.host_cmd.ready)
                ctx.set(dut.host_cmd.valid, 0)

        async def host_alongside(ctx):
            while not done["producer"]:
                if alongside["commands"]:
                    await send_host(ctx, alongside["commands"])
                    alongside["commands"] = None
                await ctx.tick()

        async def producer(ctx):
            for phase in self.phases:
                if phase[0] == "host":
                    await send_host(ctx, phase[1])
                else:
                    ctx.set(dut.mode, phase[2])
                    alongside["commands"] = phase[3]
                    for beat in phase[1]:
                        while rng.random() < self.pause:
                            await ctx.tick()
                        for i, key in enumerate(beat):
                            lane = dut.req.payload.lanes[i]
                            ctx.set(lane.valid, key is not None)
                            ctx.set(lane.table, key[0] if key else rng.randrange(8))
                            ctx.set(lane.row, key[1] if key else rng.randrange(128))
                        ctx.set(dut.req.valid, 1)
                        await ctx.tick().until(dut.req.ready)
                        ctx.set(dut.req.valid, 0)
                    while alongside["commands"]:
                        await ctx.tick()
                # Let the phase drain before the next one (the mode changes only when idle).
                await ctx.tick()
                while ctx.get(dut.busy) or ctx.get(dut.resp.valid) or ctx.get(
                        dut.host_resp.valid):
                    await ctx.tick()
            done["producer"] = True

        async def collector(ctx):
            while not done["producer"]:
                ready = rng.random() >= self.backpressure
                ctx.set(dut.resp.ready, ready)
                ctx.set(dut.host_resp.ready, ready)
                _, _, rv, payload, hv, hpayload = await ctx.tick().sample(
                    dut.resp.valid, dut.resp.payload, dut.host_resp.valid, dut.host_resp.payload)
                self.cycles += 1
                if rv and ready:
                    self.response_cycles.append(self.cycles)
                    self.responses.append([
                        None if not payload.lanes[i].valid else
                        (bool(payload.lanes[i].hit), int(payload.lanes[i].slot),
                         bool(payload.lanes[i].error)) for i in range(dut.lanes)])
                if hv and ready:
                    self.host_responses.append(
                        (int(hpayload.op), int(hpayload.slot),
                         (int(hpayload.entry.valid), int(hpayload.entry.rrpv),
                          int(hpayload.entry.tag))))
            for name in ("lookups", "hits", "errors", "conflicts", "error_sticky"):
                self.counters[name] = ctx.get(getattr(dut, name))

        sim = Simulator(dut)
        sim.add_clock(1e-6)
        sim.add_testbench(producer)
        sim.add_testbench(collector)
        sim.add_testbench(host_alongside)
        # Watchdog: a generous cycle budget; a stalled DUT leaves the producer unfinished.
        budget = 30 * (n_beats * dut.lanes + n_host) + 50 * len(self.phases) + 2000
        sim.run_until(1e-6 * budget)
        assert done["producer"], "the DUT stalled: not every request was taken and drained"
        assert len(self.responses) == n_beats
        assert len(self.host_responses) == n_host


def random_beats(pyrng, count, lanes, keys, fill=0.85):
    return [[pyrng.choice(keys) if pyrng.random() < fill else None for _ in range(lanes)]
            for _ in range(count)]


def model_responses(model, beats):
    return [[None if key is None else tuple(model.lookup(*key)) for key in beat]
            for beat in beats]


def model_conflicts(model, beats):
    total = 0
    for beat in beats:
        sets, usable = [], []
        for key in beat:
            ok = key is not None and model.layout.in_range(*key)
            usable.append(ok)
            sets.append(model.set_and_tag(*key)[0] if ok else 0)
        total += beat_set_conflicts(sets, usable)
    return total


def dump_commands(geometry):
    return [(HostOp.READ, slot, (0, 0, 0)) for slot in range(geometry.entries)]


def model_dump(model):
    return [(HostOp.READ, slot, tuple(int(x) for x in model.read_entry(slot)))
            for slot in range(model.geometry.entries)]


def keys_where(model, predicate, count):
    """The first ``count`` in-range keys (table-major) whose (set, tag) satisfies
    ``predicate``."""
    g = model.geometry
    found = []
    for table in range(1 << g.table_bits):
        for row in range(1 << g.row_bits):
            if predicate(*model.set_and_tag(table, row)):
                found.append((table, row))
                if len(found) == count:
                    return found
    raise ValueError(f"only {len(found)} keys found")


def check_phases(harness, model, learn, run_beats):
    expected = model_responses(model, learn)
    dump = model_dump(model)
    model.mode = Mode.RUN
    expected += model_responses(model, run_beats)
    for index, (got, want) in enumerate(zip(harness.responses, expected)):
        assert got == want, f"beat {index}: {got} != {want}"
    assert harness.host_responses == dump


@pytest.mark.parametrize("lanes,banks,depth", [(4, 8, 4), (4, 2, 2), (1, 1, 1), (3, 4, 5)])
def test_learn_then_run_match_model(pyrng, lanes, banks, depth):
    dut = BankedPopularityTable(geometry=TINY, lanes=lanes, banks=banks, depth=depth,
                                table_in_bits=3, row_in_bits=7, meta_bits=5)
    model = Model(TINY)
    keys = [(pyrng.randrange(4), pyrng.randrange(64)) for _ in range(90)]
    keys += [(4, 1), (0, 64), (7, 127)]                         # out of range
    learn = random_beats(pyrng, 100, lanes, keys)
    run_beats = random_beats(pyrng, 80, lanes, keys)
    harness = Harness(dut, pyrng)
    harness.lookups(learn, Mode.LEARN)
    harness.host(dump_commands(TINY))
    harness.lookups(run_beats, Mode.RUN)
    harness.run()
    check_phases(harness, model, learn, run_beats)
    assert harness.counters == {
        "lookups": model.lookups, "hits": model.hits, "errors": model.errors,
        "conflicts": model_conflicts(model, learn + run_beats), "error_sticky": 1}


def test_hazards_one_bank_one_set_one_key(pyrng):
    """All lanes on one bank (different sets), on one set (different keys, more than the
    ways), on one key; mixed with repeats of a key around other keys of its set."""
    lanes, banks = 4, 4
    dut = BankedPopularityTable(geometry=TINY, lanes=lanes, banks=banks, depth=3,
                                table_in_bits=2, row_in_bits=6)
    model = Model(TINY)
    one_bank = keys_where(model, lambda s, t: s % banks == 1, 24)
    one_set = keys_where(model, lambda s, t: s == 6, 10)
    key = one_set[0]
    a, b, c, d, e = one_set[5:10]
    # Fill a set, hit every way (all RRPV 0), then key a twice around key e of its set: e's
    # miss ages the set and evicts a, so the second a misses (a group of both a's would not).
    beats = [[a, b, c, d], [a, b, c, d], [a, e, a, None], [b, c, d, e], [b, c, d, e],
             [b, a, b, b]]
    for _ in range(12):
        beats.append([pyrng.choice(one_bank) for _ in range(lanes)])
        beats.append([pyrng.choice(one_set) for _ in range(lanes)])
        beats.append([key] * lanes)
        beats.append([key, pyrng.choice(one_set), key, key])
        beats.append([pyrng.choice(one_set + [key] * 4 + [None]) for _ in range(lanes)])
    run_beats = list(beats)
    pyrng.shuffle(run_beats)
    for pause, backpressure in ((0, 0), (0.3, 0.5)):
        model = Model(TINY)
        harness = Harness(dut, pyrng, pause=pause, backpressure=backpressure)
        harness.host([(HostOp.CLEAR, 0, (0, 0, 0))])
        harness.lookups(beats, Mode.LEARN)
        harness.host(dump_commands(TINY))
        harness.lookups(run_beats, Mode.RUN)
        harness.run()
        assert harness.host_responses[0] == (HostOp.CLEAR, 0, (0, 0, 0))
        harness.host_responses = harness.host_responses[1:]
        check_phases(harness, model, beats, run_beats)


def test_host_reads_alongside_run_traffic(pyrng):
    """Host READs sent while RUN beats stream in wait for the queue to empty (no bank access of
    theirs meets a lookup's): lookups and reads both answer as the model, whatever the
    interleaving."""
    dut = BankedPopularityTable(geometry=TINY, lanes=4, banks=4, depth=4, table_in_bits=2,
                                row_in_bits=6)
    model = Model(TINY)
    keys = [(pyrng.randrange(4), pyrng.randrange(64)) for _ in range(80)]
    learn = random_beats(pyrng, 60, 4, keys)
    run_beats = random_beats(pyrng, 150, 4, keys)
    reads = [(HostOp.READ, pyrng.randrange(TINY.entries), (0, 0, 0)) for _ in range(60)]
    harness = Harness(dut, pyrng, pause=0.2, backpressure=0.3)
    harness.lookups(learn, Mode.LEARN)
    harness.lookups(run_beats, Mode.RUN, host=reads)
    harness.run()
    expected = model_responses(model, learn)
    contents = [(HostOp.READ, slot, tuple(int(x) for x in model.read_entry(slot)))
                for _, slot, _ in reads]
    model.mode = Mode.RUN
    expected += model_responses(model, run_beats)
    assert harness.responses == expected
    assert harness.host_responses == contents


def test_host_write_clear_and_hot_set(pyrng):
    dut = BankedPopularityTable(geometry=TINY, lanes=4, banks=8, depth=4,
                                table_in_bits=2, row_in_bits=6)
    model = Model(TINY)
    keys = [(t, r) for t in range(4) for r in range(0, 64, 3)]
    slots = model.load_hot_set(keys[:30])
    writes = [(HostOp.WRITE, s, tuple(int(x) for x in model.read_entry(s))) for s in slots]
    # Learn on top of the written entries, then check with RUN traffic and a dump.
    learn = random_beats(pyrng, 60, 4, keys, fill=0.9)
    run_beats = random_beats(pyrng, 60, 4, keys, fill=1.0)
    harness = Harness(dut, pyrng)
    harness.host(writes)
    harness.lookups(learn, Mode.LEARN)
    harness.host(dump_commands(TINY))
    harness.lookups(run_beats, Mode.RUN)
    harness.host([(HostOp.CLEAR, 0, (0, 0, 0))] + dump_commands(TINY))
    harness.run()
    assert harness.host_responses[:len(writes)] == writes
    tail = harness.host_responses[len(writes) + TINY.entries:]
    harness.host_responses = harness.host_responses[len(writes):len(writes) + TINY.entries]
    check_phases(harness, model, learn, run_beats)
    assert tail[0] == (HostOp.CLEAR, 0, (0, 0, 0))
    assert all(entry == (0, 0, 0) for _, _, entry in tail[1:])


@pytest.mark.parametrize("lanes,banks,depth", [(4, 8, 4), (4, 2, 3), (2, 4, 1)])
@pytest.mark.parametrize("mode", [Mode.LEARN, Mode.RUN])
def test_cycle_model_matches_rtl(pyrng, lanes, banks, depth, mode):
    """With no pauses, every response beat leaves in the cycle the cycle model predicts."""
    dut = BankedPopularityTable(geometry=TINY, lanes=lanes, banks=banks, depth=depth,
                                table_in_bits=2, row_in_bits=6)
    model = Model(TINY)
    keys = [(pyrng.randrange(4), pyrng.randrange(64)) for _ in range(40)]
    beats = random_beats(pyrng, 80, lanes, keys, fill=0.9)
    beats += [[keys[0]] * lanes] * 4 + [[keys[i % 3] for i in range(lanes)]] * 4
    harness = Harness(dut, pyrng, pause=0, backpressure=0)
    harness.lookups(beats, mode)
    harness.run()
    timing = BankedTiming(lanes=lanes, banks=banks, depth=depth)
    predicted = timing.run(hashed_beats(model, beats), learn=mode == Mode.LEARN)
    # The harness counts cycles from the first edge; the first beat is driven before it.
    offset = harness.response_cycles[0] - predicted.leave_cycles[0]
    assert [c - offset for c in harness.response_cycles] == predicted.leave_cycles
    assert 0 <= offset <= 1


def test_cycle_model_matches_rtl_8_lanes(pyrng):
    """The same at 8 lanes, 16 banks (32 sets), LEARN, with repeated keys and full beats."""
    geometry = TableGeometry(table_bits=2, row_bits=7, set_bits=5, ways=4)
    lanes, banks, depth = 8, 16, 4
    dut = BankedPopularityTable(geometry=geometry, lanes=lanes, banks=banks, depth=depth,
                                table_in_bits=2, row_in_bits=7)
    model = Model(geometry)
    keys = [(pyrng.randrange(4), pyrng.randrange(128)) for _ in range(150)]
    beats = random_beats(pyrng, 40, lanes, keys, fill=0.95) + [[keys[0]] * lanes] * 3
    harness = Harness(dut, pyrng, pause=0, backpressure=0)
    harness.lookups(beats, Mode.LEARN)
    harness.run()
    assert harness.responses == model_responses(Model(geometry), beats)
    predicted = BankedTiming(lanes=lanes, banks=banks, depth=depth).run(
        hashed_beats(model, beats), learn=True)
    offset = harness.response_cycles[0] - predicted.leave_cycles[0]
    assert [c - offset for c in harness.response_cycles] == predicted.leave_cycles
    assert 0 <= offset <= 1


def test_paper_capacity_2m_entries(pyrng):
    """The paper's 2M entries (512K sets x 4 ways in 8 banks of 64K words): LEARN then RUN on
    keys drawn from the whole key space, then every slot of the touched sets read back."""
    geometry = TableGeometry(table_bits=5, row_bits=24, set_bits=19, ways=4)
    dut = BankedPopularityTable(geometry=geometry, lanes=4, banks=8, depth=4, table_in_bits=5,
                                row_in_bits=24)
    model = Model(geometry)
    keys = [(pyrng.randrange(32), pyrng.randrange(1 << 24)) for _ in range(120)]
    learn = random_beats(pyrng, 80, 4, keys)
    run_beats = random_beats(pyrng, 60, 4, keys)
    touched = sorted({model.set_and_tag(*key)[0] for key in keys})
    reads = [(HostOp.READ, s * 4 + w, (0, 0, 0)) for s in touched for w in range(4)]
    harness = Harness(dut, pyrng)
    harness.lookups(learn, Mode.LEARN)
    harness.host(reads)
    harness.lookups(run_beats, Mode.RUN)
    harness.run()
    expected = model_responses(model, learn)
    contents = [(HostOp.READ, slot, tuple(int(x) for x in model.read_entry(slot)))
                for _, slot, _ in reads]
    model.mode = Mode.RUN
    expected += model_responses(model, run_beats)
    assert harness.responses == expected
    assert harness.host_responses == contents
    assert any(entry[0] for _, _, entry in contents)


def test_parameter_errors():
    with pytest.raises(ValueError, match="banks must be a power of two, not 3"):
        BankedPopularityTable(geometry=TINY, banks=3)
    with pytest.raises(ValueError, match=r"banks \(16\) must be at most sets / 2 = 8"):
        BankedPopularityTable(geometry=TINY, banks=16)
    with pytest.raises(ValueError, match="depth must be at least 1, not 0"):
        BankedPopularityTable(geometry=TINY, depth=0)
    with pytest.raises(ValueError, match="lanes must be from 1 to 64, not 65"):
        BankedPopularityTable(geometry=TINY, lanes=65)
    with pytest.raises(TypeError, match="banks must be an int, not 2.0"):
        BankedPopularityTable(geometry=TINY, banks=2.0)
    with pytest.raises(ValueError, match="power of two"):
        BankedPopularityTable(geometry=TableGeometry(table_bits=2, row_bits=6, set_bits=2,
                                                     ways=3))
    with pytest.raises(ValueError, match="banks must be a power of two from 1 to sets / 2 = 8, "
                                         "not 12"):
        LookupCrossbar(geometry=TINY, lanes=4, banks=12, depth=2, table_in_bits=2,
                       row_in_bits=6)
    with pytest.raises(TypeError, match="sets must be an int, not 4.0"):
        TableBank(geometry=TINY, sets=4.0)
    with pytest.raises(ValueError, match="sets must be at least 2, not 1"):
        TableBank(geometry=TINY, sets=1)
    assert BankedPopularityTable(geometry=TINY, banks=8).memory_bits == \
        TINY.entries * TINY.entry_bits


def test_error_sticky_and_clears(pyrng):
    """``error_sticky`` stays 0 through clean lookups, is set by the beat that carries an
    out-of-range lookup (when it leaves), cleared by ``errors_clear`` alone (``errors`` kept),
    set again when an erring beat leaves in the very cycle of an ``errors_clear`` (set wins),
    and zeroed with every counter by ``counters_clear``."""
    dut = BankedPopularityTable(geometry=TINY, lanes=2, banks=2, depth=2, table_in_bits=3,
                                row_in_bits=7)
    model = Model(TINY)
    clean = [[(pyrng.randrange(4), pyrng.randrange(64)) for _ in range(2)] for _ in range(20)]
    bad = [(4, pyrng.randrange(64)), (pyrng.randrange(4), pyrng.randrange(64))]
    seen = {}

    def counters(ctx):
        return {name: ctx.get(getattr(dut, name))
                for name in ("lookups", "hits", "errors", "error_sticky")}

    async def send(ctx, beat, clear_as_it_leaves=False):
        for i, (table, row) in enumerate(beat):
            ctx.set(dut.req.payload.lanes[i].valid, 1)
            ctx.set(dut.req.payload.lanes[i].table, table)
            ctx.set(dut.req.payload.lanes[i].row, row)
        ctx.set(dut.req.valid, 1)
        await ctx.tick().until(dut.req.ready)
        ctx.set(dut.req.valid, 0)
        # Wait for the answer (resp.ready is held high) and optionally clear in its cycle.
        while not ctx.get(dut.resp.valid):
            await ctx.tick()
        ctx.set(dut.errors_clear, int(clear_as_it_leaves))
        await ctx.tick()
        ctx.set(dut.errors_clear, 0)
        await ctx.tick()

    async def bench(ctx):
        ctx.set(dut.mode, Mode.LEARN)
        ctx.set(dut.resp.ready, 1)
        await ctx.tick()
        for beat in clean:
            await send(ctx, beat)
        seen["clean"] = counters(ctx)
        await send(ctx, bad)
        seen["bad"] = counters(ctx)
        ctx.set(dut.errors_clear, 1)
        await ctx.tick()
        ctx.set(dut.errors_clear, 0)
        seen["errors_clear"] = counters(ctx)
        await send(ctx, bad, clear_as_it_leaves=True)
        seen["both"] = counters(ctx)
        ctx.set(dut.counters_clear, 1)
        await ctx.tick()
        ctx.set(dut.counters_clear, 0)
        seen["counters_clear"] = counters(ctx)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run_until(1e-6 * 1000)
    counts = {}
    for name, beats in (("clean", clean), ("bad", [bad]), ("both", [bad])):
        for beat in beats:
            for key in beat:
                model.lookup(*key)
        counts[name] = {"lookups": model.lookups, "hits": model.hits, "errors": model.errors}
    assert seen["clean"] == {**counts["clean"], "errors": 0, "error_sticky": 0}
    assert seen["bad"] == {**counts["bad"], "errors": 1, "error_sticky": 1}
    assert seen["errors_clear"] == {**counts["bad"], "error_sticky": 0}
    assert seen["both"] == {**counts["both"], "errors": 2, "error_sticky": 1}
    assert seen["counters_clear"] == {"lookups": 0, "hits": 0, "errors": 0, "error_sticky": 0}
