"""``make paper`` (scripts/paper.py): the streamed figures equal a direct computation on the
whole (small) epoch with the golden models, across chunk boundaries; ``--quick`` runs."""

from __future__ import annotations

import json
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
    out = paper.run(scale=scale, n=n, seed=seed % 2**31, chunk=chunk,
                    capacities=(1 << 21,), ways_list=(4,), windows=(0.05,),
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
    learn = min(n, int(np.ceil(0.05 * -(-n // 1024))) * 1024)
    # SRRIP EAL with the golden model, lookup by lookup.
    table = PopularityTable(paper.eal_geometry(entries, 4, sizes), Mode.LEARN)
    table.lookup_many(tables[:learn], sparse[:learn])
    table.mode = Mode.RUN
    hit, _, _ = table.lookup_many(tables[learn:], sparse[learn:])
    hit = hit.reshape(n - learn, t)
    popular = hit.all(axis=1)
    assert out["popular"]["srrip"] == pytest.approx(popular.mean())
    # Oracle LFU: the ``entries`` most accessed rows of the epoch (ties by key order).
    counts = np.bincount(keys.ravel(), minlength=int(sizes.sum()))
    top = np.zeros(len(counts), bool)
    top[np.argsort(-counts, kind="stable")[:entries]] = True
    assert out["popular"]["oracle"] == pytest.approx(top[keys[learn:]].all(axis=1).mean())
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
    assert paper.main(["--quick", "--out", str(path)]) == 0
    out = json.loads(path.read_text())
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
    for name in ("access_cdf.png", "eal_sweeps.png", "working_set.png"):
        assert (tmp_path / "paper_quick" / name).stat().st_size > 10_000
