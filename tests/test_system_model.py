"""``make model``'s system model (scripts/system_model.py): the event engine, properties of the
four systems' timelines, the accelerator figures it reads, and a tiny end-to-end run."""

import dataclasses
import importlib
import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = json.loads((REPO / "bench" / "results.json").read_text())
#: The block figures only (no whole-accelerator figure): the working set derived from them.
BENCH_BLOCKS = {**BENCH, "figures": {k: v for k, v in BENCH["figures"].items()
                                     if not k.startswith("hotline_top.")}}


@pytest.fixture(scope="module")
def sm():
    return importlib.import_module("scripts.system_model")


@pytest.fixture(scope="module")
def kaggle(sm):
    return sm.DATASETS[0]


@pytest.fixture(scope="module")
def skew(sm):
    """Kaggle-like figures, fixed so the tests need no measurement."""
    return sm.Skew(popular_fraction=0.75, cold_lookups_per_nonpopular_sample=1.5,
                   oracle_popular_fraction=0.75, oracle_hot_lookups_per_cold_sample=24.0,
                   fae_hot_set_copies_to_host=0.01, fae_hot_set_copies_to_device=0.01)


def scenario(sm, system, dataset, skew, gpus, testbed=None):
    testbed = testbed or sm.Testbed()
    return sm.Scenario(system, sm.Costs(dataset, testbed), skew, gpus,
                       sm.accelerator_speed(BENCH, dataset, testbed))


def check_schedule(timeline):
    """Dependencies end before their dependents start; a resource runs one task at a time, in
    the order the tasks were added."""
    last_end = {}
    for i, task in enumerate(timeline.tasks):
        start, end = timeline.starts[i], timeline.ends[i]
        assert end == pytest.approx(start + task.duration)
        for d in task.deps:
            assert timeline.ends[d] <= start + 1e-12
        for r in task.resources:
            assert last_end.get(r, 0.0) <= start + 1e-12
            last_end[r] = end


# --- the engine -------------------------------------------------------------------------------

def test_engine_respects_dependencies_and_resources(sm, rng):
    graph = sm.TaskGraph()
    resources = ["a", "b", "c", "d"]
    for i in range(300):
        held = [str(r) for r in rng.choice(resources, size=rng.integers(1, 3), replace=False)]
        deps = rng.choice(i, size=min(i, rng.integers(0, 3)), replace=False) if i else []
        graph.add(f"t{i}", "GPU", held, rng.uniform(0, 1), [int(d) for d in deps])
    timeline = graph.schedule()
    check_schedule(timeline)
    for r in resources:
        assert timeline.makespan >= timeline.busy(r) - 1e-9


def test_engine_starts_each_task_as_early_as_allowed(sm):
    graph = sm.TaskGraph()
    a = graph.add("a", "CPU embedding", ["cpu"], 2.0)
    b = graph.add("b", "PCIe", ["link"], 1.0)                # independent: starts at 0
    c = graph.add("c", "GPU", ["gpu"], 1.0, [a, b])          # waits for a
    d = graph.add("d", "GPU", ["gpu", "link"], 0.5)          # waits for the gpu (c)
    t = graph.schedule()
    assert (t.starts[b], t.starts[c], t.starts[d]) == (0.0, 2.0, 3.0)
    assert t.makespan == 3.5 and t.busy("gpu") == 1.5
    assert t.resources() == ["cpu", "link", "gpu"]


def test_engine_rejects_forward_dependencies_and_bad_tasks(sm):
    graph = sm.TaskGraph()
    graph.add("a", "GPU", ["gpu"], 1.0)
    with pytest.raises(ValueError, match="earlier tasks"):
        graph.add("b", "GPU", ["gpu"], 1.0, [1])
    with pytest.raises(ValueError, match="duration"):
        graph.add("c", "GPU", ["gpu"], -1.0)
    with pytest.raises(ValueError, match="resources"):
        graph.add("d", "GPU", [], 1.0)


# --- the systems ------------------------------------------------------------------------------

