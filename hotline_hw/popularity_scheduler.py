"""The popularity table chained into the micro-batch scheduler (connections only)."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .micro_batch_scheduler import MicroBatchScheduler
from .model.popularity_table import Mode, TableGeometry
from .popularity_table import PopularityTable

__all__ = ["PopularityScheduler"]


class PopularityScheduler(wiring.Component):
    """Lookups in, micro-batches and cold rows out: :class:`PopularityTable` whose responses
    feed :class:`MicroBatchScheduler` directly.

    The request ``meta`` is the scheduler's ``{sample, flush}``; ``mode`` drives both blocks
    (the scheduler learns while the table does); the table's per-lookup stale bits reach the
    scheduler's classifier (``alpha``, ``SKIPPED`` micro-batches). Every other member is the
    member of the same name of one of the two blocks (``table_*`` for the table's counters);
    see their docstrings for contracts, latency and throughput. This block adds no logic and no latency.

    Parameters
    ----------
    geometry, lanes, table_in_bits, row_in_bits : as :class:`PopularityTable`
    sample_bits, max_lookups, capacity, size_bits, working_set_bits : as
        :class:`MicroBatchScheduler`
    """

    def __init__(self, *, geometry: TableGeometry = TableGeometry(), lanes: int = 4,
                 table_in_bits: int = 8, row_in_bits: int = 32, sample_bits: int = 32,
                 max_lookups: int = 32, capacity: int = 1024, size_bits: int = 16,
                 working_set_bits: int = 4, counter_bits: int = 32):
        self._table = PopularityTable(geometry=geometry, lanes=lanes,
                                      table_in_bits=table_in_bits, row_in_bits=row_in_bits,
                                      meta_bits=sample_bits + 1, counter_bits=counter_bits)
        self._scheduler = MicroBatchScheduler(
            lanes=lanes, table_in_bits=table_in_bits, row_in_bits=row_in_bits,
            slot_bits=geometry.slot_bits, sample_bits=sample_bits, max_lookups=max_lookups,
            capacity=capacity, size_bits=size_bits, working_set_bits=working_set_bits,
            counter_bits=counter_bits)
        table, sched = self._table.signature.members, self._scheduler.signature.members
        members = {
            "req": table["req"], "host_cmd": table["host_cmd"], "host_resp": table["host_resp"],
            "o": sched["o"], "cold": sched["cold"],
            "mode": In(1), "counters_clear": In(1), "errors_clear": In(1),
        }
        for name in ("split", "batch_size", "working_set", "capacity_limit", "alpha",
                     "samples_in", "popular", "non_popular", "skipped", "micro_batches",
                     "early_closes", "stalls", "framing_error"):
            members[name] = sched[name]
        for name in ("lookups", "hits", "errors", "conflicts", "error_sticky"):
            members[f"table_{name}"] = table[name]
        members["busy"] = Out(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.table = table = self._table
        m.submodules.scheduler = sched = self._scheduler
        wiring.connect(m, wiring.flipped(self.req), table.req)
        wiring.connect(m, wiring.flipped(self.host_cmd), table.host_cmd)
        wiring.connect(m, table.host_resp, wiring.flipped(self.host_resp))
        wiring.connect(m, table.resp, sched.i)
        wiring.connect(m, sched.o, wiring.flipped(self.o))
        wiring.connect(m, sched.cold, wiring.flipped(self.cold))
        m.d.comb += [
            table.mode.eq(self.mode),
            table.counters_clear.eq(self.counters_clear),
            table.errors_clear.eq(self.errors_clear),
            sched.counters_clear.eq(self.counters_clear),
            sched.errors_clear.eq(self.errors_clear),
            sched.learn.eq(self.mode == Mode.LEARN),
            sched.split.eq(self.split),
            sched.batch_size.eq(self.batch_size),
            sched.working_set.eq(self.working_set),
            sched.capacity_limit.eq(self.capacity_limit),
            sched.alpha.eq(self.alpha),
            self.busy.eq(table.busy | sched.busy),
        ]
        for name in ("samples_in", "popular", "non_popular", "skipped", "micro_batches",
                     "early_closes", "stalls", "framing_error"):
            m.d.comb += getattr(self, name).eq(getattr(sched, name))
        for name in ("lookups", "hits", "errors", "conflicts", "error_sticky"):
            m.d.comb += getattr(self, f"table_{name}").eq(getattr(table, name))
        return m
