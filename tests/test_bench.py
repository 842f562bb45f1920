"""``make bench`` machinery (``scripts/bench.py``, ``tb/bench_hotline_top.py``) on tiny inputs:
report checking and summaries, per-block bounds, merging a subset run into an existing results
file, the software-throughput figures, and one tiny ``HotlineTop`` run under Verilator."""

from importlib import import_module
import json
import sys

import numpy as np
import pytest


@pytest.fixture(scope="module")
def bench():
    return import_module("scripts.bench")


@pytest.fixture(scope="module")
def bench_top():
    return import_module("scripts.bench_top")


@pytest.fixture(scope="module")
def bench_results():
    return import_module("scripts.bench_results")


def _phase(kind, samples, cycles, input_cycles, read_beats, *, cold_rows=0, mb_beats=0,
           drain_mb=0, working_sets=1, popular=0.0, wall=1.0):
    return {"name": kind, "kind": kind, "samples": samples, "working_sets": working_sets,
            "micro_batches": 4, "micro_batch_beats": mb_beats, "cold_rows": cold_rows,
            "row_beats": read_beats, "popular_samples": popular, "popular_fraction": 0.0,
            "cycles": cycles, "input_cycles": input_cycles, "drain_micro_batch_beats": drain_mb,
            "last_micro_batch": cycles - 5, "last_row": cycles, "read_beats": read_beats,
            "input_stalls": 0, "cycles_register": cycles + 15, "wall_seconds": wall,
            "sim_cycles": cycles + 10, "identical": True}


def _report(phases, **case):
    base = {"name": "kaggle", "dim": 16, "batch_size": 1024, "working_set": 4, "learn": 100,
            "isolated": 2, "streamed": 2, "read_latency": 200, "reorder": False, "seed": 0}
    return {"case": {**base, **case}, "lookups": 26, "phases": phases, "mismatches": [],
            "counters": {"samples_in": 1}, "counters_equal": True, "passed": True}


REPORT = _report([
    _phase("learn", 100, 12_000, 700, 10_400, cold_rows=2_600, mb_beats=702, drain_mb=702),
    _phase("isolated", 4096, 50_000, 28_672, 20_000, cold_rows=5_000, mb_beats=28_676,
           drain_mb=20_000, popular=0.25),
    _phase("isolated", 4096, 52_000, 28_672, 22_000, cold_rows=5_500, mb_beats=28_676,
           drain_mb=22_000, popular=0.5),
    _phase("streamed", 8192, 70_000, 57_344, 40_000, cold_rows=10_000, working_sets=2),
])


def test_summary_of_a_report(bench_top):
    s = bench_top.summarise_top(REPORT)
    assert s["cycles_per_working_set"] == 51_000
    assert s["cycles_per_working_set_max"] == 52_000
    assert s["samples_per_cycle"] == pytest.approx(8192 / 102_000)
    assert s["cold_rows_per_working_set"] == 5_250
    assert s["read_bus_utilisation"] == pytest.approx(42_000 / 102_000)
    assert s["drain_read_bus_utilisation"] == pytest.approx(42_000 / (102_000 - 2 * 28_672))
    assert s["popular_sample_fraction"] == pytest.approx(0.375)
    assert s["drain_cycles_per_working_set"] == 51_000 - 28_672
    assert s["streamed.cycles_per_working_set"] == 35_000
    assert s["streamed.read_bus_utilisation"] == pytest.approx(40_000 / 70_000)
    assert s["streamed.marginal_cycles_per_working_set"] == 70_000 - 51_000
    assert s["learn.drain_read_bus_utilisation"] == pytest.approx(10_400 / 11_300)
    assert s["simulated_cycles_per_second"] == pytest.approx((184_000 + 40) / 4)


def test_bounds_use_the_other_parts_figures(bench_top):
    summary = bench_top.summarise_top(REPORT)
    known = {"popularity_table.P4.RUN.zipf.sample.lookups_per_cycle": 3.25,
             "micro_batch_scheduler.P4.F26.samples_per_cycle": 0.125,
             "gather_engine.B128.R64.D16_L200.read_bus_utilisation": 0.8}
    bounds, sources = bench_top.top_bounds(summary, lanes=4, lookups=26, bus_bytes=16, dim=16,
                                       latency=200, reads_in_flight=64, known=known)
    assert bounds["input_port"] == 4096 * 7
    assert bounds["popularity_table"] == pytest.approx(4096 * 26 / 3.25)
    assert bounds["scheduler_input"] == pytest.approx(4096 / 0.125)
    assert bounds["gather_read_bus"] == pytest.approx(21_000 / 0.8)
    assert bounds["reformed_close_then_drain"] == pytest.approx(28_672 + 200 + 21_000 / 0.8)
    assert "gather" in sources["reformed_close_then_drain"]
    # Without the other parts' figures: the ports' own bounds, the gather's contract bound.
    bounds, sources = bench_top.top_bounds(summary, lanes=4, lookups=26, bus_bytes=16, dim=16,
                                       latency=200, reads_in_flight=64, known={})
    assert "popularity_table" not in bounds and "scheduler_input" not in bounds
    assert bounds["gather_read_bus"] == pytest.approx(21_000)
    assert "contract bound" in sources["gather_read_bus"]


