"""What the ``make synth`` flows share: finding and running the tools, parsing Yosys's and
nextpnr's output, the build folder and the elaboration lock (``scripts/synth.py`` for xc7,
``scripts/synth_ice40.py``, ``scripts/synth_ecp5.py``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from hotline_hw.model.popularity_table import TableGeometry

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "build" / "synth"
#: Amaranth elaborates one design at a time; tool runs go on meanwhile.
ELABORATION = threading.Lock()


def short_error(line: str) -> str:
    """An error line of nextpnr with its cell names (which run to kilobytes) cut short."""
    return re.sub(r"'([^']{48})[^']{4,}'", r"'\1...'", line)


#: Bits per block RAM primitive (parity bits included for the Xilinx ones).
BRAM_BITS = {"RAMB36E1": 36 * 1024, "RAMB18E1": 18 * 1024, "SB_RAM40_4K": 4096}


def config_json(params: dict) -> dict:
    """Constructor parameters as JSON (a TableGeometry becomes its fields)."""
    out = {}
    for key, value in params.items():
        if isinstance(value, TableGeometry):
            value = {"table_bits": value.table_bits, "row_bits": value.row_bits,
                     "set_bits": value.set_bits, "ways": value.ways, "rounds": value.rounds}
        out[key] = value
    return out


def parse_stat_json(text: str, module: str | None = None) -> dict[str, int]:
    """Cell counts by type from Yosys ``stat -json`` (of ``module``, else the whole design).

    Yosys prints log lines around the JSON when ``tee`` captures it; the JSON object is the
    part from the first ``{`` to the last ``}``.
    """
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no JSON object in the stat output")
    data = json.loads(text[start:end + 1])
    if module is not None:
        modules = data.get("modules", {})
        entry = modules.get(module, modules.get("\\" + module))
        if entry is None:
            raise ValueError(f"module {module!r} not in the stat output ({', '.join(modules)})")
    else:
        entry = data.get("design")
        if entry is None:
            if len(data.get("modules", {})) != 1:
                raise ValueError("stat output has no design summary and several modules")
            entry = next(iter(data["modules"].values()))
    cells = entry.get("num_cells_by_type", {})
    return {name: int(count) for name, count in cells.items() if not name.startswith("$scope")}


_UTIL = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", re.M)


_FMAX = re.compile(r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz "
                   r"\((PASS|FAIL) at ([\d.]+) MHz\)")


def parse_nextpnr_log(text: str) -> dict:
    """Utilisation, Fmax per clock (the last, post-route report) and errors of nextpnr's log.

    Returns ``{"utilisation": {bel: [used, available]}, "fmax_mhz": {clock: MHz},
    "errors": [lines]}``; Fmax is empty when nextpnr stopped before timing analysis.
    """
    utilisation = {}
    for m in _UTIL.finditer(text):
        utilisation.setdefault(m.group(1), [int(m.group(2)), int(m.group(3))])
    fmax = {m.group(1): float(m.group(2)) for m in _FMAX.finditer(text)}
    errors = [line.strip() for line in text.splitlines() if line.startswith("ERROR:")]
    return {"utilisation": utilisation, "fmax_mhz": fmax, "errors": errors}


@dataclass
class Tools:
    yosys: list[str]
    nextpnr: list[str] | None
    nextpnr_ecp5: list[str] | None = None

    def versions(self) -> dict[str, str]:
        out = {"yosys": _version(self.yosys + ["-V"])}
        if self.nextpnr:
            out["nextpnr-ice40"] = _version(self.nextpnr + ["--version"])
        if self.nextpnr_ecp5:
            out["nextpnr-ecp5"] = _version(self.nextpnr_ecp5 + ["--version"])
        return out


def _version(cmd: list[str]) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    lines = (result.stdout + result.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def yosys_version(line: str) -> tuple[int, int]:
    """``(major, minor)`` of a ``yosys -V`` line (``(0, 0)`` if it names none)."""
    m = re.search(r"Yosys (\d+)\.(\d+)", line)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def find_tool(explicit: str | None, candidates: list[str]) -> list[str] | None:
    """The first of ``explicit`` or ``candidates`` found in the venv's bin or on PATH."""
    names = [explicit] if explicit else candidates
    venv_bin = str(Path(sys.executable).parent)
    for name in names:
        path = shutil.which(name, path=venv_bin) or shutil.which(name)
        if path:
            return [path]
    return None


def run_tool(cmd: list[str], log: Path, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    with open(log, "w") as out:
        return subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout)


def log_tail(path: Path, lines: int = 3) -> str:
    text = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
    errors = [line for line in text if "ERROR" in line]
    return " | ".join((errors or text)[-lines:])