@pytest.mark.parametrize("gpus", [1, 2, 4])
@pytest.mark.parametrize("system", ["hybrid", "gpu_only", "fae", "hotline"])
def test_iteration_is_bounded_below_by_every_resource(sm, kaggle, skew, system, gpus):
    timeline = scenario(sm, system, kaggle, skew, gpus).run()
    check_schedule(timeline)
    period = timeline.period()
    for r in timeline.resources():
        assert period >= timeline.busy(r, iteration=1) * (1 - 1e-9), r


def test_gpu_only_is_infeasible_where_the_tables_do_not_fit(sm, skew):
    fits = {(ds.key, g): scenario(sm, "gpu_only", ds, skew, g).feasible
            for ds in sm.DATASETS for g in sm.GPU_COUNTS}
    # Terabyte's 266M rows of 256 B (68 GB) need three 32 GB V100s; the others fit one.
    assert [fits["terabyte", g] for g in (1, 2, 4)] == [False, False, True]
    assert all(fits[k, g] for k in ("kaggle", "avazu") for g in (1, 2, 4))
    with pytest.raises(ValueError, match="does not fit"):
        scenario(sm, "gpu_only", sm.DATASETS[1], skew, 1).run()


@pytest.mark.parametrize("gpus", [1, 4])
def test_speedups_are_monotone_in_the_popular_fraction(sm, kaggle, skew, gpus):
    testbed = sm.Testbed()
    accel = sm.accelerator_speed(BENCH, kaggle, testbed)
    hybrid = sm.iteration_seconds("hybrid", kaggle, skew, gpus, testbed, accel)
    for system in ("hotline", "fae"):
        times = [sm.iteration_seconds(system, kaggle, skew.with_popular_fraction(p), gpus,
                                      testbed, accel) for p in np.linspace(0, 1, 21)]
        assert all(b <= a * (1 + 1e-9) for a, b in zip(times, times[1:])), system
    # Hybrid does not use the hot set.
    assert hybrid == sm.iteration_seconds("hybrid", kaggle, skew.with_popular_fraction(0.1),
                                          gpus, testbed, accel)


def test_fae_without_popular_inputs_is_the_hybrid_path(sm, kaggle, skew):
    cold = skew.with_popular_fraction(0.0)
    assert (scenario(sm, "fae", kaggle, cold, 2).run().period()
            == pytest.approx(scenario(sm, "hybrid", kaggle, cold, 2).run().period()))


def test_fae_sync_comes_from_the_measured_copies(sm, kaggle, skew):
    """FAE's sync time follows the FAE trainer's counted hot-set copies (make fae)."""
    measurement = {"datasets": {"synthetic": {"runs": {"fae": {
        "swaps": 5, "hot_rows": 100,
        "traffic": {"rows": {"sync_to_host": 300, "sync_to_device": 200}}}}}}}
    figures = sm.fae_sync_per_working_set(measurement, kaggle)
    working_sets = kaggle.epoch_samples / (sm.WORKING_SET * sm.MINI_BATCH)
    assert figures["fae_hot_set_copies_to_host"] == pytest.approx(3 / working_sets)
    assert figures["fae_hot_set_copies_to_device"] == pytest.approx(2 / working_sets)
    times = [scenario(sm, "fae", kaggle, dataclasses.replace(
        skew, fae_hot_set_copies_to_host=c, fae_hot_set_copies_to_device=c), 1).run().period()
        for c in (0.0, 0.5, 2.0)]
    assert times[0] < times[1] < times[2]
    # a whole-hot-set copy each way costs two PCIe copies of the hot set
    copy = sm.Costs(kaggle, sm.Testbed()).pcie(sm.HOT_SET_ENTRIES * kaggle.row_bytes,
                                                kaggle.tables)
    assert times[2] - times[1] == pytest.approx(1.5 * 2 * copy, rel=0.05)


