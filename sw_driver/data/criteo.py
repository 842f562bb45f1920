"""Criteo click-log text: a streaming reader with DLRM's semantics, and a writer.

Format (Criteo Kaggle ``train.txt``, Terabyte ``day_*``): one sample per line, 40 fields
separated by tabs::

    label <TAB> I1 ... I13 <TAB> C1 ... C26 <LF>

Grammar accepted, in the order the checks are reported:

* exactly 40 tab-separated fields; a non-empty line with fewer (trailing empty fields lost by
  an exporter) gets the missing ones as empty fields and is counted in
  :attr:`CriteoReader.stats` (``short_lines="raise"`` refuses it instead);
* ``label`` is ``0`` or ``1``;
* each integer feature is empty, or an optional ``-`` and 1 to 18 ASCII digits (so it fits int64);
* each categorical is empty, or 1 to 16 ASCII hex digits of either case (Criteo writes 8).

Lines end in LF; CRLF is accepted and a missing newline after the last line is tolerated.
Anything else (stray spaces, ``0x`` prefixes, ``+`` signs, non-ASCII bytes, empty lines) is a
malformed line: :class:`CriteoFormatError`, or skipped and reported with ``on_error="skip"``.

DLRM's semantics (facebookresearch/dlrm ``data_utils.py``): an empty field is 0; negative
integers are clipped to 0; the dense input is ``log(x + 1)`` (applied later, see
:attr:`~sw_driver.data.samples.SampleBlock.dense`); a categorical is ``int(field, 16)``, then
optionally reduced ``% max_ind_range``, then optionally renumbered per column to contiguous ids
by a :class:`~sw_driver.data.criteo_vocabulary.CriteoVocabulary` built in a first pass. A
missing categorical is raw value 0, which is a value like any other and gets a row of its own.

Files in the CSV-with-header layout (and TSV files with a header line) are recognised by their
first line and read the same way (:mod:`~sw_driver.data.criteo_formats`). The parser
(:mod:`~sw_driver.data.criteo_parser`) is vectorised over chunks of bytes, so files of any size
stream in bounded memory; ``.gz`` files are read and written transparently, and several files
are one stream.
"""

from __future__ import annotations

import gzip
import io
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .criteo_parser import (_INT64_MAX, _LF, _N_FIELDS, N_DENSE, N_TABLES,  # noqa: F401
                            CriteoFormatError, _Chunk, _diagnose, _parse_chunk, _quote)
from .samples import SampleBlock

if TYPE_CHECKING:
    from .criteo_vocabulary import CriteoVocabulary

__all__ = [
    "N_DENSE",
    "N_TABLES",
    "CriteoFormatError",
    "CriteoReadStats",
    "CriteoReader",
    "CriteoSkippedLinesWarning",
    "read_criteo",
    "write_criteo",
]

# 1 MiB: the parser's temporaries (one byte array, one int64 per field, a few words per field)
# then stay in the CPU's caches. Measured on 500K generated Kaggle lines, one core: 8 MiB
# chunks 464K lines per CPU-second, 4 MiB 524K, 2 MiB 590K, 1 MiB 607K, 256 KiB 609K; the
# vocabulary pass 1.58 s at 8 MiB, 1.28 s at 1 MiB.
DEFAULT_CHUNK_BYTES = 1 << 20


class CriteoSkippedLinesWarning(UserWarning):
    """Emitted once per file when ``on_error="skip"`` dropped malformed lines from it."""


def _open_binary(path: str | os.PathLike, mode: str) -> io.BufferedIOBase:
    path = os.fspath(path)
    if path.endswith(".gz"):
        return gzip.open(path, mode)
    return open(path, mode)


def _iter_text_chunks(handle, chunk_bytes: int) -> Iterator[bytes]:
    """Chunks of about ``chunk_bytes`` bytes, each ending with a newline, covering the file."""
    tail = b""
    while True:
        data = handle.read(chunk_bytes)
        if not data:
            if tail:
                yield tail + b"\n"
            return
        if tail:
            data = tail + data
        cut = data.rfind(b"\n")
        if cut < 0:  # a line longer than a chunk: keep reading until it ends
            tail = data
            continue
        tail = data[cut + 1:]
        yield data[:cut + 1]


def _check_max_ind_range(max_ind_range: int | None) -> int | None:
    if max_ind_range is None:
        return None
    if isinstance(max_ind_range, bool) or not isinstance(max_ind_range, (int, np.integer)):
        raise TypeError(f"max_ind_range must be an int or None, not {max_ind_range!r}")
    if max_ind_range <= 0:
        raise ValueError(f"max_ind_range must be positive, not {max_ind_range}")
    return int(max_ind_range)


