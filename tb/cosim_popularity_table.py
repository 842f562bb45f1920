"""Co-simulation of the popularity table RTL on real traffic, against the golden model.

The cocotb test :func:`cosim_learn_then_run` (used by ``make sim``; no pytest test lives here)
reads its parameters with :func:`tb.runner.tb_params` -- the dict of
:func:`tb.popularity_table_tb.make_params` plus:

``npz``
    Path of an ``.npz`` holding ``learn`` (int64 [N1, T]) and ``run`` (int64 [N2, T]) sample
    arrays (row ids; table ``t`` is column ``t``).
``report``
    Path of the JSON report to write.
``fail_on_mismatch`` (default true)
    Fail the cocotb test (after writing the report) if the RTL and the model disagree.

:func:`cosim_params` also takes ``traffic`` for ``npz``, the geometry fields at the top level,
and omitted request / meta / counter widths (see there); the widths are always checked against
the DUT's ports.

It runs ``learn`` through the RTL in LEARN mode with no pauses, compares every response and then
the whole table (read through the host port) with the model's after the same traffic, then runs
``run`` in RUN mode comparing every response. The report (JSON)::

    {"lanes", "entries_equal", "valid_entries", "learn_lookups", "learn_cycles",
     "learn_lookups_per_cycle", "learn_mismatches", "run_lookups", "run_cycles",
     "run_lookups_per_cycle", "run_responses_compared", "run_mismatches",
     "run_popular_fraction", "run_hit_fraction",              (flat summary)
     "passed", "seed", "sim", "params",
     "learn": {samples, lookups, beats, cycles, bubbles (same-set lanes in a row: one
               cycle each), lookups_per_cycle, responses_compared, mismatches,
               first_mismatches},
     "table": {entries, valid_entries, model_valid_entries, entries_equal,
               mismatching_slots (count), first_mismatching_slots, dump_cycles},
     "run":   {samples, lookups, beats, cycles, lookups_per_cycle, responses_compared,
               mismatches, first_mismatches, hit_fraction, popular_fraction (per the RTL's
               responses: a sample is popular iff all its lookups hit), model_hit_fraction,
               model_popular_fraction, errors},
     "counters": {rtl, model, equal}}

:func:`run_cosim` does the whole thing from Python: it builds the DUT, writes the ``.npz``,
runs the simulation through :func:`tb.runner.run_cocotb` and returns the report.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge
from cocotb.utils import get_sim_time

from hotline_hw.model import Mode, TableGeometry

from .popularity_table_tb import (CLOCK_NS, PopularityTableTB, ResponseStats, beats_from_sparse,
                                  geometry_from_params, learn_bubbles, make_component,
                                  make_params)
from .runner import BUILD_ROOT, run_cocotb, tb_params

__all__ = ["cosim_learn_then_run", "cosim_params", "run_cosim"]


def _mismatch_state(tb: PopularityTableTB) -> tuple[int, list[str]]:
    return tb.mismatches, list(tb.mismatch_log)


def _model_popularity(tb: PopularityTableTB, sparse: np.ndarray) -> tuple[float, float]:
    """(hit fraction, popular fraction) the model in RUN mode gives ``sparse``, without
    touching the model's counters."""
    n, t = sparse.shape
    tables = np.broadcast_to(np.arange(t, dtype=np.int64), (n, t))
    saved = (tb.model.lookups, tb.model.hits, tb.model.errors, tb.model.error_sticky)
    hit, _, _ = tb.model.lookup_many(tables, sparse)
    tb.model.lookups, tb.model.hits, tb.model.errors, tb.model.error_sticky = saved
    hit = hit.reshape(n, t)
    return (float(hit.mean()) if hit.size else 0.0,
            float(hit.all(axis=1).mean()) if n else 0.0)


def cosim_params(raw: dict, dut) -> dict:
    """The :func:`make_params` parameters, checked against the DUT's port widths."""
    params = dict(raw)
    lanes = params["lanes"]
    lane_bits = 1 + params["table_in_bits"] + params["row_in_bits"]
    slot_bits = geometry_from_params(params).slot_bits
    want = {"req__payload": lanes * lane_bits + 2 + params["meta_bits"],
            # per lane: the request's fields, hit, error, stale and the slot
            "resp__payload": lanes * (lane_bits + 3 + slot_bits) + 2 + params["meta_bits"],
            "lookups": params["counter_bits"]}
    got = {name: len(getattr(dut, name)) for name in want}
    if got != want:
        raise ValueError(f"the DUT does not have the configuration of the parameters: port "
                         f"widths {got}, expected {want} from {params}")
    return params


