"""cocotb regression of the popularity table against the golden model (generated Verilog).

Every response beat is compared field by field with :class:`hotline_hw.model.PopularityTable`
fed the same beats in stream order; after every LEARN phase (and after host writes) the whole
table is read back through the host port and compared entry by entry; the status counters are
compared after every phase. Inputs see random idle cycles and every output random backpressure,
except in :func:`throughput`, which measures exact cycle counts with no pauses.

Each pytest case builds one configuration (lanes P in {1, 2, 4} x a tiny and a medium
geometry) and runs all the cocotb tests below on it. The tiny table (4 tables x 64 rows, 4 sets x
4 ways) takes the data sets folded into its key space: the first 4 columns, rows modulo 64.
The medium 4-lane case also runs the co-simulation of ``make sim``
(:mod:`tb.cosim_popularity_table`) on a little traffic and checks its report. Seeds come from
the test id (printed; override with ``HOTLINE_SEED``).
"""

from __future__ import annotations

import json

import cocotb
import numpy as np
import pytest
from cocotb.triggers import RisingEdge
from cocotb.utils import get_sim_time

from hotline_hw.lookup_stream import HostOp
from hotline_hw.model import KeyRangeError, Mode, OracleProfiler, hit_fraction, popular_fraction
from tb.popularity_table_tb import (CLOCK_NS, COUNTERS, Beat, PopularityTableTB, ResponseStats,
                                    beats_from_sparse, lane_cycles, learn_bubbles, make_component,
                                    make_params)
from tb.runner import run_cocotb, tb_params

# Request fields one bit wider than the key (tiny) or two (medium): out-of-range keys drivable.
GEOMETRIES = {
    "tiny": dict(table_bits=2, row_bits=6, set_bits=2, ways=4, table_in_bits=3, row_in_bits=8),
    "medium": dict(table_bits=5, row_bits=20, set_bits=8, ways=4, table_in_bits=6,
                   row_in_bits=22),
}

# Traffic per configuration: kept small enough for the whole file to run in well under three
# minutes on two cores (per-cycle Python is the bottleneck).
SIZES = {
    "tiny": dict(random_beats=500, criteo_scale=0.001, criteo_learn=200, criteo_run=100,
                 movielens_learn=600, movielens_run=300, throughput_beats=400),
    "medium": dict(random_beats=1000, criteo_scale=0.003, criteo_learn=300, criteo_run=150,
                   movielens_learn=1500, movielens_run=700, throughput_beats=1000),
}

# Pauses of the randomised tests: probability of an idle input cycle, of a refused output cycle.
IDLE, BACKPRESSURE = 0.3, 0.4

# Slack on cycle spans for the pipeline latency. Measured with 4 Feistel rounds: N beats span
# N + 11 cycles in RUN (the edge that drives the first beat, then rounds + 6 stages: the hash
# rounds, H, read address, read data, compare, update, response).
MAX_LATENCY = 11


def configuration(geometry: str, lanes: int) -> dict:
    # Cover both framing layouts (with and without meta) and counter wrap-around (tiny: 12 bits).
    meta_bits = 0 if (geometry, lanes) == ("tiny", 2) else 12
    counter_bits = 12 if geometry == "tiny" else 32
    return make_params(**GEOMETRIES[geometry], lanes=lanes, meta_bits=meta_bits,
                       counter_bits=counter_bits, size=geometry)


# -- traffic ---------------------------------------------------------------------------------------

def key_pool(tb: PopularityTableTB, count: int) -> list[tuple[int, int]]:
    """``count`` distinct in-range keys, uniformly drawn (all keys if the key space is smaller)."""
    g = tb.geometry
    space = 1 << g.key_bits
    if count >= space:
        return [(k >> g.row_bits, k & ((1 << g.row_bits) - 1)) for k in range(space)]
    keys = tb.rng.sample(range(space), count)
    return [(k >> g.row_bits, k & ((1 << g.row_bits) - 1)) for k in keys]


