# amaranth: UnusedElaboratable=no
"""``make synth``'s ECP5 flow without the slow tools: parsing of nextpnr-ecp5's critical path
report (a captured sample, names shortened), the ECP5 configurations (block RAM that the part
holds) and the report table. Its harness (SynthHarness) is tested in tests/test_synth.py."""

from scripts import synth_ecp5

CRITICAL_PATH = """\
Info: Max frequency for clock 'clk': 89.34 MHz (FAIL at 150.00 MHz)
Info: Critical path report for clock 'clk' (posedge -> posedge):
Info:       type curr  total name
Info:   clk-to-q  0.31  0.31 Source dut.i__payload.value_TRELLIS_FF_Q.Q
Info:    routing  0.55  0.86 Net dut.i__payload.value[0] (43,7) -> (43,7)
Info:                          Sink dut.round0.sum_CCU2C_S0$CCU2_COMB0.B
Info:                          Defined in:
Info:                               /share/lattice/cells_map_trellis.v:108.23-108.24
Info:      logic  0.28  1.14 Source dut.round0.sum_CCU2C_S0$CCU2_COMB0.FCO
Info:    routing  0.00  1.14 Net dut.round0.sum_CCU2C_S0$CCU2_FCI_INT (43,7) -> (43,7)
Info:                          Sink dut.round0.sum_CCU2C_S0$CCU2_COMB1.FCI
Info:      logic  0.40  1.54 Source dut.round1.mix_LUT4_Z.Z
Info:    routing  0.80  2.34 Net dut.round1.mix (43,7) -> (45,9)
Info:                          Sink dut.round3.out_LUT4_Z.A
Info:      logic  0.40  2.74 Source dut.round3.out_LUT4_Z.Z
Info:    routing  0.31  3.05 Net dut.o__payload.hash_TRELLIS_FF_Q_13_DI (46,2) -> (46,2)
Info:                          Sink dut.o__payload.hash_TRELLIS_FF_Q_13.M
Info:      setup  0.00  3.05 Source dut.o__payload.hash_TRELLIS_FF_Q_13.M
Info: 1.39 ns logic, 1.66 ns routing

Warning: Max frequency for clock 'clk': 95.08 MHz (FAIL at 150.00 MHz)
"""


def test_parse_critical_path():
    path = synth_ecp5.parse_critical_path(CRITICAL_PATH)
    assert path == {"from": "dut.i__payload", "to": "dut.o__payload",
                    "through": ["dut.i__payload", "dut.round0", "dut.round1", "dut.round3",
                                "dut.o__payload"],
                    "logic_ns": 1.39, "routing_ns": 1.66, "levels": 2}
    assert synth_ecp5.parse_critical_path("Info: no timing here") is None


