"""``make bench`` part ``banked_table``: the banked popularity table's lookups per cycle.

Throughput of :class:`hotline_hw.banked_popularity_table.BankedPopularityTable` in RUN and
LEARN vs lanes (4, 16, 32, 64), banks and queue depth, on hashed uniform and Zipf traffic, from
the cycle model :class:`hotline_hw.model.banked_timing.BankedTiming`: large-P RTL takes minutes
to convert and is slow to simulate, and the model predicts every response beat's cycle exactly
(``tests/hw/test_banked_popularity_table_sim.py`` checks it against the RTL at small P on
random, repeated-key and hazard traffic). Table: the paper's 2M entries (512K sets x 4 ways).
Beats are offered back to back, every lane valid; the output never stalls.

Figures, prefix ``banked_table.``:

* ``P<lanes>.B<banks>.Q<queue entries>.<RUN|LEARN>.<uniform|zipf>.lane_utilisation``:
  lookups per cycle / lanes over the whole run (queue entries = depth beats x lanes);
* ``P<lanes>.<RUN|LEARN>.<traffic>.lane_utilisation`` the headline build per lane count:
  banks = 2 x lanes, a 512-entry queue (at least 4 beats);
* ``paper_point.<...>``: 64 lanes, 64 banks, 512-entry queue (the paper's Fig. 11: about 60 of
  64 requests per cycle, 0.94), and ``P64.B64.Q<1024|2048|4096>.RUN.<traffic>`` the deeper
  queues that 64 banks need with responses returned in order;
* ``memory_bits_per_entry`` (the bank memories' bits / entries: the entry width) and
  ``replication_factor`` (bank memory bits / (entries x entry bits): 1; the unbanked table's is
  its lane count, one memory copy per read port).

A plot beside the paper's point goes to ``bench/banked_table.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hotline_hw.model import PopularityTable, TableGeometry  # noqa: E402
from hotline_hw.model.banked_timing import BankedTiming, hashed_beats_from_arrays  # noqa: E402

#: The paper's Embedding Access Logger: 2M entries (512K sets x 4 ways).
PAPER_GEOMETRY = TableGeometry(table_bits=5, row_bits=24, set_bits=19, ways=4)
PAPER_POINT = {"lanes": 64, "banks": 64, "queue": 512, "lane_utilisation": 60 / 64}
LANES = (4, 16, 32, 64)
QUEUES = (128, 256, 512)
ZIPF_EXPONENT = 1.05
ZIPF_KEYS = 1 << 20


def traffic(kind: str, lookups: int, rng: np.random.Generator,
            geometry: TableGeometry = PAPER_GEOMETRY) -> tuple[np.ndarray, np.ndarray]:
    """``(sets, tags)`` of ``lookups`` hashed keys: ``uniform`` over the whole key space, or
    ``zipf`` (exponent :data:`ZIPF_EXPONENT` over :data:`ZIPF_KEYS` random distinct keys)."""
    model = PopularityTable(geometry)
    if kind == "uniform":
        keys = rng.integers(0, 1 << geometry.key_bits, lookups)
    elif kind == "zipf":
        weights = 1.0 / np.arange(1, ZIPF_KEYS + 1) ** ZIPF_EXPONENT
        cumulative = np.cumsum(weights / weights.sum())
        ranks = np.minimum(np.searchsorted(cumulative, rng.random(lookups)), ZIPF_KEYS - 1)
        pool = rng.choice(1 << geometry.key_bits, ZIPF_KEYS, replace=False)
        keys = pool[ranks]
    else:
        raise ValueError(f"unknown traffic {kind!r}")
    return model.set_and_tag_array(keys >> geometry.row_bits,
                                   keys & ((1 << geometry.row_bits) - 1))


def utilisation(lanes: int, banks: int, depth: int, learn: bool, sets, tags) -> float:
    beats = len(sets) // lanes
    s = sets[:beats * lanes].reshape(beats, lanes)
    t = tags[:beats * lanes].reshape(beats, lanes)
    run = BankedTiming(lanes=lanes, banks=banks, depth=depth).run(
        hashed_beats_from_arrays(s, t, np.ones_like(s, dtype=bool)), learn=learn)
    return run.lookups_per_cycle / lanes


def memory_figures(geometry: TableGeometry) -> dict:
    """Bits of the bank memories of a small build (elaborated) and of the paper's size."""
    from hotline_hw.banked_popularity_table import BankedPopularityTable
    from hotline_hw.table_bank import TableBank

    small = TableGeometry(table_bits=2, row_bits=6, set_bits=4, ways=4)
    table = BankedPopularityTable(geometry=small, lanes=4, banks=8, depth=4, table_in_bits=2,
                                  row_in_bits=6)
    banks = [TableBank(geometry=small, sets=small.sets // table.banks) for _ in range(8)]
    bank_bits = sum(b.sets * small.ways * small.entry_bits for b in banks)
    assert table.memory_bits == bank_bits
    return {"memory_bits_per_entry": bank_bits / small.entries,
            "replication_factor": bank_bits / (small.entries * small.entry_bits),
            "paper_size.memory_bits": geometry.entries * geometry.entry_bits,
            "paper_size.memory_bits_per_entry": geometry.entry_bits}


def bench_banked_table(*, beats: int = 1500, quick: bool = False, seed: int = 0,
                       plot: Path | None = REPO / "bench" / "banked_table.png"
                       ) -> tuple[dict, dict, dict]:
    """Figures, goals and config of the ``banked_table`` part (see the module docstring)."""
    rng = np.random.default_rng(seed)
    lanes_list = (4, 16) if quick else LANES
    queues = (128, 512) if quick else QUEUES
    kinds = ("uniform", "zipf")
    modes = ("RUN", "LEARN")
    figures, goals = {}, {}
    streams = {kind: traffic(kind, beats * max(LANES), rng) for kind in kinds}
    curves = {}
    for lanes in lanes_list:
        for banks in (lanes, 2 * lanes, 4 * lanes):
            for queue in queues:
                depth = max(4, queue // lanes)
                for mode in modes:
                    for kind in kinds:
                        sets, tags = streams[kind]
                        value = utilisation(lanes, banks, depth, mode == "LEARN",
                                            sets[:beats * lanes], tags[:beats * lanes])
                        key = f"P{lanes}.B{banks}.Q{depth * lanes}.{mode}.{kind}"
                        figures[f"banked_table.{key}.lane_utilisation"] = round(value, 4)
                        curves[(lanes, banks // lanes, queue, mode, kind)] = value
                        if banks == 2 * lanes and queue == max(queues):
                            head = f"banked_table.P{lanes}.{mode}.{kind}.lane_utilisation"
                            figures[head] = round(value, 4)
                            if mode == "RUN" and lanes >= 16:
                                goals[head] = ">= 0.9 (issue 14, RUN at P = 16, 32, 64)"
                            if mode == "LEARN" and kind == "zipf" and lanes == 32:
                                goals[head] = ">= 0.5 (issue 14, LEARN on Zipf at P = 32)"
    if not quick:
        for mode in modes:
            for kind in kinds:
                sets, tags = streams[kind]
                value = utilisation(64, 64, 8, mode == "LEARN", sets, tags)
                key = f"banked_table.paper_point.{mode}.{kind}.lane_utilisation"
                figures[key] = round(value, 4)
                goals[key] = "paper Fig. 11: about 60 of 64 (0.94) with 64 banks, 512 entries"
        # The paper's 64 banks at 64 lanes: the queue an in-order window needs instead.
        for queue in (1024, 2048, 4096):
            for kind in kinds:
                sets, tags = streams[kind]
                value = utilisation(64, 64, queue // 64, False, sets, tags)
                figures[f"banked_table.P64.B64.Q{queue}.RUN.{kind}.lane_utilisation"] = \
                    round(value, 4)
    for name, value in memory_figures(PAPER_GEOMETRY).items():
        figures[f"banked_table.{name}"] = value
    goals["banked_table.replication_factor"] = "1 (issue 14: no memory copy per lane)"
    config = {"banked_table": {
        "source": "cycle model hotline_hw.model.banked_timing (checked against the RTL in "
                  "tests/hw/test_banked_popularity_table_sim.py)",
        "geometry": {"sets": PAPER_GEOMETRY.sets, "ways": PAPER_GEOMETRY.ways,
                     "entries": PAPER_GEOMETRY.entries},
        "beats_per_case": beats, "lanes": list(lanes_list), "banks": "lanes x {1, 2, 4}",
        "queue_entries": list(queues), "queue_depth_beats": "max(4, entries / lanes)",
        "traffic": {"uniform": "keys uniform over 2**29", "zipf": f"Zipf {ZIPF_EXPONENT} over "
                    f"{ZIPF_KEYS} random keys"},
        "offered": "one full beat per cycle, output always ready", "seed": seed,
        "paper_point": PAPER_POINT}}
    if plot is not None:
        plot_curves(curves, lanes_list, queues, plot)
    return figures, goals, config


def plot_curves(curves: dict, lanes_list, queues, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    queue = max(queues)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for ratio, style in ((1, ":"), (2, "-"), (4, "--")):
        for mode, kind, colour in (("RUN", "uniform", "C0"), ("RUN", "zipf", "C1"),
                                   ("LEARN", "zipf", "C2")):
            values = [curves[(p, ratio, queue, mode, kind)] * p for p in lanes_list]
            ax.plot(lanes_list, values, style, color=colour, marker="o",
                    label=f"{mode} {kind}, banks = {ratio} x lanes")
    ax.plot(lanes_list, lanes_list, color="grey", lw=0.8, label="lanes (bound)")
    ax.plot([PAPER_POINT["lanes"]], [PAPER_POINT["lane_utilisation"] * 64], "k*", ms=14,
            label="paper Fig. 11 (64 banks, 512-entry queue)")
    ax.set_xlabel("lookup lanes")
    ax.set_ylabel("lookups per cycle")
    ax.set_title(f"Banked popularity table, {queue}-entry queue (cycle model)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beats", type=int, default=1500)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    figures, goals, config = bench_banked_table(beats=args.beats, quick=args.quick,
                                                seed=args.seed)
    print(json.dumps({"figures": figures, "goals": goals, "config": config}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
