"""The layouts users have: Kaggle TSV (empty and negative fields), TSV with a header, DeepCTR's
CSV with header (``260.0``-style integers), short lines, gzip, several files, ``samples=``."""

from __future__ import annotations

import numpy as np
import pytest

from sw_driver.data import CriteoFormatError, CriteoReader, CriteoVocabulary, read_criteo
from sw_driver.data.criteo_formats import CriteoLayout, csv_to_tsv, detect_layout
from tests.data.criteo_samples import (KAGGLE_HEAD, KAGGLE_HEAD_2_DENSE,
                                       drop_trailing_empty_fields, kaggle_like_lines,
                                       to_csv_lines, write_lines)


def test_kaggle_head_has_dlrms_semantics(tmp_path):
    block = read_criteo(write_lines(tmp_path / "train.txt", KAGGLE_HEAD))
    assert len(block) == 4 and block.labels.tolist() == [0, 0, 1, 0]
    assert block.dense_raw[0].tolist() == [1, 1, 5, 0, 1382, 4, 15, 2, 181, 1, 2, 0, 2]
    assert block.dense_raw[2].tolist() == KAGGLE_HEAD_2_DENSE          # -1 and empties -> 0
    assert block.dense_raw[3, 1] == 0                                   # -2 -> 0
    assert block.sparse[0, 0] == 0x68FD1E64 and block.sparse[0, 21] == 0   # C22 empty -> 0
    assert block.sparse[2, 25] == 0 and block.sparse[3, 4:].tolist()[-1] == 0


def test_csv_with_header_reads_as_the_tsv(tmp_path, rng):
    lines = KAGGLE_HEAD + kaggle_like_lines(300, rng)
    tsv = read_criteo(write_lines(tmp_path / "train.txt", lines))
    reader = CriteoReader(write_lines(tmp_path / "train.csv", to_csv_lines(lines)),
                          chunk_bytes=700)
    assert reader.read().equals(tsv)
    assert reader.stats.layouts[str(tmp_path / "train.csv")] == CriteoLayout("csv", True)
    assert reader.stats.lines == len(lines) and reader.stats.samples == len(lines)


def test_layout_detection():
    header = ",".join(["label", *(f"I{k}" for k in range(1, 14)),
                       *(f"C{k}" for k in range(1, 27))])
    assert detect_layout("f", header.encode()) == CriteoLayout("csv", True)
    assert detect_layout("f", header.lower().replace(",", '","').join('""').encode()
                         + b"\r") == CriteoLayout("csv", True)
    assert detect_layout("f", header.replace(",", "\t").encode()) == CriteoLayout("tsv", True)
    assert detect_layout("f", KAGGLE_HEAD[0].encode()) == CriteoLayout("tsv", False)
    assert detect_layout("f", b"") == CriteoLayout("tsv", False)
    assert csv_to_tsv(b"1,260.0,-1.00,7.,2.5,0.0,ab\n") == b"1\t260\t-1\t7\t2.5\t0\tab\n"


def test_tsv_header_is_skipped_and_lines_keep_their_numbers(tmp_path, rng):
    lines = kaggle_like_lines(20, rng)
    header = "\t".join(["label", *(f"I{k}" for k in range(1, 14)),
                        *(f"C{k}" for k in range(1, 27))])
    with_header = [header, *lines]
    with_header[8] = with_header[8].replace("\t", "\tzz", 1)            # line 9, I1
    path = write_lines(tmp_path / "h.txt", with_header)
    with pytest.raises(CriteoFormatError, match=r"h\.txt:9: integer feature I1") as info:
        read_criteo(path)
    assert info.value.line_no == 9


def test_csv_without_header_is_refused_naming_the_header(tmp_path, rng):
    csv = to_csv_lines(kaggle_like_lines(5, rng))[1:]
    path = write_lines(tmp_path / "noheader.csv", csv)
    with pytest.raises(CriteoFormatError, match=r"noheader\.csv:1: a comma-separated file "
                                                r"must start with the header label,I1"):
        read_criteo(path)


@pytest.mark.parametrize("bad, line_no, reason", [
    ("2.5", 4, r"I3 must be .* found '2\.5' \(a float is accepted only where it is whole"),
    ("1e3", 4, r"I3 .* found '1e3'"),
    ("x", 4, r"I3 .* found 'x'"),
])
def test_csv_errors_name_file_line_and_field(tmp_path, rng, bad, line_no, reason):
    csv = to_csv_lines(kaggle_like_lines(10, rng))
    fields = csv[line_no - 1].split(",")
    fields[3] = bad
    csv[line_no - 1] = ",".join(fields)
    path = write_lines(tmp_path / "bad.csv", csv)
    with pytest.raises(CriteoFormatError, match=reason) as info:
        read_criteo(path)
    assert (info.value.path, info.value.line_no) == (str(path), line_no)


