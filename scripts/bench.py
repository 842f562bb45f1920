"""``make bench``: performance figures in clock cycles, written to ``bench/results.json``.

Hardware figures come from RTL simulation (Verilator) and are exact cycle counts, independent
of the machine; every benchmarked response is also checked against the golden model. Each
figure is printed beside its goal from the issues. Software figures (``software.*``,
``sim_speed.*``) are wall-clock rates of this machine: compare them only as the ratios given.

Parts (``--only a,b``; all by default): ``popularity_table``, ``micro_batch_scheduler``,
``gather_engine``, ``hotline_top``, ``sim_speed``, ``native_speed`` (the native backend vs the
cocotb backend vs Verilator's own loop, one run: :mod:`scripts.bench_native`), ``software``,
``hotline_host`` (the Hotline
trainers' host path vs the baseline at 7 / 30 / 75% popular samples, with and without overlap,
and a profile: :mod:`scripts.bench_hotline`), ``distributed``
(``scripts/bench_distributed.py``: DLRM on 1 and 2 torchrun workers). A full run rewrites the file;
a subset run merges into the existing file: the parts it ran replace every figure, goal and
config entry of those parts (keys starting ``<part>.``), the other parts are kept as they were,
and ``parts`` records the commit and date each part was measured at (``commit`` / ``date`` at
the top are the latest run's).

JSON schema (``bench/results.json``)::

    {
      "schema": 1,
      "commit": "<git commit of the measured tree, '+dirty' if modified>",
      "date": "<UTC ISO time>",
      "parts": {"<part>": {"commit": "...", "date": "...", "seconds": s}, ...},
      "config": {"<part>": {<what was measured: geometry, lanes, traffic, sample counts>}},
      "figures": {"<part>.<figure key>": <number or null>, ...},     # one flat key per figure
      "goals": {"<figure key>": "<goal from the issues, or what bounds the figure>", ...}
    }

Micro-batch scheduler keys: ``micro_batch_scheduler.P<lanes>.F<lookups>.samples_per_cycle`` and
``...vs_lanes_over_lookups`` (samples per cycle / (P / F); goal >= 0.95).

Gather engine keys: ``gather_engine.B<bus bits>.R<reads in flight>.D<dim>_L<latency>
.read_bus_utilisation`` (R beats per cycle, 1.0 = the bus's peak; goal >= 0.95 at 200 cycles
with 64-byte rows) and ``...useful_bytes`` (share of the R bytes in requested rows).

Popularity table keys: ``popularity_table.P<lanes>.<RUN|LEARN>.<uniform|zipf>.<dense|sample>
.lookups_per_cycle`` (``dense``: lanes filled with consecutive lookups; ``sample``: each sample
of 26 lookups starts a new beat) and ``...lane_utilisation`` (lookups per cycle / lanes).

Whole accelerator keys (``HotlineTop`` RTL, the ``rtl/`` build, driven through the host driver,
every micro-batch and row checked against the golden-model backend), prefix
``hotline_top.kaggle.W<W>_B<B>.``: ``cycles_per_working_set`` (mean over working sets submitted
one at a time: first lookup beat in to the last micro-batch beat or gathered row out),
``samples_per_cycle``, ``cold_rows_per_working_set``, ``read_bus_utilisation`` (R beats / cycles
of the working set), ``popular_sample_fraction``, ``input_cycles_per_working_set``,
``drain_cycles_per_working_set`` (after the last lookup beat); ``streamed.*`` the same for
working sets submitted back to back in one call (a working set's input overlaps the previous
one's drain), ``streamed.marginal_cycles_per_working_set`` what each working set after the
first adds (the steady state); ``learn.*`` the learning phase (the table takes one lookup per
cycle and every lookup is gathered: the gather engine's end-to-end bus utilisation); ``bound.<block>_cycles`` per-block lower bounds of a
working set from its own traffic and the other parts' figures, and ``cycles_over_bound``
(measured / largest bound; the bounding block is named in ``config``).

Simulation speed keys: ``sim_speed.hotline_top.<verilator|icarus>.cycles_per_second`` (the same
small run on both, cocotb testbench included; ``null`` if the simulator is missing),
``...simulated_cycles``, and ``sim_speed.hotline_top.verilator_over_icarus``.

Software keys (``software.``): ``model.classify_run.samples_per_second`` (popularity table
model, ``lookup_many`` in RUN mode, 26 lookups per sample), ``model.classify_learn...``,
``model.schedule.samples_per_second`` (``MicroBatchScheduler`` on classified samples),
``driver_model_device.samples_per_second`` (``HotlineDriver.submit`` of a working set over
``ModelDevice``), ``dlrm.baseline.samples_per_second`` and the ratios
``dlrm.hotline_<reformed|split>_over_baseline_step_time`` (training time per sample, CPU, same
data, same run) and ``schedule_over_dlrm_throughput`` (software scheduling rate / baseline
training rate).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts.provenance import commit  # noqa: E402

from hotline_hw.model import TableGeometry  # noqa: E402
from sw_driver.data import SyntheticCriteo  # noqa: E402

RESULTS = REPO / "bench" / "results.json"

POPULARITY_CASES = [
    # LEARN first so the RUN cases see a learned table (hits and misses, as in use).
    {"name": "LEARN.zipf.sample", "array": "zipf", "mode": "LEARN", "packing": "sample"},
    {"name": "RUN.zipf.sample", "array": "zipf", "mode": "RUN", "packing": "sample"},
    {"name": "RUN.zipf.dense", "array": "zipf", "mode": "RUN", "packing": "dense"},
    {"name": "RUN.uniform.dense", "array": "uniform", "mode": "RUN", "packing": "dense"},
    {"name": "RUN.uniform.sample", "array": "uniform", "mode": "RUN", "packing": "sample"},
    {"name": "LEARN.uniform.sample", "array": "uniform", "mode": "LEARN", "packing": "sample"},
]


def bench_popularity_table(lanes_list, samples: int, seed: int) -> tuple[dict, dict, dict]:
    from hotline_hw.popularity_table import PopularityTable
    from tb.runner import BUILD_ROOT, run_cocotb

    geometry = TableGeometry()            # the FPGA-sized default: 16K sets x 4 ways
    work = BUILD_ROOT / "bench"
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    traffic = work / "popularity_traffic.npz"
    zipf = SyntheticCriteo(samples, scale=0.01, seed=seed).generate_sparse(samples)
    uniform = rng.integers(0, 1 << geometry.row_bits, size=zipf.shape)
    np.savez(traffic, zipf=zipf, uniform=uniform)

    figures, goals = {}, {}
    for lanes in lanes_list:
        report = work / f"popularity_P{lanes}.json"
        params = {"traffic": str(traffic), "cases": POPULARITY_CASES, "lanes": lanes,
                  "report": str(report), "table_bits": geometry.table_bits,
                  "row_bits": geometry.row_bits, "set_bits": geometry.set_bits,
                  "ways": geometry.ways, "table_in_bits": 8, "row_in_bits": 32}
        run_cocotb(test_id=f"bench_popularity_table_P{lanes}",
                   component=PopularityTable(geometry=geometry, lanes=lanes),
                   toplevel="popularity_table", test_module="tb.bench_popularity_table",
                   params=params, sim="verilator")
        for case, result in json.loads(report.read_text()).items():
            key = f"popularity_table.P{lanes}.{case}"
            figures[f"{key}.lookups_per_cycle"] = round(result["lookups_per_cycle"], 4)
            figures[f"{key}.lane_utilisation"] = round(result["lane_utilisation"], 4)
            if case.startswith("RUN") and case.endswith("dense"):
                goals[f"{key}.lane_utilisation"] = ">= 0.95 (>= 0.95 P lookups/cycle in RUN)"
            elif case.startswith("RUN"):
                bound = 26 / (lanes * -(-26 // lanes))
                goals[f"{key}.lane_utilisation"] = (
                    f"framing bound 26/(P*ceil(26/P)) = {bound:.3f}: a beat holds one sample")
            else:
                goals[f"{key}.lookups_per_cycle"] = "stated: 1 lookup/cycle (one write port)"
    config = {"popularity_table": {"geometry": "16384 sets x 4 ways, 5+24-bit keys",
                                   "lanes": list(lanes_list), "samples_per_case": samples,
                                   "lookups_per_sample": 26,
                                   "zipf": "SyntheticCriteo scale 0.01, alpha 1.15",
                                   "uniform": "uniform rows < 2**24, tables 0..25",
                                   "seed": seed}}
    return figures, goals, config


def bench_micro_batch_scheduler(lanes_list, samples: int) -> tuple[dict, dict, dict]:
    from tb.micro_batch_scheduler_tb import make_component, make_params
    from tb.runner import BUILD_ROOT, run_cocotb

    work = BUILD_ROOT / "bench"
    work.mkdir(parents=True, exist_ok=True)
    cases = [{"name": f"F{f}", "lookups": f, "batch_size": 64, "working_set": 4,
              "samples": samples, "popular_rate": 0.5} for f in (8, 26, 39)]
    figures, goals = {}, {}
    for lanes in lanes_list:
        report = work / f"scheduler_P{lanes}.json"
        params = make_params(lanes=lanes, max_lookups=40, capacity=512, size_bits=10,
                             working_set_bits=3, cases=cases, report=str(report))
        run_cocotb(test_id=f"bench_micro_batch_scheduler_P{lanes}",
                   component=make_component(params), toplevel="micro_batch_scheduler",
                   test_module="tb.bench_micro_batch_scheduler", params=params,
                   sim="verilator")
        for case in (c["name"] for c in cases):
            result = json.loads(Path(f"{report}.{case}.json").read_text())
            key = f"micro_batch_scheduler.P{lanes}.{case}"
            figures[f"{key}.samples_per_cycle"] = round(result["samples_per_cycle"], 5)
            figures[f"{key}.vs_lanes_over_lookups"] = round(result["vs_lanes_over_lookups"], 4)
            goals[f"{key}.vs_lanes_over_lookups"] = (
                f">= 0.95 x P/F; framing bound {result['framing_bound']:.3f} "
                f"(a beat holds one sample; the table's own bound)")
    config = {"micro_batch_scheduler": {
        "lanes": list(lanes_list), "lookups_per_sample": [8, 26, 39], "batch_size": 64,
        "working_set": 4, "samples_per_case": samples, "popular_rate": 0.5,
        "capacity": 512,
        "measured": "samples / cycles from the first to the last input beat, no pauses"}}
    return figures, goals, config


#: Gather engine builds: (bus bits, reads in flight). 128 bits x 64 is the rtl/ configuration.
GATHER_BUILDS = ((64, 32), (128, 16), (128, 32), (128, 64), (512, 64), (512, 256))
GATHER_LATENCIES = (20, 100, 200, 400)


def bench_gather_engine(rows: int, builds=GATHER_BUILDS,
                        latencies=GATHER_LATENCIES) -> tuple[dict, dict, dict]:
    from tb.gather_engine_tb import make_component, make_params
    from tb.runner import BUILD_ROOT, run_cocotb

    work = BUILD_ROOT / "bench"
    work.mkdir(parents=True, exist_ok=True)
    figures, goals = {}, {}
    for data_bits, slots in builds:
        bus_bytes = data_bits // 8
        cases = []
        for dim in (16, 32, 64):                   # 64-, 128-, 256-byte rows
            for latency in latencies:
                cases.append({"name": f"D{dim}_L{latency}", "latency": latency, "dim": dim,
                              "rows": rows, "misalign": 0})
        cases.append({"name": "D16_L200_unaligned", "latency": 200, "dim": 16, "rows": rows,
                      "misalign": 1})
        report = work / f"gather_B{data_bits}_R{slots}.json"
        params = make_params(data_bits=data_bits, max_dim=64, reads_in_flight=slots,
                             id_bits=max(1, (slots - 1).bit_length()), num_tables=2,
                             row_in_bits=20, memory_size=1 << 22, cases=cases,
                             report=str(report))
        run_cocotb(test_id=f"bench_gather_engine_B{data_bits}_R{slots}",
                   component=make_component(params), toplevel="gather_engine",
                   test_module="tb.bench_gather_engine", params=params, sim="verilator")
        for case in cases:
            result = json.loads(Path(f"{report}.{case['name']}.json").read_text())
            key = f"gather_engine.B{data_bits}.R{slots}.{case['name']}"
            figures[f"{key}.read_bus_utilisation"] = round(result["utilisation"], 4)
            figures[f"{key}.useful_bytes"] = round(result["useful"], 4)
            beats = -(-4 * case["dim"] // bus_bytes)
            bound = min(1.0, slots * beats / (case["latency"] + 6))
            if case["dim"] == 16 and case["latency"] == 200 and not case["misalign"]:
                goals[f"{key}.read_bus_utilisation"] = (
                    f">= 0.95 at 200 cycles, 64-byte rows, enough reads in flight "
                    f"(need >= {-(-206 // beats)} here; contract bound {bound:.3f})")
            else:
                goals[f"{key}.read_bus_utilisation"] = f"contract bound {bound:.3f}"
    config = {"gather_engine": {
        "builds": [{"data_bits": d, "reads_in_flight": r} for d, r in builds],
        "latencies": list(latencies), "row_bytes": [64, 128, 256], "rows_per_case": rows,
        "memory": "HostMemory: fixed latency, in order, no stalls; output always ready",
        "measured": "R beats / cycles from the first to the last R beat",
        "contract_bound": "min(1, reads_in_flight * beats_per_row / (latency + 6))"}}
    return figures, goals, config


PARTS = ("popularity_table", "micro_batch_scheduler", "gather_engine", "hotline_top",
         "sim_speed", "native_speed", "software", "hotline_host", "distributed")

#: Whole-accelerator traffic: Criteo Kaggle's 26 tables scaled by this (337,648 rows in all,
#: 21.6 MB of 64-byte rows in host memory), Zipf 1.15 (SyntheticCriteo).
TOP_SCALE = 0.01
#: Host memory latency of the whole-accelerator runs (cycles from AR to the first R beat).
TOP_LATENCY = 200


class RTLMismatch(RuntimeError):
    """The RTL's output differed from the golden model's: no figure is reported."""


def kaggle_sparse(samples: int, scale: float, seed: int) -> tuple[np.ndarray, list[int]]:
    """Kaggle-shaped synthetic lookups ``[samples, 26]`` and the table sizes."""
    source = SyntheticCriteo(samples, scale=scale, seed=seed)
    return source.generate_sparse(samples), [int(r) for r in source.table_sizes]


def top_case(name: str, *, batch_size: int, working_set: int, learn: int, isolated: int,
             streamed: int, dim: int = 16, read_latency: int = TOP_LATENCY,
             reorder: bool = False, seed: int = 0) -> dict:
    """One case of ``tb.bench_hotline_top`` (see its docstring)."""
    return {"name": name, "dim": dim, "batch_size": batch_size, "working_set": working_set,
            "learn": learn, "isolated": isolated, "streamed": streamed,
            "read_latency": read_latency, "reorder": reorder, "seed": seed}


def run_hotline_top(*, cases: list[dict], sparse: np.ndarray, sizes, config=None,
                    sim: str = "verilator", test_id: str = "bench_hotline_top") -> dict:
    """Build ``HotlineTop`` for ``config`` (default: the ``rtl/`` build), run the cases of
    :mod:`tb.bench_hotline_top` under ``sim``; returns ``{case name: report}`` and
    ``"_seconds"`` (build and run). Raises :class:`RTLMismatch` (with the first difference)
    if the RTL's output differs from the golden model's."""
    from hotline_hw.device_config import HotlineConfig
    from hotline_hw.hotline_top import HotlineTop
    from tb.cosim_hotline import config_params
    from tb.runner import BUILD_ROOT, run_cocotb

    config = config or HotlineConfig()
    work = BUILD_ROOT / "bench" / test_id
    work.mkdir(parents=True, exist_ok=True)
    data = work / "traffic.npz"
    np.savez(data, sparse=np.asarray(sparse, dtype=np.int64),
             sizes=np.asarray(sizes, dtype=np.int64))
    report = work / "report"
    for case in cases:
        Path(f"{report}.{case['name']}.json").unlink(missing_ok=True)
    params = {
        "config": config_params(config),
        "data": str(data), "report": str(report), "cases": cases,
    }
    start = time.perf_counter()
    failure = None
    try:
        run_cocotb(test_id=test_id, component=HotlineTop(**config.top_kwargs()),
                   toplevel="hotline_top", test_module="tb.bench_hotline_top", params=params,
                   sim=sim)
    except AssertionError as error:
        failure = error
    out = {"_seconds": time.perf_counter() - start}
    for case in cases:
        path = Path(f"{report}.{case['name']}.json")
        if not path.exists():
            raise RuntimeError(f"{test_id}: case {case['name']} wrote no report "
                               f"({failure or 'no error reported'})")
        out[case["name"]] = check_report(json.loads(path.read_text()),
                                         f"{test_id} ({sim}), case {case['name']}")
    if failure is not None:
        raise RuntimeError(f"{test_id}: {failure}")
    return out


def check_report(result: dict, where: str) -> dict:
    """``result`` (a case report) if the RTL matched the golden model, else
    :class:`RTLMismatch` naming every differing submit and the counters."""
    if result["passed"] and not result["mismatches"] and result["counters_equal"] \
            and all(p["identical"] for p in result["phases"]):
        return result
    raise RTLMismatch(
        f"{where}: HotlineTop differs from the golden model: {result['mismatches']}; "
        f"counters equal: {result['counters_equal']}"
        + ("" if result["counters_equal"] else
           f" (RTL {result['counters']}, model {result.get('counters_model')})"))


def summarise_top(report: dict) -> dict:
    """Per-working-set figures of a :mod:`tb.bench_hotline_top` case report."""
    phases = report["phases"]
    isolated = [p for p in phases if p["kind"] == "isolated"]
    streamed = [p for p in phases if p["kind"] == "streamed"]
    learn = [p for p in phases if p["kind"] == "learn"]
    out = {}
    if isolated:
        n = len(isolated)
        cycles = sum(p["cycles"] for p in isolated)
        samples = sum(p["samples"] for p in isolated)

        def per_set(key):
            return sum(p[key] for p in isolated) / n

        out.update({
            "cycles_per_working_set": cycles / n,
            "cycles_per_working_set_max": max(p["cycles"] for p in isolated),
            "samples_per_cycle": samples / cycles,
            "cold_rows_per_working_set": per_set("cold_rows"),
            "read_bus_utilisation": sum(p["read_beats"] for p in isolated) / cycles,
            "popular_sample_fraction":
                sum(p["popular_samples"] * p["samples"] for p in isolated) / samples,
            "input_cycles_per_working_set": per_set("input_cycles"),
            "drain_cycles_per_working_set": per_set("cycles") - per_set("input_cycles"),
            # REFORMED releases cold lookups only when the working set closes (its last
            # sample): every R beat of an isolated working set falls after the input.
            "drain_read_bus_utilisation": sum(p["read_beats"] for p in isolated)
            / sum(p["cycles"] - p["input_cycles"] for p in isolated),
            "samples_per_working_set": samples / n,
            "micro_batch_beats_per_working_set": per_set("micro_batch_beats"),
            "drain_micro_batch_beats_per_working_set": per_set("drain_micro_batch_beats"),
            "row_beats_per_working_set": per_set("row_beats"),
            "read_beats_per_working_set": per_set("read_beats"),
            "input_stalls_per_working_set": per_set("input_stalls"),
        })
    if streamed:
        s = streamed[0]
        out.update({
            "streamed.cycles_per_working_set": s["cycles"] / s["working_sets"],
            "streamed.samples_per_cycle": s["samples"] / s["cycles"],
            "streamed.read_bus_utilisation": s["read_beats"] / s["cycles"],
            "streamed.cold_rows_per_working_set": s["cold_rows"] / s["working_sets"],
        })
        if isolated and s["working_sets"] > 1:
            # What each working set after the first adds in the stream (the first one costs
            # about an isolated working set): the steady state, from different samples.
            out["streamed.marginal_cycles_per_working_set"] = (
                (s["cycles"] - out["cycles_per_working_set"]) / (s["working_sets"] - 1))
    if learn:
        s = learn[0]
        out.update({
            "learn.samples": s["samples"],
            "learn.cycles": s["cycles"],
            "learn.samples_per_cycle": s["samples"] / s["cycles"],
            "learn.read_bus_utilisation": s["read_beats"] / s["cycles"],
            "learn.drain_read_bus_utilisation":
                s["read_beats"] / (s["cycles"] - s["input_cycles"]),
        })
    wall = sum(p["wall_seconds"] for p in phases)
    out["simulated_cycles_per_second"] = sum(p["sim_cycles"] for p in phases) / wall
    return out


def top_bounds(summary: dict, *, lanes: int, lookups: int, bus_bytes: int, dim: int,
               latency: int, reads_in_flight: int, known: dict) -> tuple[dict, dict]:
    """Lower bounds (cycles) on one working set, per block, from the working set's own traffic
    (``summary``) and the blocks' measured rates in ``known`` (other bench figures; a block
    whose figure is missing gets its port's one-beat-per-cycle bound). Returns the bounds and
    where each rate came from."""
    samples = summary["samples_per_working_set"]
    beats = -(-lookups // lanes)
    row_beats = -(-4 * dim // bus_bytes)
    bounds = {"input_port": samples * beats}
    sources = {"input_port": f"{beats} beats per sample of {lookups} lookups, one beat/cycle"}
    key = f"popularity_table.P{lanes}.RUN.zipf.sample.lookups_per_cycle"
    if known.get(key):
        bounds["popularity_table"] = samples * lookups / known[key]
        sources["popularity_table"] = key
    key = f"micro_batch_scheduler.P{lanes}.F{lookups}.samples_per_cycle"
    if known.get(key):
        bounds["scheduler_input"] = samples / known[key]
        sources["scheduler_input"] = key
    bounds["micro_batch_output"] = summary["micro_batch_beats_per_working_set"]
    sources["micro_batch_output"] = "micro-batch beats, one beat/cycle"
    key = (f"gather_engine.B{8 * bus_bytes}.R{reads_in_flight}.D{dim}_L{latency}"
           f".read_bus_utilisation")
    utilisation = known.get(key) or min(1.0, reads_in_flight * row_beats / (latency + 6))
    bounds["gather_read_bus"] = summary["read_beats_per_working_set"] / utilisation
    sources["gather_read_bus"] = (f"R beats / {utilisation:.3f} ("
                                  + (key if known.get(key) else "contract bound") + ")")
    bounds["row_output"] = summary["row_beats_per_working_set"]
    sources["row_output"] = "gathered-row beats, one beat/cycle"
    # REFORMED holds the non-popular samples until the working set closes (its last sample), so
    # every cold row is requested after the input: the drain is the larger of the released
    # micro-batch beats and the gather (first R beat ``latency`` cycles after the close).
    drain_output = summary["drain_micro_batch_beats_per_working_set"]
    drain_gather = latency + bounds["gather_read_bus"] if summary[
        "read_beats_per_working_set"] else 0
    bounds["reformed_close_then_drain"] = samples * beats + max(drain_output, drain_gather)
    sources["reformed_close_then_drain"] = (
        "input port, then (after the close) the larger of the released micro-batch beats and "
        "latency + the gather read bus: "
        + ("gather" if drain_gather >= drain_output else "micro-batch output") + " here")
    return bounds, sources


def hotline_top_figures(report: dict, *, known: dict, config, traffic: str,
                        seconds: float) -> tuple[dict, dict, dict]:
    """Figures, goals and config entry of the ``hotline_top`` part from a case report of
    :mod:`tb.bench_hotline_top` (``config``: the :class:`HotlineConfig` it ran)."""
    case = report["case"]
    summary = summarise_top(report)
    lookups, dim, latency = report["lookups"], case["dim"], case["read_latency"]
    bounds, sources = top_bounds(summary, lanes=config.lanes, lookups=lookups,
                                 bus_bytes=config.bus_bytes, dim=dim, latency=latency,
                                 reads_in_flight=config.reads_in_flight, known=known)
    bounding = max(bounds, key=bounds.get)
    blocks = {k: v for k, v in bounds.items() if k != "reformed_close_then_drain"}
    slowest_block = max(blocks, key=blocks.get)
    prefix = f"hotline_top.kaggle.W{case['working_set']}_B{case['batch_size']}"
    figures = {f"{prefix}.{k}": round(v, 5) if isinstance(v, float) else v
               for k, v in summary.items()}
    for block, cycles in bounds.items():
        figures[f"{prefix}.bound.{block}_cycles"] = round(cycles, 1)
    figures[f"{prefix}.cycles_over_bound"] = round(
        summary["cycles_per_working_set"] / bounds[bounding], 4)
    input_bound = bounds["input_port"]
    goals = {
        f"{prefix}.cycles_per_working_set": (
            f"lower bound {bounds[bounding]:,.0f} = {bounding}; slowest single block "
            f"{slowest_block} ({blocks[slowest_block]:,.0f}); see bound.*"),
        f"{prefix}.samples_per_cycle": f"input-port bound {lanes_note(config.lanes, lookups)}",
        f"{prefix}.read_bus_utilisation": (
            "R beats needed / cycles (in RUN only cold rows are read, and only after the "
            "close); the gather engine's own goal is drain_read_bus_utilisation"),
        f"{prefix}.drain_read_bus_utilisation": (
            f">= 0.95 at {latency} cycles when the gather bounds the drain (R beats / cycles "
            f"from the last input beat to the end); here the drain is bound by "
            + sources["reformed_close_then_drain"].rsplit(": ", 1)[-1].removesuffix(" here")),
        f"{prefix}.learn.drain_read_bus_utilisation": (
            f">= 0.95 at {latency} cycles, every lookup gathered (learning phase)"),
        f"{prefix}.cycles_over_bound": "1.0 = the working set takes exactly its largest bound",
        f"{prefix}.streamed.cycles_per_working_set": (
            f"working sets back to back (fill included); input-port bound {input_bound:,.0f}"),
        f"{prefix}.streamed.marginal_cycles_per_working_set": (
            f"steady state: (streamed - isolated) / (n - 1); bound: the slowest single block, "
            f"{slowest_block} {blocks[slowest_block]:,.0f}"),
        f"{prefix}.cold_rows_per_working_set": (
            f"hot set learned in LEARN mode on the first {case['learn']} samples"),
    }
    cfg = {"hotline_top": {
        "build": "the rtl/ build (HotlineConfig defaults): 4 lanes, 16384 sets x 4 ways, "
                 "capacity 4096 samples, 26 tables, 128-bit AXI4, 64 reads in flight",
        "traffic": traffic,
        "dim": dim, "row_bytes": 4 * dim, "batch_size": case["batch_size"],
        "working_set": case["working_set"], "mode": "REFORMED",
        "learning": f"LEARN mode on the first {case['learn']} samples through the RTL, then RUN",
        "working_sets_isolated": case["isolated"], "working_sets_streamed": case["streamed"],
        "read_latency_cycles": latency,
        "memory": "HostMemory: fixed latency, " + ("out of order" if case["reorder"]
                                                   else "in order") + ", no stalls",
        "outputs": "micro-batch and row streams always ready (no backpressure)",
        "input": "lookup stream fed back to back (one beat per cycle when ready)",
        "measured": "cycles from the first lookup beat valid to the last micro-batch beat or "
                    "gathered-row beat taken, per submit (bus-model timestamps); R beats from "
                    "the READ_BEATS counter",
        "checked": "every micro-batch beat and gathered row of every submit, and the "
                   "counters, equal to ModelDevice (golden model) through the same driver calls",
        "bounds": sources, "bounded_by": bounding, "slowest_block": slowest_block,
        "seconds": round(seconds, 1)}}
    return figures, goals, cfg


def lanes_note(lanes: int, lookups: int) -> str:
    beats = -(-lookups // lanes)
    return f"1/{beats} = {1 / beats:.4f} ({beats} beats per sample of {lookups} lookups)"


def sim_speed_figures(reports: dict, notes: dict, case: dict) -> tuple[dict, dict, dict]:
    """``reports``: simulator -> speed-case report (or ``None`` if it could not run)."""
    figures, goals = {}, {}
    rates = {}
    for sim, report in reports.items():
        key = f"sim_speed.hotline_top.{sim}.cycles_per_second"
        if report is None:
            figures[key] = None
            continue
        phases = report["phases"]
        rates[sim] = sum(p["sim_cycles"] for p in phases) / sum(p["wall_seconds"] for p in phases)
        figures[key] = round(rates[sim], 1)
        figures[f"sim_speed.hotline_top.{sim}.simulated_cycles"] = round(
            sum(p["sim_cycles"] for p in phases))
    both = "verilator" in rates and "icarus" in rates
    figures["sim_speed.hotline_top.verilator_over_icarus"] = (
        round(rates["verilator"] / rates["icarus"], 3) if both else None)
    goals["sim_speed.hotline_top.verilator.cycles_per_second"] = (
        "wall clock of this machine (shared 2 cores): compare only with icarus from the same run")
    cfg = {"sim_speed": {
        "what": "simulated cycles / wall seconds of the driver's submits (learning phase and "
                "one working set), cocotb testbench included (driver, AXI bus models, host "
                "memory), the golden-model check excluded; same traffic on both simulators",
        "case": case, "notes": notes}}
    return figures, goals, cfg


def _median_seconds(function, repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``function()`` over ``repeats`` calls, after ``warmup`` calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_software(*, working_set: int = 4, batch_size: int = 1024, learn: int = 4096,
                   scale: float = TOP_SCALE, repeats: int = 5, dlrm_samples: int = 16384,
                   dlrm_repeats: int = 5, dlrm_hidden: int = 64, dim: int = 16,
                   seed: int = 0) -> tuple[dict, dict, dict]:
    """Software throughput (wall clock, this machine): the golden models, the driver over
    ``ModelDevice`` and the DLRM training step with and without the Hotline schedule."""
    import torch

    from hotline_hw.device_config import HotlineConfig
    from hotline_hw.model import Mode, PopularityTable
    from hotline_hw.model.scheduler import Lookup, MicroBatchScheduler
    from sw_driver.driver import HotlineDriver
    from sw_driver.dlrm import (BaselineTrainer, DLRMConfig, HotlineTrainer, ScheduleMode,
                                default_geometry)
    from sw_driver.model_device import ModelDevice
    from tb.cosim_hotline import layouts_for

    torch.set_num_threads(1)
    config = HotlineConfig()                        # the rtl/ build's table and scheduler
    size = working_set * batch_size
    sets = max(2, repeats)
    sparse, sizes = kaggle_sparse(learn + sets * size, scale, seed)
    n_tables = sparse.shape[1]
    learn_part, run_parts = sparse[:learn], [sparse[learn + k * size:learn + (k + 1) * size]
                                             for k in range(sets)]
    tables = np.broadcast_to(np.arange(n_tables), (size, n_tables))

    # Golden models: classification (popularity table) and scheduling of one working set.
    table = PopularityTable(config.geometry, Mode.LEARN)
    start = time.perf_counter()
    table.classify(learn_part)
    learn_rate = len(learn_part) / (time.perf_counter() - start)
    table.mode = Mode.RUN
    classify = _median_seconds(lambda: table.lookup_many(tables, run_parts[0]), repeats)
    hit, slot, error = table.lookup_many(tables, run_parts[0])
    records = [Lookup(t, r, h, s, e) for t, r, h, s, e in zip(
        tables.ravel().tolist(), run_parts[0].ravel().tolist(), hit.tolist(), slot.tolist(),
        error.tolist())]
    samples = [(n, records[n * n_tables:(n + 1) * n_tables]) for n in range(size)]
    schedule = _median_seconds(
        lambda: MicroBatchScheduler(batch_size=batch_size, working_set=working_set)
        .schedule(samples), repeats)

    # The host driver over the golden-model backend: one submit per working set.
    layouts = layouts_for(sizes, dim)
    memory_size = layouts[-1].base + layouts[-1].rows * layouts[-1].stride + 4096
    keys = [[[(t, int(r)) for t, r in enumerate(row)] for row in part.tolist()]
            for part in [learn_part] + run_parts]

    async def driver_run(fast: bool = True) -> list[float]:
        driver = HotlineDriver(ModelDevice(config, memory_size=memory_size, fast=fast))
        await driver.configure_tables(layouts, dim)
        await driver.configure(batch_size=batch_size, working_set=working_set,
                               lookups=n_tables)
        await driver.clear_table()
        await driver.submit(keys[0], learn=True)
        times = []
        for part in keys[1:]:
            start = time.perf_counter()
            result = await driver.submit(part, learn=False)
            times.append(time.perf_counter() - start)
            assert result.samples == size
        return times

    driver_times = asyncio.run(driver_run())
    driver_seconds = statistics.median(driver_times[1:] if len(driver_times) > 2
                                       else driver_times)
    wire_times = asyncio.run(driver_run(fast=False))      # the beat-level path, same run
    wire_seconds = statistics.median(wire_times[1:] if len(wire_times) > 2 else wire_times)

    # DLRM on the CPU: seconds per trained sample, baseline vs the Hotline schedules.
    source = SyntheticCriteo(dlrm_samples + batch_size, scale=scale, seed=seed)
    block = source.generate(dlrm_samples)
    warm = source.generate(2 * batch_size, start=dlrm_samples)
    model = DLRMConfig.small(list(source.table_sizes), dim=dim, hidden=dlrm_hidden)
    geometry = default_geometry(model, set_bits=config.geometry.set_bits,
                                ways=config.geometry.ways)
    common = dict(batch_size=batch_size, lr=0.1, seed=seed)
    makers = {
        "baseline": lambda: BaselineTrainer(model, **common),
        "hotline_reformed": lambda: HotlineTrainer(model, mode=ScheduleMode.REFORMED,
                                                   working_set=working_set, geometry=geometry,
                                                   **common),
        "hotline_split": lambda: HotlineTrainer(model, mode=ScheduleMode.SPLIT,
                                                working_set=working_set, geometry=geometry,
                                                **common),
    }
    per_sample = {name: [] for name in makers}
    stats = {}
    for name, make in makers.items():           # warm-up: torch's lazy initialisation
        make().train(warm)
    for _ in range(dlrm_repeats):               # interleaved, so drift hits all alike
        for name, make in makers.items():
            result = make().train(block)
            per_sample[name].append(result.seconds / result.stats["samples"])
            stats[name] = result.stats
    step = {name: statistics.median(v) for name, v in per_sample.items()}
    # Ratios within each repeat (the three runs are back to back), then the median: the
    # machine's load changes between repeats more than within one.
    over_baseline = {name: statistics.median(
        t / b for t, b in zip(per_sample[name], per_sample["baseline"]))
        for name in ("hotline_reformed", "hotline_split")}

    classify_rate = size / classify
    schedule_rate = size / schedule
    both_rate = size / (classify + schedule)
    figures = {
        "software.model.classify_learn.samples_per_second": round(learn_rate, 1),
        "software.model.classify_run.samples_per_second": round(classify_rate, 1),
        "software.model.schedule.samples_per_second": round(schedule_rate, 1),
        "software.model.classify_and_schedule.samples_per_second": round(both_rate, 1),
        "software.driver_model_device.samples_per_second": round(size / driver_seconds, 1),
        "software.driver_model_device_wire.samples_per_second": round(size / wire_seconds, 1),
        "software.driver_model_device.in_process_over_wire": round(
            wire_seconds / driver_seconds, 2),
        "software.dlrm.baseline.samples_per_second": round(1 / step["baseline"], 1),
        "software.dlrm.hotline_reformed.samples_per_second": round(
            1 / step["hotline_reformed"], 1),
        "software.dlrm.hotline_split.samples_per_second": round(1 / step["hotline_split"], 1),
        "software.dlrm.hotline_reformed_over_baseline_step_time": round(
            over_baseline["hotline_reformed"], 4),
        "software.dlrm.hotline_split_over_baseline_step_time": round(
            over_baseline["hotline_split"], 4),
        "software.dlrm.hotline_popular_fraction": round(
            stats["hotline_reformed"]["popular_fraction"], 4),
        "software.schedule_over_dlrm_throughput": round(both_rate * step["baseline"], 3),
    }
    goals = {
        "software.schedule_over_dlrm_throughput": (
            ">= 1: the scheduler is never the bottleneck (golden-model classification + "
            "scheduling of a working set vs the baseline DLRM step, same run)"),
        "software.dlrm.hotline_reformed_over_baseline_step_time": (
            "overhead of the Hotline schedule in software (learning phase included); "
            "1.0 = none"),
        "software.dlrm.hotline_split_over_baseline_step_time": (
            "as above, exact (SPLIT) schedule"),
        "software.driver_model_device.samples_per_second": (
            "HotlineDriver.submit over ModelDevice (in-process path), a 4096-sample working "
            "set, RUN mode; issue 22: >= 50x the wire path's 1,932"),
        "software.driver_model_device.in_process_over_wire": (
            "in-process path over the beat-level wire path (ModelDevice(fast=False)), same "
            "run: >= 50 (issue 22)"),
    }
    cfg = {"software": {
        "machine": "wall clock (time.perf_counter) on this machine, torch 1 thread, CPU; "
                   "rates drift with load: compare ratios measured in the same run",
        "working_set": f"W={working_set} x B={batch_size} = {size} samples x {n_tables} "
                       f"lookups, SyntheticCriteo scale {scale}, seed {seed}",
        "table": "rtl/ geometry (16384 sets x 4 ways), learned in LEARN mode on "
                 f"{learn} samples",
        "classify": f"PopularityTable.lookup_many in RUN mode, median of {repeats} after a "
                    "warm-up; classify_learn: LEARN mode on the learning samples, once",
        "schedule": f"MicroBatchScheduler(B={batch_size}, W={working_set}, REFORMED).schedule "
                    f"of classified samples (Lookup records prebuilt), median of {repeats}",
        "driver": f"HotlineDriver over ModelDevice (rtl/ config, dim {dim}): learn on {learn} "
                  f"samples, then {sets} working sets submitted one by one; median, "
                  "first excluded (warm-up)",
        "dlrm": f"DLRMConfig.small (tables of the scale above, dim {dim}, MLPs {dlrm_hidden} "
                f"wide), B={batch_size}, W={working_set}, {dlrm_samples} samples, SGD 0.1; "
                f"Hotline trainers learn on their first 5% of mini-batches (included); "
                f"training seconds per sample, median of {dlrm_repeats} interleaved runs "
                "after a warm-up; the *_over_baseline ratios: median of the per-repeat ratios",
        "dlrm_stats": {k: {s: v for s, v in st.items() if s in (
            "samples", "steps", "popular_fraction", "cold_rows_gathered", "hot_rows")}
            for k, st in stats.items()}}}
    return figures, goals, cfg


def part_of(key: str) -> str:
    return key.split(".", 1)[0]


def _ordered(mapping: dict) -> dict:
    """Keys grouped by part (``PARTS`` order), insertion order within a part."""
    rank = {part: n for n, part in enumerate(PARTS)}
    return dict(sorted(mapping.items(), key=lambda item: rank.get(part_of(item[0]), len(rank))))


def merge_results(old: dict | None, new: dict, parts) -> dict:
    """``new`` (a run of ``parts`` only) merged into ``old`` (the file's previous contents):
    the figures, goals and config entries of ``parts`` come from ``new``, the rest from
    ``old``; ``parts`` keeps each part's provenance. An old file of another schema is
    replaced."""
    if not old or old.get("schema") != new["schema"]:
        return new
    parts = set(parts)
    provenance = dict(old.get("parts") or {part: {"commit": old.get("commit"),
                                                  "date": old.get("date")}
                                           for part in {part_of(k) for k in old["figures"]}})
    provenance.update(new["parts"])
    merged = {"schema": new["schema"], "commit": new["commit"], "date": new["date"],
              "parts": {p: provenance[p] for p in PARTS if p in provenance}}
    for section in ("config", "figures", "goals"):
        kept = {k: v for k, v in old.get(section, {}).items() if part_of(k) not in parts}
        merged[section] = _ordered({**kept, **new[section]})
    return merged


def format_value(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()
                                  and abs(value) >= 1000):
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def speed_case(learn: int, batch_size: int, seed: int) -> dict:
    return top_case("speed", batch_size=batch_size, working_set=4, learn=learn, isolated=1,
                    streamed=0, seed=seed)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated parts to run (default all: {','.join(PARTS)}); "
                             f"a subset merges into the existing --out")
    parser.add_argument("--lanes", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--samples", type=int, default=1000, help="samples per traffic case")
    parser.add_argument("--scheduler-samples", type=int, default=2000,
                        help="samples per scheduler case")
    parser.add_argument("--gather-rows", type=int, default=1500,
                        help="rows gathered per gather engine case")
    parser.add_argument("--top-learn", type=int, default=4096,
                        help="whole accelerator: samples of the learning phase")
    parser.add_argument("--top-working-sets", type=int, default=3,
                        help="whole accelerator: working sets submitted one at a time")
    parser.add_argument("--top-streamed", type=int, default=3,
                        help="whole accelerator: working sets submitted back to back")
    parser.add_argument("--top-latency", type=int, default=TOP_LATENCY,
                        help="whole accelerator: host memory latency in cycles")
    parser.add_argument("--speed-learn", type=int, default=256,
                        help="simulation speed run: learning samples (then one working set "
                             "of 4 x --speed-batch)")
    parser.add_argument("--speed-batch", type=int, default=256)
    parser.add_argument("--native-learn", type=int, default=1024,
                        help="native_speed: learning samples (then one working set of "
                             "4 x 1024)")
    parser.add_argument("--native-idle-cycles", type=int, default=2_000_000,
                        help="native_speed: cycles of Verilator's own loop")
    parser.add_argument("--software-repeats", type=int, default=5)
    parser.add_argument("--dlrm-samples", type=int, default=16384)
    parser.add_argument("--dlrm-repeats", type=int, default=5)
    parser.add_argument("--hotline-repeats", type=int, default=3,
                        help="hotline_host: interleaved repeats per case")
    parser.add_argument("--dist-samples", type=int, default=65536,
                        help="distributed part: training samples per torchrun launch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown or not parts:
        parser.error(f"unknown part(s) {unknown}; choose from {', '.join(PARTS)}")
    subset = set(parts) != set(PARTS)
    old = json.loads(args.out.read_text()) if args.out.exists() else None

    figures, goals, config, provenance, errors = {}, {}, {}, {}, []
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    tree = commit()

    def add(part, started, result):
        figures.update(result[0])
        goals.update(result[1])
        config.update(result[2])
        provenance[part] = {"commit": tree, "date": now,
                            "seconds": round(time.perf_counter() - started, 1)}

    for part, run in (
            ("popularity_table",
             lambda: bench_popularity_table(args.lanes, args.samples, args.seed)),
            ("micro_batch_scheduler",
             lambda: bench_micro_batch_scheduler(args.lanes, args.scheduler_samples)),
            ("gather_engine", lambda: bench_gather_engine(args.gather_rows))):
        if part in parts:
            started = time.perf_counter()
            add(part, started, run())

    if {"hotline_top", "sim_speed"} & set(parts):
        from hotline_hw.device_config import HotlineConfig

        top_config = HotlineConfig()                  # the rtl/ build
        size = 4 * 1024
        total = max(args.top_learn + (args.top_working_sets + args.top_streamed) * size,
                    args.speed_learn + 4 * args.speed_batch)
        sparse, sizes = kaggle_sparse(total, TOP_SCALE, args.seed)
        traffic = (f"SyntheticCriteo Kaggle shape: 26 lookups per sample, tables scaled by "
                   f"{TOP_SCALE} ({sum(sizes):,} rows), Zipf 1.15, seed {args.seed}")
        cases = []
        if "hotline_top" in parts:
            cases.append(top_case("kaggle", batch_size=1024, working_set=4,
                                  learn=args.top_learn, isolated=args.top_working_sets,
                                  streamed=args.top_streamed, read_latency=args.top_latency,
                                  seed=args.seed))
        speed = speed_case(args.speed_learn, args.speed_batch, args.seed)
        if "sim_speed" in parts:
            cases.append(speed)
        started = time.perf_counter()
        try:
            # One Verilator build (minutes for the whole top) serves both parts.
            reports = run_hotline_top(cases=cases, sparse=sparse, sizes=sizes,
                                      config=top_config, sim="verilator")
        except (RTLMismatch, RuntimeError) as error:
            errors.append(str(error))
            reports = None
        if reports and "hotline_top" in parts:
            known = {**(old or {}).get("figures", {}), **figures}
            add("hotline_top", started, hotline_top_figures(
                reports["kaggle"], known=known, config=top_config, traffic=traffic,
                seconds=reports["_seconds"]))
        if reports and "sim_speed" in parts:
            started = time.perf_counter()
            notes = {"verilator": f"build and run {reports['_seconds']:.0f} s (both parts)"}
            speed_reports = {"verilator": reports["speed"], "icarus": None}
            if shutil.which("iverilog") is None:
                notes["icarus"] = "iverilog is not installed: no figure"
            else:
                try:
                    icarus = run_hotline_top(cases=[speed], sparse=sparse, sizes=sizes,
                                             config=top_config, sim="icarus",
                                             test_id="bench_hotline_top_icarus")
                    speed_reports["icarus"] = icarus["speed"]
                    notes["icarus"] = f"build and run {icarus['_seconds']:.0f} s"
                except (RTLMismatch, RuntimeError) as error:
                    errors.append(f"icarus: {error}")
                    notes["icarus"] = f"failed: {error}"
            add("sim_speed", started, sim_speed_figures(speed_reports, notes, speed))

    if "native_speed" in parts:                        # scripts/bench_native.py
        from scripts.bench_native import bench_native_speed

        started = time.perf_counter()
        try:
            add("native_speed", started, bench_native_speed(
                learn=args.native_learn, idle_cycles=args.native_idle_cycles, seed=args.seed))
        except (RTLMismatch, RuntimeError) as error:
            errors.append(f"native_speed: {error}")

    if "software" in parts:
        started = time.perf_counter()
        add("software", started, bench_software(
            repeats=args.software_repeats, dlrm_samples=args.dlrm_samples,
            dlrm_repeats=args.dlrm_repeats, seed=args.seed))

    if "hotline_host" in parts:
        from scripts.bench_hotline import bench_hotline_host

        started = time.perf_counter()
        add("hotline_host", started, bench_hotline_host(
            samples=args.dlrm_samples, repeats=args.hotline_repeats, seed=args.seed))

    if "distributed" in parts:                         # scripts/bench_distributed.py
        from scripts.bench_distributed import bench_distributed
        started = time.perf_counter()
        add("distributed", started, bench_distributed(samples=args.dist_samples,
                                                      seed=args.seed))

    results = {"schema": 1, "commit": tree, "date": now, "parts": provenance,
               "config": config, "figures": _ordered(figures), "goals": goals}
    if subset:
        results = merge_results(old, results, parts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")

    print(f"\n{'figure':72s} {'value':>10s}  goal")
    for key, value in results["figures"].items():
        mark = "" if part_of(key) in parts else " (kept)"
        print(f"{key:72s} {format_value(value):>10s}  {results['goals'].get(key, '')}{mark}")
    print("\nparts: " + ", ".join(f"{p} {v.get('seconds', '?')} s"
                                  for p, v in provenance.items()))
    print(f"written to {args.out}" + (" (merged: subset run)" if subset else ""))
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
