"""Avazu CTR data: an Avazu-shaped synthetic generator and a reader of Avazu's public CSV.

Avazu (Kaggle's "Click-Through Rate Prediction", 2014; the paper's RM4: 1 dense / 21 sparse
features, dim 16, 9.3M embedding rows): ``train.csv`` holds 40,428,967 impressions of 10 days
in time order, a CSV with the header ::

    id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,
    app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,...,C21

``click`` is the label (0/1, about 17% ones), ``hour`` is ``YYMMDDHH`` (14102100 .. 14103023),
nine fields are 8-hex-digit hashes (``site_id`` .. ``device_model`` but ``device_type``,
``device_conn_type``) and the rest small decimal integers (``C20`` may be -1). ``test.csv`` has
the same columns less ``click``.

Samples here follow the paper's split: the one dense feature is the hour of the day (0..23,
from ``hour``); the 21 sparse features are every column after ``hour``, one embedding table
each.

Table sizes (distinct values per column of ``train.csv``): ``AVAZU_TABLE_SIZES``, as
published with torchrec-style Avazu loaders (``NUM_EMBEDDINGS_PER_FEATURE =
'7,7,4737,7745,26,8552,559,36,2686408,6729486,8251,5,4,2626,8,9,435,4,68,172,60'``, 40,428,967
samples in all) and matching an independent per-column count of the same file (site_id 4737,
device_id 2686408, device_ip 6729486, C21 60, ...). Their sum is 9.45M rows; the paper quotes
9.3M (its pre-processing may drop rare values).
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterator, Sequence

import numpy as np

from .samples import SampleBlock
from .synthetic import STREAM_BLOCK, SyntheticCriteo, scaled_table_sizes

__all__ = ["AVAZU_COLUMNS", "AVAZU_HEX_COLUMNS", "AVAZU_N_SAMPLES", "AVAZU_POSITIVE_RATE",
           "AVAZU_TABLE_SIZES", "AvazuFormatError", "AvazuReader", "SyntheticAvazu",
           "write_avazu"]

#: The 21 categorical columns of Avazu, in file order (one embedding table each).
AVAZU_COLUMNS: tuple[str, ...] = (
    "C1", "banner_pos", "site_id", "site_domain", "site_category", "app_id", "app_domain",
    "app_category", "device_id", "device_ip", "device_model", "device_type", "device_conn_type",
    "C14", "C15", "C16", "C17", "C18", "C19", "C20", "C21")
#: Columns that hold 8-hex-digit hashes (the others are decimal integers).
AVAZU_HEX_COLUMNS = frozenset({"site_id", "site_domain", "site_category", "app_id",
                               "app_domain", "app_category", "device_id", "device_ip",
                               "device_model"})
#: Distinct values per column of ``train.csv`` (module docstring for the sources).
AVAZU_TABLE_SIZES: tuple[int, ...] = (
    7, 7, 4737, 7745, 26, 8552, 559, 36, 2686408, 6729486, 8251, 5, 4, 2626, 8, 9, 435, 4, 68,
    172, 60)
#: Impressions in ``train.csv``.
AVAZU_N_SAMPLES = 40_428_967
#: Share of clicks in ``train.csv`` (6,865,066 of 40,428,967).
AVAZU_POSITIVE_RATE = 0.1698
#: Hours covered by ``train.csv`` (10 days from 2014-10-21 00h).
AVAZU_HOURS = 240
_HEADER = ("id", "click", "hour") + AVAZU_COLUMNS
_HEX = tuple(name in AVAZU_HEX_COLUMNS for name in AVAZU_COLUMNS)
#: Label weight of the hour of day (standardised) in the synthetic click logit.
_HOUR_WEIGHT = 0.2


class AvazuFormatError(ValueError):
    """A malformed line of an Avazu CSV: the message reads ``"<path>:<line_no>: <reason>"``,
    the reason naming the column and quoting the offending text."""

    def __init__(self, path: str, line_no: int, reason: str) -> None:
        super().__init__(f"{path}:{line_no}: {reason}")
        self.path, self.line_no, self.reason = path, line_no, reason


class SyntheticAvazu(SyntheticCriteo):
    """:class:`SyntheticCriteo`'s model with Avazu's shape: 21 tables of Avazu's sizes (scaled
    by ``scale``), one dense feature (the hour of the day, uniform on 0..23) and Avazu's click
    rate. Every other parameter (``alpha``, ``drift``, ``seed``) means what it means there;
    :meth:`write_avazu` writes the samples as Avazu's CSV."""

    n_dense = 1

    def __init__(self, n_samples: int, *, scale: float = 1.0,
                 table_sizes: Sequence[int] | None = None, seed: int = 0, alpha: float = 1.15,
                 positive_rate: float = AVAZU_POSITIVE_RATE, drift: float = 0.0) -> None:
        if table_sizes is None:
            table_sizes = scaled_table_sizes(scale, AVAZU_TABLE_SIZES)
        super().__init__(n_samples, table_sizes=table_sizes, seed=seed, alpha=alpha,
                         positive_rate=positive_rate, drift=drift)

    def __repr__(self) -> str:
        return "SyntheticAvazu" + super().__repr__()[len("SyntheticCriteo"):]

    def _draw_dense(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.integers(0, 24, size=(n, 1), dtype=np.int64)

    def _logit_without_intercept(self, dense_raw: np.ndarray, sparse: np.ndarray) -> np.ndarray:
        logit = (dense_raw[:, 0].astype(np.float64) - 11.5) / 6.9 * _HOUR_WEIGHT
        for t in range(self.n_tables):
            logit += self.row_effect(t, sparse[:, t])
        return logit

    def write_criteo(self, path, *, chunk_rows: int = STREAM_BLOCK) -> int:
        raise TypeError("Avazu samples are written as Avazu CSV: use write_avazu")

    def write_avazu(self, path: str | os.PathLike, *, chunk_rows: int = STREAM_BLOCK) -> int:
        """Write the data set as Avazu's ``train.csv`` (``.gz`` compresses); returns the lines
        written. :class:`AvazuReader` reads back exactly :meth:`blocks`' samples."""
        if self.n_tables != len(AVAZU_COLUMNS):
            raise ValueError(f"Avazu has {len(AVAZU_COLUMNS)} categorical columns, not "
                             f"{self.n_tables}")
        return write_avazu(path, self.blocks(chunk_rows), n_samples=self.n_samples)


def _open_text(path: str, mode: str):
    if str(path).endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, mode + "b"), encoding="ascii", newline="")
    return open(path, mode, encoding="ascii", newline="")