def test_top_figures_keys_and_consistency(bench_top):
    from hotline_hw.device_config import HotlineConfig

    figures, goals, config = bench_top.hotline_top_figures(
        REPORT, known={}, config=HotlineConfig(), traffic="test", seconds=1.0)
    prefix = "hotline_top.kaggle.W4_B1024"
    for key in ("cycles_per_working_set", "samples_per_cycle", "cold_rows_per_working_set",
                "read_bus_utilisation", "streamed.cycles_per_working_set",
                "learn.drain_read_bus_utilisation", "cycles_over_bound"):
        assert f"{prefix}.{key}" in figures, key
    assert figures[f"{prefix}.cycles_per_working_set"] * figures[f"{prefix}.samples_per_cycle"] \
        == pytest.approx(4096, rel=1e-4)
    bounds = {k: v for k, v in figures.items() if ".bound." in k}
    assert figures[f"{prefix}.cycles_over_bound"] == pytest.approx(
        51_000 / max(bounds.values()), rel=1e-3)
    assert config["hotline_top"]["bounded_by"] == "reformed_close_then_drain"
    assert all(part_key.startswith("hotline_top.") for part_key in list(figures) + list(goals))


def test_a_mismatch_is_never_reported(bench_top):
    assert bench_top.check_report(REPORT, "ok") is REPORT
    bad = json.loads(json.dumps(REPORT))
    bad["phases"][1]["identical"] = False
    bad["mismatches"] = [{"phase": "working set 0",
                          "first_difference": ".rows[3]: RTL (1, 2) != model (1, 3)"}]
    bad["passed"] = False
    with pytest.raises(bench_top.RTLMismatch, match=r"rows\[3\]"):
        bench_top.check_report(bad, "case")
    counters = json.loads(json.dumps(REPORT))
    counters["counters_equal"] = False
    counters["counters_model"] = {"samples_in": 2}
    with pytest.raises(bench_top.RTLMismatch, match="samples_in"):
        bench_top.check_report(counters, "case")


def test_first_difference_names_the_place():
    from tb.driver_scenarios import first_difference

    a = {"micro_batches": [(1, (2, 3))], "rows": [(0, 1, 2, 0, b"ab"), (1, 1, 3, 0, b"cd")]}
    b = json.loads(json.dumps({"x": 0}))     # unrelated: only the keys differ
    assert first_difference(a, a) is None
    changed = {"micro_batches": a["micro_batches"],
               "rows": [a["rows"][0], (1, 1, 3, 0, b"cD")]}
    assert first_difference(a, changed).startswith(".rows[1][4]")
    assert first_difference(a, {**a, "rows": a["rows"][:1]}) == \
        ".rows: lengths RTL 2 != model 1"
    assert first_difference(a, b) is not None


OLD = {
    "schema": 1, "commit": "old", "date": "then",
    "config": {"popularity_table": {"lanes": [4]}, "software": {"stale": True}},
    "figures": {"popularity_table.P4.x": 1.0, "software.stale_key": 3.0,
                "software.dlrm.baseline.samples_per_second": 10.0},
    "goals": {"popularity_table.P4.x": "goal", "software.stale_key": "old goal"},
}


