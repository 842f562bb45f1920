"""``make bench`` part ``criteo_files``: reading a Kaggle-sized Criteo file, and ``make sim`` on it.

The synthetic generator (:class:`~sw_driver.data.SyntheticCriteo`, Criteo Kaggle's 26 table
sizes times ``table_scale``, Zipf 1.15) writes ``scale`` x 45,840,617 lines of raw Criteo TSV
(about 11 GB at ``scale=1``) into a temporary directory, deleted afterwards. Three child
processes then read it, each measured on its own (``os.wait4``: CPU time and peak RSS of that
child alone):

* ``reader``: one :class:`~sw_driver.data.CriteoReader` pass over the whole file, raw ids
  (one core: the compiled parser of :mod:`~sw_driver.data.criteo_fast` where a C compiler
  exists, which the config records, else the numpy one). Figure: lines per CPU-second
  (user + system) and MB/s of text.
* ``vocabulary``: :meth:`CriteoDataset.open` over the whole file (``samples=0``): the
  vocabulary pass, table sizes, the day split. Figures: peak RSS, seconds.
* ``sim``: ``scripts/sim.py --data <file>`` with its defaults (what ``make sim DATA=`` runs:
  the first 400,000 samples, RTL co-simulation included) plus ``sim_args``. Figures: peak RSS,
  seconds, exit status.

Peak RSS is ``ru_maxrss`` as ``/usr/bin/time -v`` reports it: the largest of the child and its
waited-for descendants (the simulator ``make sim`` launches included). Linux counts the image
the forking process had in it, so each child is forked from a small launcher process (a bare
Python), not from the benchmark process that held the generator.

Figures, prefix ``criteo_files.``; goals (issue 12, for ``scale=1`` on the 24 GB machine): reader
>= 500,000 lines per CPU-second, vocabulary pass peak RSS <= 6 GB, ``make sim DATA=`` peak RSS
<= 12 GB. At smaller scales the figures are recorded with their scale and the goals are the
same (the RSS figures then say little about the full file).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KAGGLE_LINES = 45_840_617

_READER = """
import json, sys
from sw_driver.data import CriteoReader
from sw_driver.data.criteo_fast import parser_in_use
reader = CriteoReader(sys.argv[1])
for _ in reader.blocks():
    pass
parser = parser_in_use()
print(json.dumps({"lines": reader.stats.lines, "bytes": reader.stats.text_bytes,
                  "parser": "compiled" if parser.startswith("compiled") else parser}))
"""

_VOCABULARY = """
import json, sys
from sw_driver.data import CriteoDataset
data = CriteoDataset.open(sys.argv[1], samples=0)
print(json.dumps({"samples": data.n_samples, "rows": sum(data.table_sizes),
                  "vocabulary_seconds": data.seconds}))
"""


# Runs the measured command as its own child and reports that child's rusage. Linux counts the
# image a process had when it was forked in its peak RSS, so the command is forked from this
# small launcher rather than from the benchmark process (which held the generator).
_LAUNCHER = """
import json, os, subprocess, sys, time
out, timeout, command = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
start = time.perf_counter()
proc = subprocess.Popen(command)
while True:
    pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
    if pid:
        break
    if time.perf_counter() - start > timeout:
        proc.kill()
        pid, status, usage = os.wait4(proc.pid, 0)
        break
    time.sleep(0.05)
with open(out, "w") as handle:
    json.dump({"returncode": os.waitstatus_to_exitcode(status),
               "seconds": time.perf_counter() - start,
               "cpu_seconds": usage.ru_utime + usage.ru_stime,
               "peak_rss_bytes": usage.ru_maxrss * 1024}, handle)   # Linux reports KiB
"""


def run_measured(command: list[str], *, timeout: float) -> dict:
    """Run ``command`` (cwd: the repository) as a child of a small launcher; its exit status,
    wall seconds, CPU seconds and peak RSS (bytes: that child and its waited-for
    descendants), stdout and stderr."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory() as tmp:
        usage = Path(tmp) / "usage.json"
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            subprocess.run([sys.executable, "-c", _LAUNCHER, str(usage), str(timeout),
                            *command], cwd=REPO, stdout=stdout, stderr=stderr, env=env,
                           timeout=timeout + 120, check=True)
        result = json.loads(usage.read_text())
        result["stdout"] = out.read_text(errors="replace")
        result["stderr"] = err.read_text(errors="replace")
        return result


