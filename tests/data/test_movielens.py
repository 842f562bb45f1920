"""MovieLens-100K from the recbole wheel as DLRM samples, checked against the raw files."""

from __future__ import annotations

import importlib.util
import sys
from datetime import datetime, timezone

import numpy as np
import pytest

from sw_driver.data import MovieLens100K, find_movielens_100k


@pytest.fixture(scope="module")
def root():
    # `make test` installs the recbole wheel; if it is missing the setup is broken, and the
    # FileNotFoundError says how to install it: fail, never skip.
    return find_movielens_100k()


@pytest.fixture(scope="module")
def ml(root) -> MovieLens100K:
    return MovieLens100K()


def _rows(path):
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [line.split("\t") for line in lines]


def test_shape_and_tables(ml):
    assert len(ml) == 100_000
    block = ml.block
    assert block.sparse.shape == (100_000, 8) and block.dense_raw.shape == (100_000, 4)
    assert ml.table_names == ("user", "item", "age", "gender", "occupation", "zip3", "year",
                              "genre")
    assert ml.table_sizes == (943, 1682, 61, 2, 21, 382, 72, 19)
    assert (block.sparse >= 0).all() and (block.sparse < np.array(ml.table_sizes)).all()
    # Contiguous ids: every user and item of ml-100k is rated, so all ids occur.
    for t in (0, 1, 3, 4):
        assert np.array_equal(np.unique(block.sparse[:, t]), np.arange(ml.table_sizes[t]))


def test_time_order_and_labels(ml, root):
    assert np.all(np.diff(ml.timestamps) >= 0)
    inter = _rows(root / "ml-100k.inter")
    ratings = np.array([float(r[2]) for r in inter])
    assert ml.block.labels.sum() == (ratings >= 4).sum()
    assert 0.5 < ml.block.labels.mean() < 0.6  # 55,375 of 100,000 ratings are 4 or 5
    # Stable sort: among equal timestamps, file order is kept.
    times = np.array([int(float(r[3])) for r in inter])
    first = int(np.flatnonzero(times == times.min())[0])
    assert ml.block.sparse[0, 0] == int(inter[first][0]) - 1  # user ids are 1..943


def test_samples_match_raw_files(ml, root, rng):
    """An independent, dict-based rebuild of 500 random samples."""
    inter = _rows(root / "ml-100k.inter")
    users = {int(u[0]): u for u in _rows(root / "ml-100k.user")}
    items = {int(i[0]): i for i in _rows(root / "ml-100k.item")}
    times = np.array([int(float(r[3])) for r in inter])
    order = np.argsort(times, kind="stable")

    def rank(values, v):
        return sorted(set(values)).index(v)

    ages = [int(u[1]) for u in users.values()]
    occupations = [u[3] for u in users.values()]
    zips = [u[4][:3] for u in users.values()]
    genres = [(i[3].split() or ["unknown"])[0] for i in items.values()]
    years = [int(i[2]) if i[2].isdigit() else 0 for i in items.values()] + [0]
    for n in rng.choice(100_000, size=500, replace=False):
        u_raw, i_raw, rating, ts = inter[order[n]]
        u, i = users[int(u_raw)], items[int(i_raw)]
        year = int(i[2]) if i[2].isdigit() else 0
        expected_sparse = [
            int(u_raw) - 1, int(i_raw) - 1, rank(ages, int(u[1])), "FM".index(u[2]),
            rank(occupations, u[3]), rank(zips, u[4][:3]), rank(years, year),
            rank(genres, (i[3].split() or ["unknown"])[0]),
        ]
        moment = datetime.fromtimestamp(int(float(ts)), tz=timezone.utc)
        assert ml.block.sparse[n].tolist() == expected_sparse
        assert ml.block.dense_raw[n].tolist() == [moment.hour, moment.weekday(), int(u[1]), year]
        assert ml.block.labels[n] == (float(rating) >= 4)


def test_unknown_release_year_is_row_zero(ml):
    year_column = ml.block.dense_raw[:, 3]
    assert (year_column == 0).any()  # ml-100k has items without a year
    np.testing.assert_array_equal(ml.block.sparse[:, 6] == 0, year_column == 0)


def test_blocks(ml):
    blocks = list(ml.blocks(30_000))
    assert [len(b) for b in blocks] == [30_000, 30_000, 30_000, 10_000]
    assert next(iter(ml.blocks())) is ml.block


def test_recbole_is_found_not_imported(ml):
    assert "recbole" not in sys.modules


def test_missing_recbole_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps recbole==1\.2\.1"):
        MovieLens100K()


def test_wrong_layout_names_the_file(tmp_path, root):
    for name in ("ml-100k.inter", "ml-100k.user", "ml-100k.item"):
        (tmp_path / name).write_bytes((root / name).read_bytes())
    (tmp_path / "ml-100k.user").write_text("user_id:token\tage:float\n1\t24\n")
    with pytest.raises(ValueError, match=r"ml-100k\.user:1: expected the header"):
        MovieLens100K(tmp_path)