def keys_in_set(tb: PopularityTableTB, set_index: int, count: int) -> list[tuple[int, int]]:
    """``count`` distinct in-range keys that hash to ``set_index`` (random order)."""
    g = tb.geometry
    found: list[tuple[int, int]] = []
    seen = set()
    for _ in range(64):
        if len(found) == count:
            return found
        keys = np.array([tb.rng.getrandbits(g.key_bits) for _ in range(64 * g.sets)],
                        dtype=np.int64)
        tables, rows = keys >> g.row_bits, keys & ((1 << g.row_bits) - 1)
        sets, _ = tb.model.set_and_tag_array(tables, rows)
        for t, r in zip(tables[sets == set_index].tolist(), rows[sets == set_index].tolist()):
            if (t, r) not in seen and len(found) < count:
                seen.add((t, r))
                found.append((t, r))
    if len(found) < count:
        raise ValueError(f"could not find {count} keys in set {set_index} of {g}")
    return found


def bad_keys(tb: PopularityTableTB, count: int) -> list[tuple[int, int]]:
    """Keys the request fields can carry but the geometry cannot: table or row (or both) too
    wide, including the extreme values."""
    g = tb.geometry
    t_lo, t_hi = 1 << g.table_bits, 1 << tb.table_in_bits
    r_lo, r_hi = 1 << g.row_bits, 1 << tb.row_in_bits
    rng = tb.rng
    keys = [(t_lo, 0), (t_hi - 1, r_hi - 1), (0, r_lo), (t_lo - 1, r_hi - 1), (t_hi - 1, 0)]
    while len(keys) < count:
        kind = rng.randrange(3)
        table = rng.randrange(t_lo, t_hi) if kind != 1 else rng.randrange(t_lo)
        row = rng.randrange(r_lo, r_hi) if kind != 0 else rng.randrange(r_lo)
        keys.append((table, row))
    return keys[:count]


def alias_keys(tb: PopularityTableTB, keys) -> list[tuple[int, int]]:
    """Out-of-range aliases of ``keys``: extra high bits on the table, the row or both, so that
    the key bits the table keeps are those of a (possibly stored) in-range key."""
    g, rng = tb.geometry, tb.rng
    t_extra = (1 << (tb.table_in_bits - g.table_bits)) - 1
    r_extra = (1 << (tb.row_in_bits - g.row_bits)) - 1
    aliases = []
    for table, row in keys:
        kind = rng.randrange(3)
        if kind != 1:
            table |= rng.randint(1, t_extra) << g.table_bits
        if kind != 0:
            row |= rng.randint(1, r_extra) << g.row_bits
        aliases.append((table, row))
    return aliases


def random_beats(tb: PopularityTableTB, count: int, pool, *, fill: float = 0.85,
                 bad=(), bad_rate: float = 0.0) -> list[Beat]:
    """Beats of uniformly drawn keys from ``pool``; each lane valid with probability ``fill``,
    and then a key of ``bad`` with probability ``bad_rate``. ``first`` / ``last`` / ``meta``
    are random: the table carries them through whatever they say."""
    rng = tb.rng
    meta_bits = max(1, tb.meta_bits)
    beats = []
    for _ in range(count):
        keys = []
        for _ in range(tb.lanes):
            if rng.random() >= fill:
                keys.append(None)
            elif bad and rng.random() < bad_rate:
                keys.append(rng.choice(bad))
            else:
                keys.append(rng.choice(pool))
        beats.append(Beat(tuple(keys), rng.random() < 0.5, rng.random() < 0.5,
                          rng.getrandbits(meta_bits), -1))
    return beats


def fit_sparse(tb: PopularityTableTB, sparse) -> np.ndarray:
    """The samples in the table's key space: at most ``2**table_bits`` columns, rows folded
    modulo ``2**row_bits`` (a no-op for data that already fits)."""
    g = tb.geometry
    sparse = np.asarray(sparse, dtype=np.int64)[:, :1 << g.table_bits]
    return sparse % (1 << g.row_bits)