def test_hotline_with_only_popular_inputs_runs_back_to_back_gpu_steps(sm, kaggle, skew):
    testbed = sm.Testbed()
    timeline = scenario(sm, "hotline", kaggle, skew.with_popular_fraction(1.0), 1).run()
    step = sm.Costs(kaggle, testbed).gpu_step(testbed.mini_batch)
    assert timeline.period() == pytest.approx(testbed.working_set * step)
    assert not any("gather" in t.name for t in timeline.tasks)


def test_hotline_hides_the_gather_behind_popular_micro_batches(sm, kaggle, skew):
    timeline = scenario(sm, "hotline", kaggle, skew, 1).run()
    # The GPU never waits: the period is its busy time, and the gather of the non-popular
    # micro-batch ends before the GPU finishes the popular ones.
    assert timeline.period() == pytest.approx(timeline.busy("GPU 0", iteration=1))
    tasks = list(enumerate(timeline.tasks))
    gather = next(i for i, t in tasks if t.name == "gather np0" and t.iteration == 1)
    popular = [i for i, t in tasks if t.name.startswith("popular") and t.name.endswith("step")
               and t.iteration == 1]
    assert timeline.ends[gather] <= timeline.ends[popular[-1]]


def test_hotline_is_slowed_by_a_slow_gather(sm, kaggle, skew):
    """With the read bus a thousand times slower, the gather no longer hides (working set
    derived from the block figures)."""
    testbed = sm.Testbed()
    accel = sm.accelerator_speed(BENCH_BLOCKS, kaggle, testbed)
    slow = dataclasses.replace(accel, read_bus_utilisation=accel.read_bus_utilisation / 1000)
    costs = sm.Costs(kaggle, testbed)
    fast_t = sm.Scenario("hotline", costs, skew, 1, accel).run().period()
    slow_t = sm.Scenario("hotline", costs, skew, 1, slow).run().period()
    assert slow_t > fast_t


def test_cheaper_cpu_embeddings_speed_up_hybrid_only(sm, kaggle, skew):
    testbed = sm.Testbed()
    cheap = testbed.scaled_cpu_embedding(0.5)
    for system, changes in (("hybrid", True), ("gpu_only", False), ("hotline", False)):
        before = scenario(sm, system, kaggle, skew, 1, testbed).run().period()
        after = scenario(sm, system, kaggle, skew, 1, cheap).run().period()
        assert (after < before) is changes, system


# --- the accelerator's figures ----------------------------------------------------------------

def test_accelerator_figures_come_from_the_bench(sm):
    testbed = sm.Testbed()
    kaggle, terabyte, avazu = sm.DATASETS
    k = sm.accelerator_speed(BENCH_BLOCKS, kaggle, testbed)
    figures = BENCH["figures"]
    assert k.lookups_per_cycle == figures["popularity_table.P4.RUN.zipf.sample.lookups_per_cycle"]
    assert k.samples_per_cycle == figures["micro_batch_scheduler.P4.F26.samples_per_cycle"]
    # 350 cycles of host latency: the figure at the next measured latency, 400.
    assert (k.sources["read_bus_utilisation"]
            == "gather_engine.B128.R64.D16_L400.read_bus_utilisation")
    assert k.working_set_seconds is None
    t = sm.accelerator_speed(BENCH_BLOCKS, terabyte, testbed)
    assert t.sources["read_bus_utilisation"].startswith("gather_engine.B128.R64.D64_L400")
    # Avazu's 21 lookups: 6 beats of 4 lanes per sample, as the framing bound says.
    a = sm.accelerator_speed(BENCH_BLOCKS, avazu, testbed)
    assert a.samples_per_cycle == pytest.approx(k.samples_per_cycle * 7 / 6)


