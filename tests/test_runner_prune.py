"""sim_build/ stays bounded: after a cocotb run the runner removes the build products no later
step reads (precompiled headers, objects, archives: every run rebuilds), keeping the sources,
logs, results and the simulator executable."""

from tb import runner


def test_prune_keeps_sources_logs_and_executables(tmp_path):
    kept = ["hotline_top.v", "results.xml", "Vtop", "Vtop.mk", "obj/Vtop__ALL.cpp", "sim.vvp"]
    pruned = ["Vtop__pch.h.fast.gch", "Vtop__ALL.o", "obj/verilated.o", "libVtop.a"]
    for name in kept + pruned:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    runner._prune(tmp_path)
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == sorted(kept)
