"""``make synth``'s ``ice40`` flow: a small configuration of each block for an iCE40 HX8K
(:data:`ICE40_CONFIGS`), the block alone through ``synth_ice40`` (LUT4s, flip-flops, block RAM),
then inside :class:`~hotline_hw.synth_harness.SynthHarness` (its ports behind two pins, so it
fits the package and nothing is optimised away) through ``synth_ice40`` and ``nextpnr-ice40
--hx8k --package ct256`` for Fmax and utilisation. A block that does not fit is recorded as such
(``fits: false`` and nextpnr's error), not as a failure."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from hotline_hw.device_config import HotlineConfig
from hotline_hw.model.popularity_table import TableGeometry
from scripts import synth_ecp5
from scripts.synth_tools import (BRAM_BITS, BUILD, ELABORATION, Tools, config_json, log_tail,
                                 parse_nextpnr_log, parse_stat_json, run_tool, short_error)


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
    with ELABORATION:
        harness = SynthHarness(ice40_component(block))
        path.write_text(emit(harness, "top"))
    return path, {"input_bits": harness.input_bits, "output_bits": harness.output_bits}


def run_ice40(block: str, tools: Tools, timeout: float) -> dict:
    start = time.monotonic()
    verilog, harness = prepare_ice40(block)
    work = verilog.parent
    # Relative to the work folder (Yosys's cwd): see scripts/synth.py's run_xc7.
    (work / "synth.ys").write_text(ice40_script(Path(verilog.name), "netlist.json"))
    result = {"config": config_json(ICE40_CONFIGS[block]), "harness": harness}
    try:
        proc = run_tool(tools.yosys + ["-q", "-s", "synth.ys"], work / "yosys.log", work, timeout)
        if proc.returncode != 0:
            result["error"] = f"yosys exited {proc.returncode}: {log_tail(work / 'yosys.log')}"
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
        out["pnr_error"] = short_error(errors[0])
    return out
