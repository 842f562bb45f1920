# amaranth: UnusedElaboratable=no
"""amaranth.sim unit tests of the popularity table RTL against the golden model (fast tier).

The cocotb regression in ``tb/`` runs the generated Verilog with bus models; these tests run
the same checks on small cases directly on the Amaranth design while developing it.
"""

import pytest
from amaranth.sim import Simulator

from hotline_hw.lookup_stream import HostOp
from hotline_hw.model import Mode, TableGeometry, beat_set_conflicts
from hotline_hw.model import PopularityTable as Model
from hotline_hw.popularity_table import PopularityTable

TINY = TableGeometry(table_bits=2, row_bits=6, set_bits=2, ways=4)


class Harness:
    """Runs phases of host commands and lookup beats through one simulation of the DUT."""

    def __init__(self, dut, pyrng, pause=0.3, backpressure=0.4):
        self.dut, self.rng = dut, pyrng
        self.pause, self.backpressure = pause, backpressure
        self.phases = []
        self.responses, self.host_responses, self.counters = [], [], {}
        self.cycles = 0

    def host(self, commands):
        self.phases.append(("host", list(commands)))

    def lookups(self, beats, mode):
        self.phases.append(("lookups", list(beats), mode))

    def run(self):
        dut, rng = self.dut, self.rng
        n_beats = sum(len(p[1]) for p in self.phases if p[0] == "lookups")
        n_host = sum(len(p[1]) for p in self.phases if p[0] == "host")
        done = {"producer": False}

        async def producer(ctx):
            for phase in self.phases:
                if phase[0] == "host":
                    for op, slot, entry in phase[1]:
                        ctx.set(dut.host_cmd.payload.op, op)
                        ctx.set(dut.host_cmd.payload.slot, slot)
                        ctx.set(dut.host_cmd.payload.entry.valid, entry[0])
                        ctx.set(dut.host_cmd.payload.entry.rrpv, entry[1])
                        ctx.set(dut.host_cmd.payload.entry.tag, entry[2])
                        ctx.set(dut.host_cmd.valid, 1)
                        await ctx.tick().until(dut.host_cmd.ready)
                        ctx.set(dut.host_cmd.valid, 0)
                else:
                    ctx.set(dut.mode, phase[2])
                    for beat in phase[1]:
                        while rng.random() < self.pause:
                            await ctx.tick()
                        for i, key in enumerate(beat):
                            lane = dut.req.payload.lanes[i]
                            ctx.set(lane.valid, key is not None)
                            ctx.set(lane.table, key[0] if key else 0)
                            ctx.set(lane.row, key[1] if key else 0)
                        ctx.set(dut.req.valid, 1)
                        await ctx.tick().until(dut.req.ready)
                        ctx.set(dut.req.valid, 0)
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


@pytest.mark.parametrize("lanes", [1, 2, 4])
def test_learn_then_run_match_model(pyrng, lanes):
    dut = PopularityTable(geometry=TINY, lanes=lanes, table_in_bits=3, row_in_bits=7)
    model = Model(TINY)
    keys = [(pyrng.randrange(4), pyrng.randrange(64)) for _ in range(30)]
    keys += [(4, 1), (0, 64), (7, 127)]                         # out of range
    learn = random_beats(pyrng, 120, lanes, keys)
    run_beats = random_beats(pyrng, 120, lanes, keys)
    harness = Harness(dut, pyrng)
    harness.lookups(learn, Mode.LEARN)
    harness.host(dump_commands(TINY))
    harness.lookups(run_beats, Mode.RUN)
    harness.run()

    expected = model_responses(model, learn)
    dump = model_dump(model)
    model.mode = Mode.RUN
    expected += model_responses(model, run_beats)
    for index, (got, want) in enumerate(zip(harness.responses, expected)):
        assert got == want, f"beat {index}: {got} != {want}"
    assert harness.host_responses == dump
    assert harness.counters == {
        "lookups": model.lookups, "hits": model.hits, "errors": model.errors,
        "conflicts": model_conflicts(model, learn + run_beats), "error_sticky": 1}


def test_same_set_and_same_key_in_one_beat(pyrng):
    dut = PopularityTable(geometry=TINY, lanes=4, table_in_bits=2, row_in_bits=6)
    model = Model(TINY)
    same_set = [k for k in ((0, r) for r in range(64)) if model.set_and_tag(*k)[0] == 1][:6]
    beats = [same_set[:4], same_set[2:6], [same_set[0]] * 4, same_set[1:5], same_set[:4],
             [same_set[5], same_set[5], None, same_set[4]]]
    harness = Harness(dut, pyrng, pause=0, backpressure=0)
    harness.lookups(beats, Mode.LEARN)
    harness.host(dump_commands(TINY))
    harness.run()
    assert harness.responses == model_responses(model, beats)
    assert harness.host_responses == model_dump(model)


def test_host_write_clear_and_run_throughput(pyrng):
    dut = PopularityTable(geometry=TINY, lanes=4, table_in_bits=2, row_in_bits=6)
    model = Model(TINY)
    keys = [(t, r) for t in range(4) for r in range(0, 64, 5)]
    slots = model.load_hot_set(keys[:10])
    writes = [(HostOp.WRITE, s, tuple(int(x) for x in model.read_entry(s))) for s in slots]
    model.mode = Mode.RUN
    beats = random_beats(pyrng, 200, 4, keys, fill=1.0)
    harness = Harness(dut, pyrng, pause=0, backpressure=0)
    harness.host(writes)
    harness.lookups(beats, Mode.RUN)
    harness.host([(HostOp.CLEAR, 0, (0, 0, 0))] + dump_commands(TINY))
    harness.run()
    assert harness.responses == model_responses(model, beats)
    assert harness.host_responses[:len(writes)] == writes
    assert harness.host_responses[len(writes)] == (HostOp.CLEAR, 0, (0, 0, 0))
    assert all(entry == (0, 0, 0) for _, _, entry in harness.host_responses[len(writes) + 1:])


def test_parameter_errors():
    with pytest.raises(ValueError, match="power of two"):
        PopularityTable(geometry=TableGeometry(table_bits=2, row_bits=6, set_bits=2, ways=3))
    with pytest.raises(ValueError, match="lanes"):
        PopularityTable(geometry=TINY, lanes=0)
    with pytest.raises(ValueError, match="row_in_bits"):
        PopularityTable(geometry=TINY, row_in_bits=5)
    with pytest.raises(ValueError, match="set_bits"):
        PopularityTable(geometry=TableGeometry(table_bits=2, row_bits=6, set_bits=0))
