"""cocotb regression of the scheduler chained to the gather engine on real traffic.

DUT: ``MicroBatchScheduler.cold`` -> ``ColdRowUnpacker`` -> ``GatherEngine`` (a test top,
:class:`SchedulerGather`), the gather engine reading embedding tables laid out in a
:class:`tb.axi_memory.HostMemory` (random contents, latency, out-of-order answers, stalls).

Traffic: Kaggle-shaped synthetic samples and MovieLens-100K, classified by the popularity-table
model (LEARN on a prefix, then RUN). Expectation: the scheduler model's micro-batches give the
``o`` beats (:class:`tb.micro_batch_scheduler_tb.MicroBatchSchedulerTB`) and its cold beats,
unpacked lane by lane, the requests whose rows the gather model reads from the same memory:
every micro-batch beat and every gathered row beat is compared, in order.
"""

from __future__ import annotations

import random

import cocotb
import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from hotline_hw.cold_row_unpacker import ColdRowUnpacker
from hotline_hw.model import TableGeometry
from hotline_hw.model.gather import GatherModel
from tb.axi_memory import HostMemory
from tb.gather_engine_tb import GatheredBeat, expected_beats, make_params as gather_params
from tb.gather_engine_tb import make_component as make_gather
from tb.micro_batch_scheduler_tb import (COUNTERS, MicroBatchSchedulerTB, classify_sparse,
                                         make_component as make_scheduler,
                                         make_params as scheduler_params)
from tb.runner import run_cocotb, tb_params
from tb.streams import StructCodec
from tb.table_registers import TableRegisterPorts
from hotline_hw.gather_stream import gathered_row_layout

_SCHEDULER_PORTS = ("i", "o", "split", "learn", "batch_size", "working_set", "capacity_limit",
                    "alpha", "counters_clear", "errors_clear",
                    "stalls", "framing_error") + COUNTERS


