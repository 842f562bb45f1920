# amaranth: UnusedElaboratable=no
"""amaranth.sim tests of the popularity table's stale bits against the golden model (fast tier).

Lookup beats and host commands (``MARK_STALE``, ``CLEAR_STALE``, ``READ``, ``WRITE``) are sent
as one ordered stream of items, with random pauses and backpressure, without draining between
them: host commands arrive while lookups are in the pipeline. The table takes a command only
once no beat is in its hash stages and holds beats back while a command is offered, so the
order of effect is the order of the items, and the golden model applies them in that order.
"""

import pytest
from amaranth.sim import Simulator

from hotline_hw.lookup_stream import HostOp
from hotline_hw.model import Mode, TableGeometry
from hotline_hw.model import PopularityTable as Model
from hotline_hw.popularity_table import PopularityTable

TINY = TableGeometry(table_bits=2, row_bits=6, set_bits=2, ways=4)


async def send_host(ctx, dut, item) -> None:
    """Offer the host command ``("host", op, slot, entry, key)`` until it is taken."""
    _, op, slot, entry, key = item
    cmd = dut.host_cmd.payload
    ctx.set(cmd.op, op)
    ctx.set(cmd.slot, slot)
    ctx.set(cmd.entry.valid, entry[0])
    ctx.set(cmd.entry.rrpv, entry[1])
    ctx.set(cmd.entry.tag, entry[2])
    ctx.set(cmd.key, (key[0] << TINY.row_bits) | key[1])
    ctx.set(dut.host_cmd.valid, 1)
    await ctx.tick().until(dut.host_cmd.ready)
    ctx.set(dut.host_cmd.valid, 0)


async def send_beat(ctx, dut, keys) -> None:
    """Offer a beat of ``keys`` (``None``: lane not valid) until it is taken."""
    for i in range(dut.lanes):
        key = keys[i] if i < len(keys) else None
        lane = dut.req.payload.lanes[i]
        ctx.set(lane.valid, key is not None)
        ctx.set(lane.table, key[0] if key else 0)
        ctx.set(lane.row, key[1] if key else 0)
    ctx.set(dut.req.valid, 1)
    await ctx.tick().until(dut.req.ready)
    ctx.set(dut.req.valid, 0)


def record(dut, sampled, responses: list, host_responses: list) -> None:
    """Append what left ``resp`` / ``host_resp`` in a cycle (``sampled``: ready, resp.valid,
    resp.payload, host_resp.valid, host_resp.payload) to the two lists."""
    ready, rv, payload, hv, hp = sampled
    if rv and ready:
        responses.append([
            None if not payload.lanes[i].valid else
            (bool(payload.lanes[i].hit), int(payload.lanes[i].slot),
             bool(payload.lanes[i].error), bool(payload.lanes[i].stale))
            for i in range(dut.lanes)])
    if hv and ready:
        host_responses.append((int(hp.op), int(hp.slot), int(hp.entry.valid),
                               int(hp.entry.rrpv), int(hp.entry.tag), int(hp.stale),
                               int(hp.hit)))