def _checked(result: dict, what: str) -> dict:
    if result["returncode"] != 0:
        raise RuntimeError(f"{what} failed (exit {result['returncode']}):\n"
                           f"{result['stdout'][-2000:]}\n{result['stderr'][-2000:]}")
    return result


def bench_criteo_files(*, scale: float = 1.0, table_scale: float = 1.0, seed: int = 0,
                       sim_args: tuple[str, ...] = (), timeout: float = 4 * 3600,
                       directory: str | None = None) -> tuple[dict, dict, dict]:
    """Write the file, measure the three children (see the module docstring).

    Returns ``(figures, goals, config)`` as every ``make bench`` part does. Raises
    ``RuntimeError`` with the child's output if one fails.
    """
    from sw_driver.data import SyntheticCriteo

    lines = max(8, round(KAGGLE_LINES * scale))
    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="criteo_bench_", dir=directory) as tmp:
        path = Path(tmp) / "train.txt"
        start = time.perf_counter()
        SyntheticCriteo(lines, scale=table_scale, seed=seed).write_criteo(path)
        write_seconds = time.perf_counter() - start
        size = path.stat().st_size

        reader = _checked(run_measured([sys.executable, "-c", _READER, str(path)],
                                       timeout=timeout), "the reader pass")
        counted = json.loads(reader["stdout"].strip().splitlines()[-1])
        if counted["lines"] != lines:
            raise RuntimeError(f"the reader saw {counted['lines']} lines of {lines}")
        vocabulary = _checked(run_measured([sys.executable, "-c", _VOCABULARY, str(path)],
                                           timeout=timeout), "the vocabulary pass")
        vocab = json.loads(vocabulary["stdout"].strip().splitlines()[-1])
        sim = run_measured([sys.executable, str(REPO / "scripts" / "sim.py"), "--data",
                            str(path), *sim_args], timeout=timeout)

    p = "criteo_files"
    figures.update({
        f"{p}.lines": lines,
        f"{p}.file_gb": round(size / 1e9, 3),
        f"{p}.write_seconds": round(write_seconds, 1),
        f"{p}.reader.lines_per_cpu_second": round(lines / max(reader["cpu_seconds"], 1e-9)),
        f"{p}.reader.mb_per_second": round(size / 1e6 / max(reader["seconds"], 1e-9), 1),
        f"{p}.reader.peak_rss_gb": round(reader["peak_rss_bytes"] / 1e9, 3),
        f"{p}.vocabulary.peak_rss_gb": round(vocabulary["peak_rss_bytes"] / 1e9, 3),
        f"{p}.vocabulary.seconds": round(vocabulary["seconds"], 1),
        f"{p}.vocabulary.rows": vocab["rows"],
        f"{p}.sim.peak_rss_gb": round(sim["peak_rss_bytes"] / 1e9, 3),
        f"{p}.sim.seconds": round(sim["seconds"], 1),
        f"{p}.sim.exit_status": sim["returncode"],
    })
    goals = {
        f"{p}.reader.lines_per_cpu_second": ">= 500000 (issue 12, one core)",
        f"{p}.vocabulary.peak_rss_gb": "<= 6 (issue 12, Kaggle-sized file)",
        f"{p}.sim.peak_rss_gb": "<= 12 (issue 12, make sim DATA= on the Kaggle-sized file)",
        f"{p}.sim.exit_status": "0",
    }
    config = {p: {"scale": scale, "lines": lines, "table_scale": table_scale, "seed": seed,
                  "generator": "SyntheticCriteo (Kaggle table sizes x table_scale, Zipf 1.15)",
                  "sim_args": list(sim_args),
                  "parser": counted["parser"],
                  "measured": "each pass in its own child process: os.wait4 rusage "
                              "(CPU time, peak RSS of that child)"}}
    if sim["returncode"] != 0:
        config[p]["sim_error"] = (sim["stderr"] or sim["stdout"])[-2000:]
    return figures, goals, config


def main(argv=None) -> int:
    """``python scripts/bench_criteo.py --scale 0.01``: the part alone, figures printed."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.01,
                        help="fraction of Kaggle's 45.8M lines (make bench: 1)")
    parser.add_argument("--table-scale", type=float, default=1.0)
    parser.add_argument("--sim-args", default="", help="extra scripts/sim.py arguments")
    parser.add_argument("--dir", default=None, help="where the temporary file goes")
    args = parser.parse_args(argv)
    figures, goals, config = bench_criteo_files(scale=args.scale, table_scale=args.table_scale,
                                                sim_args=tuple(args.sim_args.split()),
                                                directory=args.dir)
    print(json.dumps({"figures": figures, "goals": goals, "config": config}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
