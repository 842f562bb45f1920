"""cocotb regression of ``PopularityScheduler`` (popularity table -> micro-batch scheduler) on
real traffic, against the two golden models chained.

The input is the table's request stream: each sample's ``(table, row)`` keys, ``meta`` =
``{sample, flush}``. The expectation is computed from the requests the DUT takes: the table
model answers every lookup in stream order (hit, slot, error; in the mode the DUT is in), the
scheduler model schedules the answered samples, and :func:`tb.micro_batch_scheduler_tb.
expected_beats` gives every ``o`` and ``cold`` beat. So the table's hit flags and slots are
checked through the scheduler's records (``slot`` of every valid lane, ``hot`` in RUN) and its
counters.

Each test runs the two phases of training: LEARN on a prefix (table mode LEARN, the scheduler
learns too: no sample popular, every lookup cold), flush and drain (the mode may change only
while ``busy`` is low), then RUN on the following samples. Small table geometry so that a
reasonable fraction of samples is popular (Kaggle shape at scale 3e-5 with 512 entries: about
40 %; MovieLens-100K with 1024 entries: about 15 %).
"""

from __future__ import annotations

import cocotb
import numpy as np
import pytest

from hotline_hw.lookup_stream import lookup_request_layout
from hotline_hw.model import Mode, PopularityTable, TableGeometry, beat_set_conflicts
from hotline_hw.model.scheduler import Lookup
from tb.micro_batch_scheduler_tb import MicroBatchSchedulerTB, make_params
from tb.runner import run_cocotb, tb_params
from tb.streams import StructCodec

TABLE_COUNTERS = ("lookups", "hits", "errors", "conflicts", "error_sticky")


class PopularitySchedulerTB(MicroBatchSchedulerTB):
    """:class:`MicroBatchSchedulerTB` with the input moved to the table's ``req`` stream and the
    table model in front of the scheduler model.

    Samples are ``(sample_id, [(table, row), ...])``. ``learn`` (``configure`` /
    :meth:`set_learn`) drives ``mode`` (LEARN / RUN) and both models.
    """

    input_name = "req"

    def _init_input(self, params: dict) -> None:
        geometry = params["geometry"]
        self.table = PopularityTable(TableGeometry(**geometry), Mode.LEARN)
        self.conflicts = 0
        self.in_codec = StructCodec.from_layout(lookup_request_layout(
            lanes=self.lanes, table_in_bits=params["table_in_bits"],
            row_in_bits=params["row_in_bits"], meta_bits=self.sample_bits + 1))
        self.in_lane = StructCodec({"valid": 1, "table": params["table_in_bits"],
                                    "row": params["row_in_bits"]})

    def _idle_inputs(self) -> None:
        dut = self.dut
        for name in ("mode", "counters_clear", "errors_clear", "split", "batch_size",
                     "working_set", "capacity_limit", "alpha"):
            getattr(dut, name).value = 0
        dut.host_cmd__valid.value = 0
        dut.host_resp__ready.value = 1

    def _write_config(self) -> None:
        c = self.config
        self.dut.mode.value = int(Mode.LEARN if c["learn"] else Mode.RUN)
        self.dut.split.value = int(c["split"])
        self.dut.batch_size.value = c["batch_size"]
        self.dut.working_set.value = c["working_set"]
        self.dut.capacity_limit.value = c["capacity_port"]
        self.dut.alpha.value = c.get("alpha", 0)

    def configure(self, **kwargs) -> None:
        super().configure(**kwargs)
        self.table.mode = Mode.LEARN if self.config["learn"] else Mode.RUN

    def set_learn(self, learn: bool) -> None:
        super().set_learn(learn)
        self.table.mode = Mode.LEARN if learn else Mode.RUN

    def encode_sample(self, sample_id, keys, flush) -> list[int]:
        lanes, w = self.lanes, self.in_lane.width
        meta = sample_id | (int(flush) << self.sample_bits)
        words = []
        for n, start in enumerate(range(0, len(keys), lanes)):
            chunk = keys[start:start + lanes]
            packed = 0
            for k in range(lanes):
                if k < len(chunk):
                    lane = self.in_lane.pack(valid=1, table=chunk[k][0], row=chunk[k][1])
                else:
                    lane = self._garbage_lane()
                packed |= lane << (k * w)
            words.append(self.in_codec.pack(lanes=packed, first=int(n == 0),
                                            last=int(start + lanes >= len(keys)), meta=meta))
        return words

    def _decode_input(self, word: int):
        """The table model answers the beat's valid lanes, lane 0 first (its specification)."""
        fields = self.in_codec.unpack(word)
        lookups, sets, usable = [], [], []
        for k in range(self.lanes):
            lane = self.in_lane.unpack(fields["lanes"] >> (k * self.in_lane.width))
            ok = bool(lane["valid"]) and self.table.layout.in_range(lane["table"], lane["row"])
            sets.append(self.table.set_and_tag(lane["table"], lane["row"])[0] if ok else 0)
            usable.append(ok)
            if lane["valid"]:
                hit, slot, error = self.table.lookup(lane["table"], lane["row"])
                lookups.append(Lookup(lane["table"], lane["row"], hit, slot, error))
        self.conflicts += beat_set_conflicts(sets, usable)
        meta = fields["meta"]
        return (lookups, fields["last"], meta & ((1 << self.sample_bits) - 1),
                meta >> self.sample_bits)

    def check_counters(self) -> dict:
        got = super().check_counters()
        t = self.table
        want = {"lookups": t.lookups, "hits": t.hits, "errors": t.errors,
                "conflicts": self.conflicts, "error_sticky": int(t.error_sticky)}
        table = {name: int(getattr(self.dut, f"table_{name}").value) for name in TABLE_COUNTERS}
        assert table == want, f"table counters: got {table}, model {want} (seed {self.seed})"
        got.update({f"table_{name}": value for name, value in table.items()})
        return got


