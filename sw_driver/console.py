"""Quiet console output of the command-line tools (``make sim``, ``make train``).

A run is a fixed list of stages. Each stage prints one line when it starts (``[2/4] RTL
co-simulation``), a progress bar on a terminal while it runs (counts when the stage reports
them, else the elapsed time), and one line when it ends; the stage's part of the report is
printed by the caller right after (:meth:`Console.report`), so a later failure loses nothing
already measured. Inside a capturing stage everything else (build logs, simulator chatter,
warnings, child processes' output) goes to one log file, whose path is printed first; when a
stage fails, the log's last lines are printed with the path. ``VERBOSE=1`` in the environment
(or ``verbose=True``) shows everything and captures nothing.

Usage::

    console = Console(["data", "RTL", "training"], log=Path("sim_build/make_sim.log"))
    with console.stage("data") as stage:
        ...                      # stage.advance(done, total) for a counted bar
    console.report("the data part of the report")
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
import time
from pathlib import Path
from typing import Sequence, TextIO

__all__ = ["Console", "ReadProgress", "Stage", "verbose_from_env"]

BAR_WIDTH = 24
TAIL_LINES = 30


def verbose_from_env() -> bool:
    """``VERBOSE`` set to anything but empty / ``0``."""
    return os.environ.get("VERBOSE", "0").strip() not in ("", "0")


def _terminal(stream: TextIO, fd: int) -> TextIO:
    """A stream to the real terminal that survives redirecting ``fd``: a duplicate of ``fd``
    when ``stream`` writes to it, else ``stream`` itself (e.g. pytest's capture)."""
    try:
        if stream.fileno() == fd:
            stream.flush()
            return os.fdopen(os.dup(fd), "w", buffering=1, encoding="utf-8",
                             errors="replace", closefd=True)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        pass
    return stream


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


class Stage:
    """One running stage: :meth:`advance` sets its progress (``done`` of ``total``)."""

    def __init__(self, console: "Console", number: int, name: str):
        self.console = console
        self.number = number
        self.name = name
        self.start = time.monotonic()
        self.done: float | None = None
        self.total: float | None = None
        self.note = ""

    def advance(self, done: float, total: float, note: str = "") -> None:
        self.done, self.total, self.note = done, total, note
        self.console._draw(self)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def bar(self) -> str:
        if self.total:
            fraction = min(1.0, max(0.0, self.done / self.total))
            filled = round(fraction * BAR_WIDTH)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            count = f" {self.done:g}/{self.total:g}"
        else:                                   # no counts: a bouncing block, elapsed time
            position = int(self.elapsed * 4) % (2 * BAR_WIDTH - 2)
            position = position if position < BAR_WIDTH else 2 * BAR_WIDTH - 2 - position
            bar = "-" * position + "#" + "-" * (BAR_WIDTH - 1 - position)
            count = ""
        note = f" {self.note}" if self.note else ""
        return f"|{bar}|{count} {_clock(self.elapsed)}{note}"


class Console:
    """Stages, a log file for everything else, and the report (see the module docstring)."""

    def __init__(self, stages: Sequence[str], *, log: Path | None, title: str = "",
                 verbose: bool | None = None, out: TextIO | None = None):
        self.stages = list(stages)
        self.verbose = verbose_from_env() if verbose is None else verbose
        self.log = None if log is None else Path(log)
        self.out = _terminal(out or sys.stdout, 1)
        self.err = _terminal(sys.stderr, 2)
        self.live = _isatty(self.err) and not self.verbose
        self._lock = threading.Lock()
        self._line_open = False
        if self.log is not None and not self.verbose:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self.log.write_text("")
        if title:
            self.report(title)
        if self.log is not None and not self.verbose:
            self.report(f"build logs and simulator output: {self.log} (VERBOSE=1 shows them)")

    # -- output --------------------------------------------------------------------------

    def report(self, text: str = "") -> None:
        """Print part of the report (to the real stdout, also inside a capturing stage)."""
        with self._lock:
            self._clear_line()
            print(text, file=self.out, flush=True)

    def _clear_line(self) -> None:
        if self._line_open:
            print("\r\033[K", end="", file=self.err, flush=True)
            self._line_open = False

    def _draw(self, stage: Stage) -> None:
        if not self.live:
            return
        with self._lock:
            print(f"\r\033[K{self._prefix(stage)} {stage.bar()}", end="", file=self.err,
                  flush=True)
            self._line_open = True

    def _prefix(self, stage: Stage) -> str:
        return f"[{stage.number}/{len(self.stages)}] {stage.name}"

    # -- stages ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def stage(self, name: str, *, capture: bool = True):
        """Run a stage (``name`` must be one of the stages given). ``capture``: send stdout
        and stderr (Python's and the file descriptors', so child processes' too) to the log
        file while it runs."""
        stage = Stage(self, self.stages.index(name) + 1, name)
        self.report(f"{self._prefix(stage)} ...")
        capture = capture and self.log is not None and not self.verbose
        ticker = _Ticker(self, stage) if self.live and capture else None
        redirect = _Redirect(self.log) if capture else contextlib.nullcontext()
        try:
            with redirect:
                if ticker:
                    ticker.start()
                try:
                    yield stage
                finally:
                    if ticker:
                        ticker.stop()
        except BaseException as error:
            self.report(f"{self._prefix(stage)} failed after {_clock(stage.elapsed)}: "
                        f"{type(error).__name__}: {str(error)[:300]}")
            if capture:
                self._print_tail()
            raise
        self.report(f"{self._prefix(stage)} done in {_clock(stage.elapsed)}")

    def _print_tail(self) -> None:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return
        if lines:
            self.report(f"last {min(TAIL_LINES, len(lines))} lines of {self.log}:")
            self.report("\n".join("    " + line for line in lines[-TAIL_LINES:]))
        self.report(f"whole log: {self.log}")


class _Ticker(threading.Thread):
    """Redraws a stage's bar twice a second (its elapsed time moves without counts)."""

    def __init__(self, console: Console, stage: Stage):
        super().__init__(daemon=True)
        self.console, self.stage = console, stage
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.5):
            self.console._draw(self.stage)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        with self.console._lock:
            self.console._clear_line()