def _check_on_error(on_error: str) -> str:
    if on_error not in ("raise", "skip"):
        raise ValueError(f'on_error must be "raise" or "skip", not {on_error!r}')
    return on_error


def _check_chunk_bytes(chunk_bytes: int) -> int:
    if isinstance(chunk_bytes, bool) or not isinstance(chunk_bytes, (int, np.integer)):
        raise TypeError(f"chunk_bytes must be an int, not {chunk_bytes!r}")
    if chunk_bytes <= 0:
        raise ValueError(f"chunk_bytes must be positive, not {chunk_bytes}")
    return int(chunk_bytes)


def _as_paths(paths) -> tuple[str, ...]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = tuple(os.fspath(p) for p in paths)
    if not paths:
        raise ValueError("no Criteo files given")
    return paths


def _check_short_lines(short_lines: str) -> str:
    if short_lines not in ("pad", "raise"):
        raise ValueError(f'short_lines must be "pad" or "raise", not {short_lines!r}')
    return short_lines


@dataclass
class CriteoReadStats:
    """What a pass over Criteo files has read so far (updated after every chunk).

    Attributes
    ----------
    lines : int
        Data lines parsed (a header line is not counted).
    samples : int
        Samples delivered (lines minus skipped ones, up to any limit).
    text_bytes : int
        Uncompressed text parsed, in bytes.
    short_lines : int
        Lines whose missing trailing fields were read as empty (``short_lines="pad"``).
    layouts : dict
        Per file opened, its :class:`~sw_driver.data.criteo_formats.CriteoLayout`.
    """

    lines: int = 0
    samples: int = 0
    text_bytes: int = 0
    short_lines: int = 0
    layouts: dict = field(default_factory=dict)


def _cut_lines(data: bytes, n: int | None) -> tuple[bytes, bytes]:
    """``data`` (whole lines) as its first ``n`` lines and the rest (``n`` None: all)."""
    if n is None or n <= 0:
        return data, b""
    ends = np.flatnonzero(np.frombuffer(data, np.uint8) == _LF)
    if n >= len(ends):
        return data, b""
    cut = int(ends[n - 1]) + 1
    return data[:cut], data[cut:]


class _ChunkStream:
    """Parsed chunks of one file with absolute line numbers; applies ``on_error`` and
    ``short_lines``, detects the file's layout (TSV, CSV with header) from its first line."""

    def __init__(self, path: str, chunk_bytes: int, on_error: str, skipped: list, *,
                 short_lines: str = "pad", stats: CriteoReadStats | None = None,
                 progress=None, remaining=None) -> None:
        self.path = path
        self.remaining = remaining  # () -> samples still wanted, or None: all
        self.chunk_bytes = chunk_bytes
        self.on_error = on_error
        self.skipped = skipped
        self.short_lines = short_lines
        self.stats = CriteoReadStats() if stats is None else stats
        self.progress = progress

    def _reason(self, chunk: _Chunk, i: int, separator: str) -> str:
        reason = _diagnose(chunk.lines[i], separator)
        short = np.flatnonzero(chunk.short == i)
        if len(short):
            reason += (f"; the line has only {int(chunk.short_fields[short[0]])} of "
                       f"{_N_FIELDS} {separator}-separated fields")
        elif self.short_lines == "raise" and chunk.lines[i] and (
                chunk.lines[i].count(b"\t") < _N_FIELDS - 1):
            reason += "; short lines are refused (short_lines=\"raise\", --short-lines raise)"
        return reason

    def __iter__(self) -> Iterator[tuple[_Chunk, np.ndarray]]:
        """Yield ``(chunk, line_nos)``: good rows and their 1-based line numbers."""
        from .criteo_formats import csv_to_tsv, detect_layout

        first_line = 1
        layout = None
        stats = self.stats
        n_skipped_before = len(self.skipped)
        with _open_binary(self.path, "rb") as handle:
            for data in _iter_text_chunks(handle, self.chunk_bytes):
                if layout is None:
                    layout = detect_layout(self.path, data[:data.find(b"\n")])
                    stats.layouts[self.path] = layout
                    if layout.header:
                        stats.text_bytes += data.find(b"\n") + 1
                        data = data[data.find(b"\n") + 1:]
                        first_line = 2
                while data:
                    # Parse no more lines than the consumer still needs (samples=): the rest
                    # of the chunk waits, and is never parsed if the consumer stops.
                    data, rest = _cut_lines(data, None if self.remaining is None
                                            else self.remaining())
                    stats.text_bytes += len(data)
                    if layout.name == "csv":
                        data = csv_to_tsv(data)
                    chunk = _parse_chunk(data, pad_short=self.short_lines == "pad")
                    n_lines = data.count(b"\n")
                    if len(chunk.bad):
                        errors = [
                            CriteoFormatError(self.path, first_line + int(i),
                                              self._reason(chunk, int(i), layout.separator))
                            for i in (chunk.bad[:1] if self.on_error == "raise" else chunk.bad)
                        ]
                        if self.on_error == "raise":
                            raise errors[0]
                        self.skipped.extend(errors)
                    keep = np.ones(n_lines, bool)
                    keep[chunk.bad] = False
                    line_nos = first_line + np.flatnonzero(keep)
                    stats.short_lines += int(len(np.setdiff1d(chunk.short, chunk.bad)))
                    chunk.lines = None
                    first_line += n_lines
                    stats.lines += n_lines
                    if self.progress is not None:
                        self.progress(stats)
                    yield chunk, line_nos
                    data = rest
        n_new = len(self.skipped) - n_skipped_before
        if n_new:
            shown = ", ".join(str(e.line_no) for e in self.skipped[n_skipped_before:][:10])
            more = ", ..." if n_new > 10 else ""
            warnings.warn(
                f"{self.path}: skipped {n_new} malformed line(s) (lines {shown}{more}); "
                f"the reader's .skipped lists each with its reason",
                CriteoSkippedLinesWarning,
                stacklevel=4,
            )


