"""``make bench`` parts of the single blocks, each an RTL build under Verilator driven by its
``tb/bench_*.py`` cocotb module: ``popularity_table``, ``micro_batch_scheduler``,
``gather_engine``.

Micro-batch scheduler keys: ``micro_batch_scheduler.P<lanes>.F<lookups>.samples_per_cycle`` and
``...vs_lanes_over_lookups`` (samples per cycle / (P / F); goal >= 0.95).

Gather engine keys: ``gather_engine.B<bus bits>.R<reads in flight>.D<dim>_L<latency>
.read_bus_utilisation`` (R beats per cycle, 1.0 = the bus's peak; goal >= 0.95 at 200 cycles
with 64-byte rows) and ``...useful_bytes`` (share of the R bytes in requested rows).

Popularity table keys: ``popularity_table.P<lanes>.<RUN|LEARN>.<uniform|zipf>.<dense|sample>
.lookups_per_cycle`` (``dense``: lanes filled with consecutive lookups; ``sample``: each sample
of 26 lookups starts a new beat) and ``...lane_utilisation`` (lookups per cycle / lanes).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from hotline_hw.model import TableGeometry  # noqa: E402
from sw_driver.data import SyntheticCriteo  # noqa: E402


POPULARITY_CASES = [
    # LEARN first so the RUN cases see a learned table (hits and misses, as in use).
    {"name": "LEARN.zipf.sample", "array": "zipf", "mode": "LEARN", "packing": "sample"},
    {"name": "RUN.zipf.sample", "array": "zipf", "mode": "RUN", "packing": "sample"},
    {"name": "RUN.zipf.dense", "array": "zipf", "mode": "RUN", "packing": "dense"},
    {"name": "RUN.uniform.dense", "array": "uniform", "mode": "RUN", "packing": "dense"},
    {"name": "RUN.uniform.sample", "array": "uniform", "mode": "RUN", "packing": "sample"},
    {"name": "LEARN.uniform.sample", "array": "uniform", "mode": "LEARN", "packing": "sample"},
]


def bench_popularity_table(lanes_list, samples: int, seed: int) -> tuple[dict, dict, dict]:
    from hotline_hw.popularity_table import PopularityTable
    from tb.runner import BUILD_ROOT, run_cocotb

    geometry = TableGeometry()            # the FPGA-sized default: 16K sets x 4 ways
    work = BUILD_ROOT / "bench"
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    traffic = work / "popularity_traffic.npz"
    zipf = SyntheticCriteo(samples, scale=0.01, seed=seed).generate_sparse(samples)
    uniform = rng.integers(0, 1 << geometry.row_bits, size=zipf.shape)
    np.savez(traffic, zipf=zipf, uniform=uniform)

    figures, goals = {}, {}
    for lanes in lanes_list:
        report = work / f"popularity_P{lanes}.json"
        params = {"traffic": str(traffic), "cases": POPULARITY_CASES, "lanes": lanes,
                  "report": str(report), "table_bits": geometry.table_bits,
                  "row_bits": geometry.row_bits, "set_bits": geometry.set_bits,
                  "ways": geometry.ways, "table_in_bits": 8, "row_in_bits": 32}
        run_cocotb(test_id=f"bench_popularity_table_P{lanes}",
                   component=PopularityTable(geometry=geometry, lanes=lanes),
                   toplevel="popularity_table", test_module="tb.bench_popularity_table",
                   params=params, sim="verilator")
        for case, result in json.loads(report.read_text()).items():
            key = f"popularity_table.P{lanes}.{case}"
            figures[f"{key}.lookups_per_cycle"] = round(result["lookups_per_cycle"], 4)
            figures[f"{key}.lane_utilisation"] = round(result["lane_utilisation"], 4)
            if case.startswith("RUN") and case.endswith("dense"):
                goals[f"{key}.lane_utilisation"] = ">= 0.95 (>= 0.95 P lookups/cycle in RUN)"
            elif case.startswith("RUN"):
                bound = 26 / (lanes * -(-26 // lanes))
                goals[f"{key}.lane_utilisation"] = (
                    f"framing bound 26/(P*ceil(26/P)) = {bound:.3f}: a beat holds one sample")
            else:
                goals[f"{key}.lookups_per_cycle"] = "stated: 1 lookup/cycle (one write port)"
    config = {"popularity_table": {"geometry": "16384 sets x 4 ways, 5+24-bit keys",
                                   "lanes": list(lanes_list), "samples_per_case": samples,
                                   "lookups_per_sample": 26,
                                   "zipf": "SyntheticCriteo scale 0.01, alpha 1.15",
                                   "uniform": "uniform rows < 2**24, tables 0..25",
                                   "seed": seed}}
    return figures, goals, config


def bench_micro_batch_scheduler(lanes_list, samples: int) -> tuple[dict, dict, dict]:
    from tb.micro_batch_scheduler_tb import make_component, make_params
    from tb.runner import BUILD_ROOT, run_cocotb

    work = BUILD_ROOT / "bench"
    work.mkdir(parents=True, exist_ok=True)
    cases = [{"name": f"F{f}", "lookups": f, "batch_size": 64, "working_set": 4,
              "samples": samples, "popular_rate": 0.5} for f in (8, 26, 39)]
    figures, goals = {}, {}
    for lanes in lanes_list:
        report = work / f"scheduler_P{lanes}.json"
        params = make_params(lanes=lanes, max_lookups=40, capacity=512, size_bits=10,
                             working_set_bits=3, cases=cases, report=str(report))
        run_cocotb(test_id=f"bench_micro_batch_scheduler_P{lanes}",
                   component=make_component(params), toplevel="micro_batch_scheduler",
                   test_module="tb.bench_micro_batch_scheduler", params=params,
                   sim="verilator")
        for case in (c["name"] for c in cases):
            result = json.loads(Path(f"{report}.{case}.json").read_text())
            key = f"micro_batch_scheduler.P{lanes}.{case}"
            figures[f"{key}.samples_per_cycle"] = round(result["samples_per_cycle"], 5)
            figures[f"{key}.vs_lanes_over_lookups"] = round(result["vs_lanes_over_lookups"], 4)
            goals[f"{key}.vs_lanes_over_lookups"] = (
                f">= 0.95 x P/F; framing bound {result['framing_bound']:.3f} "
                f"(a beat holds one sample; the table's own bound)")
    config = {"micro_batch_scheduler": {
        "lanes": list(lanes_list), "lookups_per_sample": [8, 26, 39], "batch_size": 64,
        "working_set": 4, "samples_per_case": samples, "popular_rate": 0.5,
        "capacity": 512,
        "measured": "samples / cycles from the first to the last input beat, no pauses"}}
    return figures, goals, config


#: Gather engine builds: (bus bits, reads in flight). 128 bits x 64 is the rtl/ configuration.
GATHER_BUILDS = ((64, 32), (128, 16), (128, 32), (128, 64), (512, 64), (512, 256))
GATHER_LATENCIES = (20, 100, 200, 400)


def bench_gather_engine(rows: int, builds=GATHER_BUILDS,
                        latencies=GATHER_LATENCIES) -> tuple[dict, dict, dict]:
    from tb.gather_engine_tb import make_component, make_params
    from tb.runner import BUILD_ROOT, run_cocotb

    work = BUILD_ROOT / "bench"
    work.mkdir(parents=True, exist_ok=True)
    figures, goals = {}, {}
    for data_bits, slots in builds:
        bus_bytes = data_bits // 8
        cases = []
        for dim in (16, 32, 64):                   # 64-, 128-, 256-byte rows
            for latency in latencies:
                cases.append({"name": f"D{dim}_L{latency}", "latency": latency, "dim": dim,
                              "rows": rows, "misalign": 0})
        cases.append({"name": "D16_L200_unaligned", "latency": 200, "dim": 16, "rows": rows,
                      "misalign": 1})
        report = work / f"gather_B{data_bits}_R{slots}.json"
        params = make_params(data_bits=data_bits, max_dim=64, reads_in_flight=slots,
                             id_bits=max(1, (slots - 1).bit_length()), num_tables=2,
                             row_in_bits=20, memory_size=1 << 22, cases=cases,
                             report=str(report))
        run_cocotb(test_id=f"bench_gather_engine_B{data_bits}_R{slots}",
                   component=make_component(params), toplevel="gather_engine",
                   test_module="tb.bench_gather_engine", params=params, sim="verilator")
        for case in cases:
            result = json.loads(Path(f"{report}.{case['name']}.json").read_text())
            key = f"gather_engine.B{data_bits}.R{slots}.{case['name']}"
            figures[f"{key}.read_bus_utilisation"] = round(result["utilisation"], 4)
            figures[f"{key}.useful_bytes"] = round(result["useful"], 4)
            beats = -(-4 * case["dim"] // bus_bytes)
            bound = min(1.0, slots * beats / (case["latency"] + 6))
            if case["dim"] == 16 and case["latency"] == 200 and not case["misalign"]:
                goals[f"{key}.read_bus_utilisation"] = (
                    f">= 0.95 at 200 cycles, 64-byte rows, enough reads in flight "
                    f"(need >= {-(-206 // beats)} here; contract bound {bound:.3f})")
            else:
                goals[f"{key}.read_bus_utilisation"] = f"contract bound {bound:.3f}"
    config = {"gather_engine": {
        "builds": [{"data_bits": d, "reads_in_flight": r} for d, r in builds],
        "latencies": list(latencies), "row_bytes": [64, 128, 256], "rows_per_case": rows,
        "memory": "HostMemory: fixed latency, in order, no stalls; output always ready",
        "measured": "R beats / cycles from the first to the last R beat",
        "contract_bound": "min(1, reads_in_flight * beats_per_row / (latency + 6))"}}
    return figures, goals, config
