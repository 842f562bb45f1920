"""The parser's word-wise (SWAR) path against its byte-wise path, field by field (the numpy
parser alone: ``compiled=False``; ``test_criteo_fast.py`` checks the C fast path against it).

:func:`_parse_chunk` reads chunks whose fields are all at most 16 bytes eight bytes at a time
(``wordwise=True``, the default) and anything else byte by byte (``_horner`` and a ``reduceat``
of byte classes). The byte-wise path is the one the reader's DLRM-equality tests
(``test_criteo_reader.py``) pin down on long fields; here both paths must give identical
labels, integers, ids and bad-line lists on the same chunk, valid or not, with every byte value
appearing somewhere in a field.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sw_driver.data.criteo_parser import _N_FIELDS, _parse_chunk

_DIGITS = b"0123456789"
_HEX = b"0123456789abcdefABCDEF"
# Bytes next to the ranges the SWAR tests compare against, the minus sign, and bytes >= 0x80.
_EDGES = bytes([0x00, 0x10, 0x19, 0x1F, 0x20, 0x2D, 0x2F, 0x3A, 0x40, 0x41, 0x46, 0x47, 0x60,
                0x61, 0x66, 0x67, 0x7F, 0x80, 0xB0, 0xE1, 0xFF])


_dense_field = st.one_of(
    st.binary(max_size=0),
    st.text(alphabet=_DIGITS.decode(), min_size=1, max_size=16).map(str.encode),
    st.integers(1, 10**15).map(lambda v: b"-" + str(v).encode()))
_cat_field = st.one_of(
    st.binary(max_size=0),
    st.text(alphabet=_HEX.decode(), min_size=1, max_size=16).map(str.encode))


def _spoil(field: bytes, where: int, byte: int) -> bytes:
    """``field`` with one byte replaced (or, if empty, just that byte)."""
    if not field:
        return bytes([byte])
    where %= len(field)
    return field[:where] + bytes([byte]) + field[where + 1:]


# Arbitrary bytes, or a valid field spoiled by one byte near a range edge: each line with it
# is bad exactly when that byte is outside its field's alphabet.
_junk_field = st.one_of(
    st.lists(st.sampled_from(list(_DIGITS + _HEX + _EDGES)), min_size=1, max_size=16).map(bytes),
    st.builds(_spoil, st.one_of(_dense_field, _cat_field), st.integers(0, 15),
              st.sampled_from(list(_EDGES + _HEX))))


def _with_junk(fields: list[bytes], junk: bytes | None, where: int) -> bytes:
    if junk is not None:
        fields[where] = junk
    return b"\t".join(fields)


# A valid line, and in half of them one field replaced by arbitrary bytes: most lines are
# good, and each bad one is bad for one reason, so a check that lets a wrong byte through
# changes the bad-line list.
_line = st.builds(_with_junk,
                  st.builds(lambda label, dense, cats: [label, *dense, *cats],
                            st.sampled_from([b"0", b"1"]),
                            st.lists(_dense_field, min_size=13, max_size=13),
                            st.lists(_cat_field, min_size=26, max_size=26)),
                  st.one_of(st.none(), _junk_field),
                  st.integers(0, _N_FIELDS - 1))


def _same(a, b) -> None:
    np.testing.assert_array_equal(a.bad, b.bad)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.dense, b.dense)
    np.testing.assert_array_equal(a.cats, b.cats)
    assert a.dense.dtype == b.dense.dtype and a.cats.dtype == b.cats.dtype


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(_line, min_size=1, max_size=12))
def test_wordwise_equals_bytewise(lines):
    data = b"\n".join(lines) + b"\n"
    _same(_parse_chunk(data, wordwise=True, compiled=False),
          _parse_chunk(data, wordwise=False, compiled=False))


def test_wordwise_equals_bytewise_on_a_large_random_chunk(rng):
    """Many lines at once: fields of every length 0..16, ~2% junk bytes, both paths agree."""
    n = 3000
    alphabet = np.frombuffer(_HEX, np.uint8)
    lines = []
    for i in range(n):
        fields = [b"01"[i % 2:i % 2 + 1]]
        for k in range(1, _N_FIELDS):
            length = int(rng.integers(0, 17 if k >= 14 else 9))
            chars = (alphabet[rng.integers(0, 10 if k < 14 else len(alphabet), length)]
                     .tobytes())
            if length and rng.random() < 0.02:
                chars = chars[:-1] + bytes([int(rng.choice(list(_EDGES)))])
            fields.append(chars)
        lines.append(b"\t".join(fields))
    data = b"\n".join(lines) + b"\n"
    fast = _parse_chunk(data, wordwise=True, compiled=False)
    slow = _parse_chunk(data, wordwise=False, compiled=False)
    _same(fast, slow)
    assert 0 < len(fast.bad) < n  # both valid and malformed lines were exercised


@pytest.mark.parametrize("text, dense, cat", [
    (b"12345678", 12345678, 0x12345678),
    (b"9999999999999999", 9999999999999999, 0x9999999999999999),
    (b"123456789", 123456789, 0x123456789),
    (b"0000000000000001", 1, 1),
])
def test_two_word_fields(text, dense, cat):
    """Fields of 9-16 bytes take both words: the high word's digits weigh 10**8 / 16**8."""
    line = b"\t".join([b"1", text, *[b""] * 12, text, *[b""] * 25]) + b"\n"
    chunk = _parse_chunk(line, compiled=False)
    assert len(chunk.bad) == 0
    assert int(chunk.dense[0, 0]) == dense
    assert int(chunk.cats[0, 0]) == cat
