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


def test_paper_rtl_command_line_builds_the_asked_table(tmp_path, monkeypatch):
    """``python scripts/paper_rtl.py --set-bits N``: the rtl/ build with 2**N sets, the result
    written as JSON, the exit status from its check (the stage itself: the test above)."""
    import json

    from hotline_hw.device_config import HotlineConfig

    paper_rtl = import_module("scripts.paper_rtl")
    assert paper_rtl.config_with_set_bits(None) is None
    big = paper_rtl.config_with_set_bits(19)
    assert big.geometry.entries == 2 * 1024 * 1024          # the paper's 2M entries
    assert big.geometry.set_bits == 19
    rest = HotlineConfig()
    assert (big.lanes, big.data_bits, big.capacity) == (rest.lanes, rest.data_bits, rest.capacity)
    calls = []

    def fake_run(**kwargs):
        calls.append(kwargs)
        config = kwargs["config"] or HotlineConfig()
        return {"passed": len(calls) == 1, "entries": config.geometry.entries}

    monkeypatch.setattr(paper_rtl, "run_rtl", fake_run)
    out = tmp_path / "rtl.json"
    assert paper_rtl.main(["--set-bits", "17", "--working-sets", "3", "--out", str(out)]) == 0
    assert calls[0]["working_sets"] == 3 and calls[0]["config"].geometry.set_bits == 17
    written = json.loads(out.read_text())
    assert written["entries"] == 4 * 2**17 and written["total_seconds"] >= 0
    assert paper_rtl.main(["--out", str(out)]) == 1          # a failed check fails the command
    assert calls[1]["config"] is None                        # the rtl/ build