@cocotb.test()
async def cosim_learn_then_run(dut):
    """LEARN on ``learn``, compare the table; RUN on ``run``, compare every response; report."""
    params = cosim_params(tb_params(), dut)
    with np.load(params["npz"]) as data:
        learn = np.asarray(data["learn"], dtype=np.int64)
        run = np.asarray(data["run"], dtype=np.int64)
    tb = PopularityTableTB(dut, params, protocol_checks=False, stop_on_mismatch=False)
    await tb.start()
    lanes = tb.lanes

    # -- LEARN ---------------------------------------------------------------------------------
    await tb.set_mode(Mode.LEARN)
    beats = beats_from_sparse(learn, lanes)
    learn_cycles = await tb.run_timed(beats)
    learn_mismatches, learn_log = _mismatch_state(tb)
    learn_report = {
        "samples": int(learn.shape[0]), "lookups": int(learn.size), "beats": len(beats),
        "cycles": learn_cycles, "bubbles": learn_bubbles(beats, tb.geometry),
        "lookups_per_cycle": learn.size / learn_cycles if learn_cycles else 0.0,
        "responses_compared": tb.received_beats, "mismatches": learn_mismatches,
        "first_mismatches": learn_log[:5],
    }
    tb.log.info("LEARN: %d lookups in %d cycles", learn.size, learn_cycles)

    # -- table ---------------------------------------------------------------------------------
    await RisingEdge(dut.clk)
    start = get_sim_time("ns")
    rtl = await tb.dump()
    dump_cycles = round((get_sim_time("ns") - start) / CLOCK_NS)
    slots, lines = tb.dump_differences(rtl, limit=10)
    model_table = tb.model.dump()
    table_report = {
        "entries": tb.geometry.entries,
        "valid_entries": int(rtl["valid"].sum()),
        "model_valid_entries": int(model_table["valid"].sum()),
        "entries_equal": not slots,
        "mismatching_slots": len(slots),
        "first_mismatching_slots": lines,
        "dump_cycles": dump_cycles,
    }
    tb.log.info("table: %d valid entries, %d differ from the model", table_report["valid_entries"],
                len(slots))

    # -- RUN -----------------------------------------------------------------------------------
    await tb.set_mode(Mode.RUN)
    model_hit, model_popular = _model_popularity(tb, run)
    stats = ResponseStats(run.shape[0])
    tb.on_response = stats
    compared_before = tb.received_beats
    beats = beats_from_sparse(run, lanes)
    run_cycles = await tb.run_timed(beats)
    run_mismatches, run_log = _mismatch_state(tb)
    run_report = {
        "samples": int(run.shape[0]), "lookups": int(run.size), "beats": len(beats),
        "cycles": run_cycles,
        "lookups_per_cycle": run.size / run_cycles if run_cycles else 0.0,
        "responses_compared": tb.received_beats - compared_before,
        "mismatches": run_mismatches - learn_mismatches,
        "first_mismatches": run_log[len(learn_log):][:5],
        "hit_fraction": stats.hit_fraction,
        "popular_fraction": stats.popular_fraction,
        "model_hit_fraction": model_hit,
        "model_popular_fraction": model_popular,
        "errors": stats.errors,
    }
    tb.log.info("RUN: %d lookups in %d cycles; hit fraction %.4f, popular fraction %.4f",
                run.size, run_cycles, stats.hit_fraction, stats.popular_fraction)

    counters_rtl, counters_model = tb.read_counters(), tb.expected_counters()
    passed = (learn_mismatches == 0 and not slots and run_report["mismatches"] == 0
              and counters_rtl == counters_model)
    report = {
        "passed": passed,
        "seed": tb.seed,
        "sim": os.environ.get("SIM", "verilator"),
        "params": {k: v for k, v in params.items() if k not in ("npz", "report")},
        "learn": learn_report,
        "table": table_report,
        "run": run_report,
        "counters": {"rtl": counters_rtl, "model": counters_model,
                     "equal": counters_rtl == counters_model},
    }
    Path(params["report"]).write_text(json.dumps(report, indent=2) + "\n")
    if params.get("fail_on_mismatch", True):
        assert passed, (f"seed {tb.seed}: RTL and model disagree; report in {params['report']}: "
                        f"learn mismatches {learn_mismatches}, table slots {len(slots)}, run "
                        f"mismatches {run_report['mismatches']}, counters {counters_rtl} vs "
                        f"{counters_model}")


def run_cosim(learn, run, *, geometry: TableGeometry, lanes: int = 4,
              table_in_bits: int | None = None, row_in_bits: int | None = None,
              meta_bits: int = 32, counter_bits: int = 32,
              work_dir: str | os.PathLike | None = None,
              test_id: str = "cosim_popularity_table", sim: str | None = None,
              check: bool = True) -> dict:
    """Co-simulate ``learn`` then ``run`` (int [N, T] row ids) on the RTL; return the report.

    ``table_in_bits`` / ``row_in_bits`` default to the geometry's key widths. The ``.npz`` and
    the report go to ``work_dir`` (default: the build directory of ``test_id``). With ``check``,
    raises ``AssertionError`` (after the report is written) if the RTL and the model disagree.
    """
    learn = np.asarray(learn, dtype=np.int64)
    run = np.asarray(run, dtype=np.int64)
    for name, array in (("learn", learn), ("run", run)):
        if array.ndim != 2:
            raise ValueError(f"{name} must be 2-D (samples, tables), not shape {array.shape}")
    tables = max(learn.shape[1], run.shape[1])
    table_in_bits = table_in_bits or max(1, geometry.table_bits, (tables - 1).bit_length())
    largest = int(max(learn.max(initial=0), run.max(initial=0)))
    row_in_bits = row_in_bits or max(1, geometry.row_bits, largest.bit_length())
    work_dir = Path(work_dir) if work_dir is not None else BUILD_ROOT / "cosim" / test_id
    work_dir.mkdir(parents=True, exist_ok=True)
    npz, report_path = work_dir / "traffic.npz", work_dir / "report.json"
    np.savez(npz, learn=learn, run=run)
    if report_path.exists():
        report_path.unlink()
    params = make_params(table_bits=geometry.table_bits, row_bits=geometry.row_bits,
                         set_bits=geometry.set_bits, ways=geometry.ways, rounds=geometry.rounds,
                         round_keys=geometry.round_keys, lanes=lanes,
                         table_in_bits=table_in_bits, row_in_bits=row_in_bits,
                         meta_bits=meta_bits, counter_bits=counter_bits, npz=str(npz),
                         report=str(report_path), fail_on_mismatch=False)
    run_cocotb(test_id=test_id, component=make_component(params), toplevel="popularity_table",
               test_module="tb.cosim_popularity_table", params=params, sim=sim)
    report = json.loads(report_path.read_text())
    if check and not report["passed"]:
        raise AssertionError(f"RTL and golden model disagree; report in {report_path}")
    return report
