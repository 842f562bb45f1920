"""``make sim``'s co-simulation on the native backend (:mod:`tb.cosim_native`) at a tiny scale
on the tests' build: the report ``make sim`` prints, RTL == model, and the progress calls."""

import numpy as np

from tb import cosim_native
from tb import driver_scenarios as sc


def test_cosim_native_report(native_build, seed, monkeypatch):
    monkeypatch.setattr(cosim_native, "LEARN_CHUNK", 100)      # learning in several submits
    samples, sizes = sc.kaggle_tables(460, seed=seed % 1000)
    progress = []
    report = cosim_native.run(sparse=np.array([[r for _, r in s] for s in samples]),
                              sizes=sizes, config=sc.SMALL_CONFIG, dim=5, batch_size=8,
                              working_set=4, learn=300, seed=seed, read_latency=30,
                              progress=lambda done, total, note: progress.append((done, total)))
    assert report["passed"], report
    names = [p["name"] for p in report["phases"]]
    assert names == ["learn"] + [f"working set {k}" for k in range(5)]
    learn = report["phases"][0]
    assert learn["samples"] == 300 and learn["cold_rows"] == 300 * 26
    assert sum(p["samples"] for p in report["phases"]) == 460
    assert progress[0] == (100, 460) and progress[-1] == (460, 460) and len(progress) == 8
    assert report["hot_set"]["identical"] and report["counters_equal"]
    assert report["simulated_cycles"] >= sum(p["cycles"] for p in report["phases"])