def _check_samples(samples: int | None) -> int | None:
    if samples is None:
        return None
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)):
        raise TypeError(f"samples must be an int or None, not {samples!r}")
    if samples < 0:
        raise ValueError(f"samples must be >= 0 (0 or None: all), not {samples}")
    return int(samples) or None


_allocator_settled = False


def _settle_allocator() -> None:
    """Keep the parser's per-chunk temporaries (about 1 MiB each) off ``mmap``, once a process.

    glibc serves blocks above its ``mmap`` threshold (128 KiB at start) with fresh ``mmap``
    pages, and trims the heap top back to the system when more than twice that is free: a
    chunk's temporaries were mapped, faulted in, zeroed and unmapped again for every chunk
    (5M generated Kaggle lines, fresh process: 2.3 CPU-seconds of system time, 492K lines per
    CPU-second). Freeing one 16 MiB block raises both thresholds as glibc does after any such
    free (``mallopt(3)``, dynamic mmap threshold), and the temporaries are then reused from the
    heap: 0.08 s of system time, 742K lines per CPU-second. ``np.empty`` does not touch the
    pages, so this costs two system calls. Harmless with other allocators.
    """
    global _allocator_settled
    if not _allocator_settled:
        _allocator_settled = True
        block = np.empty(16 << 20, np.uint8)
        del block


def _stream_chunks(paths: tuple[str, ...], *, chunk_bytes: int, on_error: str, skipped: list,
                   short_lines: str, stats: CriteoReadStats, progress=None,
                   samples: int | None = None) -> Iterator[tuple[str, _Chunk, np.ndarray]]:
    """``(path, chunk, line_nos)`` of the files in order, the last chunk cut so that at most
    ``samples`` samples come out; reading stops there (the rest of the files is never read)."""
    _settle_allocator()
    for path in paths:
        stream = _ChunkStream(path, chunk_bytes, on_error, skipped, short_lines=short_lines,
                              stats=stats, progress=progress,
                              remaining=None if samples is None
                              else (lambda: samples - stats.samples))
        for chunk, line_nos in stream:
            if samples is not None and stats.samples + len(chunk.labels) >= samples:
                keep = samples - stats.samples
                chunk.labels, chunk.dense = chunk.labels[:keep], chunk.dense[:keep]
                chunk.cats, line_nos = chunk.cats[:keep], line_nos[:keep]
                stats.samples += keep
                yield path, chunk, line_nos
                return
            stats.samples += len(chunk.labels)
            yield path, chunk, line_nos


def _raw_to_int64(path: str, values: np.ndarray, line_nos: np.ndarray, column: int) -> np.ndarray:
    too_big = values > _INT64_MAX
    if too_big.any():
        i = int(np.argmax(too_big))
        raise CriteoFormatError(
            path, int(line_nos[i]),
            f"categorical feature C{column + 1} = {int(values[i]):#x} does not fit int64; "
            "reduce it with max_ind_range or renumber it with a CriteoVocabulary",
        )
    return values.astype(np.int64)