def write_avazu(path: str | os.PathLike, blocks, *, n_samples: int | None = None) -> int:
    """Write :class:`SampleBlock` s (one dense column: the hour of day; 21 sparse) as Avazu CSV.

    Sample ``i`` gets ``id = i`` and ``hour = YYMMDDHH`` with the day of 2014-10-21 ..
    2014-10-30 from its position in ``n_samples`` (time order, as the real file) and ``HH``
    its dense value; hex columns as 8 hex digits (ids must be < 2**32), others in decimal.
    """
    written = 0
    with _open_text(os.fspath(path), "w") as out:
        out.write(",".join(_HEADER) + "\n")
        for block in blocks:
            if block.sparse.shape[1] != len(AVAZU_COLUMNS) or block.dense_raw.shape[1] != 1:
                raise ValueError("Avazu blocks hold 1 dense and 21 sparse columns, not "
                                 f"{block.dense_raw.shape[1]} and {block.sparse.shape[1]}")
            if block.sparse.size and (block.sparse.max() >= 1 << 32
                                      or block.dense_raw.max() > 23):
                raise ValueError("Avazu ids must be below 2**32 and hours of day below 24")
            lines = []
            for n in range(len(block.labels)):
                i = written + n
                day = 21 + (i * (AVAZU_HOURS // 24) // n_samples if n_samples else 0)
                fields = [str(i), str(int(block.labels[n])),
                          f"1410{day:02d}{int(block.dense_raw[n, 0]):02d}"]
                fields += [f"{v:08x}" if hex_ else str(v)
                           for v, hex_ in zip(block.sparse[n].tolist(), _HEX)]
                lines.append(",".join(fields))
            out.write("\n".join(lines) + ("\n" if lines else ""))
            written += len(lines)
    return written


class AvazuReader:
    """Stream samples from Avazu CSV files (``train.csv``, ``test.csv``, optionally ``.gz``,
    several read as one stream) as :class:`SampleBlock` s.

    Parameters
    ----------
    paths : path or sequence of paths
    max_ind_range : int, optional
        Reduce every categorical value ``v`` to ``v % max_ind_range`` (DLRM's hashing; the
        decimal -1 of ``C20`` becomes ``max_ind_range - 1``). Without it ids are the values
        themselves, negative ones as their 32-bit two's complement.
    samples : int, optional
        Stop after this many samples.
    chunk_rows : int
        Samples per block.

    A file must start with the train or test header; a line with the wrong number of fields,
    a label other than 0/1, an ``hour`` that is not ``YYMMDDHH`` or a value that is not hex
    (hash columns) or decimal (the others) raises :class:`AvazuFormatError` naming the file,
    the line and the column. ``test.csv`` has no ``click``: its labels are 0.
    """

    def __init__(self, paths, *, max_ind_range: int | None = None, samples: int | None = None,
                 chunk_rows: int = STREAM_BLOCK) -> None:
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        self.paths = [os.fspath(p) for p in paths]
        if not self.paths:
            raise ValueError("no Avazu files given")
        if max_ind_range is not None and (isinstance(max_ind_range, bool)
                                          or not isinstance(max_ind_range, int)
                                          or max_ind_range < 1):
            raise ValueError(f"max_ind_range must be a positive int, not {max_ind_range!r}")
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be positive, not {chunk_rows}")
        self.max_ind_range, self.samples, self.chunk_rows = max_ind_range, samples, chunk_rows
        rows = max_ind_range if max_ind_range is not None else 1 << 32
        self.table_sizes = (rows,) * len(AVAZU_COLUMNS)
        self.n_dense = 1

    def _parse(self, path: str, line_no: int, line: str, labelled: bool):
        fields = line.rstrip("\r\n").split(",")
        want = len(_HEADER) - (not labelled)
        if len(fields) != want:
            raise AvazuFormatError(path, line_no, f"{len(fields)} fields, expected {want}")
        label = 0
        if labelled:
            if fields[1] not in ("0", "1"):
                raise AvazuFormatError(path, line_no, f"click = {fields[1]!r} is not 0 or 1")
            label = int(fields[1])
        hour = fields[1 + labelled]
        if len(hour) != 8 or not hour.isdigit() or int(hour[6:]) > 23:
            raise AvazuFormatError(path, line_no, f"hour = {hour!r} is not YYMMDDHH")
        ids = []
        for name, text, hex_ in zip(AVAZU_COLUMNS, fields[2 + labelled:], _HEX):
            try:
                value = int(text, 16 if hex_ else 10)
            except ValueError:
                kind = "8 hex digits" if hex_ else "a decimal integer"
                raise AvazuFormatError(path, line_no, f"{name} = {text!r} is not {kind}") \
                    from None
            if self.max_ind_range is not None:
                value %= self.max_ind_range
            elif value < 0 or value >= 1 << 32:
                value &= 0xFFFF_FFFF
            ids.append(value)
        return int(hour[6:]), ids, label

    def __iter__(self) -> Iterator[SampleBlock]:
        dense, sparse, labels = [], [], []
        done = 0
        for path in self.paths:
            with _open_text(path, "r") as f:
                header = f.readline().rstrip("\r\n").split(",")
                if header == list(_HEADER):
                    labelled = True
                elif header == [h for h in _HEADER if h != "click"]:
                    labelled = False
                else:
                    raise AvazuFormatError(path, 1, f"not an Avazu header: {','.join(header)!r}")
                for line_no, line in enumerate(f, start=2):
                    if self.samples is not None and done >= self.samples:
                        break
                    if not line.strip():
                        raise AvazuFormatError(path, line_no, "empty line")
                    hour, ids, label = self._parse(path, line_no, line, labelled)
                    dense.append(hour)
                    sparse.append(ids)
                    labels.append(label)
                    done += 1
                    if len(labels) == self.chunk_rows:
                        yield SampleBlock(np.array(dense, np.int64)[:, None],
                                          np.array(sparse, np.int64), np.array(labels))
                        dense, sparse, labels = [], [], []
        if labels:
            yield SampleBlock(np.array(dense, np.int64)[:, None], np.array(sparse, np.int64),
                              np.array(labels))

    blocks = __iter__

    def read(self) -> SampleBlock:
        """Every sample (up to ``samples``) as one block."""
        parts = list(self)
        if not parts:
            return SampleBlock.empty(1, len(AVAZU_COLUMNS))
        return SampleBlock.concat(parts)
