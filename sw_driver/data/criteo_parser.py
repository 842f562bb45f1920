"""The Criteo line grammar and its vectorised parser (chunks of whole lines -> arrays).

A chunk of raw Criteo TSV is parsed at once with numpy: separators located, then each field of
at most 16 bytes read as two little-endian 64-bit words ending at its separator
(:class:`_FieldWords`) and checked and converted eight bytes at a time with SWAR arithmetic
(per-byte range tests in the words' high bits counted with ``bitwise_count``; hex nibbles and
decimal digits combined in-register). A chunk with a longer field (only malformed lines or
17-18 digit integers) takes the byte-wise path instead: per-field byte classes counted with one
``reduceat`` and values read right-aligned (:func:`_horner`). Both paths give the same arrays
(tested against each other). Malformed lines are flagged and :func:`_diagnose` says why, field
by field, independently of the vectorised checks. About 1.5-2 us per Kaggle-like line on one
core (the byte-wise path: about 4; line-by-line Python: about 25).
:mod:`~sw_driver.data.criteo` streams files through it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .criteo_fast import parse_well_formed

__all__ = ["N_DENSE", "N_TABLES", "CriteoFormatError"]

N_DENSE = 13
N_TABLES = 26
_N_FIELDS = 1 + N_DENSE + N_TABLES
_MAX_DENSE_DIGITS = 18  # 10**18 - 1 < 2**63 - 1, so a valid field never overflows int64
_MAX_HEX_DIGITS = 16  # fits uint64; raw (un-reduced, un-renumbered) ids must also fit int64
_INT64_MAX = np.uint64(2**63 - 1)

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


_U = np.uint64
_HIGH_BITS = _U(0x8080808080808080)
_LOW_NIBBLES = _U(0x0F0F0F0F0F0F0F0F)
_ASCII_ZEROS = _U(0x3030303030303030)
# _TOP[L]: the L most significant bytes of a little-endian word, i.e. the last L bytes before
# the word's end in the text (L = 0..8).
_TOP = np.array([0] + [(2**64 - 1) ^ (2 ** (8 * (8 - n)) - 1) for n in range(1, 9)], np.uint64)


def _bytes_at_least(y: np.ndarray, low: int) -> np.ndarray:
    """Per byte of ``y`` (every byte < 0x80): 0x80 where the byte is >= ``low``, else 0."""
    return (y + _U(0x0101010101010101 * (0x80 - low))) & _HIGH_BITS


def _bytes_in(y: np.ndarray, low: int, high: int) -> np.ndarray:
    """Per byte of ``y`` (every byte < 0x80): 0x80 where ``low <= byte <= high``."""
    return _bytes_at_least(y, low) & ~_bytes_at_least(y, high + 1)


class _FieldWords:
    """The fields ``buf[ends - lengths:ends]`` (each <= 16 bytes) as two 64-bit words each.

    ``low`` holds the 8 bytes before a field's end, ``high`` the 8 before those; the field's
    bytes are the top ``min(L, 8)`` of ``low`` and the top ``clip(L - 8, 0, 8)`` of ``high``
    (bytes of earlier fields below them are masked out by every method).
    """

    def __init__(self, windows: np.ndarray, ends: np.ndarray, lengths: np.ndarray) -> None:
        self.low = windows[ends]
        self.mask_low = _TOP[np.minimum(lengths, 8)]
        # Kaggle's ids are 8 hex digits and its integers at most 8 digits: usually no field
        # of the chunk needs a second word.
        self.two_words = bool((lengths > 8).any())
        if self.two_words:
            self.high = windows[np.maximum(ends - 8, 0)]
            self.mask_high = _TOP[np.clip(lengths - 8, 0, 8)]

    def _words(self):
        yield self.low, self.mask_low
        if self.two_words:
            yield self.high, self.mask_high

    def count_not(self, hex_: bool) -> np.ndarray:
        """Bytes of each field that are not decimal digits (``hex_`` False) or not hex digits."""
        counts = np.zeros(self.low.shape, np.uint8)
        for word, mask in self._words():
            y = word & ~_HIGH_BITS  # range tests need bytes < 0x80; bytes >= 0x80 fail anyway
            ok = _bytes_in(y, 0x30, 0x39)
            if hex_:
                ok |= _bytes_in(y | _U(0x2020202020202020), 0x61, 0x66)
            ok &= ~word  # a byte >= 0x80 (its own high bit set) is never a digit
            counts += np.bitwise_count(~ok & mask & _HIGH_BITS)
        return counts

    @staticmethod
    def _hex8(word: np.ndarray, mask: np.ndarray) -> np.ndarray:
        nibbles = ((word & _LOW_NIBBLES) + _U(9) * ((word >> _U(6)) & _U(0x0101010101010101)))
        x = (nibbles & mask & _LOW_NIBBLES).byteswap()  # byte 0 = last digit
        x = (x | (x >> _U(4))) & _U(0x00FF00FF00FF00FF)
        x = (x | (x >> _U(8))) & _U(0x0000FFFF0000FFFF)
        return (x | (x >> _U(16))) & _U(0x00000000FFFFFFFF)

    @staticmethod
    def _dec8(word: np.ndarray, mask: np.ndarray) -> np.ndarray:
        v = ((word & mask) | (_ASCII_ZEROS & ~mask)) - _ASCII_ZEROS  # left-padded with '0'
        v = v * _U(10) + (v >> _U(8))
        return (((v & _U(0x000000FF000000FF)) * _U(100 + (1000000 << 32)))
                + (((v >> _U(16)) & _U(0x000000FF000000FF)) * _U(1 + (10000 << 32)))) >> _U(32)

    def values(self, hex_: bool) -> np.ndarray:
        """Each field's value where it is all digits (garbage otherwise, as :func:`_horner`)."""
        convert = self._hex8 if hex_ else self._dec8
        value = convert(self.low, self.mask_low)
        if self.two_words:
            high = convert(self.high, self.mask_high)
            value = (high << _U(32)) | value if hex_ else high * _U(10**8) + value
        return value.view(np.int64) if not hex_ else value