class CriteoReader:
    """Stream Criteo text files as :class:`SampleBlock` s with DLRM's semantics.

    Parameters
    ----------
    paths : path or sequence of paths
        Criteo text files (``.gz`` allowed), read in the given order as one stream.
    max_ind_range : int, optional
        Reduce each categorical ``int(hex, 16) % max_ind_range`` (DLRM ``--max-ind-range``).
    vocabulary : CriteoVocabulary, optional
        Renumber each categorical to its contiguous per-column id. Must have been built with the
        same ``max_ind_range``. A value missing from the vocabulary raises ``KeyError`` naming the
        file, line and column.
    chunk_bytes : int
        Bytes of text parsed per step (default 1 MiB: roughly 3,900 Kaggle lines, a few MB of
        working memory, small enough to stay in cache; see ``DEFAULT_CHUNK_BYTES``). Blocks
        hold the lines of one chunk, so their sizes vary.
    on_error : {"raise", "skip"}
        ``"raise"`` (default): the first malformed line raises :class:`CriteoFormatError`;
        blocks before it have already been yielded. ``"skip"``: malformed lines are dropped,
        appended to :attr:`skipped` as :class:`CriteoFormatError` s, and every file with skipped
        lines emits one :class:`CriteoSkippedLinesWarning` listing the first line numbers.
    short_lines : {"pad", "raise"}
        A line that lost trailing fields (fewer than 40, not empty): ``"pad"`` (default) reads
        the missing ones as empty and counts the line in ``stats.short_lines``; ``"raise"``
        treats it as malformed (``on_error`` applies).
    samples : int, optional
        Read only the first ``samples`` samples of the stream (0 or None: all); the files are
        read no further than the chunk that holds the last one.
    progress : callable, optional
        Called with :attr:`stats` after every chunk (for a progress bar: lines, bytes).

    Attributes
    ----------
    table_sizes : tuple of int, or None
        With a vocabulary, its table sizes; else with ``max_ind_range``, that value for every
        table; else ``None`` (raw ids span the hash space).
    n_dense : int
        13.
    skipped : list of CriteoFormatError
        Lines dropped by ``on_error="skip"``, in file order, accumulated over iterations
        (cleared at the start of each :meth:`blocks` call).
    stats : CriteoReadStats
        Lines, samples, bytes and short lines of the current (or last) pass, and each file's
        layout (TSV or CSV with header, :mod:`~sw_driver.data.criteo_formats`).

    Notes
    -----
    Without ``max_ind_range`` or a vocabulary the ids are the raw hash values, which must fit
    int64 (any 8-digit Criteo hash does).
    """

    table_sizes: tuple[int, ...] | None
    n_dense: int = N_DENSE

    def __init__(
        self,
        paths,
        *,
        max_ind_range: int | None = None,
        vocabulary: CriteoVocabulary | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        on_error: str = "raise",
        short_lines: str = "pad",
        samples: int | None = None,
        progress=None,
    ) -> None:
        self.paths = _as_paths(paths)
        self.short_lines = _check_short_lines(short_lines)
        self.samples = _check_samples(samples)
        self.progress = progress
        self.stats = CriteoReadStats()
        self.max_ind_range = _check_max_ind_range(max_ind_range)
        if vocabulary is not None and vocabulary.max_ind_range != self.max_ind_range:
            raise ValueError(
                f"the vocabulary was built with max_ind_range={vocabulary.max_ind_range}, "
                f"the reader uses max_ind_range={self.max_ind_range}"
            )
        self.vocabulary = vocabulary
        self.chunk_bytes = _check_chunk_bytes(chunk_bytes)
        self.on_error = _check_on_error(on_error)
        if vocabulary is not None:
            self.table_sizes = vocabulary.table_sizes
        elif self.max_ind_range is not None:
            self.table_sizes = (self.max_ind_range,) * N_TABLES
        else:
            self.table_sizes = None
        self.skipped: list[CriteoFormatError] = []

    def blocks(self) -> Iterator[SampleBlock]:
        """Samples of all files in order, one block per chunk of text (empty chunks omitted)."""
        self.skipped = []
        self.stats = CriteoReadStats()
        for path, chunk, line_nos in _stream_chunks(
                self.paths, chunk_bytes=self.chunk_bytes, on_error=self.on_error,
                skipped=self.skipped, short_lines=self.short_lines, stats=self.stats,
                progress=self.progress, samples=self.samples):
            if len(chunk.labels):
                yield SampleBlock(chunk.dense, self._ids(path, chunk.cats, line_nos), chunk.labels)

    __iter__ = blocks

    def read(self) -> SampleBlock:
        """All samples as one block (for files that fit in memory)."""
        blocks = list(self.blocks())
        return SampleBlock.concat(blocks) if blocks else SampleBlock.empty(N_DENSE, N_TABLES)

    def _ids(self, path: str, cats: np.ndarray, line_nos: np.ndarray) -> np.ndarray:
        if self.max_ind_range is not None:
            cats = cats % np.uint64(self.max_ind_range)
        if self.vocabulary is None:
            if self.max_ind_range is not None:
                return cats.astype(np.int64)
            return np.stack(
                [_raw_to_int64(path, cats[:, t], line_nos, t) for t in range(N_TABLES)], axis=1
            )
        sparse = np.empty(cats.shape, np.int64)
        for t in range(N_TABLES):
            try:
                sparse[:, t] = self.vocabulary.lookup(t, cats[:, t])
            except KeyError as error:
                found = np.isin(cats[:, t], self.vocabulary.values(t))
                line_no = int(line_nos[int(np.argmin(found))])
                raise KeyError(f"{path}:{line_no}: {error.args[0]}") from None
        return sparse