def test_a_whole_accelerator_figure_sets_the_working_set_time(sm, kaggle, skew):
    testbed = sm.Testbed()
    key = "hotline_top.kaggle.W4_B1024.cycles_per_working_set"
    bench = {**BENCH, "figures": {**BENCH["figures"], key: 350_000.0}}
    accel = sm.accelerator_speed(bench, kaggle, testbed)
    assert accel.working_set_seconds == pytest.approx(1e-3) and accel.sources["working_set"] == key
    timeline = sm.Scenario("hotline", sm.Costs(kaggle, testbed), skew, 1, accel).run(1)
    accelerator = sum(t.duration for t in timeline.tasks
                      if t.name.startswith(("classify", "gather")))
    assert accelerator == pytest.approx(1e-3)


# --- measurement and outputs ------------------------------------------------------------------

def test_measure_skew_is_deterministic_and_consistent(sm, kaggle):
    figures = sm.measure_skew(kaggle, scale=1 / 1024, samples=1 << 14, eval_samples=1 << 12,
                              seed=0)
    assert figures == sm.measure_skew(kaggle, scale=1 / 1024, samples=1 << 14,
                                      eval_samples=1 << 12, seed=0)
    assert figures["table_entries"] == 2048 and figures["eval_samples"] == 1 << 12
    assert 0 < figures["popular_fraction"] <= figures["hit_fraction"] <= 1
    assert 0 < figures["oracle_popular_fraction"] <= figures["oracle_hit_fraction"] <= 1
    # A non-popular sample misses at least once.
    assert figures["cold_lookups_per_nonpopular_sample"] >= 1
    with pytest.raises(ValueError, match="4 ways"):
        sm.measure_skew(kaggle, scale=0.3, samples=1 << 10, eval_samples=1 << 8, seed=0)


def test_tiny_run_writes_json_and_plots(sm, tmp_path, capsys):
    report = sm.run(tmp_path, scale=1 / 1024, samples=1 << 14, eval_samples=1 << 12,
                    bench_path=REPO / "bench" / "results.json")
    written = json.loads((tmp_path / "results.json").read_text())
    assert written == json.loads(json.dumps(report))
    for name in ("timeline_kaggle_1gpu.png", "speedups.png", "sensitivity_kaggle.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(written["results"]) == {f"{d}.{g}gpu" for d in ("kaggle", "terabyte", "avazu")
                                       for g in (1, 2, 4)}
    assert written["results"]["terabyte.1gpu"]["gpu_only"] is None
    assert written["results"]["kaggle.1gpu"]["hybrid"]["speedup_vs_hybrid"] == 1.0
    assert written["inputs"]["PCIE_BYTES_PER_S"] == sm.PCIE_BYTES_PER_S
    assert "hotline" in capsys.readouterr().out


def test_a_second_run_with_the_same_figures_rewrites_nothing(sm, tmp_path):
    """``make model`` leaves the tree clean: results.json keeps its commit and date when the
    figures are the same, and the plots come out byte for byte the same."""
    kwargs = dict(scale=1 / 1024, samples=1 << 13, eval_samples=1 << 11,
                  bench_path=REPO / "bench" / "results.json")
    sm.run(tmp_path, **kwargs)
    names = ("results.json", "timeline_kaggle_1gpu.png", "speedups.png",
             "sensitivity_kaggle.png")
    first = {name: (tmp_path / name).read_bytes() for name in names}
    record = json.loads(first["results.json"])
    record["date"] = "2000-01-01T00:00:00+00:00"           # as if written long ago
    (tmp_path / "results.json").write_text(json.dumps(record, indent=2) + "\n")
    sm.run(tmp_path, **kwargs)
    assert json.loads((tmp_path / "results.json").read_text())["date"] == record["date"]
    for name in names[1:]:
        assert (tmp_path / name).read_bytes() == first[name], f"{name} changed"
    record["results"]["kaggle.1gpu"]["hybrid"]["speedup_vs_hybrid"] = 0.5   # other figures
    (tmp_path / "results.json").write_text(json.dumps(record, indent=2) + "\n")
    sm.run(tmp_path, **kwargs)
    rewritten = json.loads((tmp_path / "results.json").read_text())
    assert rewritten["results"]["kaggle.1gpu"]["hybrid"]["speedup_vs_hybrid"] == 1.0