def run(dut, phases, pyrng, *, pause=0.3, backpressure=0.4):
    """Send each phase's ``items`` (``("beat", keys)`` or ``("host", op, slot, entry, key)``)
    in its mode, draining between phases, in one simulation; returns (lookup responses, host
    responses) per phase."""
    responses, host_responses = [], []
    done = {"producer": False}
    n_beats = sum(item[0] == "beat" for items, _ in phases for item in items)
    n_host = sum(len(items) for items, _ in phases) - n_beats

    async def producer(ctx):
        for items, mode in phases:
            ctx.set(dut.mode, mode)
            for item in items:
                while pyrng.random() < pause:
                    await ctx.tick()
                if item[0] == "host":
                    await send_host(ctx, dut, item)
                else:
                    await send_beat(ctx, dut, item[1])
            await ctx.tick()
            while ctx.get(dut.busy) or ctx.get(dut.resp.valid) or ctx.get(dut.host_resp.valid):
                await ctx.tick()
        done["producer"] = True

    async def collector(ctx):
        while not done["producer"]:
            ready = pyrng.random() >= backpressure
            ctx.set(dut.resp.ready, ready)
            ctx.set(dut.host_resp.ready, ready)
            _, _, *sampled = await ctx.tick().sample(
                dut.resp.valid, dut.resp.payload, dut.host_resp.valid, dut.host_resp.payload)
            record(dut, (ready, *sampled), responses, host_responses)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(collector)
    sim.run_until(1e-6 * (40 * (n_beats * dut.lanes + n_host + 4 * TINY.sets) + 2000))
    assert done["producer"], "the DUT stalled"
    assert len(responses) == n_beats and len(host_responses) == n_host
    out = []
    for items, _ in phases:
        beats = sum(item[0] == "beat" for item in items)
        hosts = len(items) - beats
        out.append((responses[:beats], host_responses[:hosts]))
        responses, host_responses = responses[beats:], host_responses[hosts:]
    return out


def model_run(model, items):
    """The golden model's answers to ``items``, in item order."""
    responses, host_responses = [], []
    for item in items:
        if item[0] == "beat":
            answers = []
            for key in item[1]:
                if key is None:
                    answers.append(None)
                    continue
                r = model.lookup(*key)
                answers.append((r.hit, r.slot, r.error, model.lookup_stale(r)))
            responses.append(answers)
            continue
        _, op, slot, entry, key = item
        if op == HostOp.MARK_STALE:
            r = model.mark_stale(*key)
            e = model.read_entry(r.slot) if r.hit else (0, 0, 0)
            host_responses.append((op, r.slot, int(e[0]), e[1], e[2], int(r.hit), int(r.hit)))
        elif op == HostOp.CLEAR_STALE:
            model.clear_stale()
            host_responses.append((op, 0, 0, 0, 0, 0, 0))
        elif op == HostOp.WRITE:
            model.write_entry(slot, bool(entry[0]), entry[1], entry[2])
            host_responses.append((op, slot, *entry, 0, 0))
        else:
            e = model.read_entry(slot)
            host_responses.append((op, slot, int(e.valid), e.rrpv, e.tag,
                                   int(model.is_stale(slot)), 0))
    return responses, host_responses


def random_items(pyrng, model, count, lanes, keys, *, host_share=0.15):
    items = []
    for _ in range(count):
        if pyrng.random() < host_share:
            for _ in range(pyrng.randrange(1, 4)):
                op = pyrng.choice([HostOp.MARK_STALE] * 4 + [HostOp.CLEAR_STALE,
                                                             HostOp.READ, HostOp.WRITE])
                slot = pyrng.randrange(TINY.entries)
                entry = (1, pyrng.randrange(4), pyrng.randrange(1 << TINY.tag_bits)) \
                    if op == HostOp.WRITE else (0, 0, 0)
                items.append(("host", op, slot, entry, pyrng.choice(keys)))
        else:
            items.append(("beat", [pyrng.choice(keys) if pyrng.random() < 0.85 else None
                                   for _ in range(lanes)]))
    return items


@pytest.mark.parametrize("lanes", [1, 3])
def test_stale_bits_with_lookups_in_flight(pyrng, lanes):
    dut = PopularityTable(geometry=TINY, lanes=lanes, table_in_bits=2, row_in_bits=6)
    model = Model(TINY)
    keys = [(pyrng.randrange(4), pyrng.randrange(64)) for _ in range(24)]
    learn = random_items(pyrng, model, 60, lanes, keys)
    want_learn = model_run(model, learn)
    model.mode = Mode.RUN
    run_items = random_items(pyrng, model, 120, lanes, keys)
    want_run = model_run(model, run_items)
    dump = [("host", HostOp.READ, slot, (0, 0, 0), (0, 0)) for slot in range(TINY.entries)]
    want_dump = model_run(model, dump)

    got_learn, got_run, got_dump = run(
        dut, [(learn, Mode.LEARN), (run_items, Mode.RUN), (dump, Mode.RUN)], pyrng)
    assert got_learn == want_learn
    assert got_run == want_run
    assert got_dump == want_dump
    stale_lookups = sum(bool(a and a[3]) for beat in want_run[0] for a in beat)
    marked = sum(h[6] for h in want_run[1])
    print(f"stale lookups {stale_lookups}, marks that found their key {marked}")
    assert stale_lookups and marked                       # the case exercises the bits


