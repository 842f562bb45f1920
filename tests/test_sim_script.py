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


# -- real Criteo files (issue 12): ids, memory, samples, split, formats ------------------------

def _kaggle_file(tmp_path, rng, n: int, name: str = "train.txt", **kwargs):
    from tests.data.criteo_samples import KAGGLE_HEAD, kaggle_like_lines, write_lines
    return write_lines(tmp_path / name, KAGGLE_HEAD + kaggle_like_lines(n - 4, rng, **kwargs))


def test_trains_on_a_100_line_kaggle_file_with_tables_from_the_data(sim, tmp_path, rng, capsys):
    from sw_driver.data import CriteoDataset
    path = _kaggle_file(tmp_path, rng, 100)
    out = tmp_path / "report.json"
    assert sim.main(["--data", str(path), "--no-rtl", "--set-bits", "6", "--batch-size", "10",
                     "--train-batch-size", "16", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    rows = sum(CriteoDataset.open(path).table_sizes)
    assert rows < 26 * 400 and f"{rows:,} rows in 26 tables" in report["data"]
    train = report["train"]
    assert (train["data"]["train"], train["data"]["held_out"]) == (86, 7)   # days 0-5; day 6/2
    for run in ("baseline", "hotline"):
        assert np.isfinite(train[run]["final_loss"])
    text = capsys.readouterr().out
    assert "model memory: " in text and "split: 7 pseudo-days" in text
    assert "the data's split holds only these" in text          # 60,000 / 20,000 asked


def test_hashed_ids_that_cannot_fit_stop_at_once_naming_the_flag(sim, tmp_path, rng, capsys):
    path = _kaggle_file(tmp_path, rng, 30)
    assert sim.main(["--data", str(path), "--ids", "hash", "--memory-limit", "12"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""                                   # nothing ran, nothing built
    assert captured.err.startswith("error: the model does not fit: 260,000,000 embedding rows")
    assert "use --ids vocabulary" in captured.err and "--max-ind-range " in captured.err


def test_a_vocabulary_too_large_names_a_max_ind_range_that_fits(sim, tmp_path, rng, capsys):
    path = _kaggle_file(tmp_path, rng, 200, vocabulary=5000)
    assert sim.main(["--data", str(path), "--memory-limit", "0.0005", "--no-rtl"]) == 2
    err = capsys.readouterr().err
    assert "error: the model does not fit" in err and "use --max-ind-range " in err
    fitting = int(err.split("use --max-ind-range ")[1].split()[0])
    assert 0 < fitting < 200
    assert sim.main(["--data", str(path), "--memory-limit", "0.0005", "--no-rtl", "--no-train",
                     "--set-bits", "4"]) == 0                    # no model: nothing to refuse


def test_samples_reads_only_the_first_n_and_train_eval_samples_are_honoured(
        sim, tmp_path, rng, capsys):
    from tests.data.criteo_samples import kaggle_like_lines, write_lines
    lines = kaggle_like_lines(1500, rng)
    lines[1200] = "a line the run never reads"
    path = write_lines(tmp_path / "big.txt", lines)
    out = tmp_path / "report.json"
    assert sim.main(["--data", str(path), "--samples", "1000", "--no-rtl", "--set-bits", "6",
                     "--batch-size", "100", "--train-samples", "300", "--eval-samples", "40",
                     "--train-batch-size", "64", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["software"]["samples_learn"] + report["software"]["samples_run"] == 1000
    assert (report["train"]["data"]["train"], report["train"]["data"]["held_out"]) == (300, 40)
    assert "1,000 samples" in report["data"]
    assert sim.main(["--data", str(path), "--samples", "0", "--no-rtl", "--no-train"]) == 2
    assert f"{path}:1201: " in capsys.readouterr().err


def test_csv_short_lines_several_files_and_random_split(sim, tmp_path, rng, capsys):
    from tests.data.criteo_samples import (drop_trailing_empty_fields, kaggle_like_lines,
                                           to_csv_lines, write_lines)
    lines = kaggle_like_lines(400, rng)
    paths = [write_lines(tmp_path / "day_0.csv.gz", to_csv_lines(lines[:200])),
             write_lines(tmp_path / "day_1", drop_trailing_empty_fields(lines[200:]))]
    out = tmp_path / "report.json"
    args = ["--data", *map(str, paths), "--no-rtl", "--set-bits", "6", "--batch-size", "50",
            "--train-batch-size", "64", "--train-samples", "200", "--eval-samples", "20"]
    assert sim.main([*args, "--split", "random", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert "2 files" in report["data"] and "CSV with header" in report["data"]
    assert "short lines read with empty trailing fields" in report["data"]
    assert (report["train"]["data"]["train"], report["train"]["data"]["held_out"]) == (200, 20)
    assert "random (seeded permutation)" in capsys.readouterr().out
    assert sim.main([*args, "--short-lines", "raise"]) == 2
    err = capsys.readouterr().err
    assert f"{paths[1]}:" in err and "short lines are refused" in err


def test_a_missing_file_is_one_line_naming_it(sim, tmp_path, capsys):
    missing = tmp_path / "day_0.gz"
    assert sim.main(["--data", str(missing), "--no-rtl"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and str(missing) in captured.err
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1
