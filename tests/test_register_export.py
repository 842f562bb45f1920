"""The register map for firmware (``rtl/hotline_regs.h``, ``.vh``, ``.rdl``) against the single
source, ``hotline_hw/register_map.py``: the C header compiled with the C compiler and every
offset, field and reset value it defines checked against the Python map; the SystemRDL read by
systemrdl-compiler (what PeakRDL uses) and every register, field and access checked; the files
in ``rtl/`` equal to what the generator writes."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
from systemrdl import RDLCompiler
from systemrdl.node import FieldNode, RegNode

from hotline_hw import register_export
from hotline_hw import register_map as rmap
from tb.seeding import seed_for

REPO = Path(__file__).resolve().parent.parent
NUM_TABLES = 26  # the rtl/ build (hotline_hw.verilog.RTL_TOPS["hotline_top"])


def _checks(seed: int) -> list[tuple[str, int]]:
    """(C expression, value the Python map gives) for every register, field and constant, and
    GET / SET of random values."""
    rng = random.Random(seed)
    checks = [("HOTLINE_ID_CONSTANT", rmap.ID_VALUE),
              ("HOTLINE_VERSION_MAJOR", rmap.VERSION[0]),
              ("HOTLINE_VERSION_MINOR", rmap.VERSION[1]),
              ("HOTLINE_VERSION_PATCH", rmap.VERSION[2]),
              ("HOTLINE_ADDRESS_BITS", rmap.ADDRESS_BITS),
              ("HOTLINE_NUM_TABLES", NUM_TABLES)]
    for reg in rmap.REGISTERS:
        c = f"HOTLINE_{reg.name}"
        checks.append((f"{c}_OFFSET", reg.address))
        checks.append((f"{c}_RESET", reg.reset if reg.access == "rw" else 0))
        for f in reg.fields:
            cf = f"{c}_{f.name.upper()}"
            checks += [(f"{cf}_LSB", f.lsb), (f"{cf}_WIDTH", f.width), (f"{cf}_MASK", f.mask)]
            value = rng.randrange(1 << f.width)
            checks.append((f"{cf}_SET({value}u)", reg.pack(**{f.name: value})))
            word = rng.randrange(1 << 32)
            checks.append((f"{cf}_GET({word}u)", reg.unpack(word)[f.name]))
    for table in (0, 1, NUM_TABLES - 1):
        for name in rmap.TABLE_REGISTERS:
            checks.append((f"HOTLINE_{name}_OFFSET({table})",
                           rmap.table_register_address(name, table)))
    for name, (bit, _doc) in rmap.ERROR_BITS.items():
        checks.append((f"HOTLINE_ERROR_{name.upper()}", 1 << bit))
    return checks


def test_c_header_compiles_and_matches_the_map(tmp_path):
    seed = seed_for("test_c_header_compiles_and_matches_the_map")
    print(f"seed {seed}")
    header = tmp_path / "hotline_regs.h"
    header.write_text(register_export.c_header(NUM_TABLES))
    checks = _checks(seed)
    program = ['#include <stdio.h>', '#include "hotline_regs.h"', "int main(void) {"]
    program += [f'    printf("%lu\\n", (unsigned long)({expr}));' for expr, _ in checks]
    program += ["    return 0;", "}"]
    (tmp_path / "check.c").write_text("\n".join(program) + "\n")
    subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-o",
                    str(tmp_path / "check"), str(tmp_path / "check.c")], check=True,
                   cwd=tmp_path)
    out = subprocess.run([str(tmp_path / "check")], check=True, capture_output=True,
                         text=True).stdout.split()
    assert len(out) == len(checks)
    wrong = [(expr, int(got), want) for (expr, want), got in zip(checks, out)
             if int(got) != want]
    assert not wrong, f"C header disagrees with register_map: {wrong[:5]}"


def test_c_names_cover_the_header_constants():
    """Every name of c_names (what the Verilog defines carry) is defined in the C header, with
    the same value as the C program above checks."""
    text = register_export.c_header(NUM_TABLES)
    names = register_export.c_names(NUM_TABLES)
    for name in names:
        assert f"#define {name} " in text, name
    vh = register_export.verilog_header(NUM_TABLES)
    for name, value in names.items():
        assert f"`define {name} 32'h{value:08X}" in vh


def _rdl(tmp_path) -> RDLCompiler:
    path = tmp_path / "hotline_regs.rdl"
    path.write_text(register_export.systemrdl(NUM_TABLES))
    compiler = RDLCompiler()
    compiler.compile_file(str(path))
    return compiler.elaborate().top


def test_systemrdl_elaborates_and_matches_the_map(tmp_path):
    top = _rdl(tmp_path)
    regs = {r.get_path(): r for r in top.descendants(unroll=True) if isinstance(r, RegNode)}
    assert len(regs) == len(rmap.REGISTERS) + NUM_TABLES * len(rmap.TABLE_REGISTERS)
    for reg in rmap.REGISTERS:
        node = regs[f"hotline.{reg.name}"]
        assert node.absolute_address == reg.address, reg.name
        fields = {f.inst_name: f for f in node.fields()}
        assert set(fields) == {f.name for f in reg.fields}, reg.name
        for f in reg.fields:
            node_f: FieldNode = fields[f.name]
            assert (node_f.lsb, node_f.width) == (f.lsb, f.width), f"{reg.name}.{f.name}"
            assert node_f.is_sw_readable == (reg.access in ("ro", "rw")), f"{reg.name}.{f.name}"
            assert node_f.is_sw_writable == (reg.access in ("rw", "wo")), f"{reg.name}.{f.name}"
            if reg.access == "rw":
                assert node_f.get_property("reset") == reg.unpack(reg.reset)[f.name]
    for table in (0, NUM_TABLES - 1):
        for name in rmap.TABLE_REGISTERS:
            node = regs[f"hotline.TABLE[{table}].{name}"]
            assert node.absolute_address == rmap.table_register_address(name, table)


def test_rtl_files_are_what_the_generator_writes():
    """``make verilog-check`` checks this too (after a full conversion); this is the fast form."""
    for name, text in (("hotline_regs.h", register_export.c_header(NUM_TABLES)),
                       ("hotline_regs.vh", register_export.verilog_header(NUM_TABLES)),
                       ("hotline_regs.rdl", register_export.systemrdl(NUM_TABLES))):
        assert (REPO / "rtl" / name).read_text() == text, f"rtl/{name}: run make verilog"


def test_rtl_build_has_the_tables_the_files_say():
    from hotline_hw.verilog import RTL_TOPS
    assert RTL_TOPS["hotline_top"]().params["num_tables"] == NUM_TABLES
