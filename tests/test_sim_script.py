"""``make sim``'s script without the simulator (``--no-rtl --no-train``): the software report on
a user's Criteo-format file, and a malformed file's clear error."""

import importlib
import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def sim():
    return importlib.import_module("scripts.sim")


def _criteo_lines(n: int, rng: np.random.Generator) -> list[str]:
    lines = []
    for _ in range(n):
        label = str(int(rng.integers(0, 2)))
        dense = [str(int(v)) for v in rng.integers(0, 50, 13)]
        sparse = [f"{int(v):08x}" for v in rng.zipf(1.3, 26) % 5000]
        lines.append("\t".join([label, *dense, *sparse]))
    return lines


def test_software_report_on_a_criteo_file(sim, tmp_path, rng, capsys):
    path = tmp_path / "train.txt"
    path.write_text("\n".join(_criteo_lines(3000, rng)) + "\n")
    out = tmp_path / "report.json"
    assert sim.main(["--data", str(path), "--no-rtl", "--no-train", "--set-bits", "6",
                     "--batch-size", "100", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    sw = report["software"]
    assert sw["samples_learn"] == 200 and sw["samples_run"] == 2800     # 5% of 30 batches -> 2
    learned = sw["hot_sets"]["SRRIP table, learned in LEARN mode"]
    assert 0 < learned["keys"] <= 64 * 4 and 0 < learned["hit_fraction"] < 1
    assert "hotline make sim" in capsys.readouterr().out


def test_malformed_line_is_named_and_nothing_runs(sim, tmp_path, rng, capsys):
    lines = _criteo_lines(50, rng)
    lines[36] = "1\tnot\ta\tcriteo\tline"
    path = tmp_path / "bad.txt"
    path.write_text("\n".join(lines) + "\n")
    assert sim.main(["--data", str(path), "--no-rtl", "--no-train"]) == 2
    captured = capsys.readouterr()
    assert f"{path}:37:" in captured.err and "fields" in captured.err
    assert "hotline make sim" not in captured.out


def test_dense_ids_keep_lookups_apart_and_equal_ones_together(sim, rng):
    sparse = rng.integers(0, 10_000_000, size=(500, 4)) // 1000 * 1000   # sparse, repeating ids
    dense, sizes = sim.dense_ids(sparse)
    for t in range(4):
        assert sizes[t] == len(np.unique(sparse[:, t])) and dense[:, t].max() == sizes[t] - 1
        same = sparse[:, t][:, None] == sparse[:, t][None, :]
        assert np.array_equal(same, dense[:, t][:, None] == dense[:, t][None, :])


def test_empty_file_is_one_line_naming_it(sim, tmp_path, capsys):
    path = tmp_path / "empty.txt"
    path.write_text("")
    assert sim.main(["--data", str(path), "--no-rtl", "--no-train"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == f"error: {path}:1: no samples: the file is empty"
    assert captured.out == ""


def test_report_is_printed_per_stage(sim, tmp_path, rng, capsys):
    path = tmp_path / "train.txt"
    path.write_text("\n".join(_criteo_lines(2000, rng)) + "\n")
    assert sim.main(["--data", str(path), "--no-rtl", "--no-train", "--set-bits", "6",
                     "--batch-size", "100"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "hotline make sim" and lines[2] == "[1/1] hot set (software) ..."
    assert lines[3].startswith("[1/1] hot set (software) done in ")
    assert any("learned set captures" in line for line in lines[4:])