def test_ecp5_top_fits_the_parts_block_ram():
    """The ECP5 build's large memories (table copies, sample buffer) in DP16KD (18 kbit, at most
    36 bits wide) under the part's 208: a rough count from the parameters, so a configuration
    that cannot fit is caught before a 15-minute place and route."""
    c = synth_ecp5.ECP5_TOP
    g = c.geometry
    entry_bits = 1 + 2 + g.tag_bits
    per_copy = -(-(g.sets * g.ways * entry_bits) // (18 * 1024))
    table = per_copy * c.lanes
    buffer_bits = c.capacity * c.max_lookups * (c.slot_bits + 1)
    scheduler = -(-buffer_bits // (18 * 1024))
    assert table + scheduler < 208, (table, scheduler)


def test_markdown_table_rows():
    results = {
        "feistel_hash": {"ecp5": {"fits": True, "fmax_mhz": 95.08, "target_mhz": 150,
                                  "meets_target": False,
                                  "utilisation": {"TRELLIS_COMB": [268, 83640],
                                                  "TRELLIS_FF": [155, 83640]},
                                  "critical_path": {"from": "a", "to": "b", "through": [],
                                                    "logic_ns": 3.86, "routing_ns": 6.66,
                                                    "levels": 12}}},
        "hotline_top": {"ecp5": {"fits": False, "target_mhz": 125,
                                 "pnr_error": "ERROR: design does not fit"}},
        "gather_engine": {"xc7": {}},
    }
    table = synth_ecp5.markdown_table(results).splitlines()
    assert len(table) == 4
    assert "| feistel_hash | 268 | 155 | - | - | 95.1 | 150 (missed) |" in table[2]
    assert "does not fit" in table[3] and "ERROR: design does not fit" in table[3]


def test_ecp5_pins_put_the_synchronised_reset_on_a_global():
    """The ECP5 wrapper: the harness's chains as ``si`` pins, and the reset through two
    flip-flops into a DCCA whose output resets the block's domain."""
    from amaranth.back import rtlil
    from amaranth.hdl import Module
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    class Wide(wiring.Component):
        a: In(1200)
        y: Out(1)

        def elaborate(self, platform):
            m = Module()
            m.d.sync += self.y.eq(self.a.xor())
            return m

    pins = synth_ecp5.Ecp5Pins(Wide())
    assert (pins.harness.chains, len(pins.si)) == (3, 3)   # 1200 bits in chains of <= 512
    text = rtlil.convert(pins, name="top", emit_src=False)
    assert "cell \\DCCA \\reset_buffer" in text
    assert "connect \\CLKI" in text and "connect \\CLKO" in text


_FAKE_NEXTPNR = """\
import sys
from pathlib import Path
args = sys.argv[1:]
seed = int(args[args.index("--seed") + 1])
log = Path(args[args.index("--log") + 1])
fail = {fail!r}
util = "Info: \\t        TRELLIS_COMB:   100/  83640     0%\\n"
if seed in fail:
    log.write_text(util + "ERROR: Failed to route arc 0.0 of net 'synchroniser[1]', from A to B.\\n")
    sys.exit(1)
if seed in {unfit!r}:
    log.write_text("ERROR: Unable to place cell 'x', no BELs remaining\\n")
    sys.exit(1)
log.write_text(util + "Info: Max frequency for clock 'clk': {{}}.00 MHz (PASS at 125.00 MHz)\\n"
               .format(100 + seed))
"""


def _fake(tmp_path, fail=(), unfit=()):
    import sys

    script = tmp_path / "fake_nextpnr.py"
    script.write_text(_FAKE_NEXTPNR.format(fail=tuple(fail), unfit=tuple(unfit)))
    return [sys.executable, str(script)]


def test_place_and_route_tries_the_next_seed_only_where_routing_failed(tmp_path):
    run = dict(target=125, router2=True, timeout=60)
    first = synth_ecp5.place_and_route(_fake(tmp_path), tmp_path, **run)
    assert first["fits"] and first["seed"] == 1 and first["fmax_mhz"] == 101.0
    assert first["attempts"] == [] and first["meets_target"] is False
    retried = synth_ecp5.place_and_route(_fake(tmp_path, fail=(1, 2)), tmp_path, **run)
    assert retried["fits"] and retried["seed"] == 3 and retried["fmax_mhz"] == 103.0
    assert [a["seed"] for a in retried["attempts"]] == [1, 2]
    assert "Failed to route" in retried["attempts"][0]["error"]
    assert (tmp_path / "nextpnr_seed1.log").exists() and (tmp_path / "nextpnr_seed2.log").exists()
    assert "pnr_error" not in retried
    never = synth_ecp5.place_and_route(_fake(tmp_path, fail=(1, 2, 3)), tmp_path, **run)
    assert not never["fits"] and never["seed"] == 3 and "Failed to route" in never["pnr_error"]
    unfit = synth_ecp5.place_and_route(_fake(tmp_path, unfit=(1,)), tmp_path, **run)
    assert not unfit["fits"] and unfit["seed"] == 1 and unfit["attempts"] == []
    table = synth_ecp5.markdown_table({"hotline_top": {"ecp5": {**retried, "target_mhz": 125}},
                                       "gather_engine": {"ecp5": {**never, "target_mhz": 125}}})
    assert "| 103.0 (seed 3) | 125 (missed) |" in table
    assert "not routed" in table.splitlines()[3]
