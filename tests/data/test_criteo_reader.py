"""Criteo reader: DLRM semantics, id modes, streaming, malformed input, round trips."""

from __future__ import annotations

import gzip
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sw_driver.data import (
    CriteoFormatError,
    CriteoReader,
    CriteoSkippedLinesWarning,
    CriteoVocabulary,
    SampleBlock,
    read_criteo,
    write_criteo,
)

# -- reference: DLRM's line-by-line parsing, written independently of the vectorised reader --


def make_line(label="0", dense=None, cats=None) -> str:
    """A Criteo line (no newline); the defaults give a valid sample with every feature empty."""
    dense = [""] * 13 if dense is None else [str(x) for x in dense]
    cats = [""] * 26 if cats is None else [str(x) for x in cats]
    assert len(dense) == 13 and len(cats) == 26
    return "\t".join([str(label), *dense, *cats])


def dlrm_parse(lines: list[str], max_ind_range: int | None = None) -> SampleBlock:
    """DLRM's data_utils semantics: empty -> "0", int(), clip negatives, int(x, 16) [% m]."""
    labels, dense, sparse = [], [], []
    for line in lines:
        fields = ["0" if f == "" else f for f in line.split("\t")]
        labels.append(int(fields[0]))
        dense.append([max(int(x), 0) for x in fields[1:14]])
        cats = [int(x, 16) for x in fields[14:]]
        sparse.append([c % max_ind_range for c in cats] if max_ind_range else cats)
    return SampleBlock(
        np.array(dense, np.int64).reshape(-1, 13),
        np.array(sparse, np.int64).reshape(-1, 26),
        np.array(labels, np.float32),
    )


def write_lines(path, lines: list[str], newline: str = "\n", final_newline: bool = True) -> None:
    text = newline.join(lines) + (newline if final_newline else "")
    data = text.encode("utf-8", errors="surrogateescape")
    with (gzip.open if str(path).endswith(".gz") else open)(path, "wb") as handle:
        handle.write(data)


def random_lines(rng: np.random.Generator, n: int) -> list[str]:
    """Valid lines with empties, negatives, zeros, mixed-case hex of varying length."""
    lines = []
    for _ in range(n):
        dense = [
            "" if r < 0.2 else str(int(v))
            for r, v in zip(rng.random(13), rng.integers(-5, 10**7, 13), strict=True)
        ]
        cats = []
        for r, v in zip(rng.random(26), rng.integers(0, 2**32, 26), strict=True):
            if r < 0.1:
                cats.append("")
            elif r < 0.2:
                cats.append(f"{int(v) % 4096:X}")
            else:
                cats.append(f"{int(v):08x}")
        lines.append(make_line(int(rng.random() < 0.25), dense, cats))
    return lines


# -- DLRM semantics on hand-written lines ------------------------------------------------------


def test_dlrm_semantics_hand_written(tmp_path):
    path = tmp_path / "hand.txt"
    lines = [
        make_line(1, [5, "", -1, 0, 12345678901, "", "", "", "", "", "", "", "-3"],
                  ["68fd1e64", "", "FFFFFFFF", "0", "a", *[""] * 21]),
        make_line(0),  # everything missing
    ]
    write_lines(path, lines)
    block = read_criteo(path)
    assert block.labels.tolist() == [1.0, 0.0]
    assert block.dense_raw[0].tolist() == [5, 0, 0, 0, 12345678901, 0, 0, 0, 0, 0, 0, 0, 0]
    assert block.sparse[0, :5].tolist() == [0x68FD1E64, 0, 0xFFFFFFFF, 0, 10]
    assert block.dense_raw[1].tolist() == [0] * 13 and block.sparse[1].tolist() == [0] * 26
    assert block.dense.dtype == np.float32
    np.testing.assert_array_equal(block.dense[0, :2], np.log(np.float32([6, 1])))
    assert block.equals(dlrm_parse(lines))