def criteo(tb: PopularityTableTB, learn: int, run: int, scale: float):
    from sw_driver.data import SyntheticCriteo

    source = SyntheticCriteo(learn + run, scale=scale, seed=tb.seed)
    sparse = fit_sparse(tb, source.generate_sparse(learn + run))
    return sparse[:learn], sparse[learn:]


def movielens(tb: PopularityTableTB, learn: int, run: int, start: int):
    from sw_driver.data import MovieLens100K

    sparse = fit_sparse(tb, MovieLens100K().block.sparse[start:start + learn + run])
    return sparse[:learn], sparse[learn:]


def group_beats(tb: PopularityTableTB, groups) -> list[Beat]:
    """One beat per group of at most ``lanes`` keys; longer groups are cut into several beats
    (the lookups stay in the same order, which is what the model specifies)."""
    beats = []
    for group in groups:
        group = list(group)
        for i in range(0, max(1, len(group)), tb.lanes):
            beats.append(Beat(tuple(group[i:i + tb.lanes]), True, True, len(beats), -1))
    return beats


def hazard_beats(tb: PopularityTableTB) -> list[Beat]:
    """Hand-made hazards of the read-modify-write pipeline (see :func:`hazards`)."""
    g, p, rng = tb.geometry, tb.lanes, tb.rng
    w = g.ways
    s0, s1 = 1, g.sets - 1
    k = keys_in_set(tb, s0, 2 * w + 5)
    other = keys_in_set(tb, s1, w + 2)
    bad = bad_keys(tb, 2)
    groups = [
        k[:w],                                  # fill one set from several lanes of a beat
        [k[w]],                                 # miss, all ways at RRPV 2: age by 1, way 0
        [k[w]] + k[1:w],                        # hit every way: all RRPV 0
        [k[w + 1]],                             # miss, all ways at RRPV 0: age by 3, way 0
        [k[w + 2]],                             # miss, no ageing: the next way at RRPV 3
        [k[w + 3]] * p,                         # the same key in every lane: miss, then hits
        [k[w + 3]] * p,
        [k[0], k[w + 1]],                       # miss amid mixed RRPVs, then a hit
        [k[w + 4], k[w + 4], k[1], k[w + 4]],   # same key around another key of its set
        [k[0], bad[0], k[0], k[1]],             # an out-of-range lane amid same-set lanes
        [None] * p,                             # LEARN beat with no valid lane
        [None] * (p - 1) + [k[2]],              # only the last lane valid
        [k[0], other[0], k[1], other[1]],       # two sets interleaved in one beat
        other[:w + 1],                          # overflow the second set
    ]
    # Back to back: each beat looks up the set the previous beat has just written.
    for j in range(2 * w + 2):
        groups += [[k[j % len(k)]], [k[j % len(k)], k[(j + 5) % len(k)]]]
    # Thrash one set with more keys than ways, duplicates and invalid lanes.
    for _ in range(24):
        groups.append([rng.choice(k) if rng.random() < 0.8 else None for _ in range(p)])
    return group_beats(tb, groups)


async def learn_and_check(tb: PopularityTableTB, beats, label: str) -> None:
    """A LEARN phase: every response compared, then table and counters compared."""
    await tb.set_mode(Mode.LEARN)
    await tb.run(beats)
    await tb.compare_dump(f"after {label} (LEARN)")
    await tb.check_counters(f"after {label} (LEARN)")


async def run_and_check(tb: PopularityTableTB, beats, label: str, *,
                        dump_alongside: bool = False) -> None:
    """A RUN phase: every response compared; optionally the table is dumped while the lookups
    run (RUN is read-only); counters compared, and the table must not have changed."""
    await tb.set_mode(Mode.RUN)
    tb.send(beats)
    rtl = await tb.dump() if dump_alongside else None
    await tb.drain()
    if rtl is not None:
        slots, lines = tb.dump_differences(rtl)
        assert not slots, (f"seed {tb.seed}: table read during {label} (RUN) differs: "
                           + "; ".join(lines))
    await tb.check_counters(f"after {label} (RUN)")
    await tb.compare_dump(f"after {label} (RUN)")


