"""``make train`` (``python -m sw_driver.dlrm``) as a user meets it: ``--out`` checked before
any training, results written as each run finishes (kept when a later run fails), runs
announced as stages, and the plot readable alone (title, labels, one colour per run)."""

from __future__ import annotations

import json

import matplotlib
import matplotlib.figure
import pytest

from sw_driver.dlrm import __main__ as command
from sw_driver.dlrm import plot_results
from sw_driver.dlrm.trainer import HotlineTrainer

TINY = ["--train", "512", "--eval", "256", "--small", "--backend", "models", "--threads", "1",
        "--batch-size", "64"]


def test_out_into_a_missing_folder_fails_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(command, "compare_schedules",
                        lambda **_: pytest.fail("training started"))
    with pytest.raises(SystemExit) as info:
        command.main(["--out", str(tmp_path / "missing" / "results.json")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--out" in err and "does not exist" in err and "nothing was trained" in err
    with pytest.raises(SystemExit):
        command.main(["--runs", "baseline,fast"])
    assert "unknown fast" in capsys.readouterr().err


def test_results_are_written_per_run_and_kept_when_a_later_run_fails(tmp_path, capsys,
                                                                       monkeypatch):
    out, plot = tmp_path / "results.json", tmp_path / "losses.png"

    def broken(self, *args, **kwargs):
        raise RuntimeError("the second run breaks")
    monkeypatch.setattr(HotlineTrainer, "train", broken)
    with pytest.raises(RuntimeError, match="second run breaks"):
        command.main(TINY + ["--runs", "baseline,reformed", "--out", str(out),
                             "--plot", str(plot)])
    written = json.loads(out.read_text())
    assert list(written["results"]) == ["baseline"] and plot.exists()
    text = capsys.readouterr().out
    assert "[1/2] run 1 of 2: baseline ..." in text and "[2/2] run 2 of 2: reformed ..." in text
    assert "baseline: accuracy" in text


def test_a_short_run_writes_both_runs(tmp_path, capsys):
    out = tmp_path / "results.json"
    assert command.main(TINY + ["--runs", "baseline,reformed", "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert list(written["results"]) == ["baseline", "reformed"]
    assert "reformed - baseline: accuracy" in capsys.readouterr().out


def test_plot_is_readable_alone(tmp_path, monkeypatch):
    from sw_driver.dlrm.trainer import TrainResult

    def run(name, steps, working_sets):
        return TrainResult(name=name, config={}, steps=[
            {"step": k, "loss": 0.5 + 0.01 * k} for k in range(steps)],
            working_sets=[{"popular_fraction": 0.3} for _ in range(working_sets)])
    figures = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda self, path, **kw: figures.append(self))
    assert plot_results([run("baseline", 30, 0), run("hotline-reformed", 30, 5)],
                        tmp_path / "l.png", title="data, model, 30 steps")
    fig, = figures
    loss, popular = fig.axes
    assert fig._suptitle.get_text() == "data, model, 30 steps"
    assert "50-step" not in loss.get_title() and "per step" in loss.get_title()
    for ax in (loss, popular):
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is not None
    colour = {line.get_label().split(" ")[0]: line.get_color() for line in loss.get_lines()}
    assert popular.get_lines()[0].get_color() == colour["hotline-reformed"]
    assert colour["baseline"] != colour["hotline-reformed"]
    figures.clear()
    plot_results([run("baseline", 80, 0)], tmp_path / "l.png")
    assert "50-step moving mean" in figures[0].axes[0].get_title()


def test_criteo_files_train_with_their_split_and_refuse_a_model_that_cannot_fit(tmp_path,
                                                                               capsys, rng):
    """``--data``: the file's ids and day split; the exact run equals the baseline on it; a
    hashed model too large for ``--memory-limit`` stops before anything is built."""
    from tests.data.criteo_samples import KAGGLE_HEAD, kaggle_like_lines, write_lines
    path = write_lines(tmp_path / "train.txt.gz", KAGGLE_HEAD + kaggle_like_lines(696, rng))
    out = tmp_path / "results.json"
    assert command.main(["--data", str(path), "--small", "--backend", "models", "--threads",
                         "1", "--batch-size", "64", "--train", "100000", "--eval", "50",
                         "--runs", "baseline,split,fae", "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert (written["data"]["n_train"], written["data"]["n_eval"]) == (600, 50)  # days 0-5
    assert "700 samples" in written["data"]["source"] and written["data"]["rows"] < 26 * 400
    assert written["differences"]["split_vs_baseline"]["max"] < 1e-5
    assert "model memory: " in capsys.readouterr().out
    assert command.main(["--data", str(path), "--ids", "hash", "--max-ind-range", "10000000",
                         "--memory-limit", "4"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "error: the model does not fit" in captured.err
    assert "use --ids vocabulary" in captured.err
    with pytest.raises(SystemExit):
        command.main(["--data", str(path), "--split", "weekly"])
