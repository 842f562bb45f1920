"""``make bench`` parts of the whole accelerator: ``hotline_top`` (cycles per working set of
the ``rtl/`` build, checked against the golden model) and ``sim_speed`` (simulated cycles per
second of the cocotb co-simulation on Verilator and Icarus).

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
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from sw_driver.data import SyntheticCriteo  # noqa: E402

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



def speed_case(learn: int, batch_size: int, seed: int) -> dict:
    return top_case("speed", batch_size=batch_size, working_set=4, learn=learn, isolated=1,
                    streamed=0, seed=seed)

