"""cocotb regression of the micro-batch scheduler against the golden model, beat by beat.

Three builds (the RTL parameters) run several cocotb tests each (the runtime configuration:
``B``, ``W``, ``capacity_limit``, ``split``, ``learn``):

``kaggle``    4 lanes, F = 26 (7 beats, the last one half empty), capacity 64. Kaggle-shaped
              synthetic samples classified by a popularity table model after a learning phase
              (about 60 % popular): REFORMED, SPLIT, a capacity limit below ``W * B`` (early
              closes), and the throughput measurement.
``movielens`` 3 lanes, F = 8 (3 beats), capacity 12. MovieLens-100K samples (about 15 %
              popular): REFORMED with B = 6, a learning phase followed by a RUN phase (flush
              between), SPLIT, and input stalls against a full buffer under heavy backpressure.
``edges``     2 lanes, F from 1 to 5 per sample, capacity 16: W = 1, B = 1, only popular, no
              popular, SPLIT with empty micro-batches, flush mid-stream, early closes from the
              limit and from the physical capacity, B = capacity; the all-popular throughput
              case; ``capacity_limit`` above ``capacity``.

Every run has idle gaps on the input and backpressure on both outputs (except the throughput
test), compares every ``o`` and ``cold`` beat with the model, checks the schedule invariants
(:meth:`MicroBatchSchedulerTB.check_invariants`) and the counters.

Throughput (cycles, no pauses, :func:`measure_throughput`). Both halves are measured apart so
that neither waits for the other: (1) input alone, ``o`` and ``cold`` held not ready, as many
samples as the buffer holds; (2) output alone, every sample buffered and its working set closed,
``o`` and ``cold`` always ready, cycles from the first to the last ``o`` beat.

* Input: one beat per cycle while a buffer slot is free: ``N`` beats take exactly ``N`` cycles
  and ``stalls`` stays 0.
* Output: one beat per cycle, descriptors included: the emitter plans the next micro-batch and
  issues its descriptor in the same cycle, and takes the next job in the cycle the current one
  is used up, so with every job queued ahead ``cycles == records + micro_batches`` exactly
  (:func:`throughput_full_rate`, :func:`throughput_documented_contract`,
  :func:`throughput_all_popular`, whose every micro-batch is a job of its own). No tolerance:
  nothing random takes part and the count is cycle-exact.
"""

from __future__ import annotations

import random
import zlib

import cocotb
import pytest
from cocotb.triggers import ClockCycles

from hotline_hw.model import TableGeometry
from hotline_hw.model.scheduler import Lookup
from tb.micro_batch_scheduler_tb import (MicroBatchSchedulerTB, classify_sparse,
                                         make_component, make_params, random_samples)
from tb.runner import run_cocotb, tb_params

#: Build this simulation runs (``tb_params()["build"]``): each cocotb test runs on one build only.
BUILD = tb_params().get("build")


def on_build(name: str):
    """``@cocotb.test()`` that runs only in the simulation of build ``name``."""
    return cocotb.test(skip=BUILD != name)


# Popularity table used to classify the real traffic (slot_bits = 10 with set_bits = 8).
GEOMETRY = TableGeometry(table_bits=5, row_bits=20, set_bits=8)


def _kaggle(learn: int, run: int):
    from sw_driver.data import SyntheticCriteo

    sparse = SyntheticCriteo(100_000, scale=3e-5, seed=7).generate_sparse(learn + run)
    return classify_sparse(sparse, GEOMETRY, learn=learn, run=run)


def _movielens(start: int, learn: int, run: int):
    from sw_driver.data import MovieLens100K

    sparse = MovieLens100K().block.sparse[start:start + learn + run]
    return classify_sparse(sparse, GEOMETRY, learn=learn, run=run, first_id=start)


