"""The FuseSoC core (``hotline.core``) as an FPGA user meets it: ``fusesoc run`` of its lint
target (Verilator) and of its smoke simulation (the simulator of ``$SIM``: target ``sim`` on
Icarus, ``sim_verilator`` on Verilator) from this checkout, each in a fresh build directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tb.toolchain import prepare_simulator, simulator_from_env

REPO = Path(__file__).resolve().parent.parent
CORE = "hotline:accel:hotline"


def _fusesoc(target: str, build_root: Path) -> str:
    prepare_simulator("verilator" if target in ("lint", "sim_verilator") else "icarus")
    cmd = [sys.executable, "-m", "fusesoc.main", "--cores-root", str(REPO), "run",
           "--build-root", str(build_root), "--target", target, CORE]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=build_root, timeout=900)
    log = result.stdout + result.stderr
    (build_root / f"{target}.log").write_text(log)
    assert result.returncode == 0, f"fusesoc run --target {target} failed:\n{log[-4000:]}"
    return log


def test_fusesoc_lint(tmp_path):
    log = _fusesoc("lint", tmp_path)
    assert "--lint-only" in (next(tmp_path.rglob("*.vc"))).read_text()
    assert "%Warning" not in log and "%Error" not in log


def test_fusesoc_smoke_simulation(tmp_path):
    sim = simulator_from_env()
    log = _fusesoc("sim" if sim == "icarus" else "sim_verilator", tmp_path)
    assert "SMOKE PASS" in log, log[-4000:]
    assert "SMOKE FAIL" not in log
