# amaranth: UnusedElaboratable=no
"""amaranth.sim unit tests of the micro-batch scheduler RTL against the golden model."""

import pytest
from amaranth.sim import Simulator

from hotline_hw.micro_batch_scheduler import MicroBatchScheduler
from hotline_hw.model.scheduler import Lookup, MicroBatchScheduler as Model, ScheduleMode
from tb.micro_batch_scheduler_tb import ColdBeat, ColdLane, Lane, OutBeat, expected_beats


def random_samples(pyrng, count, lookups, hit_rate, stale_rate=0.0):
    """Samples as (id, [Lookup]); table = lookup index, a sample is popular now and then; a
    hit is stale with probability ``stale_rate``."""
    out = []
    for n in range(count):
        all_hot = pyrng.random() < hit_rate
        lookups_of = []
        for t in range(lookups):
            hit = all_hot or pyrng.random() < 0.7
            lookups_of.append(Lookup(t, pyrng.randrange(1 << 10), hit=hit,
                                     slot=pyrng.randrange(1 << 8),
                                     stale=hit and pyrng.random() < stale_rate))
        out.append((1000 + n, lookups_of))
    return out


async def offer(ctx, dut, *, first, last, meta):
    """Offer the input beat whose lanes are set, with its framing and ``meta``, until taken."""
    ctx.set(dut.i.payload.first, first)
    ctx.set(dut.i.payload.last, last)
    ctx.set(dut.i.payload.meta, meta)
    ctx.set(dut.i.valid, 1)
    await ctx.tick().until(dut.i.ready)


async def drain(ctx, dut):
    """One cycle, then until ``busy`` falls."""
    await ctx.tick()
    while ctx.get(dut.busy):
        await ctx.tick()