async def new_tb(dut, *, pauses: bool = True, **kwargs) -> PopularityTableTB:
    tb = PopularityTableTB(dut, tb_params(), **kwargs)
    await tb.start()
    if pauses:
        tb.set_pauses(IDLE, BACKPRESSURE)
    return tb


# -- tests -----------------------------------------------------------------------------------------

@cocotb.test(skip="banks" in tb_params())     # the banked table has no stale bits
async def stale_bits(dut):
    """Slipstream's stale bits: after LEARN, RUN traffic with MARK_STALE (present and absent
    keys) and CLEAR_STALE arriving while lookups are in flight, under random idle and
    backpressure: every response's stale bit, every host answer, the final stale bits (READ)
    and the table equal the model's."""
    tb = await new_tb(dut)
    rng = tb.rng
    pool = key_pool(tb, tb.geometry.entries)
    await learn_and_check(tb, random_beats(tb, 200, pool), "stale bits")
    await tb.set_mode(Mode.RUN)
    marked = 0
    for round_ in range(6):
        tb.send(random_beats(tb, 40, pool))
        commands = [("mark", rng.choice(pool)) for _ in range(rng.randrange(1, 12))]
        if round_ == 3:
            commands.insert(rng.randrange(len(commands)), ("clear",))
        answers = await tb.host_stale(commands)
        marked += sum(a["hit"] for a in answers)
    tb.send(random_beats(tb, 60, pool))
    await tb.drain()
    await tb.check_counters("stale bits")
    await tb.compare_dump("stale bits")
    assert np.array_equal(await tb.stale_dump(), tb.model.stale_slots()), \
        f"seed {tb.seed}: stale bits differ from the model's"
    assert marked and tb.model.stale_slots().any(), "the test marks some entries stale"


@cocotb.test()
async def hazards(dut):
    """Hand-made hazards, first back to back (no pauses), then with random idle/backpressure.

    Several lanes of one beat in one set; the same key in every lane; a set filled, all ways
    hit (RRPV 0), then a miss (ageing by 3 to RRPV 3) and partial ageing; full sets overflowed;
    an out-of-range lane amid same-set lanes; empty LEARN beats; beats that look up the set the
    previous beat has just written. Then the same beats in RUN mode (read-only).
    """
    tb = await new_tb(dut, pauses=False)
    for idle, backpressure in ((None, None), (IDLE, BACKPRESSURE), ((0, 1), (1, 1, 0))):
        tb.set_pauses(idle, backpressure)
        await tb.host_clear()
        await tb.clear_counters()
        beats = hazard_beats(tb)
        await learn_and_check(tb, beats, f"hazard beats, pauses {idle}/{backpressure}")
        await run_and_check(tb, beats, f"hazard beats, pauses {idle}/{backpressure}")


