"""``make paper`` (scripts/paper.py): the streamed figures equal a direct computation on the
whole (small) epoch with the golden models, across chunk boundaries; ``--quick`` runs."""

from __future__ import annotations

import json
import math
from importlib import import_module

import numpy as np
import pytest

from hotline_hw.model.popularity_table import Mode, PopularityTable
from hotline_hw.model.scheduler import MicroBatchKind, MicroBatchScheduler, Lookup
from sw_driver.data import SyntheticCriteo


@pytest.fixture(scope="module")
def paper():
    return import_module("scripts.paper")


def test_streamed_figures_equal_a_direct_computation(paper, seed):
    scale, n, chunk = 0.001, 12_000, 5000               # chunks cut mini-batches and sets
    # Five distinct EALs in one pass (two capacities, two ways, two windows): each one's bit of
    # the shared hot-row mask must give its own golden-model answers.
    out = paper.run(scale=scale, n=n, seed=seed % 2**31, chunk=chunk,
                    capacities=(1 << 21, 1 << 20), ways_list=(4, 2), windows=(0.05, 0.2),
                    working_sets=(2,), batches=(1024,), progress=False)
    print(seed, out["popular"], out["bytes"])
    source = SyntheticCriteo(n, scale=scale, seed=seed % 2**31)
    sparse = source.generate_sparse(n)
    sizes = np.asarray(source.table_sizes)
    offsets = np.concatenate([[0], np.cumsum(sizes)])[:-1]
    keys = sparse + offsets
    t = sparse.shape[1]
    tables = np.broadcast_to(np.arange(t), sparse.shape)
    entries = paper.scaled_entries(paper.PAPER_ENTRIES, scale)

    def golden(entries, ways, window):
        """SRRIP EAL with the golden model, lookup by lookup: (learn samples, run-phase hits)."""
        learn = min(n, int(np.ceil(window * -(-n // 1024))) * 1024)
        table = PopularityTable(paper.eal_geometry(entries, ways, sizes), Mode.LEARN)
        table.lookup_many(tables[:learn], sparse[:learn])
        table.mode = Mode.RUN
        hit, _, _ = table.lookup_many(tables[learn:], sparse[learn:])
        return learn, hit.reshape(n - learn, t)

    learn, hit = golden(entries, 4, 0.05)
    popular = hit.all(axis=1)
    assert out["popular"]["srrip"] == pytest.approx(popular.mean())
    half = paper.scaled_entries(1 << 20, scale)
    assert out["capacity"][str(half)]["srrip"] == pytest.approx(
        golden(half, 4, 0.05)[1].all(axis=1).mean())
    assert out["ways"]["2"] == pytest.approx(golden(entries, 2, 0.05)[1].all(axis=1).mean())
    assert out["window"]["0.2"] == pytest.approx(golden(entries, 4, 0.2)[1].all(axis=1).mean())
    assert out["ways"]["4"] == out["window"]["0.05"] == out["popular"]["srrip"]
    # Oracle LFU: the ``entries`` most accessed rows of the epoch (ties by key order).
    counts = np.bincount(keys.ravel(), minlength=int(sizes.sum()))
    top = np.zeros(len(counts), bool)
    top[np.argsort(-counts, kind="stable")[:entries]] = True
    assert out["popular"]["oracle"] == pytest.approx(top[keys[learn:]].all(axis=1).mean())
    top_half = np.zeros(len(counts), bool)
    top_half[np.argsort(-counts, kind="stable")[:half]] = True
    assert out["capacity"][str(half)]["oracle"] == pytest.approx(
        top_half[keys[learn:]].all(axis=1).mean())
    # Baseline bytes: distinct rows of each mini-batch, both ways.
    base = sum(len(np.unique(keys[i:i + 1024])) for i in range(0, n, 1024))
    assert out["bytes"]["baseline_rows"] == base
    learn_rows = sum(len(np.unique(keys[i:min(i + 1024, learn)])) for i in range(0, learn, 1024))
    assert out["bytes"]["hotline_learn_rows"] == learn_rows
    # Hotline's cold rows per step, and the W sweep, from the golden scheduler.
    for w, bytes_too in ((2, False), (4, True)):
        scheduler = MicroBatchScheduler(batch_size=1024, working_set=w)
        emitted = []
        for i in range(learn, n):
            lookups = [Lookup(k, int(sparse[i, k]), bool(hit[i - learn, k]), 0)
                       for k in range(t)]
            emitted += scheduler.push(i, lookups)
        emitted += scheduler.flush()
        in_popular = sum(b.size for b in emitted if b.kind is MicroBatchKind.POPULAR)
        if w == 2:
            assert out["working_set"]["B1024"]["2"] == pytest.approx(in_popular / (n - learn))
        if bytes_too:
            cold_rows = 0
            for b in emitted:
                ids = np.array([s.sample_id for s in b.samples])
                cold = ~hit[ids - learn]
                cold_rows += len(np.unique(keys[ids][cold]))
            assert out["bytes"]["hotline_cold_rows"] == cold_rows


def test_quick_writes_every_figure(paper, tmp_path):
    path = tmp_path / "paper.json"
    assert paper.main(["--quick", "--no-rtl", "--out", str(path)]) == 0   # RTL: test_paper_rtl
    out = json.loads(path.read_text())
    assert set(out["shapes"]) == {"kaggle", "terabyte", "avazu"}
    for name, s in out["shapes"].items():
        assert 0 < s["srrip"] <= s["oracle"] < 1, name          # LFU of the epoch beats SRRIP
        assert s["paper_oracle"] > s["paper_srrip"]
    assert out["shapes"]["avazu"]["window"] == 0.15
    d = out["drift"]
    assert set(d["popular"]) == {"learn once", "re-learn (age)", "re-learn (clear)"}
    assert d["relearned"]["re-learn (age)"] >= 5 and d["relearned"]["learn once"] == 0
    assert d["mean_after_window"]["re-learn (age)"] > d["mean_after_window"]["learn once"]
    assert "drift 1/epoch" in out["table"] and "terabyte: popular inputs" in out["table"]
    assert "sweep: SRRIP vs learning window" in out["table"] and "drift.png" in out["table"]
    assert out["quick"] and set(out["popular"]) >= {"srrip", "oracle", "fae_top_n"}
    oracle = [v["oracle"] for _, v in sorted(out["capacity"].items(), key=lambda x: int(x[0]))]
    assert oracle == sorted(oracle) and 0 < oracle[0] < 1     # more rows, more popular
    for by_w in out["working_set"].values():
        assert all(0 <= f <= 1 for f in by_w.values())
    b = out["bytes"]
    assert b["baseline_over_hotline"] == pytest.approx(b["baseline"] / b["hotline"])
    assert "popular inputs, SRRIP EAL" in out["table"]
    c = out["calibration"]
    assert 0 < c["top_6.8%_access_share"] <= 1 and 0 < c["oracle_popular_at_512MB"] <= 1
    shares = list(c["access_cdf"].values())
    assert shares == sorted(shares) and shares[-1] == pytest.approx(1.0)
    for name in ("access_cdf.png", "eal_sweeps.png", "working_set.png", "drift.png"):
        assert (tmp_path / "paper_quick" / name).stat().st_size > 10_000


def test_closed_form_oracle_equals_a_direct_sum(rng):
    from scripts.paper_calibration import harmonic, oracle_popular

    sizes = [3, 50, 1000, 20_000, int(rng.integers(5000, 9000))]
    alpha, rows = float(rng.uniform(0.8, 1.4)), int(rng.integers(100, 3000))
    print(sizes, alpha, rows)
    pmfs = [np.arange(1, r + 1, dtype=float) ** -alpha for r in sizes]
    pmfs = [p / p.sum() for p in pmfs]
    everything = np.concatenate([np.c_[p, np.full(len(p), t)] for t, p in enumerate(pmfs)])
    top = everything[np.argsort(-everything[:, 0], kind="stable")[:rows]]
    direct = np.prod([top[top[:, 1] == t, 0].sum() for t in range(len(sizes))])
    assert oracle_popular(sizes, alpha, rows) == pytest.approx(direct, rel=1e-6)
    n = 10 ** 6
    assert harmonic(n, alpha) == pytest.approx(
        math.fsum((np.arange(1, n + 1, dtype=float) ** -alpha).tolist()), rel=1e-12)


def test_fitted_exponents_give_the_papers_oracle_share():
    from scripts.paper_calibration import FITTED_ALPHA, PAPER_ORACLE, fit_alpha, oracle_popular
    from scripts.paper_shapes import SHAPES

    for name, shape in SHAPES.items():
        got = oracle_popular(shape.table_sizes, FITTED_ALPHA[name])
        print(name, FITTED_ALPHA[name], got)
        assert got == pytest.approx(PAPER_ORACLE[name], abs=0.002)
    sizes = SHAPES["avazu"].table_sizes
    assert oracle_popular(sizes, fit_alpha(sizes, 0.5)) == pytest.approx(0.5, abs=1e-3)
    with pytest.raises(ValueError, match="no exponent"):
        fit_alpha(sizes, 0.3, lo=1.0)