def test_mark_absent_key_and_clear_stale_by_hand(pyrng):
    dut = PopularityTable(geometry=TINY, lanes=2, table_in_bits=2, row_in_bits=6)
    model = Model(TINY, Mode.RUN)
    model.load_hot_set([(0, 1), (1, 2)])
    writes = [("host", HostOp.WRITE, s, tuple(int(x) for x in model.read_entry(s)), (0, 0))
              for s in range(TINY.entries) if model.read_entry(s).valid]
    items = writes + [
        ("host", HostOp.MARK_STALE, 0, (0, 0, 0), (0, 1)),
        ("host", HostOp.MARK_STALE, 0, (0, 0, 0), (3, 63)),           # not in the table
        ("beat", [(0, 1), (1, 2)]), ("beat", [(3, 63), None]),
        ("beat", [None, None]), ("host", HostOp.CLEAR_STALE, 0, (0, 0, 0), (0, 0)),
        ("beat", [(1, 2), (0, 1)]),
    ]
    want = model_run(model, items)
    got, = run(dut, [(items, Mode.RUN)], pyrng, pause=0, backpressure=0)
    assert got == want
    assert want[0][0][0][3] and not want[0][0][1][3] and not want[0][3][1][3]
    assert want[1][len(writes) + 1][6] == 0                           # absent: hit 0


@pytest.mark.parametrize("mode", [Mode.LEARN, Mode.RUN])
def test_host_commands_offered_alongside_beats(pyrng, mode):
    """Lookup beats and host commands offered on both ports at once, each at random times: a
    command is never taken in the cycle a beat is, and the order of effect is the order in
    which the ports took their words (the model, applied in that order, answers both)."""
    lanes = 2
    dut = PopularityTable(geometry=TINY, lanes=lanes, table_in_bits=2, row_in_bits=6)
    model = Model(TINY)
    keys = [(pyrng.randrange(4), pyrng.randrange(64)) for _ in range(24)]
    # Warm the table up in LEARN so RUN has hits and marks find keys.
    warm = [("beat", [pyrng.choice(keys) for _ in range(lanes)]) for _ in range(30)]
    beats = [("beat", [pyrng.choice(keys) if pyrng.random() < 0.85 else None
                       for _ in range(lanes)]) for _ in range(120)]
    commands = []
    for _ in range(40):
        op = pyrng.choice([HostOp.MARK_STALE] * 3 + [HostOp.READ, HostOp.WRITE,
                                                     HostOp.CLEAR_STALE])
        entry = (1, pyrng.randrange(4), pyrng.randrange(1 << TINY.tag_bits)) \
            if op == HostOp.WRITE else (0, 0, 0)
        commands.append(("host", op, pyrng.randrange(TINY.entries), entry, pyrng.choice(keys)))
    taken, responses, host_responses = [], [], []
    done = {"beats": False, "host": False}
    cycle = {"now": 0}

    async def clock(ctx):
        while True:
            await ctx.tick()
            cycle["now"] += 1

    async def send_beats(ctx):
        ctx.set(dut.mode, Mode.LEARN)
        for item in warm + [None] + beats:
            if item is None:            # warm-up done: drain, then the mode under test
                while ctx.get(dut.busy) or ctx.get(dut.resp.valid):
                    await ctx.tick()
                ctx.set(dut.mode, mode)
                done["warm"] = True
                continue
            while pyrng.random() < 0.4:
                await ctx.tick()
            await send_beat(ctx, dut, item[1])
            taken.append((cycle["now"], "beat", item))
        done["beats"] = True

    async def offer_commands(ctx):
        while "warm" not in done:
            await ctx.tick()
        for item in commands:
            while pyrng.random() < 0.6:
                await ctx.tick()
            await send_host(ctx, dut, item)
            taken.append((cycle["now"], "host", item))
        done["host"] = True

    async def collect(ctx):
        while True:
            ready = pyrng.random() >= 0.3
            ctx.set(dut.resp.ready, ready)
            ctx.set(dut.host_resp.ready, ready)
            _, _, *sampled = await ctx.tick().sample(
                dut.resp.valid, dut.resp.payload, dut.host_resp.valid, dut.host_resp.payload)
            record(dut, (ready, *sampled), responses, host_responses)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_process(clock)
    sim.add_testbench(send_beats)
    sim.add_testbench(offer_commands)
    sim.add_process(collect)
    sim.run_until(1e-6 * 20000)
    assert done["beats"] and done["host"], "the DUT stalled"
    cycles = [c for c, _, _ in taken]
    assert len(set(cycles)) == len(cycles), "a beat and a command were taken in one cycle"
    ordered = [item for _, _, item in sorted(taken, key=lambda t: t[0])]
    want_warm = model_run(model, warm)
    model.mode = mode
    want = model_run(model, ordered[len(warm):])
    assert responses[:len(warm)] == want_warm[0]
    assert responses[len(warm):] == want[0]
    assert host_responses == want[1]
    interleaved = sum(1 for a, b in zip(ordered[len(warm):], ordered[len(warm) + 1:])
                      if a[0] != b[0])
    print(f"{interleaved} switches between beats and commands")
    assert interleaved > 20