def test_crlf_and_missing_final_newline(tmp_path, rng):
    lines = random_lines(rng, 20)
    write_lines(tmp_path / "lf.txt", lines)
    write_lines(tmp_path / "crlf.txt", lines, newline="\r\n", final_newline=False)
    assert read_criteo(tmp_path / "crlf.txt").equals(read_criteo(tmp_path / "lf.txt"))


def test_empty_file(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    block = read_criteo(tmp_path / "empty.txt")
    assert len(block) == 0 and block.sparse.shape == (0, 26)


# -- id modes ------------------------------------------------------------------------------------


def test_max_ind_range(tmp_path, rng):
    lines = random_lines(rng, 300)
    write_lines(tmp_path / "d.txt", lines)
    reader = CriteoReader(tmp_path / "d.txt", max_ind_range=1000)
    assert reader.table_sizes == (1000,) * 26
    block = reader.read()
    assert block.equals(dlrm_parse(lines, max_ind_range=1000))
    assert block.sparse.max() < 1000


def test_raw_ids_have_no_table_sizes(tmp_path):
    write_lines(tmp_path / "d.txt", [make_line()])
    assert CriteoReader(tmp_path / "d.txt").table_sizes is None


def test_vocabulary_sorted_numbering(tmp_path):
    # Column C1 sees 0x30, 0x10, (missing = 0), 0x30: distinct values 0, 0x10, 0x30 -> 0, 1, 2.
    cols = [["30"], ["10"], [""], ["30"]]
    lines = [make_line(0, None, c + ["7"] * 25) for c in cols]
    write_lines(tmp_path / "v.txt", lines)
    vocab = CriteoVocabulary.build(tmp_path / "v.txt")
    assert vocab.table_sizes == (3,) + (1,) * 25
    block = read_criteo(tmp_path / "v.txt", vocabulary=vocab)
    assert block.sparse[:, 0].tolist() == [2, 1, 0, 2]
    assert (block.sparse[:, 1:] == 0).all()


def test_vocabulary_first_seen_numbering_is_dlrms(tmp_path):
    cols = [["30"], ["10"], [""], ["30"], ["20"]]
    lines = [make_line(0, None, c + [""] * 25) for c in cols]
    write_lines(tmp_path / "v.txt", lines)
    vocab = CriteoVocabulary.build(tmp_path / "v.txt", order="first_seen", chunk_bytes=200)
    block = read_criteo(tmp_path / "v.txt", vocabulary=vocab)
    assert block.sparse[:, 0].tolist() == [0, 1, 2, 0, 3]


def test_vocabulary_matches_np_unique(tmp_path, rng):
    """Sorted ids are np.unique's inverse over the whole stream, whatever the chunking."""
    lines = random_lines(rng, 400)
    for line in lines[::7]:  # make repeats common, as in real data
        lines.append(line)
    paths = [tmp_path / "a.txt", tmp_path / "b.txt.gz"]
    write_lines(paths[0], lines[:250])
    write_lines(paths[1], lines[250:])
    raw = dlrm_parse(lines).sparse
    vocab = CriteoVocabulary.build(paths, chunk_bytes=1500)
    block = CriteoReader(paths, vocabulary=vocab, chunk_bytes=999).read()
    for t in range(26):
        values, inverse = np.unique(raw[:, t], return_inverse=True)
        assert vocab.table_sizes[t] == len(values)
        np.testing.assert_array_equal(block.sparse[:, t], inverse)
    first_seen = CriteoVocabulary.build(paths, order="first_seen", chunk_bytes=1500)
    ids = CriteoReader(paths, vocabulary=first_seen).read().sparse
    for t in range(26):
        expected = {}
        for v in raw[:, t].tolist():
            expected.setdefault(v, len(expected))
        assert ids[:, t].tolist() == [expected[v] for v in raw[:, t].tolist()]


def test_vocabulary_after_max_ind_range_and_save_load(tmp_path, rng):
    lines = random_lines(rng, 200)
    write_lines(tmp_path / "d.txt", lines)
    vocab = CriteoVocabulary.build(tmp_path / "d.txt", max_ind_range=50)
    reduced = dlrm_parse(lines, max_ind_range=50).sparse
    assert vocab.table_sizes == tuple(len(np.unique(reduced[:, t])) for t in range(26))
    block = read_criteo(tmp_path / "d.txt", max_ind_range=50, vocabulary=vocab)
    for t in range(26):
        inverse = np.unique(reduced[:, t], return_inverse=True)[1]
        np.testing.assert_array_equal(block.sparse[:, t], inverse)
    with pytest.raises(ValueError, match="max_ind_range=50"):
        CriteoReader(tmp_path / "d.txt", vocabulary=vocab)
    vocab.save(tmp_path / "vocab.npz")
    assert CriteoVocabulary.load(tmp_path / "vocab.npz") == vocab


def test_vocabulary_unknown_value_names_line(tmp_path):
    write_lines(tmp_path / "train.txt", [make_line(0, None, ["1"] * 26)] * 3)
    write_lines(tmp_path / "test.txt", [make_line(0, None, ["1"] * 26)] * 4
                + [make_line(0, None, ["1"] * 5 + ["2"] + ["1"] * 20)])
    vocab = CriteoVocabulary.build(tmp_path / "train.txt")
    with pytest.raises(KeyError, match=r"test\.txt:5: value 0x2 of column C6"):
        read_criteo(tmp_path / "test.txt", vocabulary=vocab)


# -- streaming -----------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_bytes", [1, 100, 777, 4096, 1 << 20])
def test_chunked_equals_whole(tmp_path, rng, chunk_bytes):
    lines = random_lines(rng, 200)
    write_lines(tmp_path / "d.txt", lines)
    reader = CriteoReader(tmp_path / "d.txt", chunk_bytes=chunk_bytes)
    blocks = list(reader.blocks())
    if chunk_bytes <= 4096:
        assert len(blocks) > 1
    assert SampleBlock.concat(blocks).equals(dlrm_parse(lines))
    assert SampleBlock.concat(list(reader.blocks())).equals(dlrm_parse(lines))  # restartable


def test_gzip_equals_plain(tmp_path, rng):
    lines = random_lines(rng, 150)
    write_lines(tmp_path / "d.txt", lines)
    write_lines(tmp_path / "d.txt.gz", lines)
    plain = read_criteo(tmp_path / "d.txt")
    assert read_criteo(tmp_path / "d.txt.gz", chunk_bytes=1000).equals(plain)


def test_several_files_are_one_stream(tmp_path, rng):
    lines = random_lines(rng, 90)
    paths = [tmp_path / f"day_{i}" for i in range(3)]
    for i, path in enumerate(paths):
        write_lines(path, lines[30 * i:30 * (i + 1)])
    assert read_criteo(paths).equals(dlrm_parse(lines))


# -- malformed input -----------------------------------------------------------------------------

BAD_LINE_NO = 137  # past several 1000-byte chunks of ~240-byte lines


def _with_field(k: int, text: str) -> str:
    fields = make_line(1, list(range(13)), ["1f"] * 26).split("\t")
    fields[k] = text
    return "\t".join(fields)


MALFORMED = {
    "39 fields, refused": (
        "\t".join(make_line().split("\t")[:-1]),
        "expected 40 tab-separated fields, found 39 .*short lines are refused",
    ),
    "41 fields": (make_line() + "\t", "found 41"),
    "empty line": ("", "found 1"),
    "space separated": (make_line().replace("\t", " ", 3),
                        "label .*; the line has only 37 of 40 tab-separated fields"),
    "label 2": (_with_field(0, "2"), "label must be 0 or 1, found '2'"),
    "label empty": (_with_field(0, ""), "label must be 0 or 1"),
    "label 01": (_with_field(0, "01"), "label must be 0 or 1"),
    "dense hex": (_with_field(3, "1a"), "I3 .* found '1a'"),
    "dense float": (_with_field(1, "1.5"), "I1 .* found '1.5'"),
    "dense plus": (_with_field(13, "+3"), "I13"),
    "dense space": (_with_field(2, " 3"), "I2"),
    "dense bare minus": (_with_field(4, "-"), "I4"),
    "dense inner minus": (_with_field(4, "3-4"), "I4"),
    "dense 19 digits": (_with_field(5, "1" * 19), "I5 .* at most 18 digits"),
    "dense underscore": (_with_field(6, "1_000"), "I6"),
    "cat not hex": (_with_field(14, "xyz"), "C1 .* found 'xyz'"),
    "cat 0x": (_with_field(20, "0x12"), "C7 .* found '0x12'"),
    "cat minus": (_with_field(39, "-1f"), "C26"),
    "cat 17 digits": (_with_field(25, "1" * 17), "C12 .* at most 16 hex digits"),
    "non-ascii": (_with_field(30, "\udcff1f"), r"C17 .* found '\\xff1f'"),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_line_raises_with_line_number(tmp_path, rng, kind):
    bad, reason = MALFORMED[kind]
    lines = random_lines(rng, 300)
    lines[BAD_LINE_NO - 1] = bad
    path = tmp_path / "bad.txt"
    write_lines(path, lines)
    short_lines = "raise" if kind.endswith("refused") else "pad"
    reader = CriteoReader(path, chunk_bytes=1000, short_lines=short_lines)
    blocks = reader.blocks()
    first = next(blocks)  # streaming: lines before the bad one arrive first
    assert len(first) > 0
    with pytest.raises(CriteoFormatError, match=reason) as info:
        list(blocks)
    error = info.value
    assert isinstance(error, ValueError)
    assert (error.path, error.line_no) == (str(path), BAD_LINE_NO)
    assert str(error).startswith(f"{path}:{BAD_LINE_NO}: ")
    assert pickle.loads(pickle.dumps(error)).line_no == BAD_LINE_NO


def test_first_bad_line_is_reported(tmp_path, rng):
    lines = random_lines(rng, 50)
    lines[9] = _with_field(0, "x")
    lines[7] = _with_field(3, "y")
    write_lines(tmp_path / "d.txt", lines)
    with pytest.raises(CriteoFormatError, match="I3") as info:
        read_criteo(tmp_path / "d.txt")
    assert info.value.line_no == 8


def test_raw_id_too_large_for_int64(tmp_path):
    write_lines(tmp_path / "d.txt", [make_line()] * 2 + [make_line(0, None, ["f" * 16] * 26)])
    with pytest.raises(CriteoFormatError, match=r"d\.txt:3: .*C1 .* max_ind_range"):
        read_criteo(tmp_path / "d.txt")
    block = read_criteo(tmp_path / "d.txt", max_ind_range=7)
    assert block.sparse[2, 0] == 0xFFFF_FFFF_FFFF_FFFF % 7


def test_skip_mode_reports_and_keeps_good_lines(tmp_path, rng):
    lines = random_lines(rng, 400)
    bad_line_nos = [1, 2, 137, 138, 250, 400]
    kinds = sorted(MALFORMED)
    for i, line_no in enumerate(bad_line_nos):
        lines[line_no - 1] = MALFORMED[kinds[(3 * i) % len(kinds)]][0]
    path = tmp_path / "bad.txt.gz"
    write_lines(path, lines)
    reader = CriteoReader(path, chunk_bytes=1000, on_error="skip", short_lines="raise")
    expected = r"skipped 6 malformed line\(s\) \(lines 1, 2, 137"
    with pytest.warns(CriteoSkippedLinesWarning, match=expected):
        block = reader.read()
    assert [e.line_no for e in reader.skipped] == bad_line_nos
    assert all(isinstance(e, CriteoFormatError) and e.path == str(path) for e in reader.skipped)
    good = [line for i, line in enumerate(lines, start=1) if i not in bad_line_nos]
    assert block.equals(dlrm_parse(good))
    # A second pass reports afresh rather than accumulating.
    with pytest.warns(CriteoSkippedLinesWarning):
        reader.read()
    assert len(reader.skipped) == len(bad_line_nos)


def test_skip_mode_is_quiet_on_clean_files(tmp_path, rng):
    write_lines(tmp_path / "d.txt", random_lines(rng, 10))
    reader = CriteoReader(tmp_path / "d.txt", on_error="skip")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reader.read()
    assert reader.skipped == []


def test_bad_options():
    with pytest.raises(ValueError, match="on_error"):
        CriteoReader("x", on_error="ignore")
    with pytest.raises(ValueError, match="max_ind_range"):
        CriteoReader("x", max_ind_range=0)
    with pytest.raises(ValueError, match="chunk_bytes"):
        CriteoReader("x", chunk_bytes=0)
    with pytest.raises(ValueError, match="order"):
        CriteoVocabulary.build("x", order="random")


# -- round trips and properties ----------------------------------------------------------------

# Each example overwrites the same file in the function-scoped tmp_path, so sharing it is safe.
TMP_PATH_IS_FRESH_ENOUGH = [HealthCheck.function_scoped_fixture]

_dense_field = st.one_of(
    st.just(""), st.integers(-(10**18) + 1, 10**18 - 1).map(str), st.integers(-3, 3).map(str)
)
_cat_field = st.one_of(
    st.just(""),
    st.integers(0, 2**63 - 1).map(lambda v: f"{v:x}"),
    st.integers(0, 2**32 - 1).map(lambda v: f"{v:08X}"),
    st.integers(0, 255).map(lambda v: f"{v:x}"),
)
_line = st.builds(
    lambda label, dense, cats: make_line(label, dense, cats),
    st.sampled_from("01"),
    st.lists(_dense_field, min_size=13, max_size=13),
    st.lists(_cat_field, min_size=26, max_size=26),
)


@settings(max_examples=60, deadline=None, suppress_health_check=TMP_PATH_IS_FRESH_ENOUGH)
@given(lines=st.lists(_line, min_size=1, max_size=30), chunk_bytes=st.integers(1, 3000))
def test_reader_matches_dlrm_on_random_valid_lines(tmp_path, lines, chunk_bytes):
    path = tmp_path / "prop.txt"
    write_lines(path, lines)
    assert read_criteo(path, chunk_bytes=chunk_bytes).equals(dlrm_parse(lines))


@settings(max_examples=40, deadline=None, suppress_health_check=TMP_PATH_IS_FRESH_ENOUGH)
@given(
    lines=st.lists(_line, min_size=2, max_size=20),
    data=st.data(),
    junk=st.sampled_from(["x", "1.0", " ", "0x1", "+1", "--1", "1-", "\t", "\udc80"]),
)
def test_any_corrupted_field_is_caught(tmp_path, lines, data, junk):
    row = data.draw(st.integers(0, len(lines) - 1))
    k = data.draw(st.integers(0, 39))
    fields = lines[row].split("\t")
    fields[k] = fields[k] + junk if k else junk
    lines[row] = "\t".join(fields)
    path = tmp_path / "corrupt.txt"
    write_lines(path, lines)
    with pytest.raises(CriteoFormatError) as info:
        read_criteo(path, chunk_bytes=data.draw(st.integers(1, 2000)))
    assert info.value.line_no == row + 1


@settings(max_examples=30, deadline=None, suppress_health_check=TMP_PATH_IS_FRESH_ENOUGH)
@given(n=st.integers(0, 50), seed=st.integers(0, 2**32 - 1), gz=st.booleans())
def test_write_then_read_round_trip(tmp_path, n, seed, gz):
    rng = np.random.default_rng(seed)
    block = SampleBlock(
        rng.integers(0, 10**12, (n, 13)) * (rng.random((n, 13)) < 0.7),
        rng.integers(0, 2**40, (n, 26)),
        (rng.random(n) < 0.3).astype(np.float32),
    )
    path = tmp_path / ("rt.txt.gz" if gz else "rt.txt")
    assert write_criteo(path, block) == n
    assert read_criteo(path).equals(block)