def test_merge_replaces_only_the_parts_run(bench_results):
    new = {"schema": 1, "commit": "new", "date": "now",
           "parts": {"software": {"commit": "new", "date": "now", "seconds": 1.0}},
           "config": {"software": {"fresh": True}},
           "figures": {"software.dlrm.baseline.samples_per_second": 20.0},
           "goals": {}}
    merged = bench_results.merge_results(OLD, new, ["software"])
    assert merged["figures"] == {"popularity_table.P4.x": 1.0,
                                 "software.dlrm.baseline.samples_per_second": 20.0}
    assert merged["goals"] == {"popularity_table.P4.x": "goal"}
    assert merged["config"] == {"popularity_table": {"lanes": [4]},
                                "software": {"fresh": True}}
    assert merged["parts"]["popularity_table"] == {"commit": "old", "date": "then"}
    assert merged["parts"]["software"]["commit"] == "new"
    assert (merged["commit"], merged["date"]) == ("new", "now")
    # Another schema, or no old file: the new results alone.
    assert bench_results.merge_results({**OLD, "schema": 0}, new, ["software"]) is new
    assert bench_results.merge_results(None, new, ["software"]) is new


def test_main_subset_run_merges_into_the_file(bench, tmp_path, monkeypatch):
    out = tmp_path / "results.json"
    out.write_text(json.dumps(OLD))
    fake = ({"software.dlrm.baseline.samples_per_second": 7.0,
             "software.model.schedule.samples_per_second": None},
            {"software.model.schedule.samples_per_second": "goal"}, {"software": {"n": 1}})
    monkeypatch.setattr(bench, "bench_software", lambda **kwargs: fake)
    assert bench.main(["--only", "software", "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert set(written) == {"schema", "commit", "date", "parts", "config", "figures", "goals"}
    assert written["figures"] == {"popularity_table.P4.x": 1.0, **fake[0]}
    assert written["config"]["software"] == {"n": 1}
    assert set(written["parts"]) == {"popularity_table", "software"}
    with pytest.raises(SystemExit):
        bench.main(["--only", "nonsense", "--out", str(out)])


def test_software_throughput_tiny():
    figures, goals, config = import_module("scripts.bench_software").bench_software(
        working_set=2, batch_size=64, learn=256, scale=0.001, repeats=2, dlrm_samples=640,
        dlrm_repeats=1, dlrm_hidden=16)
    f = {k.removeprefix("software."): v for k, v in figures.items()}
    rates = [v for k, v in f.items() if k.endswith("samples_per_second")]
    assert len(rates) == 10 and all(v > 0 for v in rates)
    assert f["driver_model_device.in_process_over_wire"] == pytest.approx(
        f["driver_model_device.samples_per_second"]
        / f["driver_model_device_wire.samples_per_second"], rel=1e-2)
    assert 1 / f["model.classify_and_schedule.samples_per_second"] == pytest.approx(
        1 / f["model.classify_run.samples_per_second"]
        + 1 / f["model.schedule.samples_per_second"], rel=1e-3)
    assert f["dlrm.hotline_reformed_over_baseline_step_time"] == pytest.approx(
        f["dlrm.baseline.samples_per_second"] / f["dlrm.hotline_reformed.samples_per_second"],
        rel=1e-3)
    assert f["dlrm.hotline_split_over_baseline_step_time"] == pytest.approx(
        f["dlrm.baseline.samples_per_second"] / f["dlrm.hotline_split.samples_per_second"],
        rel=1e-3)
    assert f["schedule_over_dlrm_throughput"] == pytest.approx(
        f["model.classify_and_schedule.samples_per_second"]
        / f["dlrm.baseline.samples_per_second"], rel=1e-2)
    assert 0 <= f["dlrm.hotline_popular_fraction"] <= 1
    stats = config["software"]["dlrm_stats"]
    assert {s["samples"] for s in stats.values()} == {640}
    assert "software.schedule_over_dlrm_throughput" in goals


def test_tiny_hotline_top_under_verilator(bench_top):
    """A 4-table, 2-lane build (Verilator build ~50 s): the report is consistent with itself,
    with the driver's view and with the RTL's counters."""
    from hotline_hw.device_config import HotlineConfig
    from hotline_hw.model import TableGeometry

    config = HotlineConfig(
        geometry=TableGeometry(table_bits=3, row_bits=12, set_bits=4), lanes=2,
        table_in_bits=3, row_in_bits=12, sample_bits=16, max_lookups=8, capacity=32,
        size_bits=6, working_set_bits=3, num_tables=4, data_bits=64, addr_bits=24, id_bits=3,
        reads_in_flight=8, writes_in_flight=2, max_dim=8)
    rng = np.random.default_rng(5)
    sizes = [50, 300, 1000, 7]
    learn, size = 16, 32
    n = learn + 3 * size
    sparse = np.stack([np.minimum(rng.zipf(1.3, n) - 1, s - 1) for s in sizes], axis=1)
    case = bench_top.top_case("tiny", batch_size=8, working_set=4, learn=learn, isolated=1,
                          streamed=2, read_latency=20, dim=8)
    reports = bench_top.run_hotline_top(cases=[case], sparse=sparse, sizes=sizes, config=config,
                                    test_id="test_bench_tiny_hotline_top")
    report = reports["tiny"]
    assert report["passed"] and [p["kind"] for p in report["phases"]] == \
        ["learn", "isolated", "streamed"]
    row_beats = 4 * 8 // 8                      # dim 8 on a 64-bit bus
    for p in report["phases"]:
        assert p["identical"]
        assert p["read_beats"] == p["row_beats"] == row_beats * p["cold_rows"]
        assert p["input_cycles"] >= p["samples"] * 2     # 4 lookups = 2 beats on 2 lanes
        assert p["cycles"] >= max(p["input_cycles"], p["last_micro_batch"], p["last_row"])
        # The CYCLES register spans the submit plus a few register accesses.
        assert p["cycles"] <= p["cycles_register"] <= p["cycles"] + 100
        assert p["micro_batch_beats"] == p["samples"] * 2 + p["micro_batches"]
    learned = report["phases"][0]
    assert learned["cold_rows"] == learn * 4     # learning: every lookup is gathered
    assert learned["read_beats"] / (learned["cycles"] - learned["input_cycles"]) > 0.5
    assert report["counters"]["samples_in"] == n
    figures, _, cfg = bench_top.hotline_top_figures(report, known={}, config=config,
                                                traffic="tiny", seconds=0.0)
    prefix = "hotline_top.kaggle.W4_B8"
    assert figures[f"{prefix}.cold_rows_per_working_set"] == report["phases"][1]["cold_rows"]
    assert figures[f"{prefix}.cycles_over_bound"] >= 0.99   # nothing beats its lower bound


def test_hotline_host_tiny():
    from scripts.bench_hotline import CASES, bench_hotline_host

    figures, goals, config = bench_hotline_host(samples=512, repeats=1, batch_size=64, hidden=8)
    for case in CASES:
        key = f"hotline_host.dlrm.{case}"
        other = "serial" if config["hotline_host"]["default_overlap"] else "overlap"
        for name in ("reformed", f"reformed_{other}", "split", f"split_{other}"):
            assert figures[f"{key}.{name}_over_baseline_step_time"] > 0
        assert 0 <= figures[f"{key}.popular_fraction"] <= 1
    # smaller tables, more popular samples: the cases are ordered
    fractions = [figures[f"hotline_host.dlrm.{case}.popular_fraction"] for case in CASES]
    assert fractions == sorted(fractions) and fractions[-1] > fractions[0]
    profile = config["hotline_host"]["profile_p07_reformed_serial"]
    assert profile["total_seconds"] > 0 and len(profile) > 3
    assert set(goals) <= set(figures)


def test_quick_bench_produces_every_part(bench, tmp_path):
    """``make bench BENCH_ARGS=--quick``: every part runs on token sizes (the whole ``rtl/`` top
    under Verilator included, checked against the golden model) and yields its figures; a
    part that fails or is missing fails here, before a long ``make bench`` would."""
    from scripts.bench_results import PARTS

    out = tmp_path / "quick.json"
    assert bench.main(["--quick", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["quick"] and list(results["parts"]) == list(PARTS)
    for part in PARTS:
        keys = [k for k in results["figures"] if k.startswith(part + ".")]
        assert keys, f"no figure of part {part}"
        assert part in results["config"], part
        measured = [k for k in keys if results["figures"][k] is not None]
        # Only figures of a simulator that is not installed may be missing.
        assert set(keys) - set(measured) <= {
            "sim_speed.hotline_top.icarus.cycles_per_second",
            "sim_speed.hotline_top.verilator_over_icarus"}, part
    assert all(part_of_goal.split(".", 1)[0] in PARTS for part_of_goal in results["goals"])
    prefix = "hotline_top.kaggle.W4_B128"
    assert results["figures"][f"{prefix}.cycles_over_bound"] >= 0.99


def test_banked_table_quick(tmp_path):
    """The ``banked_table`` part in its quick form: every figure a utilisation in (0, 1], the
    headline builds (banks = 2 x lanes, 512-entry queue) at >= 0.9 of the lanes, replication
    factor 1, and the plot written."""
    from scripts.bench_banked import bench_banked_table

    plot = tmp_path / "banked.png"
    figures, goals, config = bench_banked_table(beats=200, quick=True, plot=plot)
    utilisations = {k: v for k, v in figures.items() if k.endswith("lane_utilisation")}
    assert len(utilisations) == 2 * 3 * 2 * 2 * 2 + 2 * 2 * 2
    assert all(0 < v <= 1 for v in utilisations.values()), utilisations
    for lanes in (4, 16):
        for mode in ("RUN", "LEARN"):
            for kind in ("uniform", "zipf"):
                key = f"banked_table.P{lanes}.{mode}.{kind}.lane_utilisation"
                assert figures[key] >= 0.9, (key, figures[key])
    assert "banked_table.P16.RUN.zipf.lane_utilisation" in goals
    # One bank per lane and a queue of few beats cannot keep up with uniform traffic.
    assert figures["banked_table.P16.B16.Q128.RUN.uniform.lane_utilisation"] < \
        figures["banked_table.P16.B64.Q512.RUN.uniform.lane_utilisation"]
    assert figures["banked_table.replication_factor"] == 1
    assert figures["banked_table.memory_bits_per_entry"] == 3 + 4     # valid, RRPV, 4-bit tag
    assert figures["banked_table.paper_size.memory_bits_per_entry"] == 3 + 11
    assert config["banked_table"]["lanes"] == [4, 16]
    assert plot.stat().st_size > 1000


def test_criteo_files_part_at_a_tiny_scale(tmp_path):
    """``criteo_files`` end to end on ~900 generated lines: every figure measured, per child."""
    from scripts.bench_criteo import KAGGLE_LINES, bench_criteo_files, run_measured

    figures, goals, config = bench_criteo_files(
        scale=2e-5, table_scale=1e-4, directory=str(tmp_path),
        sim_args=("--no-rtl", "--set-bits", "6", "--batch-size", "100", "--train-samples",
                  "300", "--eval-samples", "50", "--train-batch-size", "64"))
    p = "criteo_files"
    assert figures[f"{p}.lines"] == round(KAGGLE_LINES * 2e-5) == config[p]["lines"]
    assert figures[f"{p}.sim.exit_status"] == 0, config[p].get("sim_error")
    assert figures[f"{p}.reader.lines_per_cpu_second"] > 0
    assert 0 < figures[f"{p}.vocabulary.rows"] <= figures[f"{p}.lines"] * 26
    for key in ("reader", "vocabulary", "sim"):
        assert 0.01 < figures[f"{p}.{key}.peak_rss_gb"] < 2           # a real child's RSS
    assert set(goals) <= set(figures) and list(tmp_path.iterdir()) == []   # file removed
    # Peak RSS is that child's own: a child that allocates 300 MB reports at least that.
    big = run_measured([sys.executable, "-c", "b = bytearray(300_000_000); b[::4096] = "
                        "b'x' * len(b[::4096])"], timeout=60)
    assert big["returncode"] == 0 and big["peak_rss_bytes"] >= 300_000_000
    small = run_measured([sys.executable, "-c", "pass"], timeout=60)
    # Forked from a small launcher, not from pytest: a bare Python's peak is tens of MB.
    assert small["peak_rss_bytes"] < 60_000_000
    late = run_measured([sys.executable, "-c", "import time; time.sleep(30)"], timeout=1)
    assert late["returncode"] < 0 and late["seconds"] < 20              # killed, no hang
    assert run_measured([sys.executable, "-c", "raise SystemExit(3)"], timeout=60)[
        "returncode"] == 3


def test_native_speed_quick(bench):
    """``make bench``'s native_speed part in its quick form (the tests' small build, tiny
    traffic, without the cocotb run): every figure present, the transport-level run and the
    driver run (checked against the golden model inside) agree on the rows gathered."""
    from scripts.bench_native import bench_native_speed

    figures, goals, config = bench_native_speed(learn=64, batch_size=16, working_set=4,
                                                idle_cycles=50_000, quick=True, cocotb=False)
    prefix = "native_speed."
    for name in ("idle_loop", "native", "native_driver"):
        assert figures[f"{prefix}{name}.cycles_per_second"] > 0
    assert figures[f"{prefix}native_over_idle_loop"] > 0
    assert figures[f"{prefix}cocotb.cycles_per_second"] is None
    assert figures[f"{prefix}native_over_cocotb"] is None
    phases = config["native_speed"]["phases"]
    assert phases[0]["rows"] == 64 * 26, "every learning lookup is gathered"
    assert figures[f"{prefix}native.simulated_cycles"] == sum(p["cycles"] for p in phases)
    assert all(bench.part_of(key) == "native_speed" for key in figures)
    assert f"{prefix}native_over_cocotb" in goals