def test_beat_never_passes_a_command_held_behind_a_stalled_one():
    """A stalled command in the last host stage freezes the host stages while a beat taken
    after the next command hashes on and reaches H. When the pipeline moves again, the beat
    must wait for that command too, not take the bubble between the two commands: here the
    command is the WRITE that puts the beat's key in the table (the beat must hit)."""
    dut = PopularityTable(geometry=TINY, lanes=1, table_in_bits=2, row_in_bits=6)
    model = Model(TINY)
    key = (1, 17)
    learned = model.lookup(*key)                    # where a WRITE puts the key, and its tag
    entry = model.read_entry(learned.slot)
    write = ("host", HostOp.WRITE, learned.slot, (1, entry.rrpv, entry.tag), (0, 0))
    responses, host_responses = [], []

    async def testbench(ctx):
        ctx.set(dut.mode, Mode.RUN)
        ctx.set(dut.host_resp.ready, 1)
        ctx.set(dut.resp.ready, 0)                  # the first beat's answer stalls the table
        await send_beat(ctx, dut, [(2, 5)])
        await send_host(ctx, dut, ("host", HostOp.READ, 0, (0, 0, 0), (0, 0)))
        await ctx.tick()                            # a bubble between the two commands
        await send_host(ctx, dut, write)
        await send_beat(ctx, dut, [key])
        await ctx.tick().repeat(12)                 # the beat reaches H; the READ waits in HH
        assert ctx.get(dut.resp.valid) and ctx.get(dut.busy)
        ctx.set(dut.resp.ready, 1)
        for _ in range(40):
            _, _, *sampled = await ctx.tick().sample(
                dut.resp.valid, dut.resp.payload, dut.host_resp.valid, dut.host_resp.payload)
            record(dut, (1, *sampled), responses, host_responses)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert [r[0] for r in responses] == [(False, 0, False, False),
                                         (True, learned.slot, False, False)]
    assert [h[0] for h in host_responses] == [HostOp.READ, HostOp.WRITE]