def read_criteo(
    paths,
    *,
    max_ind_range: int | None = None,
    vocabulary: CriteoVocabulary | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    on_error: str = "raise",
    short_lines: str = "pad",
    samples: int | None = None,
) -> SampleBlock:
    """Read whole Criteo files into one block (parameters as for :class:`CriteoReader`).

    For files that fit in memory; stream larger ones with :meth:`CriteoReader.blocks`. With
    ``on_error="skip"`` the skipped lines are reported by a :class:`CriteoSkippedLinesWarning`;
    use :class:`CriteoReader` to get them as a list.
    """
    reader = CriteoReader(
        paths, max_ind_range=max_ind_range, vocabulary=vocabulary, chunk_bytes=chunk_bytes,
        on_error=on_error, short_lines=short_lines, samples=samples,
    )
    return reader.read()


def _format_lines(block: SampleBlock) -> bytes:
    """Criteo text of ``block``: label and integers in decimal, categoricals in >= 8 hex digits."""
    if block.n_dense != N_DENSE or block.n_tables != N_TABLES:
        raise ValueError(
            f"Criteo text holds {N_DENSE} dense and {N_TABLES} sparse features per sample, "
            f"the block has {block.n_dense} and {block.n_tables}"
        )
    labels = block.labels
    if not np.all((labels == 0) | (labels == 1)):
        raise ValueError("Criteo labels must be 0 or 1")
    template = "\t".join(["%d"] * (1 + N_DENSE) + ["%08x"] * N_TABLES) + "\n"
    rows = np.concatenate([labels.astype(np.int64)[:, None], block.dense_raw, block.sparse], 1)
    return "".join([template % tuple(row) for row in rows.tolist()]).encode("ascii")


def write_criteo(
    path: str | os.PathLike, blocks: SampleBlock | Iterable[SampleBlock], *, append: bool = False
) -> int:
    """Write samples as Criteo text (gzip-compressed if ``path`` ends with ``.gz``).

    Each sample becomes ``label, 13 integers, 26 categoricals``, tab-separated; dense values are
    written in decimal (0 as ``0``, never as an empty field) and sparse ids as lower-case hex of
    at least 8 digits. Reading the file back with :class:`CriteoReader` and no ``max_ind_range``
    or vocabulary returns the identical arrays.

    Parameters
    ----------
    path : path
        Output file; created or truncated (appended to if ``append``).
    blocks : SampleBlock or iterable of SampleBlock
        The samples, written in order. Blocks are formatted one at a time, so a generator of
        blocks writes files larger than memory.
    append : bool
        Append instead of truncating.

    Returns
    -------
    int
        Number of lines written.
    """
    if isinstance(blocks, SampleBlock):
        blocks = [blocks]
    n = 0
    with _open_binary(path, "ab" if append else "wb") as handle:
        for block in blocks:
            # 64k lines at a time bounds the text held in memory to ~20 MB.
            for start in range(0, len(block), 1 << 16):
                part = block[start:start + (1 << 16)]
                handle.write(_format_lines(part))
                n += len(part)
    return n
