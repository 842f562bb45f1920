"""Criteo files in the layouts users have, for the reader, dataset and ``make sim`` tests.

``KAGGLE_HEAD`` are lines in the exact shape of Criteo Kaggle's ``train.txt`` (the public
file's first two lines, then lines with its other features: negative ``I2``, runs of empty
integer and categorical fields, an empty last field). :func:`kaggle_like_lines` makes any
number of such lines: Kaggle's missing rates, negative values, categoricals drawn with skew from
a small vocabulary of 8-hex-digit hashes (so a 1,000-line file has a few thousand distinct ids).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

KAGGLE_HEAD = [
    "0\t1\t1\t5\t0\t1382\t4\t15\t2\t181\t1\t2\t\t2\t68fd1e64\t80e26c9b\tfb936136\t7b4723c4\t"
    "25c83c98\t7e0ccccf\tde7995b8\t1f89b1b2\ta73ee510\ta8cd5504\tb2cb9c98\t37c9c164\t2824a5f6\t"
    "1adce6ef\t8ba8b39a\t891b62e7\te5ba7672\tf54016b9\t21ddcdc9\tb1252a9d\t07b5194c\t\t3a171ecb\t"
    "c5c50484\te8b83407\t9727dd16",
    "0\t2\t0\t44\t1\t102\t8\t2\t2\t4\t1\t1\t\t4\t68fd1e64\tf0cf0024\t6f67f7e5\t41274cd7\t"
    "25c83c98\tfe6b92e5\t922afcc0\t0b153874\ta73ee510\t2b53e5fb\t4f1b46f3\t623049e6\td7020589\t"
    "b28479f6\te6c5b5cd\tc92f3b61\t07c540c4\tb04e4670\t21ddcdc9\t5840adea\t60f6221e\t\t3a171ecb\t"
    "43f13e8b\te8b83407\t731c3655",
    "1\t\t-1\t\t\t12781\t\t0\t0\t0\t\t0\t\t\t05db9164\t510b40a5\td03e7c24\teb1fd928\t"
    "25c83c98\t\t52283d1c\t0b153874\ta73ee510\t015ac893\te51ddf94\t951fe4a9\t3516f6e6\t"
    "07d13a8f\t2ae4121c\t8ec71479\td4bb7bd8\t70d0f5f9\t\t\t0e63fca0\t\t32c7478e\t0e8fe315\t\t",
    "0\t0\t-2\t\t\t3\t\t0\t\t\t0\t\t\t\t8cf07265\t942f9a8d\t\t\t4cf72387\t7e0ccccf\t"
    "2a11b7c1\t0b153874\t7cc72ec2\t3b08e48b\t\t\t\t64c94865\t\t\t\t\t\t\t\t\t\t\t\t",
]

#: What DLRM makes of ``KAGGLE_HEAD[2]``: empty -> 0, ``-1`` -> 0.
KAGGLE_HEAD_2_DENSE = [0, 0, 0, 0, 12781, 0, 0, 0, 0, 0, 0, 0, 0]

# Kaggle's missing rates of I1..I13 and C1..C26 (rounded).
_DENSE_MISSING = [0.45, 0.0, 0.21, 0.22, 0.03, 0.22, 0.04, 0.0, 0.04, 0.45, 0.04, 0.77, 0.22]
_CAT_MISSING = [0.0] * 2 + [0.03] * 2 + [0.0] * 8 + [0.03, 0.0, 0.0, 0.03] + [0.0] * 3 + [
    0.44] * 2 + [0.0, 0.03, 0.44, 0.0, 0.44]


def kaggle_like_lines(n: int, rng: np.random.Generator, *, vocabulary: int = 400) -> list[str]:
    """``n`` lines in Kaggle's raw layout (40 tab-separated fields, empties and negatives)."""
    hashes = rng.integers(0, 2**32, size=(26, vocabulary))
    lines = []
    for _ in range(n):
        dense = ["" if rng.random() < _DENSE_MISSING[j] else str(int(rng.zipf(1.8)) - 1)
                 for j in range(13)]
        if dense[1] and rng.random() < 0.1:
            dense[1] = str(-int(rng.integers(1, 4)))                     # I2 goes negative
        cats = ["" if rng.random() < _CAT_MISSING[t]
                else f"{int(hashes[t, min(int(rng.zipf(1.3)) - 1, vocabulary - 1)]):08x}"
                for t in range(26)]
        lines.append("\t".join([str(int(rng.random() < 0.26)), *dense, *cats]))
    return lines


def to_csv_lines(lines: list[str]) -> list[str]:
    """The same samples in DeepCTR's CSV layout: header, commas, integers written as floats."""
    header = ",".join(["label", *(f"I{k}" for k in range(1, 14)),
                       *(f"C{k}" for k in range(1, 27))])
    out = [header]
    for line in lines:
        fields = line.split("\t")
        fields[1:14] = [f"{int(v)}.0" if v else "" for v in fields[1:14]]
        out.append(",".join(fields))
    return out


def drop_trailing_empty_fields(lines: list[str]) -> list[str]:
    """Lines as some exporters write them: trailing empty fields (and their tabs) dropped."""
    return [line.rstrip("\t") for line in lines]


def write_lines(path: Path, lines: list[str]) -> Path:
    """``lines`` with LF endings (gzip-compressed if ``path`` ends with ``.gz``)."""
    data = ("\n".join(lines) + "\n").encode("ascii", "surrogateescape")
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as handle:
            handle.write(data)
    else:
        Path(path).write_bytes(data)
    return Path(path)