def simulate(dut, samples, *, lanes, batch_size, working_set, split, learn, capacity_limit,
             pyrng, pause=0.3, backpressure=0.3, alpha=0):
    out, cold, counters = [], [], {}
    done = {}

    async def producer(ctx):
        ctx.set(dut.split, split)
        ctx.set(dut.learn, learn)
        ctx.set(dut.batch_size, batch_size)
        ctx.set(dut.working_set, working_set)
        ctx.set(dut.capacity_limit, capacity_limit)
        ctx.set(dut.alpha, alpha)
        for n, (sample_id, lookups) in enumerate(samples):
            beats = [lookups[i:i + lanes] for i in range(0, len(lookups), lanes)]
            for b, chunk in enumerate(beats):
                while pyrng.random() < pause:
                    await ctx.tick()
                for k in range(lanes):
                    lane = dut.i.payload.lanes[k]
                    lk = chunk[k] if k < len(chunk) else None
                    ctx.set(lane.valid, lk is not None)
                    ctx.set(lane.hit, lk.hit if lk else 0)
                    ctx.set(lane.slot, lk.slot if lk else 0)
                    ctx.set(lane.table, lk.table if lk else 0)
                    ctx.set(lane.row, lk.row if lk else 0)
                    ctx.set(lane.stale, lk.stale if lk else 0)
                await offer(ctx, dut, first=b == 0, last=b == len(beats) - 1,
                            meta=sample_id | ((n == len(samples) - 1) << 32))
                ctx.set(dut.i.valid, 0)
        await drain(ctx, dut)
        done["producer"] = True

    async def collector(ctx):
        while "producer" not in done:
            o_ready = pyrng.random() >= backpressure
            c_ready = pyrng.random() >= backpressure
            ctx.set(dut.o.ready, o_ready)
            ctx.set(dut.cold.ready, c_ready)
            _, _, ov, op, cv, cp = await ctx.tick().sample(dut.o.valid, dut.o.payload,
                                                           dut.cold.valid, dut.cold.payload)
            if ov and o_ready:
                out.append(OutBeat(int(op.desc), int(op.kind), int(op.size),
                                   int(op.working_set), int(op.index), int(op.step),
                                   int(op.sample), int(op.position), int(op.beat),
                                   int(op.first), int(op.last),
                                   tuple(Lane(int(ln.valid), int(ln.hot), int(ln.slot),
                                              int(ln.table), int(ln.row)) for ln in op.lanes)))
            if cv and c_ready:
                cold.append(ColdBeat(int(cp.step), int(cp.position), int(cp.beat),
                                     tuple(ColdLane(int(ln.valid), int(ln.table), int(ln.row))
                                           for ln in cp.lanes)))
        for name in ("samples_in", "popular", "non_popular", "skipped", "micro_batches",
                     "early_closes", "framing_error"):
            counters[name] = ctx.get(getattr(dut, name))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(collector)
    beats = sum(-(-len(lk) // lanes) for _, lk in samples)
    sim.run_until(1e-6 * (10 * beats + 20 * len(samples) + 500))
    assert "producer" in done, "the scheduler stalled"
    return out, cold, counters


CASES = [
    # lanes, lookups, B, W, split, learn, capacity (model), hit rate, samples
    (4, 7, 3, 2, False, False, None, 0.6, 40),
    (2, 3, 5, 1, False, False, None, 0.8, 33),       # W = 1, B not a power of two
    (4, 4, 4, 4, False, False, None, 1.0, 37),       # only popular samples
    (4, 8, 3, 3, False, False, None, 0.0, 25),       # no popular sample
    (4, 6, 3, 2, True, False, None, 0.5, 31),        # split mode
    (1, 2, 2, 2, False, True, None, 0.7, 20),        # learning: nothing popular, all cold
    (4, 5, 2, 4, False, False, 5, 0.3, 45),          # buffer limit closes working sets early
]
# alpha, stale rate: Slipstream's skipped samples (SKIPPED micro-batches)
STALE_CASES = [
    (4, 7, 3, 2, False, False, None, 0.7, 40, 2, 0.4),
    (2, 3, 2, 3, False, False, 5, 0.8, 40, 1, 0.3),   # early closes count skipped samples
    (4, 6, 3, 2, True, False, None, 0.7, 31, 3, 0.6),  # split: SKIPPED after both
    (2, 4, 2, 1, True, False, 12, 1.0, 40, 1, 0.9),   # split: more than B skipped per batch
    (4, 4, 4, 2, False, False, None, 1.0, 30, 4, 1.0),  # every sample skipped
    (1, 2, 2, 2, False, True, None, 0.7, 20, 1, 1.0),  # learning: nothing skipped
]


def run_case(pyrng, lanes, lookups, B, W, split, learn, capacity, hit_rate, count, alpha=0,
             stale_rate=0.0):
    dut = MicroBatchScheduler(lanes=lanes, table_in_bits=5, row_in_bits=10, slot_bits=8,
                              sample_bits=32, max_lookups=8, capacity=16, size_bits=8,
                              working_set_bits=3)
    samples = random_samples(pyrng, count, lookups, hit_rate, stale_rate)
    model = Model(batch_size=B, working_set=W, learn=learn, capacity=capacity,
                  mode=ScheduleMode.SPLIT if split else ScheduleMode.REFORMED, alpha=alpha)
    batches = model.schedule(samples)
    want_out, want_cold = expected_beats(batches, lanes, learn)
    limit = capacity if capacity is not None else (B if split else B * W)
    out, cold, counters = simulate(dut, samples, lanes=lanes, batch_size=B, working_set=W,
                                   split=split, learn=learn, capacity_limit=min(limit, 16),
                                   pyrng=pyrng, alpha=alpha)
    for n, (got, want) in enumerate(zip(out, want_out)):
        assert got == want, f"output beat {n}: got {got}, expected {want}"
    assert len(out) == len(want_out)
    assert cold == want_cold
    c = model.counters
    assert counters == {"samples_in": c.samples_in, "popular": c.popular,
                        "non_popular": c.non_popular, "skipped": c.skipped,
                        "micro_batches": c.micro_batches, "early_closes": c.early_closes,
                        "framing_error": 0}
    return batches


def configure_small(ctx, dut):
    """B = 2, W = 1, a buffer limit of 8 samples, outputs always ready."""
    ctx.set(dut.batch_size, 2)
    ctx.set(dut.working_set, 1)
    ctx.set(dut.capacity_limit, 8)
    ctx.set(dut.o.ready, 1)
    ctx.set(dut.cold.ready, 1)


def test_busy_while_a_sample_is_open_or_buffered(pyrng):
    """``busy`` is high from a sample's first beat on, while the sample is open (no ``last``
    yet, nothing to emit), and after its last beat until the block has emptied; then low."""
    lanes = 2
    dut = MicroBatchScheduler(lanes=lanes, max_lookups=4, capacity=8)
    table, row = pyrng.randrange(4), pyrng.randrange(1 << 10)
    print(f"lookup ({table}, {row})")
    seen = {}

    async def bench(ctx):
        configure_small(ctx, dut)
        seen["idle"] = ctx.get(dut.busy)
        for b in range(2):                      # one sample of two beats, then a pause
            lane = dut.i.payload.lanes[0]
            ctx.set(lane.valid, 1)
            ctx.set(lane.hit, 0)
            ctx.set(lane.table, table)
            ctx.set(lane.row, row)
            ctx.set(dut.i.payload.first, b == 0)
            ctx.set(dut.i.payload.last, b == 1)
            ctx.set(dut.i.payload.meta, 7 | (1 << 32))
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)
            if b == 0:
                for _ in range(6):
                    await ctx.tick()
                seen["open"] = ctx.get(dut.busy)
        cycles = 0
        while ctx.get(dut.busy) and cycles < 500:
            await ctx.tick()
            cycles += 1
        seen["drained"] = cycles < 500

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen == {"idle": 0, "open": 1, "drained": True}


@pytest.mark.parametrize("lanes, lookups, B, W, split, learn, capacity, hit_rate, count, "
                         "alpha, stale_rate", STALE_CASES)
def test_skipped_match_model(pyrng, lanes, lookups, B, W, split, learn, capacity, hit_rate,
                             count, alpha, stale_rate):
    batches = run_case(pyrng, lanes, lookups, B, W, split, learn, capacity, hit_rate, count,
                       alpha, stale_rate)
    skipped = sum(b.size for b in batches if b.kind == 3)
    print(f"skipped samples: {skipped} of {count}")
    assert skipped or learn                        # the case exercises SKIPPED micro-batches


@pytest.mark.parametrize("split", [False, True])
def test_alpha_boundary(pyrng, split):
    """Popular samples with alpha - 1, alpha and alpha + 1 stale lookups (alpha = 3 of 5,
    lookups spanning two beats): only the last two are skipped."""
    dut = MicroBatchScheduler(lanes=4, table_in_bits=5, row_in_bits=10, slot_bits=8,
                              sample_bits=32, max_lookups=8, capacity=16, size_bits=8,
                              working_set_bits=3)
    samples = []
    for n in range(18):
        stale = 2 + n % 3 if n % 4 else 0          # 2, 3, 4 stale lookups, or none
        order = pyrng.sample(range(5), 5)          # stale lookups in either beat
        samples.append((n, [Lookup(t, n * 8 + t, True, t, stale=order[t] < stale)
                            for t in range(5)]))
    model = Model(batch_size=3, working_set=2, alpha=3,
                  mode=ScheduleMode.SPLIT if split else ScheduleMode.REFORMED)
    batches = model.schedule(samples)
    assert sorted(s.sample_id for b in batches if b.kind == 3 for s in b.samples) == \
        [n for n in range(18) if n % 4 and n % 3 != 0]
    want_out, want_cold = expected_beats(batches, 4, False)
    out, cold, counters = simulate(dut, samples, lanes=4, batch_size=3, working_set=2,
                                   split=split, learn=False, capacity_limit=3 if split else 6,
                                   pyrng=pyrng, alpha=3)
    assert out == want_out and cold == want_cold
    assert counters["skipped"] == model.counters.skipped


@pytest.mark.parametrize("lanes, lookups, B, W, split, learn, capacity, hit_rate, count", CASES)
def test_matches_model(pyrng, lanes, lookups, B, W, split, learn, capacity, hit_rate, count):
    run_case(pyrng, lanes, lookups, B, W, split, learn, capacity, hit_rate, count)


def test_long_sample_truncated_and_flagged(pyrng):
    """A sample longer than ``max_lookups`` (here 3 beats where 2 fit) is a framing error: its
    extra beats are neither stored nor counted (the sample is scheduled as its first
    ``max_lookups`` lookups, popular or not by those alone), ``framing_error`` rises, and the
    samples around it are scheduled as usual."""
    lanes, max_lookups, B, W = 2, 4, 2, 2
    dut = MicroBatchScheduler(lanes=lanes, table_in_bits=5, row_in_bits=10, slot_bits=8,
                              sample_bits=32, max_lookups=max_lookups, capacity=16,
                              size_bits=8, working_set_bits=3)
    samples = random_samples(pyrng, 24, max_lookups, hit_rate=0.5)
    long_at = pyrng.sample(range(len(samples)), 3)
    for n in long_at:                           # two extra lookups: one beat past the limit
        sample_id, lookups = samples[n]
        extra = [Lookup(5, pyrng.randrange(1 << 10), hit=bool(pyrng.getrandbits(1)),
                        slot=pyrng.randrange(1 << 8)) for _ in range(lanes)]
        if all(lk.hit for lk in lookups):
            extra[0] = Lookup(extra[0].table, extra[0].row, hit=False, slot=0)
        samples[n] = (sample_id, lookups + extra)
    print(f"long samples at {sorted(long_at)}")
    model = Model(batch_size=B, working_set=W, mode=ScheduleMode.REFORMED)
    batches = model.schedule([(s, lk[:max_lookups]) for s, lk in samples])
    want_out, want_cold = expected_beats(batches, lanes, False)
    out, cold, counters = simulate(dut, samples, lanes=lanes, batch_size=B, working_set=W,
                                   split=False, learn=False, capacity_limit=B * W,
                                   pyrng=pyrng)
    assert out == want_out
    assert cold == want_cold
    assert counters["framing_error"] == 1
    assert counters["samples_in"] == len(samples)
    assert counters["popular"] == model.counters.popular


def test_framing_error_timing_and_clear(pyrng):
    """``framing_error`` rises the cycle after the first beat past ``max_lookups`` is taken
    (not while the input waits with the sample at its limit), stays set, is cleared by
    ``errors_clear``, and an extra beat taken in the cycle of ``errors_clear`` sets it again."""
    lanes = 2
    dut = MicroBatchScheduler(lanes=lanes, max_lookups=4, capacity=8)
    wait = pyrng.randrange(2, 8)
    print(f"wait {wait} cycles at the limit")
    seen = {}

    async def beat(ctx, first, last, clear=0):
        lane = dut.i.payload.lanes[0]
        ctx.set(lane.valid, 1)
        ctx.set(lane.hit, 0)
        ctx.set(lane.table, 1)
        ctx.set(lane.row, pyrng.randrange(1 << 10))
        ctx.set(dut.i.payload.first, first)
        ctx.set(dut.i.payload.last, last)
        ctx.set(dut.i.payload.meta, 7)
        ctx.set(dut.i.valid, 1)
        ctx.set(dut.errors_clear, clear)
        await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)
        ctx.set(dut.errors_clear, 0)

    async def bench(ctx):
        configure_small(ctx, dut)
        await beat(ctx, 1, 0)
        await beat(ctx, 0, 0)                   # the sample is at its limit: 2 beats
        for _ in range(wait):
            await ctx.tick()
        seen["at_limit"] = ctx.get(dut.framing_error)
        await beat(ctx, 0, 0)                   # one beat too many
        seen["past_limit"] = ctx.get(dut.framing_error)
        await beat(ctx, 0, 1)
        for _ in range(wait):
            await ctx.tick()
        seen["sticky"] = ctx.get(dut.framing_error)
        ctx.set(dut.errors_clear, 1)
        await ctx.tick()
        ctx.set(dut.errors_clear, 0)
        seen["cleared"] = ctx.get(dut.framing_error)
        await beat(ctx, 1, 0)
        await beat(ctx, 0, 0)
        await beat(ctx, 0, 1, clear=1)          # past the limit as errors_clear is high
        seen["set_wins"] = ctx.get(dut.framing_error)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run_until(1e-6 * 500)
    assert seen == {"at_limit": 0, "past_limit": 1, "sticky": 1, "cleared": 0, "set_wins": 1}


