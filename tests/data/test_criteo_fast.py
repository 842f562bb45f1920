"""The compiled fast path of the Criteo parser (``csrc/criteo_parse.c``) against the numpy parser.

On any chunk, :func:`parse_well_formed` must either give exactly the numpy parser's arrays (when
the numpy parser finds no bad line) or decline (``None``: when it finds one), so the reader's
results never depend on which parser ran. The C path is also what the reader's DLRM-equality
tests (``test_criteo_reader.py``) exercise by default.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sw_driver.data import criteo_fast
from sw_driver.data.criteo_fast import parse_well_formed, parser_in_use
from sw_driver.data.criteo_parser import _parse_chunk

from test_criteo_parser import _line  # noqa: E402  (pytest puts tests/data on sys.path)

_dense = st.one_of(
    st.just(b""),
    st.integers(0, 10**18 - 1).map(lambda v: str(v).encode()),
    st.text(alphabet="0123456789", min_size=1, max_size=18).map(str.encode),
    st.integers(0, 10**18 - 1).map(lambda v: b"-" + str(v).encode()))
_cat = st.one_of(
    st.just(b""),
    st.integers(0, 2**64 - 1).map(lambda v: f"{v:x}".encode()),
    st.text(alphabet="0123456789abcdefABCDEF", min_size=1, max_size=16).map(str.encode))
_good_line = st.builds(lambda label, dense, cats: b"\t".join([label, *dense, *cats]),
                       st.sampled_from([b"0", b"1"]), st.lists(_dense, min_size=13, max_size=13),
                       st.lists(_cat, min_size=26, max_size=26))


def _agree(data: bytes) -> bool:
    """The C path's answer equals the numpy parser's; True if the C path parsed it."""
    slow = _parse_chunk(data, compiled=False)
    fast = parse_well_formed(data)
    if len(slow.bad) or len(slow.short):
        assert fast is None, "the C path accepted a chunk the numpy parser flags"
        return False
    assert fast is not None, "the C path declined a well-formed chunk"
    labels, dense, cats = fast
    np.testing.assert_array_equal(labels, slow.labels)
    np.testing.assert_array_equal(dense, slow.dense)
    np.testing.assert_array_equal(cats, slow.cats)
    assert (labels.dtype, dense.dtype, cats.dtype) == (slow.labels.dtype, slow.dense.dtype,
                                                       slow.cats.dtype)
    return True


def test_the_compiled_parser_is_in_use():
    """Where a C compiler exists (CI, this machine) the reader runs the compiled parser."""
    if criteo_fast._compiler() is None:
        assert parser_in_use().startswith("numpy (no C compiler")
    else:
        assert parser_in_use().startswith("compiled ("), parser_in_use()


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(_good_line, min_size=1, max_size=20))
def test_well_formed_chunks_parse_as_numpy_does(lines):
    assert _agree(b"\n".join(lines) + b"\n")


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(_line, min_size=1, max_size=12))
def test_junk_is_declined_and_the_rest_agrees(lines):
    """Lines with one field replaced by arbitrary bytes (the numpy parser's own strategy)."""
    _agree(b"\n".join(lines) + b"\n")


def _fields(label=b"1", i1=b"", c1=b"", n=40):
    """A line of ``n`` fields: the label, I1 and C1 as given, the rest empty."""
    fields = [label, i1, *[b""] * 12, c1, *[b""] * 25]
    return b"\t".join(fields[:n] + [b""] * (n - 40))


@pytest.mark.parametrize("text, accepted", [
    (_fields(i1=b"9" * 18, c1=b"F" * 16), True),            # the widest fields
    (_fields(i1=b"9" * 19), False),                          # 19 digits
    (_fields(c1=b"1" * 17), False),                          # 17 hex digits
    (_fields(i1=b"-"), False),                               # a lone minus
    (_fields(i1=b"-0"), True),                               # minus zero
    (_fields(i1=b"-12"), True),                              # negative: 0
    (_fields(i1=b"--1"), False),
    (_fields(i1=b"+1"), False),
    (_fields(label=b"2"), False),
    (_fields(label=b"01"), False),
    (_fields(n=39), False),
    (_fields(n=41), False),
    (b"", False),                                            # an empty line
    (_fields(c1=b"ab\rcd"), False),                          # a lone CR
    (_fields(i1=b"1.0"), False),                             # a float
    (_fields(c1=b"g1"), False),
])
def test_edges(text, accepted):
    assert _agree(text + b"\n") is accepted


def test_crlf_chunks_take_the_fast_path():
    lines = [b"\t".join([b"1", *[b"7"] * 13, *[b"a1"] * 26]),
             b"\t".join([b"0", *[b""] * 13, *[b"FFFFFFFFFFFFFFFF"] * 26])]
    assert _agree(b"\r\n".join(lines) + b"\r\n")
    assert _agree(b"\r\n".join(lines) + b"\n")


def test_chunks_that_do_not_end_a_line_are_declined():
    line = b"\t".join([b"1", *[b"7"] * 13, *[b"a1"] * 26])
    assert parse_well_formed(line) is None
    assert parse_well_formed(line + b"\n" + line) is None
    empty = parse_well_formed(b"")
    assert empty is not None and all(len(a) == 0 for a in empty)


def test_numpy_can_be_forced(monkeypatch):
    monkeypatch.setenv("HOTLINE_CRITEO_PARSER", "numpy")
    lib, why = criteo_fast._build()
    assert lib is None and why == "numpy (HOTLINE_CRITEO_PARSER=numpy)"


def test_a_failing_compiler_falls_back_with_its_log(monkeypatch, tmp_path):
    monkeypatch.setattr(criteo_fast, "BUILD_ROOT", tmp_path)
    monkeypatch.setattr(criteo_fast, "_CFLAGS", criteo_fast._CFLAGS + ["-no-such-flag-x"])
    lib, why = criteo_fast._build()
    assert lib is None and why.startswith("numpy (") and "build.log" in why
    log = next(tmp_path.rglob("build.log"))
    assert "no-such-flag-x" in log.read_text()