class _Redirect:
    """stdout and stderr, Python streams and file descriptors 1 and 2, appended to ``path``."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        sys.stdout.flush()
        sys.stderr.flush()
        self.file = open(self.path, "a", buffering=1, encoding="utf-8", errors="replace")
        self.saved_streams = sys.stdout, sys.stderr
        self.saved_fds = []
        for fd in (1, 2):
            try:
                self.saved_fds.append((fd, os.dup(fd)))
                os.dup2(self.file.fileno(), fd)
            except OSError:
                pass
        sys.stdout = sys.stderr = self.file
        return self

    def __exit__(self, *exc):
        try:
            self.file.flush()
        finally:
            sys.stdout, sys.stderr = self.saved_streams
            for fd, saved in self.saved_fds:
                os.dup2(saved, fd)
                os.close(saved)
            self.file.close()
        return False


class ReadProgress:
    """A one-line display of a streaming read on a terminal: a bar when the total is known
    (plain files read to the end), lines, MB and MB/s of text; nothing when not a terminal.

    Call it with the reader's :class:`~sw_driver.data.criteo.CriteoReadStats` after every chunk
    (the readers' ``progress=``); :meth:`close` clears the line and returns a summary.
    """

    def __init__(self, label: str, *, total_bytes: int | None = None,
                 stream: TextIO | None = None, interval: float = 0.2):
        self.label = label
        self.total_bytes = total_bytes
        self.stream = stream or sys.stderr
        self.live = _isatty(self.stream) and not verbose_from_env()
        self.interval = interval
        self.start = time.monotonic()
        self._drawn = 0.0
        self.lines = 0
        self.text_bytes = 0

    def __call__(self, stats) -> None:
        self.lines, self.text_bytes = stats.lines, stats.text_bytes
        now = time.monotonic()
        if self.live and now - self._drawn >= self.interval:
            self._drawn = now
            print(f"\r\033[K{self.label} {self._line(now)}", end="", file=self.stream,
                  flush=True)

    def _line(self, now: float) -> str:
        seconds = max(now - self.start, 1e-9)
        bar = ""
        if self.total_bytes:
            filled = round(min(1.0, self.text_bytes / self.total_bytes) * BAR_WIDTH)
            bar = "|" + "#" * filled + "-" * (BAR_WIDTH - filled) + "| "
        return (f"{bar}{self.lines:,} lines, {self.text_bytes / 1e6:,.1f} MB, "
                f"{self.text_bytes / 1e6 / seconds:,.1f} MB/s, {_clock(seconds)}")

    def close(self) -> str:
        """Clear the line; return ``"N lines, M MB in S s (L lines/s, R MB/s)"``."""
        if self.live and self._drawn:
            print("\r\033[K", end="", file=self.stream, flush=True)
        seconds = max(time.monotonic() - self.start, 1e-9)
        return (f"{self.lines:,} lines, {self.text_bytes / 1e6:,.1f} MB in {seconds:.1f} s "
                f"({self.lines / seconds:,.0f} lines/s, {self.text_bytes / 1e6 / seconds:,.1f} "
                f"MB/s)")
