"""Per-column vocabularies of Criteo categoricals: DLRM's dense renumbering of hashed ids.

A first streaming pass over the files (:meth:`CriteoVocabulary.build`) collects the distinct
values of each of the 26 categorical columns; the table size of a column is its number of
distinct values, and :meth:`CriteoVocabulary.lookup` maps raw values to contiguous row ids.
Memory is proportional to the number of distinct values, not to the file size.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .criteo import (DEFAULT_CHUNK_BYTES, N_TABLES, CriteoReadStats, _as_paths,
                     _check_chunk_bytes, _check_max_ind_range, _check_on_error, _check_samples,
                     _check_short_lines, _stream_chunks)

__all__ = ["CriteoVocabulary"]


class CriteoVocabulary:
    """Per-column map from raw categorical values to contiguous row ids (DLRM's dictionaries).

    Built by a first pass over the data (:meth:`build`); the table size of column ``t`` is the
    number of distinct values seen there. A missing categorical is raw value 0 and gets an id
    like any other value.

    Parameters
    ----------
    values : sequence of 26 uint64 arrays
        Distinct (reduced, if ``max_ind_range``) raw values per column, sorted ascending.
    ids : sequence of 26 int64 arrays, optional
        ``ids[t][k]`` is the row id of ``values[t][k]``, a permutation of ``0..len-1``. Default:
        the sorted order (``np.unique``'s numbering).
    max_ind_range : int, optional
        The ``max_ind_range`` the values were reduced by before counting, or ``None``. A reader
        using this vocabulary must use the same.

    Notes
    -----
    ``order="sorted"`` numbers values by ascending raw value, as ``np.unique(...,
    return_inverse=True)`` does. ``order="first_seen"`` numbers them in order of first
    appearance, which is what DLRM's ``data_utils.py`` produces (Python dicts keep insertion
    order). The two give the same table sizes and differ only by a row permutation per table, so
    training is unaffected, but only ``first_seen`` reproduces DLRM's preprocessed ids.
    """

    def __init__(
        self,
        values: Sequence[np.ndarray],
        ids: Sequence[np.ndarray] | None = None,
        *,
        max_ind_range: int | None = None,
    ) -> None:
        if len(values) != N_TABLES:
            raise ValueError(f"need {N_TABLES} columns of values, got {len(values)}")
        self._values = tuple(np.ascontiguousarray(v, dtype=np.uint64) for v in values)
        for t, v in enumerate(self._values):
            if v.ndim != 1 or (len(v) > 1 and not np.all(v[1:] > v[:-1])):
                raise ValueError(f"values of column C{t + 1} must be 1-D, sorted and distinct")
        if ids is None:
            self._ids = None
        else:
            if len(ids) != N_TABLES:
                raise ValueError(f"need {N_TABLES} columns of ids, got {len(ids)}")
            self._ids = tuple(np.ascontiguousarray(i, dtype=np.int64) for i in ids)
            for t, (v, i) in enumerate(zip(self._values, self._ids, strict=True)):
                if i.shape != v.shape or not np.array_equal(np.sort(i), np.arange(len(v))):
                    raise ValueError(
                        f"ids of column C{t + 1} must be a permutation of 0..{len(v) - 1}"
                    )
        self.max_ind_range = _check_max_ind_range(max_ind_range)

    @property
    def table_sizes(self) -> tuple[int, ...]:
        """Distinct values per column = rows per embedding table."""
        return tuple(len(v) for v in self._values)

    def values(self, column: int) -> np.ndarray:
        """The distinct raw values of ``column`` (0-based), sorted; a read-only view."""
        view = self._values[column].view()
        view.flags.writeable = False
        return view

    @classmethod
    def build(
        cls,
        paths,
        *,
        max_ind_range: int | None = None,
        order: str = "sorted",
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        on_error: str = "raise",
        short_lines: str = "pad",
        samples: int | None = None,
        progress=None,
        stats: CriteoReadStats | None = None,
    ) -> CriteoVocabulary:
        """First pass: collect the distinct categorical values of the given files, in order.

        Parameters
        ----------
        paths : path or sequence of paths
            Criteo text files (``.gz`` allowed), read in the given order.
        max_ind_range : int, optional
            Reduce values ``% max_ind_range`` before counting, as DLRM does when both are used.
        order : {"sorted", "first_seen"}
            How ids are numbered; see the class notes.
        chunk_bytes, on_error, short_lines, samples, progress
            As for :class:`~sw_driver.data.criteo.CriteoReader`: only the first ``samples``
            samples count (the files are read no further). Skipped lines contribute no values.
        stats : CriteoReadStats, optional
            Filled in with what the pass read (lines, samples, bytes, short lines, layouts).

        Memory is proportional to the number of distinct values (8 bytes each, plus 8 for
        ``first_seen``), not to the file size.
        """
        if order not in ("sorted", "first_seen"):
            raise ValueError(f'order must be "sorted" or "first_seen", not {order!r}')
        max_ind_range = _check_max_ind_range(max_ind_range)
        chunk_bytes = _check_chunk_bytes(chunk_bytes)
        on_error = _check_on_error(on_error)
        first_seen = order == "first_seen"
        # Per column: merged distinct values (and their first global sample position), plus
        # per-chunk uniques waiting to be merged. Merging only once the pending part outgrows
        # the merged part keeps the total work O(U log U) instead of O(U) per chunk.
        merged: list[tuple[np.ndarray, np.ndarray]] = [
            (np.zeros(0, np.uint64), np.zeros(0, np.int64)) for _ in range(N_TABLES)
        ]
        pending: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(N_TABLES)]
        n_pending = [0] * N_TABLES

        def merge(t: int) -> None:
            parts = [merged[t], *pending[t]]
            values = np.concatenate([p[0] for p in parts])
            positions = np.concatenate([p[1] for p in parts])
            # np.unique's return_index is the first occurrence in a stable sort, and the parts
            # are concatenated in stream order, so it keeps each value's earliest position.
            values, first = np.unique(values, return_index=True)
            merged[t] = (values, positions[first])
            pending[t].clear()
            n_pending[t] = 0

        position = 0
        skipped: list = []
        stats = CriteoReadStats() if stats is None else stats
        for _, chunk, _ in _stream_chunks(
                _as_paths(paths), chunk_bytes=chunk_bytes, on_error=on_error, skipped=skipped,
                short_lines=_check_short_lines(short_lines), stats=stats, progress=progress,
                samples=_check_samples(samples)):
            cats = chunk.cats
            if max_ind_range is not None:
                cats = cats % np.uint64(max_ind_range)
            for t in range(N_TABLES):
                if first_seen:
                    values, first = np.unique(cats[:, t], return_index=True)
                    part = (values, first + position)
                else:
                    values = np.unique(cats[:, t])
                    part = (values, np.zeros(len(values), np.int64))
                pending[t].append(part)
                n_pending[t] += len(values)
                if n_pending[t] > max(len(merged[t][0]), 1 << 16):
                    merge(t)
            position += len(chunk.labels)
        for t in range(N_TABLES):
            merge(t)
        values = [m[0] for m in merged]
        ids = None
        if first_seen:
            ids = []
            for _, positions in merged:
                ranks = np.empty(len(positions), np.int64)
                ranks[np.argsort(positions, kind="stable")] = np.arange(len(positions))
                ids.append(ranks)
        return cls(values, ids, max_ind_range=max_ind_range)

    def lookup(self, column: int, raw: np.ndarray) -> np.ndarray:
        """Row ids of the (already reduced) raw values ``raw`` in ``column`` (0-based).

        Raises ``KeyError`` naming the first value the vocabulary has not seen.
        """
        table = self._values[column]
        raw = np.asarray(raw, dtype=np.uint64)
        pos = np.searchsorted(table, raw)
        pos_c = np.minimum(pos, max(len(table) - 1, 0))
        if len(table):
            found = (pos < len(table)) & (table[pos_c] == raw)
        else:
            found = np.zeros(raw.shape, bool)
        if not found.all():
            value = int(raw.flat[int(np.argmin(found))])
            raise KeyError(f"value {value:#x} of column C{column + 1} is not in the vocabulary")
        return pos_c if self._ids is None else self._ids[column][pos_c]

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary to a ``.npz`` file (:meth:`load` reads it back)."""
        arrays = {f"values_{t}": v for t, v in enumerate(self._values)}
        if self._ids is not None:
            arrays.update({f"ids_{t}": i for t, i in enumerate(self._ids)})
        arrays["max_ind_range"] = np.int64(self.max_ind_range or 0)
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> CriteoVocabulary:
        """Read a vocabulary written by :meth:`save`."""
        with np.load(path) as data:
            values = [data[f"values_{t}"] for t in range(N_TABLES)]
            ids = [data[f"ids_{t}"] for t in range(N_TABLES)] if "ids_0" in data else None
            max_ind_range = int(data["max_ind_range"]) or None
        return cls(values, ids, max_ind_range=max_ind_range)

    def __eq__(self, other) -> bool:
        if not isinstance(other, CriteoVocabulary):
            return NotImplemented
        def ids(v: CriteoVocabulary, t: int) -> np.ndarray:
            return np.arange(len(v._values[t])) if v._ids is None else v._ids[t]
        return self.max_ind_range == other.max_ind_range and all(
            np.array_equal(self._values[t], other._values[t])
            and np.array_equal(ids(self, t), ids(other, t))
            for t in range(N_TABLES)
        )

    def __repr__(self) -> str:
        return (
            f"CriteoVocabulary(table_sizes={self.table_sizes}, "
            f"max_ind_range={self.max_ind_range})"
        )
