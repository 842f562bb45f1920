"""``make synth``'s ECP5 flow: every block and the whole accelerator placed and routed on a Lattice
ECP5 LFE5UM5G-85F (speed grade 8) with Yosys ``synth_ecp5`` and ``nextpnr-ecp5``.

Method: the block in its ECP5 configuration (:data:`ECP5_CONFIGS`: the ``rtl/`` one where the
part holds it, else the smallest change of parameters that fits, stated per block) inside
:class:`~hotline_hw.synth_harness.SynthHarness` (its inputs from shift registers of at most
512 bits, each fed by a pin, its outputs registered and folded into one pin: every path through
the block is register to register and timed, and the design needs a few pins: ``clk``, ``rst``
(synchronised and on a global network, :class:`Ecp5Pins`), ``so`` and the ``si`` pins),
synthesised as a whole and placed and routed in context at :data:`TARGET_MHZ`: nextpnr places
the pins (``--lpf-allow-unconstrained``) and puts the clock on a global network, as in any
design that uses the core. Not out of context: nextpnr-ecp5's ``--out-of-context`` promotes no
global net, so the clock is routed through the general fabric; that costs a block about 10 %
(the popularity table: 117.3 MHz out of context, 130.3 in context, same netlist). Figures: nextpnr's utilisation
(TRELLIS_COMB = LUT4 sites, TRELLIS_FF, DP16KD 18-kbit block RAMs, MULT18X18D; the harness's
shift register, output registers and XOR tree included), its post-route Fmax for the clock, and
its critical path (start, end, the hierarchy it crosses, logic and routing delay, LUT levels).
A missed target is a result (``meets_target: false``), not a failure of the flow.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from amaranth.hdl import Cat, ClockDomain, Const, Instance, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hotline_hw.device_config import HotlineConfig
from hotline_hw.model.popularity_table import TableGeometry
from hotline_hw.synth_harness import SynthHarness
from scripts.synth_tools import (BUILD, ELABORATION, Tools, log_tail, parse_nextpnr_log,
                                 run_tool, short_error)

__all__ = ["block_params", "Ecp5Pins", "CHAIN_BITS", "ECP5_CONFIGS", "ECP5_DEVICE", "TARGET_MHZ", "BLOCK_TARGET_MHZ",
           "run_ecp5", "place_and_route", "PLACEMENT_SEEDS",
           "parse_critical_path", "ecp5_component", "METHOD"]

#: The part: the largest ECP5 that nextpnr-ecp5 supports (84K LUT4, 208 DP16KD, 156 multipliers).
ECP5_DEVICE = ["--um5g-85k", "--package", "CABGA381", "--speed", "8"]
#: Target clocks: the whole top, and each block alone.
TARGET_MHZ = 125
#: Routed with router2: it routes the whole top in 1-3 minutes since the per-table registers
#: became a memory (before, router1 left 89,768 of 140,903 arcs unrouted at the 1500 s limit
#: and router2 stalled at about 12,000 overused wires; docs/performance.md).
ROUTER2_BLOCKS = ("hotline_top",)
BLOCK_TARGET_MHZ = 150
#: Placement seeds, in order: the next is tried only where the router cannot route an arc of
#: the design as placed (router2 once failed the reset synchroniser's arc into its DCCA).
PLACEMENT_SEEDS = (1, 2, 3)

#: The whole accelerator for the ECP5-85: the rtl/ build with the popularity table at 2K sets
#: (8K entries, each lane's copy in block RAM: 48 DP16KD) and 512 held samples (the sample
#: buffer, 180 bits x 4096 beats: 40 DP16KD), 115 of the part's 208 DP16KD in all. The rtl/
#: build needs about 5x the part's block RAM (its 64K-entry table is copied per lane and it
#: holds 4096 samples of 32 lookups); 4K sets and 1024 samples fit (194 DP16KD, 93 %) but leave
#: nothing to the rest of a design, and routed no better (docs/performance.md). Same RTL, only
#: parameters change.
ECP5_TOP = HotlineConfig(
    geometry=TableGeometry(set_bits=11), lanes=4, table_in_bits=5, row_in_bits=24,
    sample_bits=32, max_lookups=32, capacity=512, size_bits=16, working_set_bits=4,
    num_tables=26, data_bits=128, addr_bits=48, id_bits=6, reads_in_flight=64,
    writes_in_flight=16, max_dim=64)


def block_params(c: HotlineConfig) -> dict[str, dict]:
    """Each block's constructor parameters as the block is inside the top ``c`` (used for the
    ECP5 build here and for the iCE40 build in ``scripts/synth.py``)."""
    ids = dict(table_in_bits=c.table_in_bits, row_in_bits=c.row_in_bits)
    return {
        "feistel_hash": dict(width=c.geometry.hash_bits, rounds=c.geometry.rounds),
        "popularity_table": dict(geometry=c.geometry, lanes=c.lanes, meta_bits=c.sample_bits + 1,
                                 **ids),
        "micro_batch_scheduler": dict(lanes=c.lanes, slot_bits=c.slot_bits,
                                      sample_bits=c.sample_bits, max_lookups=c.max_lookups,
                                      capacity=c.capacity, size_bits=c.size_bits,
                                      working_set_bits=c.working_set_bits, **ids),
        "gather_engine": dict(num_tables=c.num_tables, data_bits=c.data_bits,
                              addr_bits=c.addr_bits, id_bits=c.id_bits,
                              reads_in_flight=c.reads_in_flight,
                              writes_in_flight=c.writes_in_flight, max_dim=c.max_dim, **ids),
        "hotline_top": c.top_kwargs(),
    }


#: Block -> constructor parameters of its ECP5 configuration (each block as it is inside
#: :data:`ECP5_TOP`).
ECP5_CONFIGS: dict[str, dict] = block_params(ECP5_TOP)

METHOD = ("block in its ECP5 configuration inside SynthHarness (inputs from a shift register "
          "fed by one pin per 512 bits, outputs registered and XOR-folded into one pin; reset "
          "synchronised, on a global through a DCCA), yosys synth_ecp5 "
          "-top top, nextpnr-ecp5 --um5g-85k --package CABGA381 --speed 8 "
          f"--lpf-allow-unconstrained (in context: clock on a global) --freq "
          f"<{BLOCK_TARGET_MHZ} for a block, {TARGET_MHZ} for hotline_top> --seed 1 "
          "(seed 2, then 3, only where the router fails an arc of the placed design; the "
          "result names its seed) "
          "(hotline_top: --router router2, which gets further than router1 in the time "
          "limit); "
          "utilisation, post-route Fmax of clk and its critical path as nextpnr reports them "
          "(harness flip-flops and XOR tree included)")


#: Longest input shift register of the harness (see SynthHarness's ``chain_bits``).
CHAIN_BITS = 512


class Ecp5Pins(wiring.Component):
    """A :class:`~hotline_hw.synth_harness.SynthHarness` (input chains of at most
    :data:`CHAIN_BITS`) with the reset as a design on this part would have it: the ``rst`` pin
    synchronised by two flip-flops and driven onto a global network by a ``DCCA`` (every
    flip-flop of the top has a reset: some 15K loads, which nextpnr-ecp5 promotes to a global
    only for clock pins). The reset's paths from the synchroniser are timed with the rest.

    Ports: ``clk``, ``rst``, ``si`` (the harness's serial inputs), ``so``."""

    def __init__(self, dut: wiring.Component):
        self.harness = SynthHarness(dut, chain_bits=CHAIN_BITS)
        super().__init__({"clk": In(1), "rst": In(1), "si": In(self.harness.chains),
                          "so": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = sync = ClockDomain(local=True)
        m.domains.pins = pins = ClockDomain(reset_less=True, local=True)
        m.d.comb += [sync.clk.eq(self.clk), pins.clk.eq(self.clk)]
        synchroniser = Signal(2)
        m.d.pins += synchroniser.eq(Cat(self.rst, synchroniser[0]))
        m.submodules.reset_buffer = Instance("DCCA", i_CLKI=synchroniser[1], i_CE=Const(1),
                                             o_CLKO=sync.rst)
        m.submodules.harness = self.harness
        m.d.comb += [self.harness.si.eq(self.si), self.so.eq(self.harness.so)]
        return m


def ecp5_component(block: str):
    """A fresh component of ``block`` in its ECP5 configuration."""
    from hotline_hw.feistel_hash import FeistelHash
    from hotline_hw.gather_engine import GatherEngine
    from hotline_hw.hotline_top import HotlineTop
    from hotline_hw.micro_batch_scheduler import MicroBatchScheduler
    from hotline_hw.popularity_table import PopularityTable

    classes = {"feistel_hash": FeistelHash, "popularity_table": PopularityTable,
               "micro_batch_scheduler": MicroBatchScheduler, "gather_engine": GatherEngine,
               "hotline_top": HotlineTop}
    return classes[block](**ECP5_CONFIGS[block])


_STEP = re.compile(r"^Info:\s+(clk-to-q|routing|logic|setup)\s+([\d.]+)\s+([\d.]+)\s+"
                   r"(Source|Net)\s+(\S+)")
_SINK = re.compile(r"^Info:\s+Sink\s+(\S+)")
_SPLIT = re.compile(r"^Info:\s+([\d.]+) ns logic, ([\d.]+) ns routing")


def _scope(cell: str) -> str:
    """The hierarchical scope of a nextpnr cell name (``dut.table.lane0...``), without the
    mapped-cell suffixes synthesis appends."""
    name = re.split(r"_TRELLIS|\$|_CCU2|_LUT4|_PFUMX|_L6MUX|_DP16KD|_MULT18", cell)[0]
    return name.rsplit(".", 1)[0] if "." in name else name


def parse_critical_path(log: str) -> dict | None:
    """The last (post-route) critical path nextpnr reports for ``clk``: where it starts and
    ends, the scopes it crosses in order, its logic / routing delay and its LUT levels."""
    reports = log.split("Critical path report for clock ")
    if len(reports) < 2:
        return None
    lines = reports[-1].splitlines()
    sources, sinks, levels = [], [], 0
    for line in lines[1:]:
        if line.startswith("Info: Max frequency") or "Critical path report" in line:
            break
        step = _STEP.match(line)
        if step and step.group(4) == "Source":
            sources.append(step.group(5))
            if step.group(1) == "logic" and not step.group(5).endswith((".FCO", ".FCI")):
                levels += 1
        sink = _SINK.match(line)
        if sink:
            sinks.append(sink.group(1))
        split = _SPLIT.match(line)
        if split:
            through = []
            for cell in sources:
                scope = _scope(cell)
                if scope and scope not in through:
                    through.append(scope)
            return {"from": _scope(sources[0]) if sources else None,
                    "to": _scope(sinks[-1]) if sinks else None,
                    "through": through, "logic_ns": float(split.group(1)),
                    "routing_ns": float(split.group(2)), "levels": levels}
    return None


def ecp5_script(design: Path, netlist: str) -> str:
    return "\n".join([
        f"read_rtlil {design}",
        f"synth_ecp5 -top top -json {netlist}",
        "tee -q -o stat.json stat -json",
        "",
    ])


def place_and_route(nextpnr: list[str], work: Path, *, target: float, router2: bool,
                    timeout: float, seeds=PLACEMENT_SEEDS) -> dict:
    """nextpnr-ecp5 on ``work/netlist.json`` with the first of ``seeds``; where the router
    fails to route an arc (nextpnr stops with ``Failed to route``: the design is placed but
    not routable as placed), again with the next seed. The result's ``seed`` is the seed that
    routed (or the last tried) and ``attempts`` the seeds that did not route and why (their
    logs kept as ``nextpnr_seed<N>.log``); a design that does not fit or a timing failure is
    a result, not retried."""
    result: dict = {"attempts": []}
    for n, seed in enumerate(seeds):
        cmd = nextpnr + ECP5_DEVICE + [
            "--lpf-allow-unconstrained", "--freq", str(target), "--seed", str(seed),
            *(["--router", "router2"] if router2 else []),
            "--timing-allow-fail", "--json", "netlist.json", "--log", "nextpnr.log", "-q"]
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=timeout)
        log = (work / "nextpnr.log").read_text(errors="replace") \
            if (work / "nextpnr.log").exists() else ""
        report = parse_nextpnr_log(log)
        keep = ("TRELLIS_COMB", "TRELLIS_FF", "TRELLIS_RAMW", "DP16KD", "MULT18X18D")
        result["utilisation"] = {k: v for k, v in report["utilisation"].items() if k in keep}
        result["seed"] = seed
        result["fits"] = proc.returncode == 0 and bool(report["fmax_mhz"])
        result.pop("pnr_error", None)
        if result["fits"]:
            result["fmax_mhz"] = min(report["fmax_mhz"].values())
            result["meets_target"] = result["fmax_mhz"] >= target
            result["critical_path"] = parse_critical_path(log)
            break
        errors = report["errors"] or (proc.stderr.strip().splitlines() or ["no log"])[-1:]
        result["pnr_error"] = short_error(errors[0])
        if not any("Failed to route" in e for e in errors) or n == len(seeds) - 1:
            break
        result["attempts"].append({"seed": seed, "error": result["pnr_error"]})
        (work / "nextpnr.log").replace(work / f"nextpnr_seed{seed}.log")
    return result


def run_ecp5(block: str, tools: Tools, timeout: float) -> dict:
    """Synthesise, place and route ``block`` in its ECP5 configuration."""
    from amaranth.back import rtlil

    start = time.monotonic()
    work = BUILD / "ecp5" / block
    work.mkdir(parents=True, exist_ok=True)
    target = TARGET_MHZ if block == "hotline_top" else BLOCK_TARGET_MHZ
    with ELABORATION:
        pins = Ecp5Pins(ecp5_component(block))
        (work / "top.il").write_text(rtlil.convert(pins, name="top", emit_src=False))
    harness = pins.harness
    result = {"harness": {"input_bits": harness.input_bits,
                          "output_bits": harness.output_bits, "input_chains": harness.chains},
              "target_mhz": target}
    (work / "synth.ys").write_text(ecp5_script(Path("top.il"), "netlist.json"))
    try:
        proc = run_tool(tools.yosys + ["-q", "-s", "synth.ys"], work / "yosys.log", work, timeout)
        if proc.returncode != 0:
            result["error"] = f"yosys exited {proc.returncode}: {log_tail(work / 'yosys.log')}"
        elif tools.nextpnr_ecp5 is None:
            result["error"] = "nextpnr-ecp5 not found: no place-and-route"
        else:
            result.update(place_and_route(tools.nextpnr_ecp5, work, target=target,
                                          router2=block in ROUTER2_BLOCKS, timeout=timeout))
    except subprocess.TimeoutExpired as exc:
        result["error"] = f"{Path(exc.cmd[0]).name} timed out after {timeout:.0f} s"
    result["seconds"] = round(time.monotonic() - start, 1)
    return result


def markdown_table(results: dict) -> str:
    """The README's ECP5 table: one row per block that has ECP5 figures."""
    lines = ["| block (ECP5 build) | LUT4 | FF | DP16KD | MULT18 | Fmax MHz | target | "
             "critical path (from -> to; logic + routing ns, LUT levels) |",
             "|---|---|---|---|---|---|---|---|"]
    for block, flows in results.items():
        e = flows.get("ecp5")
        if not e:
            continue
        u = e.get("utilisation", {})

        def used(name):
            return f"{u[name][0]:,}" if name in u else "-"
        if e.get("fits"):
            fmax = f"{e['fmax_mhz']:.1f}" + (f" (seed {e['seed']})" if e.get("seed", 1) != 1
                                             else "")
            verdict = f"{e['target_mhz']} ({'met' if e['meets_target'] else 'missed'})"
            cp = e.get("critical_path") or {}
            path = (f"`{cp.get('from')}` -> `{cp.get('to')}`; {cp.get('logic_ns')} + "
                    f"{cp.get('routing_ns')} ns, {cp.get('levels')}") if cp else "-"
        else:
            routing = "route" in (e.get("pnr_error") or "").lower()
            fmax = ("not routed" if routing else "does not fit") if "fits" in e else "failed"
            verdict, path = f"{e.get('target_mhz', '-')}", e.get("pnr_error") or e.get("error", "")
        lines.append(f"| {block} | {used('TRELLIS_COMB')} | {used('TRELLIS_FF')} | "
                     f"{used('DP16KD')} | {used('MULT18X18D')} | {fmax} | {verdict} | {path} |")
    return "\n".join(lines)


def plot(results: dict, path: Path) -> bool:
    """Bar chart of each block's ECP5 Fmax against its target; False if there is nothing to
    plot."""
    rows = [(block, flows["ecp5"]) for block, flows in results.items()
            if flows.get("ecp5", {}).get("fits")]
    if not rows:
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    names = [block for block, _ in rows]
    fmax = [e["fmax_mhz"] for _, e in rows]
    targets = [e["target_mhz"] for _, e in rows]
    colours = ["tab:green" if e["meets_target"] else "tab:red" for _, e in rows]
    ax.bar(names, fmax, color=colours, label="post-route Fmax (green: target met)")
    ax.scatter(names, targets, marker="_", s=900, color="black", zorder=3, label="target")
    for x, value in enumerate(fmax):
        ax.annotate(f"{value:.0f}", (x, value), ha="center", va="bottom")
    ax.set_ylabel("Fmax (MHz)")
    ax.set_title("Hotline blocks placed and routed on ECP5 LFE5UM5G-85F-8 "
                 "(nextpnr-ecp5, in context)")
    ax.legend(loc="upper right")
    plt.setp(ax.get_xticklabels(), rotation=15, ha="right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