def test_latency_and_one_beat_per_cycle_through_the_output_fifos(pyrng):
    """A popular micro-batch's descriptor leaves 9 cycles after its last sample's last beat is
    taken (the docstring's figure), ``busy`` stays high until it has left, and with both outputs always ready the emitter's credits
    never hold it back: a working set of all-cold two-beat samples comes out one beat per cycle,
    descriptor and records back to back, no bubble (OUTPUT_DEPTH covers the beats in flight)."""
    lanes, count = 2, 12
    dut = MicroBatchScheduler(lanes=lanes, max_lookups=4, capacity=16)
    rows = [pyrng.randrange(1 << 10) for _ in range(count)]
    print(f"rows {rows}")
    seen = {"o": [], "cold": []}

    async def producer(ctx):
        ctx.set(dut.working_set, 1)
        ctx.set(dut.capacity_limit, 16)
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.cold.ready, 1)
        # One popular one-beat sample, B = 1: its descriptor's latency.
        ctx.set(dut.batch_size, 1)
        lane = dut.i.payload.lanes[0]
        ctx.set(lane.valid, 1)
        ctx.set(lane.hit, 1)
        await offer(ctx, dut, first=1, last=1, meta=5 | (1 << 32))  # flush: the set closes
        seen["taken"] = seen["cycle"]
        ctx.set(dut.i.valid, 0)
        while ctx.get(dut.busy):
            await ctx.tick()
        seen["phase2"] = seen["cycle"]
        # count cold samples of two beats in one micro-batch (B = count, W = 1).
        ctx.set(dut.batch_size, count)
        for n, row in enumerate(rows):
            for b in range(2):
                for k in range(lanes):
                    ctx.set(dut.i.payload.lanes[k].valid, 1)
                    ctx.set(dut.i.payload.lanes[k].hit, 0)
                    ctx.set(dut.i.payload.lanes[k].row, row)
                await offer(ctx, dut, first=b == 0, last=b == 1,
                            meta=(100 + n) | ((n == count - 1) << 32))
        ctx.set(dut.i.valid, 0)
        await drain(ctx, dut)
        seen["done"] = True

    async def monitor(ctx):
        seen["cycle"] = 0
        async for _, _, ov, op, cv in ctx.tick().sample(dut.o.valid, dut.o.payload,
                                                         dut.cold.valid):
            if ov:
                seen["o"].append((seen["cycle"], int(op.desc), int(op.sample)))
            if cv:
                seen["cold"].append(seen["cycle"])
            seen["cycle"] += 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_process(monitor)
    sim.run_until(1e-6 * 2000)
    assert seen.get("done"), "the scheduler stalled"
    first_desc, first_record, *rest = seen["o"]
    assert first_desc[1:] == (1, 0) and first_record[1:] == (0, 5)
    # busy stayed high until the micro-batch was out (it once fell while a job sat in the
    # jobs FIFO's inner stage: the FIFO's r_rdy, not its level).
    assert first_record[0] < seen["phase2"], (seen["o"][:3], seen["phase2"])
    # Counted from the tick that took the beat: 9 cycles in between.
    assert first_desc[0] - seen["taken"] - 1 == 9, seen["o"][:3]
    # The cold working set: 1 descriptor + 2 * count record beats, on consecutive cycles.
    beats = [c for c, desc, sample in rest if desc or sample >= 100]
    assert len(beats) == 1 + 2 * count
    assert beats == list(range(beats[0], beats[0] + len(beats))), beats
    assert len(seen["cold"]) == 2 * count
    assert seen["cold"] == list(range(seen["cold"][0], seen["cold"][0] + 2 * count))
