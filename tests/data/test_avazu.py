"""Avazu: the generator's shape, the CSV round trip, the reader's semantics and errors."""

from __future__ import annotations

import numpy as np
import pytest

from sw_driver.data.avazu import (AVAZU_COLUMNS, AVAZU_TABLE_SIZES, AvazuFormatError,
                                  AvazuReader, SyntheticAvazu)

HEADER = "id,click,hour," + ",".join(AVAZU_COLUMNS)
# The first line of the public train.csv.
REAL = ("1000009418151094273,0,14102100,1005,0,1fbe01fe,f3845767,28905ebd,ecad2386,7801e8d9,"
        "07d7df22,a99f214a,ddd2926e,44956a24,1,2,15706,320,50,1722,0,35,-1,79")


def test_shape():
    assert len(AVAZU_TABLE_SIZES) == len(AVAZU_COLUMNS) == 21
    assert sum(AVAZU_TABLE_SIZES) == 9_449_205
    g = SyntheticAvazu(100, seed=1)
    assert g.table_sizes == AVAZU_TABLE_SIZES and g.n_dense == 1
    small = SyntheticAvazu(5000, scale=1e-3, seed=1)
    block = small.generate(5000)
    assert block.dense_raw.shape == (5000, 1) and 0 <= block.dense_raw.min()
    assert block.dense_raw.max() <= 23
    assert (block.sparse < np.asarray(small.table_sizes)).all()
    assert 0.12 < block.labels.mean() < 0.22                 # Avazu's 17% clicks
    with pytest.raises(TypeError, match="write_avazu"):
        small.write_criteo("x")


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_round_trip(tmp_path, seed, suffix):
    g = SyntheticAvazu(2500, scale=1e-3, seed=seed % 2**31)
    path = tmp_path / f"train{suffix}"
    assert g.write_avazu(path, chunk_rows=999) == 2500
    back = AvazuReader(path, chunk_rows=700)
    blocks = list(back)
    assert [len(b.labels) for b in blocks] == [700, 700, 700, 400]
    assert back.read().equals(g.generate(2500))
    assert len(AvazuReader([path, path], samples=3000).read().labels) == 3000


def test_reads_the_public_format(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(HEADER + "\n" + REAL + "\n")
    block = AvazuReader(path).read()
    assert block.dense_raw.tolist() == [[0]] and block.labels.tolist() == [0.0]
    row = block.sparse[0]
    assert row[0] == 1005 and row[2] == 0x1FBE01FE and row[8] == 0xA99F214A
    assert row[19] == 0xFFFF_FFFF                            # C20 = -1, 32-bit
    hashed = AvazuReader(path, max_ind_range=1000).read().sparse[0]
    assert hashed[2] == 0x1FBE01FE % 1000 and hashed[19] == 999
    test_csv = tmp_path / "test.csv"
    test_csv.write_text(HEADER.replace("click,", "") + "\n"
                        + REAL.replace(",0,14102100", ",14102100") + "\n")
    assert AvazuReader(test_csv).read().sparse.tolist() == block.sparse.tolist()


@pytest.mark.parametrize("line,reason", [
    (REAL + ",7", "25 fields"),
    (REAL.replace(",0,14102100", ",2,14102100"), "click = '2'"),
    (REAL.replace("14102100", "141021"), "hour = '141021'"),
    (REAL.replace("14102100", "14102124"), "hour"),
    (REAL.replace("1fbe01fe", "1fbe01fg"), "site_id = '1fbe01fg'"),
    (REAL.replace(",15706,", ",15x06,"), "C14 = '15x06'"),
    ("", "empty line"),
])
def test_malformed_lines_name_file_line_and_column(tmp_path, line, reason):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "\n" + REAL + "\n" + line + "\n")
    with pytest.raises(AvazuFormatError, match=f"bad.csv:3: .*{reason}") as info:
        AvazuReader(path).read()
    assert info.value.line_no == 3 and info.value.path == str(path)


def test_bad_header_and_arguments(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("label,I1\n1,2\n")
    with pytest.raises(AvazuFormatError, match="x.csv:1: not an Avazu header"):
        AvazuReader(path).read()
    for bad in (dict(max_ind_range=0), dict(max_ind_range=True), dict(chunk_rows=0)):
        with pytest.raises(ValueError):
            AvazuReader(path, **bad)
