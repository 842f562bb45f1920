"""``make paper``'s RTL stage (scripts/paper_rtl.py) on the small build: the learning window
and working sets through ``HotlineTop`` on the native backend, every output equal to the golden
model's, and the run-phase popular samples equal to the software experiment's fast path."""

from importlib import import_module

from tb import driver_scenarios as sc


def test_paper_rtl_stage_on_the_small_build(native_build, seed):
    paper_rtl = import_module("scripts.paper_rtl")
    out = paper_rtl.run_rtl(working_sets=6, config=sc.SMALL_CONFIG, batch_size=16,
                            seed=seed % 2**31)
    print(seed, {k: v for k, v in out.items() if k != "mismatches"})
    assert out["entries"] == 512 and out["learn_samples"] == 560     # 5% of a 11.2K epoch
    assert out["run_samples"] == 6 * 4 * 16
    assert out["rtl_equals_model"] and out["counters_equal"] and not out["mismatches"]
    assert out["fast_path_equal"] and 0 < out["popular_fraction"] < 1
    assert out["passed"] and out["wall_seconds"] > 0