def _samples(sparse: np.ndarray, first_id: int) -> list:
    rows = sparse.tolist()
    return [(first_id + i, [(t, row) for t, row in enumerate(sample)])
            for i, sample in enumerate(rows)]


def _traffic(name: str, learn: int, run: int):
    if name == "kaggle":
        from sw_driver.data import SyntheticCriteo

        return 0, SyntheticCriteo(100_000, scale=3e-5, seed=11).generate_sparse(learn + run)
    from sw_driver.data import MovieLens100K

    start = 30_000
    return start, MovieLens100K().block.sparse[start:start + learn + run]


@cocotb.test()
async def learn_then_run(dut):
    """LEARN phase on a prefix, flush, drain, RUN phase; every beat, counters of both blocks."""
    p = tb_params()
    first_id, sparse = _traffic(p["traffic"], p["learn"], p["run"])
    samples = _samples(sparse, first_id)
    tb = PopularitySchedulerTB(dut, p)
    tb.set_idle(0.2)
    tb.set_backpressure(o=0.4, cold=(0, 0, 1))
    await tb.reset()
    tb.configure(batch_size=p["batch_size"], working_set=p["working_set"], split=p["split"],
                 learn=True)
    phases = [(samples[:p["learn"]], True), (samples[p["learn"]:], False)]
    for part, learn in phases:
        if learn != tb.config["learn"]:
            tb.set_learn(learn)
        await tb.send(part)
        lookups = sum(len(keys) for _, keys in part)
        await tb.drain(timeout_cycles=20 * lookups + 2000)
    stats = tb.check_invariants()
    counters = tb.check_counters()
    tb.log.info("stats %s counters %s", stats, counters)
    run_popular = sum(1 for s, _ in samples[p["learn"]:] if s in tb.popular_ids)
    assert 0 < run_popular < p["run"], f"{run_popular} of {p['run']} RUN samples popular"


CASES = {
    # Kaggle shape: 26 lookups on 4 lanes (7 beats), 512-entry table, REFORMED.
    "kaggle": dict(traffic="kaggle", learn=300, run=400, lanes=4, max_lookups=26, set_bits=7,
                   capacity=32, batch_size=5, working_set=3, split=False),
    # MovieLens-100K: 8 lookups on 3 lanes, 1024-entry table, SPLIT (exact training).
    "movielens": dict(traffic="movielens", learn=1000, run=600, lanes=3, max_lookups=8,
                      set_bits=8, capacity=16, batch_size=6, working_set=2, split=True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_popularity_scheduler(request, case):
    from hotline_hw.popularity_scheduler import PopularityScheduler

    c = CASES[case]
    geometry = TableGeometry(table_bits=5, row_bits=20, set_bits=c["set_bits"])
    params = make_params(lanes=c["lanes"], max_lookups=c["max_lookups"], capacity=c["capacity"],
                         table_in_bits=5, row_in_bits=20, slot_bits=geometry.slot_bits,
                         sample_bits=20, size_bits=8, working_set_bits=3,
                         **{k: v for k, v in c.items()
                            if k not in ("lanes", "max_lookups", "capacity")})
    params["geometry"] = dict(table_bits=geometry.table_bits, row_bits=geometry.row_bits,
                              set_bits=geometry.set_bits, ways=geometry.ways)
    component = PopularityScheduler(
        geometry=geometry, lanes=params["lanes"], table_in_bits=params["table_in_bits"],
        row_in_bits=params["row_in_bits"], sample_bits=params["sample_bits"],
        max_lookups=params["max_lookups"], capacity=params["capacity"],
        size_bits=params["size_bits"], working_set_bits=params["working_set_bits"],
        counter_bits=params["counter_bits"])
    run_cocotb(test_id=request.node.nodeid, component=component,
               toplevel="popularity_scheduler", test_module="tb.test_popularity_scheduler",
               params=params)
