"""A Criteo data set as one run uses it: which samples, which ids, which split, table sizes.

:meth:`CriteoDataset.open` makes one streaming pass over the first ``samples`` samples of the
files (the rest is never read) and fixes everything the run needs before anything large is
allocated:

* **Ids.** ``ids="vocabulary"`` (default): each categorical is renumbered per column to
  contiguous ids by a :class:`~sw_driver.data.criteo_vocabulary.CriteoVocabulary` built in
  that pass (after ``% max_ind_range`` if given, as DLRM does when both are used), so a table
  has exactly as many rows as the column has distinct values in the data used. ``ids="hash"``:
  ``int(hex, 16) % max_ind_range``, every table ``max_ind_range`` rows (DLRM's
  ``--max-ind-range`` without preprocessing). Nothing is ever sized by the largest raw id.
* **Split.** DLRM's 7 pseudo-days in time order or a seeded random split
  (:mod:`~sw_driver.data.criteo_split`).
* **Formats.** Anything the reader accepts: raw TSV (Kaggle, Terabyte ``day_*``), CSV with
  header, gzip, several files as one stream, short lines (counted in :attr:`stats`).

Memory: the pass holds one chunk of text and the vocabulary (8 bytes per distinct value, plus
the merge's temporary copies); :meth:`read` holds only the samples asked for.

Example::

    from sw_driver.data.criteo_dataset import CriteoDataset

    data = CriteoDataset.open(["day_0.gz", "day_1.gz"], samples=1_000_000)
    print(data.table_sizes, data.split.describe())
    train, test = data.train_block(60_000), data.test_block(20_000)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .criteo import (DEFAULT_CHUNK_BYTES, N_DENSE, N_TABLES, CriteoFormatError, CriteoReader,
                     CriteoReadStats, _as_paths, _check_max_ind_range, _check_samples,
                     _check_short_lines)
from .criteo_split import CriteoSplit, make_split
from .criteo_vocabulary import CriteoVocabulary
from .samples import SampleBlock

__all__ = ["ID_MODES", "CriteoDataset"]

ID_MODES = ("vocabulary", "hash")


class CriteoDataset:
    """The first ``n_samples`` samples of Criteo files, their id mapping and split.

    Build with :meth:`open`. All reads stream the files again from the start and stop after
    the last sample they need.

    Attributes
    ----------
    paths : tuple of str
    ids : {"vocabulary", "hash"}
    max_ind_range : int or None
    n_samples : int
        Samples in the data set (``samples`` if the files hold that many, else all of them).
    table_sizes : tuple of int
        Rows per embedding table under the id mapping.
    vocabulary : CriteoVocabulary or None
        With ``ids="vocabulary"``.
    split : CriteoSplit
    stats : CriteoReadStats
        What the opening pass read (lines, bytes, short lines, each file's layout).
    seconds : float
        Wall time of the opening pass.
    """

    def __init__(self, paths: tuple[str, ...], *, ids: str, max_ind_range: int | None,
                 vocabulary: CriteoVocabulary | None, n_samples: int, split: CriteoSplit,
                 stats: CriteoReadStats, seconds: float, short_lines: str,
                 chunk_bytes: int) -> None:
        self.paths = paths
        self.ids = ids
        self.max_ind_range = max_ind_range
        self.vocabulary = vocabulary
        self.n_samples = n_samples
        self.split = split
        self.stats = stats
        self.seconds = seconds
        self.short_lines = short_lines
        self.chunk_bytes = chunk_bytes
        if vocabulary is not None:
            self.table_sizes = vocabulary.table_sizes
        else:
            self.table_sizes = (max_ind_range,) * N_TABLES

    @classmethod
    def open(cls, paths, *, ids: str = "vocabulary", max_ind_range: int | None = None,
             samples: int | None = None, split: str = "day", seed: int = 0,
             short_lines: str = "pad", chunk_bytes: int = DEFAULT_CHUNK_BYTES,
             progress: Callable[[CriteoReadStats], None] | None = None) -> CriteoDataset:
        """One streaming pass over the first ``samples`` samples (0 or None: all).

        Parameters
        ----------
        paths : path or sequence of paths
            Criteo files (TSV or CSV with header, ``.gz`` allowed), one stream in this order.
        ids : {"vocabulary", "hash"}
            Dense per-column renumbering (default) or ``% max_ind_range`` (then required).
        max_ind_range : int, optional
            Hash range; with ``ids="vocabulary"``, applied before renumbering.
        samples : int, optional
            Use only the first ``samples`` samples of the stream.
        split : {"day", "random"}
            See :mod:`~sw_driver.data.criteo_split`; ``seed`` drives ``"random"``.
        short_lines, chunk_bytes, progress
            As for :class:`~sw_driver.data.criteo.CriteoReader` (``progress`` sees the pass).

        Raises
        ------
        CriteoFormatError
            A malformed line (file, line, reason); or no samples at all: ``"<path>:1: no
            samples: the file is empty"`` (``:2: no samples after the header`` for a header
            alone).
        ValueError
            Bad options, or too few samples to split.
        """
        import time

        paths = _as_paths(paths)
        if ids not in ID_MODES:
            raise ValueError(f"ids must be one of {', '.join(ID_MODES)}, not {ids!r}")
        max_ind_range = _check_max_ind_range(max_ind_range)
        if ids == "hash" and max_ind_range is None:
            raise ValueError('ids="hash" needs max_ind_range (the rows of every table)')
        samples = _check_samples(samples)
        short_lines = _check_short_lines(short_lines)
        stats = CriteoReadStats()
        start = time.perf_counter()
        vocabulary = None
        if ids == "vocabulary":
            vocabulary = CriteoVocabulary.build(
                paths, max_ind_range=max_ind_range, chunk_bytes=chunk_bytes,
                short_lines=short_lines, samples=samples, progress=progress, stats=stats)
        else:
            # Hashed ids need no vocabulary, but the pass still checks every line and counts
            # the samples (the split needs the count) before anything runs.
            reader = CriteoReader(paths, max_ind_range=max_ind_range, chunk_bytes=chunk_bytes,
                                  short_lines=short_lines, samples=samples, progress=progress)
            for _ in reader.blocks():
                pass
            stats = reader.stats
        seconds = time.perf_counter() - start
        if stats.samples == 0:
            path = paths[0]
            layout = stats.layouts.get(path)
            if layout is not None and layout.header:
                raise CriteoFormatError(path, 2, "no samples after the header")
            raise CriteoFormatError(path, 1, "no samples: the file is empty")
        return cls(paths, ids=ids, max_ind_range=max_ind_range, vocabulary=vocabulary,
                   n_samples=stats.samples, split=make_split(split, stats.samples, seed=seed),
                   stats=stats, seconds=seconds, short_lines=short_lines,
                   chunk_bytes=chunk_bytes)

    def reader(self, samples: int | None = None) -> CriteoReader:
        """A reader of the data set's first ``samples`` samples (default: all of them) with its
        id mapping."""
        n = self.n_samples if samples is None else min(int(samples), self.n_samples)
        return CriteoReader(self.paths, max_ind_range=self.max_ind_range,
                            vocabulary=self.vocabulary, chunk_bytes=self.chunk_bytes,
                            short_lines=self.short_lines, samples=n)

    def sparse(self) -> np.ndarray:
        """The ids ``[n_samples, 26]`` of every sample, in stream order."""
        parts = [block.sparse for block in self.reader().blocks()]
        return np.concatenate(parts) if parts else np.zeros((0, N_TABLES), np.int64)

    def read(self, positions: Sequence[int] | np.ndarray) -> SampleBlock:
        """The samples at ``positions`` (0-based, any order, repeats allowed), in that order.

        Streams from the start and stops after the largest position; holds only the samples
        asked for.
        """
        positions = np.asarray(positions, dtype=np.int64).reshape(-1)
        if not len(positions):
            return SampleBlock.empty(N_DENSE, N_TABLES)
        if positions.min() < 0 or positions.max() >= self.n_samples:
            raise IndexError(f"positions must be in 0..{self.n_samples - 1}")
        wanted = np.unique(positions)
        picked, start = [], 0
        for block in self.reader(int(wanted[-1]) + 1).blocks():
            stop = start + len(block)
            lo, hi = np.searchsorted(wanted, [start, stop])
            if hi > lo:
                picked.append(block[wanted[lo:hi] - start])
            start = stop
        whole = SampleBlock.concat(picked)
        return whole[np.searchsorted(wanted, positions)]

    def train_block(self, samples: int | None = None) -> SampleBlock:
        """The first ``samples`` of the training part (default: all), in training order."""
        return self.read(self.split.train[:samples])

    def test_block(self, samples: int | None = None) -> SampleBlock:
        """The first ``samples`` of the test part (default: all): DLRM's held-out set."""
        return self.read(self.split.test[:samples])

    def validation_block(self, samples: int | None = None) -> SampleBlock:
        """The first ``samples`` of the validation part (default: all)."""
        return self.read(self.split.validation[:samples])

    def describe(self) -> str:
        """One line for a report: files, layouts, samples, ids, short lines."""
        layouts = sorted({layout.describe() for layout in self.stats.layouts.values()})
        files = self.paths[0] if len(self.paths) == 1 else (
            f"{len(self.paths)} files ({self.paths[0]} ... {self.paths[-1]})")
        ids = ("ids renumbered per table (vocabulary"
               + (f" after % {self.max_ind_range:,}" if self.max_ind_range else "") + ")"
               if self.ids == "vocabulary" else f"ids hashed % {self.max_ind_range:,}")
        short = (f", {self.stats.short_lines:,} short lines read with empty trailing fields"
                 if self.stats.short_lines else "")
        return (f"{files} ({', '.join(layouts)}): {self.n_samples:,} samples, "
                f"{sum(self.table_sizes):,} rows in {N_TABLES} tables, {ids}{short}")
