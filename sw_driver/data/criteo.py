"""Criteo click-log text: a streaming reader with DLRM's semantics, and a writer.

Format (Criteo Kaggle ``train.txt``, Terabyte ``day_*``): one sample per line, 40 fields
separated by tabs::

    label <TAB> I1 ... I13 <TAB> C1 ... C26 <LF>

Grammar accepted, in the order the checks are reported:

* exactly 40 tab-separated fields (unlabelled files such as Kaggle's ``test.txt`` have 39 and
  are refused);
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
by a :class:`CriteoVocabulary` built in a first pass. A missing categorical is raw value 0, which
is a value like any other and gets a row of its own.

The parser is vectorised over chunks of bytes (about 4 us per Kaggle-like line on one core of
the CI machine, against about 25 us for line-by-line Python), so files of any size stream in
bounded memory; ``.gz`` files are read and written transparently.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

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

N_DENSE = 13
N_TABLES = 26
_N_FIELDS = 1 + N_DENSE + N_TABLES
_MAX_DENSE_DIGITS = 18  # 10**18 - 1 < 2**63 - 1, so a valid field never overflows int64
_MAX_HEX_DIGITS = 16  # fits uint64; raw (un-reduced, un-renumbered) ids must also fit int64
_INT64_MAX = np.uint64(2**63 - 1)
DEFAULT_CHUNK_BYTES = 8 << 20

_TAB, _LF, _MINUS = 9, 10, 45
_IS_DIGIT = np.zeros(256, np.uint8)
_IS_DIGIT[ord("0"):ord("9") + 1] = 1
_HEX_VALUE = np.zeros(256, np.uint64)
_IS_HEX = np.zeros(256, np.uint8)
for _i, _c in enumerate("0123456789abcdef"):
    _HEX_VALUE[ord(_c)] = _HEX_VALUE[ord(_c.upper())] = _i
    _IS_HEX[ord(_c)] = _IS_HEX[ord(_c.upper())] = 1
_DEC_VALUE = np.zeros(256, np.int64)
_DEC_VALUE[ord("0"):ord("9") + 1] = np.arange(10)
# Per byte: 1 in the low 16 bits if it is not a decimal digit, 1 in the high 16 bits if it is
# not a hex digit; one reduceat then counts both per field. A field long enough to overflow a
# half (>= 65535 bytes) fails the length checks anyway.
_NOT_DIGIT_NOT_HEX = ((1 - _IS_DIGIT).astype(np.uint32)) | ((1 - _IS_HEX).astype(np.uint32) << 16)

_DENSE_RE = re.compile(rb"-?[0-9]{1,%d}" % _MAX_DENSE_DIGITS)
_HEX_RE = re.compile(rb"[0-9A-Fa-f]{1,%d}" % _MAX_HEX_DIGITS)


class CriteoFormatError(ValueError):
    """A malformed line in a Criteo file.

    The message reads ``"<path>:<line_no>: <reason>"`` so editors and terminals can jump to it.

    Attributes
    ----------
    path : str
        The file, as given to the reader.
    line_no : int
        1-based line number in that file.
    reason : str
        What is wrong, naming the field (``label``, ``I1``..``I13``, ``C1``..``C26``) and quoting
        the offending text.
    """

    def __init__(self, path: str, line_no: int, reason: str) -> None:
        super().__init__(f"{path}:{line_no}: {reason}")
        self.path = path
        self.line_no = line_no
        self.reason = reason

    def __reduce__(self):
        return type(self), (self.path, self.line_no, self.reason)


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


def _quote(field: bytes, limit: int = 40) -> str:
    """``field`` in quotes for a message, non-ASCII bytes as ``\\xNN``, long ones cut."""
    text = field.decode("ascii", errors="backslashreplace")
    return f"'{text}'" if len(text) <= limit else f"'{text[:limit]}'..."


def _field_name(k: int) -> str:
    if k == 0:
        return "label"
    return f"I{k}" if k <= N_DENSE else f"C{k - N_DENSE}"


def _diagnose(line: bytes, separator: str = "tab") -> str:
    """Why ``line`` (without its newline) is malformed; the first problem in field order.

    Deliberately an independent, field-by-field implementation of the grammar: the vectorised
    checks in :func:`_parse_chunk` decide *which* lines are bad, this says *why*. ``separator``
    names the file's separator in the message (a CSV line arrives here already as TSV).
    """
    fields = line.split(b"\t")
    if len(fields) != _N_FIELDS:
        hint = " (an unlabelled test file?)" if len(fields) == _N_FIELDS - 1 else ""
        return f"expected {_N_FIELDS} {separator}-separated fields, found {len(fields)}{hint}"
    if fields[0] not in (b"0", b"1"):
        return f"label must be 0 or 1, found {_quote(fields[0])}"
    for k in range(1, 1 + N_DENSE):
        if fields[k] and not _DENSE_RE.fullmatch(fields[k]):
            whole = " (a float is accepted only where it is whole, e.g. 260.0)" if (
                b"." in fields[k]) else ""
            return (
                f"integer feature {_field_name(k)} must be empty or a decimal integer of at most "
                f"{_MAX_DENSE_DIGITS} digits, found {_quote(fields[k])}{whole}"
            )
    for k in range(1 + N_DENSE, _N_FIELDS):
        if fields[k] and not _HEX_RE.fullmatch(fields[k]):
            return (
                f"categorical feature {_field_name(k)} must be empty or at most "
                f"{_MAX_HEX_DIGITS} hex digits, found {_quote(fields[k])}"
            )
    return "malformed line"  # not reached while the two checkers agree


@dataclass
class _Chunk:
    """Parsed lines of one chunk; ``bad`` holds chunk-relative indices of malformed lines."""

    labels: np.ndarray  # float32 [n]
    dense: np.ndarray  # int64 [n, 13], clipped
    cats: np.ndarray  # uint64 [n, 26], int(field, 16)
    bad: np.ndarray  # int64 [k], sorted
    lines: list[bytes] | None  # raw lines, kept only when something is bad (for messages)
    # Short lines read with their missing trailing fields as empty: chunk-relative indices and
    # how many fields each had.
    short: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    short_fields: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def _horner(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, width: int, hex_: bool):
    """Values of the digit strings ``buf[starts:ends]``, read right-aligned in ``width`` steps.

    Bytes left of ``starts`` and non-digits (a leading ``-``) count as 0, so a valid field gives
    its magnitude. Fields longer than ``width`` (only ever malformed ones) give garbage that the
    caller drops; int64 overflow there wraps silently and is harmless.
    """
    lengths = ends - starts
    first = ends - width
    acc = np.zeros(starts.shape, np.uint64 if hex_ else np.int64)
    lut = _HEX_VALUE if hex_ else _DEC_VALUE
    for k in range(width):
        value = lut[buf.take(first + k, mode="clip")]
        value[lengths < width - k] = 0  # left padding: bytes of the previous field
        if hex_:
            acc <<= np.uint64(4)
            acc |= value
        else:
            acc *= 10
            acc += value
    return acc


def _parse_chunk(data: bytes, pad_short: bool = False) -> _Chunk:
    """Parse whole lines (``data`` ends with LF) into arrays, flagging malformed lines.

    With ``pad_short``, a non-empty line of fewer than 40 fields gets its missing trailing
    fields as empty ones (listed in ``short``) and is then judged like any other line.
    """
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    buf = np.frombuffer(data, np.uint8)
    is_lf = buf == _LF
    line_ends = np.flatnonzero(is_lf)
    n_lines = len(line_ends)
    seps = np.flatnonzero(is_lf | (buf == _TAB))
    lf_rank = np.flatnonzero(is_lf[seps])  # index in seps of each line's LF
    n_fields = np.diff(lf_rank, prepend=-1)
    wrong_count = n_fields != _N_FIELDS
    if wrong_count.any():
        line_starts = np.concatenate(([0], line_ends[:-1] + 1))
        if pad_short:
            short = np.flatnonzero(wrong_count & (n_fields < _N_FIELDS)
                                   & (line_ends > line_starts))
            if len(short):
                # Rare in practice, so a Python loop over the short lines only; the padded
                # chunk is then parsed as usual (its over-long or empty lines stay bad).
                lines = data.split(b"\n")[:-1]
                for i, n in zip(short.tolist(), n_fields[short].tolist(), strict=True):
                    lines[i] += b"\t" * (_N_FIELDS - n)
                chunk = _parse_chunk(b"\n".join(lines) + b"\n")
                chunk.short, chunk.short_fields = short, n_fields[short]
                return chunk
        # Drop those lines from the buffer and parse the rest; they are reported as bad.
        bad_count_lines = np.flatnonzero(wrong_count)
        keep = np.ones(len(buf), bool)
        for i in bad_count_lines:
            keep[line_starts[i]:line_ends[i] + 1] = False
        good_lines = np.flatnonzero(~wrong_count)
        sub = _parse_chunk(buf[keep].tobytes()) if len(good_lines) else None
        lines = data.split(b"\n")[:-1]
        if sub is None:
            return _Chunk(
                np.zeros(0, np.float32), np.zeros((0, N_DENSE), np.int64),
                np.zeros((0, N_TABLES), np.uint64), bad_count_lines, lines,
            )
        bad = np.union1d(bad_count_lines, good_lines[sub.bad])
        return _Chunk(sub.labels, sub.dense, sub.cats, bad, lines)

    starts = np.empty(len(seps), np.int64)
    starts[0] = 0
    starts[1:] = seps[:-1] + 1
    ends = seps
    lengths = (ends - starts).reshape(n_lines, _N_FIELDS)
    # Count offending bytes per field in one pass. The reduceat ranges run from a
    # field's first byte to the next field's first byte, so each includes its own separator:
    # one non-digit/non-hex byte to subtract.
    counts = np.add.reduceat(_NOT_DIGIT_NOT_HEX[buf], starts, dtype=np.uint32)
    non_digit = (counts & 0xFFFF).astype(np.int64).reshape(lengths.shape) - 1
    non_hex = (counts >> 16).astype(np.int64).reshape(lengths.shape) - 1
    starts = starts.reshape(lengths.shape)
    ends = ends.reshape(lengths.shape)
    first = buf[starts]  # a field's first byte (its separator if the field is empty)

    label_first = first[:, 0]
    ok = (lengths[:, 0] == 1) & ((label_first == ord("0")) | (label_first == ord("1")))
    d_len, d_nd, d_first = lengths[:, 1:14], non_digit[:, 1:14], first[:, 1:14]
    negative = (d_first == _MINUS) & (d_len >= 2)
    d_ok = (d_len == 0) | ((d_nd == 0) & (d_len <= _MAX_DENSE_DIGITS)) | (
        negative & (d_nd == 1) & (d_len <= _MAX_DENSE_DIGITS + 1)
    )
    c_len = lengths[:, 14:]
    c_ok = (non_hex[:, 14:] == 0) & (c_len <= _MAX_HEX_DIGITS)
    ok &= d_ok.all(axis=1) & c_ok.all(axis=1)
    bad = np.flatnonzero(~ok)

    good_len_d = d_len[ok]
    good_len_c = c_len[ok]
    width_d = int(good_len_d.max()) if good_len_d.size else 0
    width_c = int(good_len_c.max()) if good_len_c.size else 0
    dense = _horner(buf, starts[:, 1:14], ends[:, 1:14], width_d, hex_=False)
    dense[negative] = 0  # DLRM: X_int[X_int < 0] = 0
    cats = _horner(buf, starts[:, 14:], ends[:, 14:], width_c, hex_=True)
    labels = (label_first == ord("1")).astype(np.float32)
    if len(bad):
        return _Chunk(labels[ok], dense[ok], cats[ok], bad, data.split(b"\n")[:-1])
    return _Chunk(labels, dense, cats, bad, None)


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


def _stream_chunks(paths: tuple[str, ...], *, chunk_bytes: int, on_error: str, skipped: list,
                   short_lines: str, stats: CriteoReadStats, progress=None,
                   samples: int | None = None) -> Iterator[tuple[str, _Chunk, np.ndarray]]:
    """``(path, chunk, line_nos)`` of the files in order, the last chunk cut so that at most
    ``samples`` samples come out; reading stops there (the rest of the files is never read)."""
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
        Bytes of text parsed per step (default 8 MiB: roughly 30k Kaggle lines, a few tens of MB
        of working memory). Blocks hold the lines of one chunk, so their sizes vary.
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