def test_csv_wrong_field_count_says_comma(tmp_path, rng):
    csv = to_csv_lines(kaggle_like_lines(10, rng))
    csv[5] = csv[5] + ",1,2"
    path = write_lines(tmp_path / "bad.csv", csv)
    with pytest.raises(CriteoFormatError, match=r"bad\.csv:6: expected 40 comma-separated "
                                                r"fields, found 42"):
        read_criteo(path)


def test_short_lines_read_as_empty_and_counted(tmp_path, rng):
    lines = KAGGLE_HEAD + kaggle_like_lines(200, rng)
    full = read_criteo(write_lines(tmp_path / "full.txt", lines))
    short = drop_trailing_empty_fields(lines)
    n_short = sum(len(line.split("\t")) < 40 for line in short)
    assert n_short >= 20
    reader = CriteoReader(write_lines(tmp_path / "short.txt.gz", short), chunk_bytes=900)
    assert reader.read().equals(full)
    assert reader.stats.short_lines == n_short
    # The CSV layout loses trailing commas the same way.
    csv = [line.rstrip(",") for line in to_csv_lines(lines)]
    reader = CriteoReader(write_lines(tmp_path / "short.csv", csv))
    assert reader.read().equals(full) and reader.stats.short_lines == n_short


def test_short_lines_refused_on_request(tmp_path, rng):
    lines = drop_trailing_empty_fields(KAGGLE_HEAD + kaggle_like_lines(50, rng))
    first_short = next(i for i, line in enumerate(lines) if len(line.split("\t")) < 40)
    path = write_lines(tmp_path / "short.txt", lines)
    with pytest.raises(CriteoFormatError, match="short lines are refused") as info:
        read_criteo(path, short_lines="raise")
    assert info.value.line_no == first_short + 1
    with pytest.raises(ValueError, match="short_lines"):
        CriteoReader(path, short_lines="ignore")


def test_empty_line_stays_malformed_with_padding(tmp_path, rng):
    lines = kaggle_like_lines(10, rng)
    lines[4] = ""
    with pytest.raises(CriteoFormatError, match=r":5: expected 40 tab-separated fields, found 1"):
        read_criteo(write_lines(tmp_path / "e.txt", lines))


def test_several_gz_files_in_mixed_layouts_are_one_stream(tmp_path, rng):
    lines = kaggle_like_lines(90, rng)
    paths = [write_lines(tmp_path / "day_0.gz", lines[:30]),
             write_lines(tmp_path / "day_1.csv.gz", to_csv_lines(lines[30:60])),
             write_lines(tmp_path / "day_2", drop_trailing_empty_fields(lines[60:]))]
    whole = read_criteo(write_lines(tmp_path / "all.txt", lines))
    reader = CriteoReader(paths, chunk_bytes=1000)
    assert reader.read().equals(whole)
    assert [reader.stats.layouts[str(p)].name for p in paths] == ["tsv", "csv", "tsv"]


def test_samples_reads_only_what_it_needs(tmp_path, rng):
    lines = kaggle_like_lines(400, rng)
    lines[300] = "not a criteo line"                   # never reached with samples=120
    path = write_lines(tmp_path / "d.txt", lines)
    reader = CriteoReader(path, chunk_bytes=2000, samples=120)
    block = reader.read()
    assert len(block) == 120
    assert block.equals(read_criteo(write_lines(tmp_path / "head.txt", lines[:120])))
    assert reader.stats.lines < 200 and reader.stats.samples == 120
    vocab = CriteoVocabulary.build(path, chunk_bytes=2000, samples=120)
    assert vocab == CriteoVocabulary.build(tmp_path / "head.txt")
    with pytest.raises(CriteoFormatError, match=":301:"):
        read_criteo(path, samples=0)                    # 0: all


def test_progress_sees_lines_and_bytes(tmp_path, rng):
    path = write_lines(tmp_path / "d.txt", kaggle_like_lines(300, rng))
    seen = []
    CriteoReader(path, chunk_bytes=3000,
                 progress=lambda s: seen.append((s.lines, s.text_bytes))).read()
    assert len(seen) > 5 and seen[-1] == (300, path.stat().st_size)
    assert all(a[0] < b[0] and a[1] < b[1] for a, b in zip(seen, seen[1:]))
    with pytest.raises(ValueError, match="samples"):
        CriteoReader(path, samples=-1)
    np.testing.assert_array_equal(np.diff([s[0] for s in seen]) > 0, True)