class SchedulerGather(wiring.Component):
    """Test top: scheduler -> unpacker -> gather engine. Only connections (and ``busy``, the
    OR of the scheduler's and the gather engine's read side)."""

    def __init__(self, sched: dict, gather: dict):
        self._scheduler = make_scheduler(sched)
        beat_bits = max(1, (self._scheduler.beats_per_sample - 1).bit_length())
        self._unpacker = ColdRowUnpacker(lanes=sched["lanes"],
                                         table_in_bits=sched["table_in_bits"],
                                         row_in_bits=sched["row_in_bits"],
                                         size_bits=sched["size_bits"], beat_bits=beat_bits)
        self._gather = make_gather(gather)
        s, g = self._scheduler.signature.members, self._gather.signature.members
        super().__init__({
            **{name: s[name] for name in _SCHEDULER_PORTS},
            "rows": g["o"], "wb": g["wb"], "m_axi": g["m_axi"],
            "table_write": g["table_write"], "table_read": g["table_read"],
            "dim": g["dim"], "errors_clear": g["errors_clear"],
            "read_rows": g["read_rows"], "read_errors": g["read_errors"],
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.scheduler = scheduler = self._scheduler
        m.submodules.unpacker = unpacker = self._unpacker
        m.submodules.gather = gather = self._gather
        for name in _SCHEDULER_PORTS:
            member = scheduler.signature.members[name]
            if member.is_port and member.flow == wiring.In:
                m.d.comb += getattr(scheduler, name).eq(getattr(self, name))
            elif member.is_port:
                m.d.comb += getattr(self, name).eq(getattr(scheduler, name))
        wiring.connect(m, wiring.flipped(self.i), scheduler.i)
        wiring.connect(m, scheduler.o, wiring.flipped(self.o))
        wiring.connect(m, scheduler.cold, unpacker.i)
        wiring.connect(m, unpacker.o, gather.i)
        wiring.connect(m, gather.o, wiring.flipped(self.rows))
        wiring.connect(m, wiring.flipped(self.wb), gather.wb)
        wiring.connect(m, gather.m_axi, wiring.flipped(self.m_axi))
        wiring.connect(m, wiring.flipped(self.table_write), gather.table_write)
        wiring.connect(m, wiring.flipped(self.table_read), gather.table_read)
        m.d.comb += [gather.dim.eq(self.dim),
                     gather.errors_clear.eq(self.errors_clear),
                     self.read_rows.eq(gather.read_rows), self.read_errors.eq(gather.read_errors),
                     self.busy.eq(scheduler.busy | gather.read_busy)]
        return m


class SchedulerGatherTB(MicroBatchSchedulerTB):
    """:class:`MicroBatchSchedulerTB` whose cold beats are checked as gathered rows."""

    cold_name = "rows"

    def __init__(self, dut, params: dict):
        super().__init__(dut, params)
        g = params["gather"]
        self.bus_bytes = g["data_bits"] // 8
        self.tag_bits = g["tag_bits"]
        self.row_codec = StructCodec.from_layout(gathered_row_layout(
            data_bits=g["data_bits"], tag_bits=g["tag_bits"], table_in_bits=g["table_in_bits"],
            row_in_bits=g["row_in_bits"]))
        self.memory = HostMemory.from_prefix(dut, "m_axi", size=g["memory_size"],
                                             rng=self.rng, read_latency=30, reorder=True,
                                             stall_probability=0.2)
        self.gather_model = GatherModel(num_tables=g["num_tables"], bus_bytes=self.bus_bytes,
                                        addr_bits=g["addr_bits"], dim=params["dim"])
        self.contents = None
        self.requests = 0
        self.table_registers = TableRegisterPorts(dut, dut.clk,
                                                  random.Random(self.rng.getrandbits(64)))

    def _idle_inputs(self) -> None:
        """The scheduler's inputs and the gather side's: no table laid out, no write-back."""
        super()._idle_inputs()
        self.table_registers.idle()
        self.dut.dim.value = 0
        self.dut.wb__valid.value = 0

    async def lay_out_tables(self, table_sizes) -> None:
        """Tables one after another (stride = row + one word, random gaps), random contents;
        the table registers written through ``table_write`` (and read back)."""
        g = self.params["gather"]
        row_bytes = self.gather_model.row_bytes
        layouts, cursor = [], 4096 - 8
        for t, rows in enumerate(table_sizes):
            stride = row_bytes + 4
            self.gather_model.configure(t, base=cursor, stride=stride, rows=rows)
            layouts.append((cursor, stride, rows))
            cursor += rows * stride + 4 * self.rng.randrange(1, 16)
        assert cursor < g["memory_size"], f"tables need {cursor} bytes"
        data = self.rng.randbytes(g["memory_size"])
        self.memory.write(0, data)
        self.contents = np.frombuffer(data, dtype=np.uint8)
        await self.table_registers.configure(layouts, g["num_tables"])
        self.dut.dim.value = self.params["dim"]

    def cold_expectation(self, cold) -> list:
        requests = [(lane.table, lane.row) for beat in cold for lane in beat.lanes
                    if lane.valid]
        self.requests += len(requests)
        return expected_beats(self.gather_model.gather(requests, self.contents), self.tag_bits)

    def _decode_cold(self, word: int) -> GatheredBeat:
        f = self.row_codec.unpack(word)
        return GatheredBeat(f["tag"], f["table"], f["row"], f["error"], f["first"], f["last"],
                            f["data"].to_bytes(self.bus_bytes, "little"))


def _traffic(name: str, learn: int, run: int):
    if name == "kaggle":
        from sw_driver.data import SyntheticCriteo, scaled_table_sizes

        scale = 3e-5
        sparse = SyntheticCriteo(100_000, scale=scale, seed=5).generate_sparse(learn + run)
        return 0, sparse, scaled_table_sizes(scale)
    from sw_driver.data import MovieLens100K

    data = MovieLens100K()
    start = 20_000
    return start, data.block.sparse[start:start + learn + run], data.table_sizes


@cocotb.test()
async def scheduled_rows_gathered(dut):
    """RUN-phase traffic: every micro-batch beat and every gathered cold row is the models'."""
    p = tb_params()
    first_id, sparse, sizes = _traffic(p["traffic"], p["learn"], p["run"])
    geometry = TableGeometry(table_bits=5, row_bits=20, set_bits=p["set_bits"])
    _, samples, _ = classify_sparse(sparse, geometry, learn=p["learn"], first_id=first_id)
    tb = SchedulerGatherTB(dut, p)
    tb.set_idle(0.2)
    tb.set_backpressure(o=0.3, cold=0.3)
    await tb.reset()
    await tb.lay_out_tables(sizes)
    tb.configure(batch_size=p["batch_size"], working_set=p["working_set"], split=p["split"])
    await tb.send(samples)
    await tb.drain(timeout_cycles=60 * len(samples) * len(samples[0][1]) + 5000)
    counters = tb.check_counters()
    assert int(dut.read_rows.value) == tb.requests > 0
    assert int(dut.read_errors.value) == 0
    tb.memory.check(idle=True)
    cold_share = tb.requests / sum(len(keys) for _, keys in samples)
    tb.log.info("%d samples, %d cold rows gathered (%.1f%% of lookups), counters %s",
                len(samples), tb.requests, 100 * cold_share, counters)
    assert 0 < counters["popular"] < len(samples)


CASES = {
    # Kaggle shape: 26 lookups on 4 lanes, REFORMED; 128-bit bus, 16-value rows.
    "kaggle": dict(traffic="kaggle", learn=400, run=300, lanes=4, max_lookups=26, set_bits=7,
                   capacity=32, batch_size=6, working_set=3, split=False, dim=16,
                   data_bits=128, num_tables=26),
    # MovieLens-100K: 8 lookups on 3 lanes, SPLIT; 64-bit bus, 5-value rows (unaligned).
    "movielens": dict(traffic="movielens", learn=1500, run=400, lanes=3, max_lookups=8,
                      set_bits=8, capacity=16, batch_size=5, working_set=2, split=True, dim=5,
                      data_bits=64, num_tables=8),
}


@pytest.mark.parametrize("case", list(CASES))
def test_scheduler_gather(request, case):
    c = CASES[case]
    geometry = TableGeometry(table_bits=5, row_bits=20, set_bits=c["set_bits"])
    sched = scheduler_params(lanes=c["lanes"], max_lookups=c["max_lookups"],
                             capacity=c["capacity"], table_in_bits=5, row_in_bits=20,
                             slot_bits=geometry.slot_bits, sample_bits=20, size_bits=8,
                             working_set_bits=3)
    gather = gather_params(data_bits=c["data_bits"], max_dim=16, reads_in_flight=16,
                           id_bits=4, num_tables=c["num_tables"], table_in_bits=5,
                           row_in_bits=20, stride_bits=16, memory_size=1 << 19)
    params = dict(sched, gather=gather, **{k: v for k, v in c.items()
                                           if k not in ("lanes", "max_lookups", "capacity")})
    run_cocotb(test_id=request.node.nodeid, component=SchedulerGather(sched, gather),
               toplevel="scheduler_gather", test_module="tb.test_scheduler_gather",
               params=params)
