"""Quiet console output (``sw_driver.console``): stage lines and the report on the terminal,
everything else (Python prints, warnings, child processes) in the log; a failing stage prints
the log's tail and re-raises; ``VERBOSE=1`` captures nothing."""

import io
import os
import subprocess
import sys

import pytest

from sw_driver.console import Console


def _noisy():
    print("python chatter")
    print("python warning", file=sys.stderr)
    os.write(1, b"fd chatter\n")
    subprocess.run([sys.executable, "-c", "import sys; print('child chatter'); "
                    "print('child warning', file=sys.stderr)"], check=True)


def test_stage_output_goes_to_the_log_and_the_report_to_the_terminal(tmp_path, capfd):
    out = io.StringIO()
    log = tmp_path / "logs" / "run.log"
    console = Console(["build", "run"], log=log, title="tool", verbose=False, out=out)
    with console.stage("build"):
        _noisy()
    console.report("build report")
    with console.stage("run") as stage:
        stage.advance(1, 2, "half")
        _noisy()
    text = out.getvalue()
    assert text.splitlines()[:4] == [
        "tool", f"build logs and simulator output: {log} (VERBOSE=1 shows them)",
        "[1/2] build ...", text.splitlines()[3]]
    assert text.splitlines()[3].startswith("[1/2] build done in 0:0")
    assert "build report" in text and "[2/2] run done in" in text
    assert "chatter" not in text and "warning" not in text
    logged = log.read_text()
    for words in ("python chatter", "python warning", "fd chatter", "child chatter",
                  "child warning"):
        assert logged.count(words) == 2, words
    captured = capfd.readouterr()
    assert "chatter" not in captured.out + captured.err   # nothing leaked to the real fds
    print("after the stages")                             # streams restored
    assert "after the stages" in capfd.readouterr().out


def test_a_failing_stage_prints_the_log_tail_and_raises(tmp_path):
    out = io.StringIO()
    log = tmp_path / "run.log"
    console = Console(["build"], log=log, verbose=False, out=out)
    with pytest.raises(RuntimeError, match="compiler says no"):
        with console.stage("build"):
            print("line before the error")
            raise RuntimeError("compiler says no")
    text = out.getvalue()
    assert "[1/1] build failed after 0:00: RuntimeError: compiler says no" in text
    assert "    line before the error" in text and f"whole log: {log}" in text


def test_verbose_shows_everything(tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("VERBOSE", "1")
    out = io.StringIO()
    console = Console(["build"], log=tmp_path / "run.log", out=out)
    with console.stage("build"):
        _noisy()
    captured = capfd.readouterr()
    assert "python chatter" in captured.out and "child chatter" in captured.out
    assert "child warning" in captured.err
    assert not (tmp_path / "run.log").exists() and "[1/1] build done" in out.getvalue()


def test_bar_shows_counts_or_elapsed_time(tmp_path):
    console = Console(["train"], log=None, verbose=False, out=io.StringIO())
    with console.stage("train") as stage:
        stage.advance(3, 4, "baseline")
        assert stage.bar().startswith("|" + "#" * 18 + "-" * 6 + "| 3/4 0:00 baseline")
        stage.total = None
        assert stage.bar().count("#") == 1


def test_read_progress_draws_on_a_terminal_only_and_sums_up(monkeypatch):
    monkeypatch.delenv("VERBOSE", raising=False)
    from types import SimpleNamespace

    from sw_driver.console import ReadProgress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    quiet, terminal = io.StringIO(), Terminal()
    for stream in (quiet, terminal):
        progress = ReadProgress("reading f", total_bytes=1000, stream=stream, interval=0)
        progress(SimpleNamespace(lines=10, text_bytes=500))
        progress(SimpleNamespace(lines=20, text_bytes=1000))
        summary = progress.close()
        assert summary.startswith("20 lines, 0.0 MB in ") and "lines/s" in summary
    assert quiet.getvalue() == ""
    drawn = terminal.getvalue()
    assert "reading f |" + "#" * 12 + "-" * 12 + "| 10 lines" in drawn
    assert "|" + "#" * 24 + "| 20 lines" in drawn and drawn.endswith("\r\033[K")