async def run_schedule(dut, phases, *, batch_size, working_set, split=False,
                       capacity_limit=None, idle=0.3, o_bp=0.4, cold_bp=(0, 1, 1),
                       timeout_per_beat=40):
    """Reset, configure, then per phase ``(samples, learn)`` send the samples (flush on the
    last), drain; then invariants and counters. Returns ``(tb, stats, counters)``."""
    tb = MicroBatchSchedulerTB(dut, tb_params())
    tb.set_idle(idle)
    tb.set_backpressure(o_bp, cold_bp)
    await tb.reset()
    tb.configure(batch_size=batch_size, working_set=working_set, split=split,
                 learn=phases[0][1], capacity_limit=capacity_limit)
    for samples, learn in phases:
        if learn != tb.config["learn"]:
            tb.set_learn(learn)
        await tb.send(samples)
        beats = sum(-(-len(lk) // tb.lanes) for _, lk in samples)
        await tb.drain(timeout_cycles=timeout_per_beat * beats + 2000)
    stats = tb.check_invariants()
    counters = tb.check_counters()
    tb.log.info("stats %s counters %s", stats, counters)
    return tb, stats, counters


# -- kaggle build ----------------------------------------------------------------------------------

@on_build("kaggle")
async def kaggle_reformed(dut):
    """Kaggle-shaped traffic after a learning phase; REFORMED, B = 5, W = 3, partial last set."""
    _, run, _ = _kaggle(learn=500, run=602)
    _, stats, _ = await run_schedule(dut, [(run, False)], batch_size=5, working_set=3)
    assert set(stats["micro_batches"]) == {"POPULAR", "MIXED", "NON_POPULAR"}, stats


@on_build("kaggle")
async def kaggle_split(dut):
    """SPLIT mode (exact training): per mini-batch of 6 its popular then non-popular part."""
    _, run, _ = _kaggle(learn=500, run=400)
    await run_schedule(dut, [(run, False)], batch_size=6, working_set=4, split=True,
                       o_bp=(1, 0, 0), cold_bp=0.5)


@on_build("kaggle")
async def kaggle_early_close(dut):
    """capacity_limit 7 below W * B = 16 closes working sets early (model ``capacity=7``)."""
    _, run, _ = _kaggle(learn=500, run=400)
    tb, _, counters = await run_schedule(dut, [(run, False)], batch_size=4, working_set=4,
                                         capacity_limit=7, idle=(0, 1), o_bp=0.5)
    assert counters["early_closes"] > 0, counters


async def measure_throughput(dut, samples, **config) -> dict:
    """Cycle counts of ``samples`` (at most ``capacity``) under ``config``, no pauses: see the
    module docstring. Checks everything a normal run checks; asserts the input contract."""
    params = tb_params()
    assert len(samples) <= params["capacity"], "the buffer must hold every sample"
    tb = MicroBatchSchedulerTB(dut, params)
    await tb.reset()
    tb.configure(**config)
    tb.o_sink.pause = True
    tb.cold_sink.pause = True
    watch = tb.watch_flow()
    await tb.send(samples)
    await tb.source.wait()
    await ClockCycles(dut.clk, 2)
    fill = watch.stop()
    stalls = int(dut.stalls.value)
    watch = tb.watch_flow()
    tb.o_sink.pause = False
    tb.cold_sink.pause = False
    await tb.drain(timeout_cycles=20_000)
    drain = watch.stop()
    tb.check_invariants()
    counters = tb.check_counters()
    figures = {"in_beats": fill.in_beats, "in_cycles": fill.in_cycles, "stalls": stalls,
               "out_beats": drain.out_beats, "out_cycles": drain.out_cycles,
               "micro_batches": counters["micro_batches"], "jobs": tb.jobs,
               "records": drain.out_beats - counters["micro_batches"], "seed": tb.seed}
    figures["idle"] = figures["out_cycles"] - figures["out_beats"]
    dut._log.info("throughput %s %s", tb.config, figures)
    assert stalls == 0 and fill.in_cycles == fill.in_beats, \
        f"input: {fill.in_beats} beats took {fill.in_cycles} cycles, {stalls} stalls " \
        f"(seed {tb.seed})"
    return figures


def assert_rtl_output_rate(f: dict) -> None:
    mb, jobs = f["micro_batches"], f["jobs"]
    want = f["records"] + mb
    assert f["out_cycles"] == want, \
        f"output: {f['out_beats']} beats ({mb} micro-batches, {jobs} jobs) took " \
        f"{f['out_cycles']} cycles, expected {want} (seed {f['seed']})"


def _throughput_samples():
    _, run, _ = _kaggle(learn=500, run=tb_params()["capacity"])
    return run


@on_build("kaggle")
@cocotb.parametrize(split=[False, True])
async def throughput_full_rate(dut, split):
    """Input one beat per cycle; output at the RTL's exact rate (module docstring)."""
    f = await measure_throughput(dut, _throughput_samples(), batch_size=5, working_set=3,
                                 split=split)
    assert_rtl_output_rate(f)


@on_build("kaggle")
async def throughput_documented_contract(dut):
    """The documented output contract: one beat per cycle, descriptors included, no idle cycle
    while jobs are queued (was 493 cycles for these 461 beats before the emitter was fixed)."""
    f = await measure_throughput(dut, _throughput_samples(), batch_size=5, working_set=3)
    assert f["out_cycles"] == f["out_beats"], \
        f"output: {f['out_beats']} beats ({f['micro_batches']} micro-batches) took " \
        f"{f['out_cycles']} cycles: {f['idle']} idle (seed {f['seed']})"


# -- movielens build -------------------------------------------------------------------------------

@on_build("movielens")
async def movielens_reformed(dut):
    """MovieLens-100K after a learning phase; REFORMED, B = 6 (not a power of two), W = 2."""
    _, run, _ = _movielens(20_000, learn=1000, run=1000)
    await run_schedule(dut, [(run, False)], batch_size=6, working_set=2)


@on_build("movielens")
async def movielens_learn_then_run(dut):
    """Learning phase (nothing popular, every lookup cold), flush, then the RUN phase (the
    table model learned on 1000 samples; the scheduler sees the last 300 of them)."""
    learn, run, _ = _movielens(40_000, learn=1000, run=500)
    _, stats, _ = await run_schedule(dut, [(learn[-300:], True), (run, False)], batch_size=3,
                                     working_set=2, idle=0.2, cold_bp=0.3)
    assert stats["popular"] > 0, stats


@on_build("movielens")
async def movielens_split(dut):
    """SPLIT mode on MovieLens, B = 5."""
    _, run, _ = _movielens(0, learn=1000, run=503)
    await run_schedule(dut, [(run, False)], batch_size=5, working_set=1, split=True)


@on_build("movielens")
async def movielens_stalls(dut):
    """Heavy backpressure on ``o``: the 12-sample buffer fills, the input stalls, nothing lost."""
    _, run, _ = _movielens(60_000, learn=500, run=250)
    _, _, counters = await run_schedule(dut, [(run, False)], batch_size=3, working_set=4,
                                        idle=0.1, o_bp=0.9, cold_bp=0.7, timeout_per_beat=200)
    assert counters["stalls"] > 0, counters


# -- edges build -----------------------------------------------------------------------------------

EDGE_CASES = {
    # name (<= 10 characters: cocotb shows it in the test name):
    #   (count, hit_rate, popular_rate, B, W, split, capacity_limit, chunks)
    "w1_b7": (200, 0.8, 0.3, 7, 1, False, None, 1),
    "b1_w1": (80, 0.7, 0.4, 1, 1, False, None, 1),
    "all_pop": (181, 1.0, 1.0, 4, 3, False, None, 1),
    "no_pop": (121, 0.0, 0.0, 3, 2, False, None, 1),
    "split_all": (103, 1.0, 1.0, 5, 1, True, None, 1),        # empty NON_POPULAR micro-batches
    "split_none": (83, 0.3, 0.0, 4, 1, True, None, 1),       # empty POPULAR micro-batches
    "split_b1": (50, 0.7, 0.4, 1, 1, True, None, 1),
    "flush_mid": (200, 0.7, 0.4, 3, 3, False, None, 3),       # three flushes, partial sets
    "limit_b": (150, 0.6, 0.3, 3, 3, False, 3, 1),            # capacity_limit = B
    "phys_limit": (200, 0.4, 0.1, 7, 3, False, None, 1),      # W * B = 21 > capacity 16
    "b_cap_w1": (100, 0.6, 0.3, 16, 1, False, None, 1),      # a working set fills the buffer
    "b_cap_w2": (100, 0.6, 0.3, 16, 2, False, None, 1),      # ... and closes early there
    "b_cap_spl": (100, 0.6, 0.3, 16, 1, True, None, 1),
}


# cocotb names a parametrized test by its values only if they are short identifiers.
assert all(len(name) <= 10 and name.isidentifier() for name in EDGE_CASES)


@on_build("edges")
@cocotb.parametrize(case=list(EDGE_CASES))
async def edges(dut, case):
    count, hit_rate, popular_rate, B, W, split, limit, chunks = EDGE_CASES[case]
    params = tb_params()
    rng = random.Random(cocotb.RANDOM_SEED ^ zlib.crc32(case.encode()))
    samples = random_samples(rng, count, lookups=(1, params["max_lookups"]),
                             hit_rate=hit_rate, popular_rate=popular_rate,
                             table_bits=params["table_in_bits"],
                             row_bits=params["row_in_bits"], slot_bits=params["slot_bits"])
    step = -(-count // chunks)
    phases = [(samples[i:i + step], False) for i in range(0, count, step)]
    _, stats, counters = await run_schedule(dut, phases, batch_size=B, working_set=W,
                                            split=split, capacity_limit=limit)
    if limit is not None or W * B > params["capacity"]:
        assert counters["early_closes"] > 0, counters


@on_build("edges")
@cocotb.parametrize(batch_size=[1, 3])
async def throughput_all_popular(dut, batch_size):
    """Every sample popular, so every micro-batch is a job of its own: still one output beat
    per cycle (was a descriptor and three idle cycles per micro-batch before the emitter was
    fixed); input one beat per cycle."""
    params = tb_params()
    rng = random.Random(cocotb.RANDOM_SEED)
    samples = random_samples(rng, params["capacity"], lookups=(1, params["max_lookups"]),
                             hit_rate=1.0, popular_rate=1.0, table_bits=params["table_in_bits"],
                             row_bits=params["row_in_bits"], slot_bits=params["slot_bits"])
    f = await measure_throughput(dut, samples, batch_size=batch_size, working_set=2)
    assert f["jobs"] == f["micro_batches"], f
    assert_rtl_output_rate(f)


@on_build("edges")
async def capacity_limit_above_capacity(dut):
    """``capacity_limit`` above the physical ``capacity`` (W * B = 21 > 16) acts as
    ``capacity`` (docstring): the working set closes early when all 16 slots hold samples
    (before the fix it never closed: ``i.ready`` stayed low, a deadlock)."""
    params = tb_params()
    rng = random.Random(cocotb.RANDOM_SEED)
    samples = random_samples(rng, 40, lookups=(1, params["max_lookups"]), hit_rate=0.4,
                             popular_rate=0.1, table_bits=params["table_in_bits"],
                             row_bits=params["row_in_bits"], slot_bits=params["slot_bits"])
    tb = MicroBatchSchedulerTB(dut, params)
    await tb.reset()
    tb.configure(batch_size=7, working_set=3, capacity_port=21)      # W * B = 21 > 16
    await tb.send(samples)
    await tb.drain(timeout_cycles=3000)


@on_build("edges")
@cocotb.parametrize(split=[False, True])
async def stale_skipped(dut, split):
    """Slipstream's skipped samples (ALPHA): popular samples with alpha - 1, alpha and
    alpha + 1 stale lookups around random traffic, under random idle input and backpressure;
    the SKIPPED micro-batches (ids only) and every other beat equal the model's."""
    params = tb_params()
    rng = random.Random(cocotb.RANDOM_SEED)
    alpha = 2
    samples = random_samples(rng, 60, lookups=(1, params["max_lookups"]), hit_rate=0.7,
                             popular_rate=0.6, table_bits=params["table_in_bits"],
                             row_bits=params["row_in_bits"], slot_bits=params["slot_bits"],
                             stale_rate=0.5)
    for n in range(0, 60, 5):                           # boundary samples, all hit
        stale = alpha - 1 + n // 5 % 3
        samples[n] = (samples[n][0], [Lookup(t, t, True, t, stale=t < stale)
                                      for t in range(params["max_lookups"])])
    tb = MicroBatchSchedulerTB(dut, params)
    await tb.reset()
    tb.set_idle(0.3)
    tb.set_backpressure(o=0.3, cold=0.3)
    tb.configure(batch_size=3, working_set=2, split=split, alpha=alpha,
                 capacity_limit=params["capacity"])
    await tb.send(samples)
    await tb.drain()
    counters = tb.check_counters()
    kinds = [beat.kind for beat in tb.got_o if beat.desc]
    dut._log.info("counters %s, micro-batch kinds %s", counters, kinds)
    assert counters["skipped"] and 3 in kinds, (counters, kinds)


# -- pytest entry points ---------------------------------------------------------------------------

BUILDS = {
    "kaggle": make_params(lanes=4, max_lookups=26, capacity=64, slot_bits=GEOMETRY.slot_bits),
    "movielens": make_params(lanes=3, max_lookups=8, capacity=12, slot_bits=GEOMETRY.slot_bits),
    "edges": make_params(lanes=2, max_lookups=5, capacity=16, table_in_bits=3, row_in_bits=6,
                         slot_bits=5, sample_bits=12, size_bits=5, working_set_bits=2),
}


@pytest.mark.parametrize("build", list(BUILDS))
def test_micro_batch_scheduler(request, build):
    params = BUILDS[build]
    run_cocotb(test_id=request.node.nodeid, component=make_component(params),
               toplevel="micro_batch_scheduler", test_module="tb.test_micro_batch_scheduler",
               params={**params, "build": build})