@cocotb.test()
async def uniform_random(dut):
    """Uniformly random keys (a pool of 1.5x the capacity, or the whole key space of the tiny
    table), 15% invalid lanes, 2% out-of-range lanes (some aliasing pool keys), random
    first/last/meta: LEARN, RUN with a host dump running alongside, LEARN again under fixed
    duty-cycle patterns."""
    tb = await new_tb(dut)
    size = tb.params["size"]
    n = SIZES[size]["random_beats"]
    pool = key_pool(tb, 3 * tb.geometry.entries // 2)
    bad = bad_keys(tb, 16) + alias_keys(tb, pool[:32])
    await learn_and_check(tb, random_beats(tb, n, pool, bad=bad, bad_rate=0.02), "random keys")
    await run_and_check(tb, random_beats(tb, n, pool, bad=bad, bad_rate=0.02), "random keys",
                        dump_alongside=True)
    tb.set_pauses((1, 0, 0), (1, 1, 0))
    await learn_and_check(tb, random_beats(tb, n // 2, pool), "random keys, duty cycles")


@cocotb.test()
async def criteo_traffic(dut):
    """Skewed traffic from SyntheticCriteo (26 tables, Zipf 1.15; table id = column): LEARN on
    one part, then RUN on the next part. Logs the popular and hit fractions of the RTL."""
    tb = await new_tb(dut)
    size = SIZES[tb.params["size"]]
    learn, run = criteo(tb, size["criteo_learn"], size["criteo_run"], size["criteo_scale"])
    await learn_and_check(tb, beats_from_sparse(learn, tb.lanes), "SyntheticCriteo")
    stats = ResponseStats(len(run))
    tb.on_response = stats
    await run_and_check(tb, beats_from_sparse(run, tb.lanes, first_sample=len(learn)),
                        "SyntheticCriteo")
    tb.log.info("SyntheticCriteo RUN: popular fraction %.3f, hit fraction %.3f over %d lookups",
                stats.popular_fraction, stats.hit_fraction, stats.lookups)


@cocotb.test()
async def movielens_traffic(dut):
    """Real traffic: MovieLens-100K samples in time order (8 tables; table id = column), LEARN
    on the first part, RUN on the next."""
    tb = await new_tb(dut)
    size = SIZES[tb.params["size"]]
    learn, run = movielens(tb, size["movielens_learn"], size["movielens_run"], start=0)
    await learn_and_check(tb, beats_from_sparse(learn, tb.lanes), "MovieLens-100K")
    stats = ResponseStats(len(run))
    tb.on_response = stats
    await run_and_check(tb, beats_from_sparse(run, tb.lanes, first_sample=len(learn)),
                        "MovieLens-100K")
    tb.log.info("MovieLens-100K RUN: popular fraction %.3f, hit fraction %.3f over %d lookups",
                stats.popular_fraction, stats.hit_fraction, stats.lookups)


@cocotb.test()
async def host_hot_set(dut):
    """Host port: CLEAR a learnt table (dump all-invalid), WRITE a software hot set (the oracle's
    best fitting set, placed by ``model.load_hot_set``), RUN lookups (the RTL's hit and popular
    fractions equal the oracle's for that set), single READs, arbitrary entries written
    (invalid with a tag, every RRPV) and learnt over, CLEAR again."""
    tb = await new_tb(dut)
    size = SIZES[tb.params["size"]]
    learn, run = movielens(tb, size["movielens_learn"] // 2, size["movielens_run"] // 2,
                           start=20_000)
    pool = key_pool(tb, tb.geometry.entries * 2)
    await learn_and_check(tb, random_beats(tb, 100, pool), "random keys before CLEAR")

    await tb.host_clear()
    rtl = await tb.compare_dump("after CLEAR")
    assert not rtl["valid"].any() and not rtl["rrpv"].any() and not rtl["tag"].any()

    oracle = OracleProfiler(tb.geometry.key_layout)
    oracle.update(learn)
    hot = oracle.top_fitting(tb.geometry)
    slots = tb.model.load_hot_set(hot)
    writes = [(slot, *tb.model.read_entry(slot)) for slot in slots]
    tb.rng.shuffle(writes)
    await tb.host_write_many(writes)
    await tb.compare_dump("after WRITE of the hot set")

    stats = ResponseStats(len(run))
    tb.on_response = stats
    await run_and_check(tb, beats_from_sparse(run, tb.lanes), "hot set")
    tb.on_response = None
    assert abs(stats.hit_fraction - hit_fraction(hot, run)) < 1e-12, \
        f"seed {tb.seed}: hit fraction {stats.hit_fraction} != oracle {hit_fraction(hot, run)}"
    assert abs(stats.popular_fraction - popular_fraction(hot, run)) < 1e-12, \
        f"seed {tb.seed}: popular fraction {stats.popular_fraction} != " \
        f"oracle {popular_fraction(hot, run)}"
    tb.log.info("hot set of %d keys: RUN hit fraction %.3f, popular fraction %.3f", len(hot),
                stats.hit_fraction, stats.popular_fraction)

    for slot in tb.rng.sample(range(tb.geometry.entries), min(8, tb.geometry.entries)):
        got = await tb.host_read(slot)
        assert got == tb.model.read_entry(slot), \
            f"seed {tb.seed}: READ slot {slot}: {got} != {tb.model.read_entry(slot)}"

    g = tb.geometry
    writes = [(slot, tb.rng.random() < 0.6, tb.rng.randrange(4), tb.rng.getrandbits(g.tag_bits))
              for slot in tb.rng.sample(range(g.entries), min(g.entries, 48))]
    writes += [(0, 0, 3, (1 << g.tag_bits) - 1), (g.entries - 1, 1, 3, (1 << g.tag_bits) - 1)]
    await tb.host_write_many(writes)
    await tb.compare_dump("after WRITE of arbitrary entries")
    # Learn over host-written RRPVs: keys of the written sets, including the written tags.
    written_keys = []
    for slot, valid, rrpv, tag in writes:
        try:
            written_keys.append(tb.model.key_of(slot // g.ways, tag))
        except KeyRangeError:       # a hash value no key has (odd key_bits): skip it
            pass
    beats = random_beats(tb, 150, written_keys + pool[:64], fill=0.9)
    await learn_and_check(tb, beats, "LEARN over written entries")

    await tb.host_clear()
    rtl = await tb.compare_dump("after the final CLEAR")
    assert not rtl["valid"].any(), f"seed {tb.seed}: valid entries after CLEAR"
    await tb.check_counters("at the end")


@cocotb.test()
async def host_reads_during_learn(dut):
    """Host READs running alongside LEARN traffic are taken between beats, never inside one:
    each READ of a slot of the set the traffic thrashes returns that slot's entry after some
    beat boundary of the model, and successive READs see non-decreasing boundaries."""
    tb = await new_tb(dut)
    g = tb.geometry
    target = tb.rng.randrange(g.sets)
    keys = keys_in_set(tb, target, 3 * g.ways)
    slots = [target * g.ways + way for way in range(g.ways)]
    # Model state of the set at every beat boundary (the model advances as beats are queued).
    boundaries = [tuple(tb.model.read_entry(slot) for slot in slots)]
    await tb.set_mode(Mode.LEARN)
    for beat in random_beats(tb, 40 * (1 + 4 // tb.lanes), keys, fill=0.9):
        tb.send([beat])
        boundaries.append(tuple(tb.model.read_entry(slot) for slot in slots))
    reads = [tb.rng.randrange(g.ways) for _ in range(len(boundaries) * tb.lanes)]
    entries = await tb.host([(HostOp.READ, slots[way], (0, 0, 0)) for way in reads])
    await tb.drain()
    position = 0
    for index, (way, entry) in enumerate(zip(reads, entries)):
        earliest = position
        while position < len(boundaries) and boundaries[position][way] != entry:
            position += 1
        assert position < len(boundaries), (
            f"seed {tb.seed}: READ {index} of slot {slots[way]} during LEARN returned {entry}, "
            f"which the slot does not hold at any beat boundary from {earliest} on (the model's "
            f"states there: {[b[way] for b in boundaries[earliest:earliest + 4]]} ...)")
    await tb.compare_dump("after LEARN with READs alongside")
    await tb.check_counters("after LEARN with READs alongside")


@cocotb.test()
async def bad_input(dut):
    """Out-of-range table ids / rows (request fields wider than the key) in both modes, extreme
    values and aliases of stored keys (their kept key bits equal a stored key's) included:
    answered with error=1, hit=0, slot=0, counted in ``errors`` and ``lookups``, set
    ``error_sticky`` (which stays set through clean traffic), never change the table (dump
    before == after); ``counters_clear`` zeroes every counter and the sticky flag."""
    tb = await new_tb(dut)
    pool = key_pool(tb, tb.geometry.entries)
    bad = bad_keys(tb, 32) + alias_keys(tb, pool)
    await learn_and_check(tb, random_beats(tb, 120, pool), "clean traffic")

    for mode in (Mode.LEARN, Mode.RUN):
        before = await tb.compare_dump(f"before bad keys ({mode.name})")
        await tb.clear_counters()
        assert tb.read_counters() == dict.fromkeys(COUNTERS, 0), tb.read_counters()
        await tb.set_mode(mode)
        await tb.run(random_beats(tb, 60, bad, fill=0.8))
        counters = await tb.check_counters(f"bad keys only ({mode.name})")
        assert counters["error_sticky"] == 1 and counters["errors"] == counters["lookups"] > 0
        assert counters["hits"] == 0 and counters["conflicts"] == 0, counters
        after = await tb.compare_dump(f"after bad keys only ({mode.name})")
        for name in ("valid", "rrpv", "tag"):
            assert np.array_equal(before[name], after[name]), \
                f"seed {tb.seed}: bad keys changed the table ({mode.name}, {name})"
        await tb.run(random_beats(tb, 40, pool))            # clean: the flag stays
        assert (await tb.check_counters(f"clean after bad ({mode.name})"))["error_sticky"] == 1

    await tb.clear_counters()
    assert tb.read_counters() == dict.fromkeys(COUNTERS, 0), tb.read_counters()
    mixed = random_beats(tb, 120, pool, bad=bad, bad_rate=0.3, fill=0.9)
    await learn_and_check(tb, mixed, "good and bad keys mixed")
    await run_and_check(tb, mixed, "good and bad keys mixed")
    await tb.clear_counters()
    assert tb.read_counters() == dict.fromkeys(COUNTERS, 0), tb.read_counters()


@cocotb.test()
async def throughput(dut):
    """Throughput with no pauses, as exact cycle counts (all responses still compared).

    RUN: one beat (P lookups) per cycle: the span of N beats is N plus a constant latency of at
    most MAX_LATENCY cycles, and N2 - N1 more beats take exactly N2 - N1 more cycles. LEARN: one
    valid lane per cycle (one cycle for a beat with no valid lane) and a bubble between two lanes
    of the same set in a row: the span is lane_cycles(beats) + learn_bubbles(beats) plus the same
    kind of constant. Host: a dump of E entries (one READ per cycle) takes at most
    E + MAX_LATENCY cycles; CLEAR about one cycle per set.
    """
    tb = await new_tb(dut, pauses=False, protocol_checks=False)
    n = SIZES[tb.params["size"]]["throughput_beats"]
    pool = key_pool(tb, tb.geometry.entries)
    await learn_and_check(tb, random_beats(tb, 200, pool), "warm-up")

    await tb.set_mode(Mode.RUN)
    spans = {}
    for count in (n // 4, n):
        beats = random_beats(tb, count, pool, fill=1.0)
        spans[count] = await tb.run_timed(beats)
        assert count < spans[count] <= count + MAX_LATENCY, \
            f"seed {tb.seed}: RUN: {count} beats took {spans[count]} cycles"
    short, long = n // 4, n
    assert spans[long] - spans[short] == long - short, \
        f"seed {tb.seed}: RUN is not one beat per cycle: {spans}"
    tb.log.info("RUN throughput: %s beats -> %s cycles (%d lanes: %.2f lookups/cycle)",
                list(spans), list(spans.values()), tb.lanes, tb.lanes * long / spans[long])

    await tb.set_mode(Mode.LEARN)
    overheads = []
    for count in (n // 4, n):
        beats = random_beats(tb, count, pool, fill=0.7)
        cycles = await tb.run_timed(beats)
        need = lane_cycles(beats) + learn_bubbles(beats, tb.geometry)
        overheads.append(cycles - need)
        assert need < cycles <= need + MAX_LATENCY, \
            f"seed {tb.seed}: LEARN: {count} beats ({need} lane cycles) took {cycles} cycles"
        tb.log.info("LEARN throughput: %d beats, %d valid lanes, %d lane cycles -> %d cycles",
                    count, sum(k is not None for b in beats for k in b.keys), need, cycles)
    assert overheads[0] == overheads[1], f"seed {tb.seed}: LEARN overheads {overheads}"
    await tb.compare_dump("after the LEARN throughput run")
    await tb.check_counters("after the throughput runs")

    await RisingEdge(dut.clk)
    start = get_sim_time("ns")
    await tb.dump()
    dump_cycles = round((get_sim_time("ns") - start) / CLOCK_NS)
    assert dump_cycles <= tb.geometry.entries + MAX_LATENCY, \
        f"seed {tb.seed}: dump of {tb.geometry.entries} entries took {dump_cycles} cycles"
    start = get_sim_time("ns")
    await tb.host_clear()
    clear_cycles = round((get_sim_time("ns") - start) / CLOCK_NS)
    assert clear_cycles <= tb.geometry.sets + MAX_LATENCY + 2, \
        f"seed {tb.seed}: CLEAR of {tb.geometry.sets} sets took {clear_cycles} cycles"
    tb.log.info("host: dump of %d entries in %d cycles, CLEAR of %d sets in %d cycles",
                tb.geometry.entries, dump_cycles, tb.geometry.sets, clear_cycles)


# -- pytest entry points ---------------------------------------------------------------------------

# The co-simulation behind `make sim` (tb/cosim_popularity_table.py) rides along on this case's
# build, on a little Criteo-shaped traffic: one Verilator build fewer than a test of its own.
COSIM_CASE = ("medium", 4)


def cosim_inputs(directory) -> dict:
    from sw_driver.data import SyntheticCriteo

    sparse = SyntheticCriteo(300, scale=0.001, seed=1).generate_sparse(300)
    npz = directory / "traffic.npz"
    np.savez(npz, learn=sparse[:200], run=sparse[200:])
    return {"npz": str(npz), "report": str(directory / "report.json")}


def check_cosim_report(path, lanes: int) -> None:
    report = json.loads(path.read_text())
    assert report["passed"], report
    assert report["table"]["entries_equal"] and report["table"]["valid_entries"] > 0, report
    learn, run = report["learn"], report["run"]
    assert learn["mismatches"] == 0 and run["mismatches"] == 0, report
    assert run["responses_compared"] == run["beats"] > 0, report
    assert 0 < run["hit_fraction"] < 1 and run["popular_fraction"] == \
        run["model_popular_fraction"], report
    # No pauses in the co-simulation: LEARN one lookup per cycle (and a bubble between lanes of
    # one set in a row), RUN one beat per cycle.
    assert learn["cycles"] <= learn["lookups"] + learn["bubbles"] + MAX_LATENCY, learn
    assert run["cycles"] <= run["beats"] + MAX_LATENCY, run


# Longest cases first, so that `pytest -n 2` does not end on one worker.
@pytest.mark.parametrize("lanes", [4, 2, 1])
@pytest.mark.parametrize("geometry", ["medium", "tiny"])
def test_popularity_table(request, tmp_path, geometry, lanes):
    params = configuration(geometry, lanes)
    modules = ["tb.test_popularity_table"]
    if (geometry, lanes) == COSIM_CASE:
        modules.append("tb.cosim_popularity_table")
        params.update(cosim_inputs(tmp_path))
    run_cocotb(
        test_id=request.node.nodeid,
        component=make_component(params),
        toplevel="popularity_table",
        test_module=",".join(modules),      # cocotb runs the tests of every listed module
        params=params,
    )
    if (geometry, lanes) == COSIM_CASE:
        check_cosim_report(tmp_path / "report.json", lanes)
