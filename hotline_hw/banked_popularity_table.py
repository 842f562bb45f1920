"""Banked popularity table: Feistel-hashed lanes, lookup crossbar and single-copy set banks."""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .feistel_hash import feistel_network
from .lookup_crossbar import LookupCrossbar
from .lookup_stream import (HostOp, host_command_layout, host_response_layout,
                            lookup_request_layout, lookup_response_layout)
from .model.popularity_table import TableGeometry
from .table_bank import TableBank

__all__ = ["BankedPopularityTable"]


def _int(name, value):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {value!r}")


class BankedPopularityTable(wiring.Component):
    """Popularity lookup table with banked sets (the paper's 64-bank Embedding Access Logger
    behind a request queue), for 1 to 64 lookup lanes.

    Same members and semantics as :class:`~hotline_hw.popularity_table.PopularityTable`:
    responses and final contents equal the model's lookups applied lane by lane, beat by beat
    (whatever the lanes address, the same set or the same key included), responses in stream
    order. What differs is the organisation and the timing.

    Parameters
    ----------
    geometry, lanes, table_in_bits, row_in_bits, meta_bits, counter_bits
        As :class:`~hotline_hw.popularity_table.PopularityTable`.
    banks : int
        Set banks, a power of two, at most ``sets / 2``: set ``s`` lives in bank
        ``s mod banks``, each bank one memory of ``sets / banks`` words (one copy: memory bits
        = entries x entry bits).
    depth : int
        Beats in the request queue (``depth * lanes`` lookup entries), at least 1.

    Members
    -------
    As :class:`~hotline_hw.popularity_table.PopularityTable` (``req``, ``resp``, ``host_cmd``,
    ``host_resp``, ``mode``, ``counters_clear``, ``errors_clear``, ``lookups``, ``hits``,
    ``errors``, ``conflicts``, ``error_sticky``, ``busy``). Host commands are taken only when
    no lookup is in the queue (between beats, after every earlier beat has taken effect); a
    waiting host command holds new beats back. ``conflicts`` counts same-set lanes of a beat
    as the unbanked table does (bank conflicts are not counted).

    Organisation
    ------------
    ``req`` -> ``lanes`` combinational Feistel networks -> :class:`LookupCrossbar` (queue,
    one group of same-key lookups per bank per cycle, in-order return) -> ``banks``
    :class:`TableBank` s (read, SRRIP update, write back in the next cycle).

    Latency and throughput
    ----------------------
    A beat whose lookups meet no busy bank is answered 3 cycles after it is taken. At most one
    beat per cycle in and out; per cycle each bank serves one set, so RUN and LEARN both reach
    close to ``lanes`` lookups per cycle when the banks outnumber the lanes and the queue is
    deep enough (see ``scripts/bench_banked.py`` and
    :mod:`hotline_hw.model.banked_timing`); lookups of one bank are served in stream order.
    Host READ / WRITE: one per 3 cycles; CLEAR: ``sets / banks`` cycles plus 2.

    Backpressure
    ------------
    ``resp`` / ``host_resp`` hold their word until taken; the queue keeps serving meanwhile and
    ``req`` stalls when it is full. Nothing is dropped.
    """

    def __init__(self, *, geometry: TableGeometry = TableGeometry(), lanes: int = 4,
                 banks: int = 8, depth: int = 4, table_in_bits: int = 8, row_in_bits: int = 32,
                 meta_bits: int = 0, counter_bits: int = 32):
        if not isinstance(geometry, TableGeometry):
            raise TypeError(f"geometry must be a TableGeometry, not {geometry!r}")
        for name, value in (("lanes", lanes), ("banks", banks), ("depth", depth),
                            ("table_in_bits", table_in_bits), ("row_in_bits", row_in_bits),
                            ("meta_bits", meta_bits), ("counter_bits", counter_bits)):
            _int(name, value)
        if not 1 <= lanes <= 64:
            raise ValueError(f"lanes must be from 1 to 64, not {lanes}")
        if geometry.ways & (geometry.ways - 1):
            raise ValueError(f"ways must be a power of two in the RTL, not {geometry.ways}")
        if banks < 1 or banks & (banks - 1):
            raise ValueError(f"banks must be a power of two, not {banks}")
        if banks > geometry.sets // 2:
            raise ValueError(f"banks ({banks}) must be at most sets / 2 = {geometry.sets // 2}")
        if depth < 1:
            raise ValueError(f"depth must be at least 1, not {depth}")
        if table_in_bits < max(1, geometry.table_bits):
            raise ValueError(f"table_in_bits ({table_in_bits}) must be at least "
                             f"max(1, table_bits) = {max(1, geometry.table_bits)}")
        if row_in_bits < max(1, geometry.row_bits):
            raise ValueError(f"row_in_bits ({row_in_bits}) must be at least "
                             f"max(1, row_bits) = {max(1, geometry.row_bits)}")
        if meta_bits < 0:
            raise ValueError(f"meta_bits must be non-negative, not {meta_bits}")
        if not 1 <= counter_bits <= 64:
            raise ValueError(f"counter_bits must be from 1 to 64, not {counter_bits}")
        self._geometry = geometry
        self._lanes = lanes
        self._banks = banks
        self._depth = depth
        self._table_in_bits = table_in_bits
        self._row_in_bits = row_in_bits
        self._meta_bits = meta_bits
        self._counter_bits = counter_bits
        widths = dict(lanes=lanes, table_in_bits=table_in_bits, row_in_bits=row_in_bits,
                      meta_bits=meta_bits)
        super().__init__({
            "req": In(stream.Signature(lookup_request_layout(**widths))),
            "resp": Out(stream.Signature(lookup_response_layout(
                slot_bits=geometry.slot_bits, **widths))),
            "host_cmd": In(stream.Signature(host_command_layout(geometry))),
            "host_resp": Out(stream.Signature(host_response_layout(geometry))),
            "mode": In(1),
            "counters_clear": In(1),
            "errors_clear": In(1),
            "lookups": Out(counter_bits),
            "hits": Out(counter_bits),
            "errors": Out(counter_bits),
            "conflicts": Out(counter_bits),
            "error_sticky": Out(1),
            "busy": Out(1),
        })

    geometry = property(lambda self: self._geometry)
    lanes = property(lambda self: self._lanes)
    banks = property(lambda self: self._banks)
    depth = property(lambda self: self._depth)
    table_in_bits = property(lambda self: self._table_in_bits)
    row_in_bits = property(lambda self: self._row_in_bits)
    meta_bits = property(lambda self: self._meta_bits)
    counter_bits = property(lambda self: self._counter_bits)

    @property
    def memory_bits(self) -> int:
        """Bits of set memory: entries x entry bits (no copy per lane)."""
        return self._geometry.entries * self._geometry.entry_bits

    def elaborate(self, platform):
        m = Module()
        g = self._geometry
        lanes, banks = self._lanes, self._banks
        bank_bits = (banks - 1).bit_length()
        slot_way_bits = (g.ways - 1).bit_length()
        hash_model = g.make_hash()

        m.submodules.crossbar = crossbar = LookupCrossbar(
            geometry=g, lanes=lanes, banks=banks, depth=self._depth,
            table_in_bits=self._table_in_bits, row_in_bits=self._row_in_bits,
            meta_bits=self._meta_bits)
        bank_list = []
        for b in range(banks):
            bank = TableBank(geometry=g, sets=g.sets >> bank_bits)
            m.submodules[f"bank{b}"] = bank
            bank_list.append(bank)
            wiring.connect(m, crossbar.bank_lookup[b], bank.lookup)
            wiring.connect(m, bank.result, crossbar.bank_result[b])
        m.d.comb += crossbar.mode.eq(self.mode)

        # -- host sequencing: commands run only with the queue empty ------------------------
        clearing = Signal()
        clear_index = Signal(range(g.sets >> bank_bits))
        host_x = Signal(host_command_layout(g))     # an access in its bank's R stage
        host_x_valid = Signal()
        host_hold = Signal()                        # new beats wait for the host command
        m.d.comb += host_hold.eq(self.host_cmd.valid | clearing | host_x_valid)
        cmd = self.host_cmd.payload
        cmd_set = cmd.slot[slot_way_bits:]
        m.d.comb += self.host_cmd.ready.eq(crossbar.empty & ~clearing & ~host_x_valid
                                           & ~self.host_resp.valid)
        take_cmd = self.host_cmd.valid & self.host_cmd.ready
        m.d.sync += host_x_valid.eq(0)
        with m.If(take_cmd):
            with m.If(cmd.op == HostOp.CLEAR):
                m.d.sync += [clearing.eq(1), clear_index.eq(0)]
            with m.Else():
                m.d.sync += [host_x_valid.eq(1), host_x.eq(cmd)]
        with m.If(clearing):
            m.d.sync += clear_index.eq(clear_index + 1)
            with m.If(clear_index == (g.sets >> bank_bits) - 1):
                m.d.sync += [clearing.eq(0), host_x_valid.eq(1), host_x.op.eq(HostOp.CLEAR),
                             host_x.slot.eq(0)]
        for b, bank in enumerate(bank_list):
            port = bank.host.payload
            target = (cmd_set[:bank_bits] == b) if bank_bits else Const(1)
            with m.If(clearing):
                m.d.comb += [bank.host.valid.eq(1), port.op.eq(HostOp.CLEAR),
                             port.index.eq(clear_index)]
            with m.Elif(take_cmd & (cmd.op != HostOp.CLEAR) & target):
                m.d.comb += [bank.host.valid.eq(1), port.op.eq(cmd.op),
                             port.index.eq(cmd_set[bank_bits:]),
                             port.way.eq(cmd.slot[:slot_way_bits] if slot_way_bits else 0),
                             port.entry.eq(cmd.entry)]
        x_bank = host_x.slot[slot_way_bits:][:bank_bits] if bank_bits else Const(0, 1)
        with m.If(self.host_resp.valid & self.host_resp.ready):
            m.d.sync += self.host_resp.valid.eq(0)
        with m.If(host_x_valid):
            entry = Signal.like(self.host_resp.payload.entry)
            with m.Switch(x_bank):
                for b, bank in enumerate(bank_list):
                    with m.Case(b):
                        m.d.comb += entry.eq(bank.host_entry.payload)
            m.d.sync += [self.host_resp.valid.eq(1), self.host_resp.payload.op.eq(host_x.op),
                         self.host_resp.payload.slot.eq(host_x.slot),
                         self.host_resp.payload.entry.eq(entry)]

        # -- hashing: the request beat -> the crossbar, combinationally ----------------------
        hashed = crossbar.req.payload
        m.d.comb += [crossbar.req.valid.eq(self.req.valid & ~host_hold),
                     self.req.ready.eq(crossbar.req.ready & ~host_hold),
                     hashed.first.eq(self.req.payload.first),
                     hashed.last.eq(self.req.payload.last)]
        if self._meta_bits:
            m.d.comb += hashed.meta.eq(self.req.payload.meta)
        for i in range(lanes):
            lane_in, lane_out = self.req.payload.lanes[i], hashed.lanes[i]
            in_range = Signal(name=f"lane{i}_in_range")
            m.d.comb += in_range.eq((lane_in.table >> g.table_bits == 0)
                                    & (lane_in.row >> g.row_bits == 0))
            key = Cat(lane_in.row[:g.row_bits], lane_in.table[:g.table_bits],
                      Const(0, g.hash_bits - g.key_bits))
            hashed_key = feistel_network(m, key, hash_model, name=f"lane{i}_hash")
            m.d.comb += [
                lane_out.valid.eq(lane_in.valid),
                lane_out.error.eq(lane_in.valid & ~in_range),
                lane_out.set.eq(hashed_key[:g.set_bits]),
                lane_out.tag.eq(hashed_key[g.set_bits:]),
                lane_out.table.eq(lane_in.table),
                lane_out.row.eq(lane_in.row),
            ]

        # -- status counters ------------------------------------------------------------------
        conflict_bits = []
        for j in range(lanes):
            lj = hashed.lanes[j]
            earlier = [hashed.lanes[i].valid & ~hashed.lanes[i].error
                       & (hashed.lanes[i].set == lj.set) for i in range(j)]
            conflict_bits.append(lj.valid & ~lj.error & Cat(*earlier).any() if earlier
                                 else Const(0))
        beat_conflicts = Signal(range(lanes + 1))
        m.d.comb += beat_conflicts.eq(sum(conflict_bits))
        out = self.resp.payload
        answered = Signal(range(lanes + 1))
        hits = Signal(range(lanes + 1))
        errors = Signal(range(lanes + 1))
        m.d.comb += [
            answered.eq(sum(out.lanes[i].valid for i in range(lanes))),
            hits.eq(sum(out.lanes[i].hit for i in range(lanes))),
            errors.eq(sum(out.lanes[i].error for i in range(lanes))),
        ]
        leaving = self.resp.valid & self.resp.ready
        with m.If(self.errors_clear):
            m.d.sync += self.error_sticky.eq(0)
        with m.If(self.counters_clear):
            m.d.sync += [self.lookups.eq(0), self.hits.eq(0), self.errors.eq(0),
                         self.conflicts.eq(0), self.error_sticky.eq(0)]
        with m.Else():
            with m.If(leaving):
                m.d.sync += [self.lookups.eq(self.lookups + answered),
                             self.hits.eq(self.hits + hits),
                             self.errors.eq(self.errors + errors)]
                with m.If(errors != 0):
                    m.d.sync += self.error_sticky.eq(1)
            with m.If(crossbar.req.valid & crossbar.req.ready):
                m.d.sync += self.conflicts.eq(self.conflicts + beat_conflicts)

        wiring.connect(m, crossbar.resp, wiring.flipped(self.resp))
        m.d.comb += self.busy.eq(~crossbar.empty | clearing | host_x_valid)
        return m