def _windows(buf: np.ndarray) -> np.ndarray:
    """``w[i]`` = the little-endian 64-bit word of ``buf[i - 8:i]`` (zero bytes before 0)."""
    padded = np.zeros(len(buf) + 8, np.uint8)
    padded[8:] = buf
    return np.ndarray((len(buf) + 1,), dtype="<u8", buffer=padded, strides=(1,))


def _parse_chunk(data: bytes, pad_short: bool = False, *, wordwise: bool = True,
                 compiled: bool = True) -> _Chunk:
    """Parse whole lines (``data`` ends with LF) into arrays, flagging malformed lines.

    With ``pad_short``, a non-empty line of fewer than 40 fields gets its missing trailing
    fields as empty ones (listed in ``short``) and is then judged like any other line. With
    ``compiled`` (the default), a chunk whose every line is well formed is parsed by the C fast
    path (:mod:`~sw_driver.data.criteo_fast`) when it is available; any other chunk, and every
    chunk without it, by the numpy code below (same arrays).
    """
    if compiled:
        fast = parse_well_formed(data)
        if fast is not None:
            return _Chunk(*fast, np.zeros(0, np.int64), None)
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    buf = np.frombuffer(data, np.uint8)
    is_lf = buf == _LF
    seps = np.flatnonzero(is_lf | (buf == _TAB))
    lf_rank = np.flatnonzero(is_lf[seps])  # index in seps of each line's LF
    line_ends = seps[lf_rank]
    n_lines = len(line_ends)
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
    if wordwise and int(lengths.max(initial=0)) <= 16:
        windows = _windows(buf)
        ends = ends.reshape(lengths.shape)
        dense_words = _FieldWords(windows, ends[:, 1:14], lengths[:, 1:14])
        cat_words = _FieldWords(windows, ends[:, 14:], lengths[:, 14:])
        d_nd = dense_words.count_not(hex_=False)
        c_nh = cat_words.count_not(hex_=True)
    else:
        dense_words = cat_words = None
        # Count offending bytes per field in one pass. The reduceat ranges run from a
        # field's first byte to the next field's first byte, so each includes its own
        # separator: one non-digit/non-hex byte to subtract.
        counts = np.add.reduceat(_NOT_DIGIT_NOT_HEX[buf], starts, dtype=np.uint32)
        counts = counts.reshape(lengths.shape)
        d_nd = (counts[:, 1:14] & 0xFFFF).astype(np.int64) - 1
        c_nh = (counts[:, 14:] >> 16).astype(np.int64) - 1
        ends = ends.reshape(lengths.shape)
    starts = starts.reshape(lengths.shape)
    # a field's first byte (its separator if the field is empty): the label's and the integers'
    first = buf[starts[:, :14]]

    label_first = first[:, 0]
    ok = (lengths[:, 0] == 1) & ((label_first == ord("0")) | (label_first == ord("1")))
    d_len, d_first = lengths[:, 1:14], first[:, 1:14]
    negative = (d_first == _MINUS) & (d_len >= 2)
    d_ok = (d_len == 0) | ((d_nd == 0) & (d_len <= _MAX_DENSE_DIGITS)) | (
        negative & (d_nd == 1) & (d_len <= _MAX_DENSE_DIGITS + 1)
    )
    c_len = lengths[:, 14:]
    c_ok = (c_nh == 0) & (c_len <= _MAX_HEX_DIGITS)
    ok &= d_ok.all(axis=1) & c_ok.all(axis=1)
    bad = np.flatnonzero(~ok)

    if dense_words is not None:
        dense = dense_words.values(hex_=False)
        cats = cat_words.values(hex_=True)
    else:
        good_len_d = d_len[ok]
        good_len_c = c_len[ok]
        width_d = int(good_len_d.max()) if good_len_d.size else 0
        width_c = int(good_len_c.max()) if good_len_c.size else 0
        dense = _horner(buf, starts[:, 1:14], ends[:, 1:14], width_d, hex_=False)
        cats = _horner(buf, starts[:, 14:], ends[:, 14:], width_c, hex_=True)
    dense[negative] = 0  # DLRM: X_int[X_int < 0] = 0
    labels = (label_first == ord("1")).astype(np.float32)
    if len(bad):
        return _Chunk(labels[ok], dense[ok], cats[ok], bad, data.split(b"\n")[:-1])
    return _Chunk(labels, dense, cats, bad, None)
