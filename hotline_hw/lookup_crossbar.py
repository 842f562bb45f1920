"""Lookup crossbar of the banked popularity table: request queue, bank arbitration, in-order
return."""

from functools import reduce

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .lookup_stream import lookup_response_layout
from .model.popularity_table import Mode, TableGeometry
from .table_bank import bank_lookup_layout, bank_result_layout

__all__ = ["LookupCrossbar", "hashed_request_layout"]


def _index_bits(count: int) -> int:
    return max(1, (count - 1).bit_length())


def hashed_request_layout(*, lanes: int, geometry: TableGeometry, table_in_bits: int,
                          row_in_bits: int, meta_bits: int = 0) -> data.StructLayout:
    """A request beat with every lane hashed: ``{lanes: [lanes] x {valid, error, set, tag,
    table, row}, first, last[, meta]}`` (``error``: the key is out of range)."""
    lane = data.StructLayout({"valid": 1, "error": 1, "set": geometry.set_bits,
                              "tag": geometry.tag_bits, "table": table_in_bits,
                              "row": row_in_bits})
    fields = {"lanes": data.ArrayLayout(lane, lanes), "first": 1, "last": 1}
    if meta_bits:
        fields["meta"] = meta_bits
    return data.StructLayout(fields)


def _exclusive_prefix_or(m: Module, vector, name: str) -> Signal:
    """Bit ``j`` = OR of bits ``0 .. j-1`` of ``vector`` (log-depth, Kogge-Stone)."""
    width = len(vector)
    level = vector
    shift = 1
    step = 0
    while shift < width:
        nxt = Signal(width, name=f"{name}_l{step}")
        m.d.comb += nxt.eq(level | (level << shift)[:width])
        level, shift, step = nxt, shift * 2, step + 1
    result = Signal(width, name=name)
    m.d.comb += result.eq((level << 1)[:width])
    return result


class LookupCrossbar(wiring.Component):
    """Request queue and crossbar: hashed lookups in, one lookup per bank a cycle, responses
    back in stream order.

    The queue is a window of ``depth`` beats (``depth * lanes`` lookup entries, a circular
    buffer in arrival order). Every cycle each bank takes one *group*: its oldest pending
    lookup and every other pending lookup of the same key (same set and tag) in the window
    -- in LEARN only those with no pending lookup of another key of that set before them in
    stream order. A group is one read-modify-write of one set word in the bank; its first
    lookup gets the bank's answer, the others (repeats of the key) a hit on the same slot in
    LEARN, the same answer in RUN. Lookups of one bank are thus issued in stream order and
    lookups of one set are applied exactly as the sequential model applies them; different
    banks work in parallel. The window's oldest beat leaves on ``resp`` once all its lanes are
    answered.

    Parameters
    ----------
    geometry : TableGeometry
        The table's geometry (set and tag widths, ways).
    lanes, banks, depth : int
        Lanes per beat (1-64), banks (a power of two, fewer than the sets), window beats (>= 1).
    table_in_bits, row_in_bits, meta_bits : int
        Widths of the echoed request fields and the carried ``meta`` (0: none).

    Members
    -------
    req : ``In(stream.Signature(hashed_request_layout(...)))``
        Hashed beats; taken while the window has a free beat (or its oldest beat leaves in the
        same cycle).
    resp : ``Out(stream.Signature(lookup_response_layout(...)))``
        One beat per request beat, in order, as :class:`~hotline_hw.PopularityTable`'s.
    bank_lookup : ``Out(stream.Signature(bank_lookup_layout(...), always_ready=True))`` x banks
        The group issued to each bank this cycle (bank = low ``log2(banks)`` bits of the set).
    bank_result : ``In(stream.Signature(bank_result_layout(...), always_ready=True))`` x banks
        Each bank's answer, exactly one cycle after its lookup.
    mode : ``In(1)``
        LEARN (0) or RUN (1); change it only while ``empty`` is high.
    empty : ``Out(1)``
        No beat in the window (every issued lookup has been applied and answered).

    Latency and throughput
    ----------------------
    A beat whose lookups are issued at once leaves 3 cycles after it is taken (issue, bank,
    response). One beat enters and one leaves per cycle at most, so at most ``lanes`` lookups
    per cycle; the bound is one group per bank per cycle and the window depth (a beat waits
    for its slowest lane, and the window holds ``depth`` beats). ``depth >= 3`` sustains one
    beat per cycle when no bank is asked twice.

    Backpressure
    ------------
    ``resp`` holds its beat until taken (payload stable); meanwhile lookups keep being issued,
    and ``req`` stalls when the window is full.

    Cost
    ----
    The arbitration is combinational over the whole window for every bank: per bank, four
    log-depth prefix ORs of ``depth * lanes`` bits and a one-hot key select; per entry, one
    ``banks``-way key select and one key comparator. Logic grows as ``banks x depth x lanes``
    (Verilog conversion: about 9 s at 4 lanes / 8 banks / 4 beats, 78 s at 16 / 32 / 8).
    """

    def __init__(self, *, geometry: TableGeometry, lanes: int, banks: int, depth: int,
                 table_in_bits: int, row_in_bits: int, meta_bits: int = 0):
        if not isinstance(geometry, TableGeometry):
            raise TypeError(f"geometry must be a TableGeometry, not {geometry!r}")
        for name, value in (("lanes", lanes), ("banks", banks), ("depth", depth),
                            ("table_in_bits", table_in_bits), ("row_in_bits", row_in_bits),
                            ("meta_bits", meta_bits)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, not {value!r}")
        if not 1 <= lanes <= 64:
            raise ValueError(f"lanes must be from 1 to 64, not {lanes}")
        if banks < 1 or banks & (banks - 1) or banks > geometry.sets // 2:
            raise ValueError(f"banks must be a power of two from 1 to sets / 2 = "
                             f"{geometry.sets // 2}, not {banks}")
        if depth < 1:
            raise ValueError(f"depth must be at least 1, not {depth}")
        self._geometry = geometry
        self._lanes = lanes
        self._banks = banks
        self._depth = depth
        self._table_in_bits = table_in_bits
        self._row_in_bits = row_in_bits
        self._meta_bits = meta_bits
        bank_bits = (banks - 1).bit_length()
        widths = dict(lanes=lanes, table_in_bits=table_in_bits, row_in_bits=row_in_bits,
                      meta_bits=meta_bits)
        super().__init__({
            "req": In(stream.Signature(hashed_request_layout(geometry=geometry, **widths))),
            "resp": Out(stream.Signature(lookup_response_layout(slot_bits=geometry.slot_bits,
                                                                **widths))),
            "bank_lookup": Out(stream.Signature(
                bank_lookup_layout(index_bits=_index_bits(geometry.sets >> bank_bits),
                                   tag_bits=geometry.tag_bits),
                always_ready=True)).array(banks),
            "bank_result": In(stream.Signature(bank_result_layout(ways=geometry.ways),
                                               always_ready=True)).array(banks),
            "mode": In(1),
            "empty": Out(1),
        })

    geometry = property(lambda self: self._geometry)
    lanes = property(lambda self: self._lanes)
    banks = property(lambda self: self._banks)
    depth = property(lambda self: self._depth)

    def elaborate(self, platform):
        m = Module()
        g = self._geometry
        lanes, banks, depth = self._lanes, self._banks, self._depth
        entries = lanes * depth
        bank_bits = (banks - 1).bit_length()
        slot_way_bits = (g.ways - 1).bit_length()
        lane_layout = self.req.payload.shape()["lanes"].shape.elem_shape
        way_bits = _index_bits(g.ways)

        # -- the window: per entry (beat d, lane l) at index j = d * lanes + l ------------------
        lane = [Signal(lane_layout, name=f"e{j}") for j in range(entries)]
        hit = Signal(entries)
        has_slot = Signal(entries)         # answered with a slot (a hit, or a LEARN insert)
        way = [Signal(way_bits, name=f"e{j}_way") for j in range(entries)]
        pending = Signal(entries)          # usable, not yet issued
        inflight = Signal(entries)         # issued; the bank answers this cycle
        first = Signal(entries)            # the first lookup of its group
        done = Signal(entries)             # answered (or needs no answer)
        framing = [Signal(data.StructLayout({k: v.shape for k, v in
                                             self.req.payload.shape() if k != "lanes"}),
                          name=f"beat{d}") for d in range(depth)]
        head = Signal(range(depth))
        tail = Signal(range(depth))
        count = Signal(range(depth + 1))
        bank_of = [lane[j].set[:bank_bits] if bank_bits else Const(0, 1) for j in range(entries)]
        learn = Signal()
        m.d.comb += learn.eq(self.mode == Mode.LEARN)

        # -- response: the head beat, once every lane is done -------------------------------
        head_done = Signal()
        m.d.comb += head_done.eq((count != 0) & Array(
            done[d * lanes:(d + 1) * lanes].all() for d in range(depth))[head])
        retire = Signal()
        m.d.comb += [self.resp.valid.eq(head_done), retire.eq(head_done & self.resp.ready)]
        with m.Switch(head):
            for d in range(depth):
                with m.Case(d):
                    out = self.resp.payload
                    m.d.comb += [out.first.eq(framing[d].first), out.last.eq(framing[d].last)]
                    if self._meta_bits:
                        m.d.comb += out.meta.eq(framing[d].meta)
                    for i in range(lanes):
                        j = d * lanes + i
                        e, o = lane[j], out.lanes[i]
                        m.d.comb += [
                            o.valid.eq(e.valid), o.table.eq(e.table), o.row.eq(e.row),
                            o.error.eq(e.valid & e.error), o.hit.eq(e.valid & hit[j]),
                            o.slot.eq(Mux(e.valid & has_slot[j],
                                          Cat(way[j][:slot_way_bits], e.set), 0)),
                            # The banked table keeps no stale bits yet. Driven here, not left
                            # to its init value: Amaranth emits an undriven bit as a constant
                            # `always @*`, which Icarus never runs (the bit reads X).
                            o.stale.eq(0),
                        ]

        # -- allocation: a new beat at the tail ---------------------------------------------
        alloc = Signal()
        m.d.comb += [self.req.ready.eq((count != depth) | retire),
                     alloc.eq(self.req.valid & self.req.ready)]
        m.d.sync += count.eq(count + alloc - retire)
        with m.If(alloc):
            m.d.sync += tail.eq(Mux(tail == depth - 1, 0, tail + 1))
        with m.If(retire):
            m.d.sync += head.eq(Mux(head == depth - 1, 0, head + 1))
        in_lanes = self.req.payload.lanes
        usable_in = Cat(in_lanes[i].valid & ~in_lanes[i].error for i in range(lanes))
        alloc_mask = Signal(entries)       # the entries being (re)filled this cycle
        for d in range(depth):
            with m.If(alloc & (tail == d)):
                m.d.comb += alloc_mask[d * lanes:(d + 1) * lanes].eq(-1)
                m.d.sync += framing[d].eq(Cat(self.req.payload.first, self.req.payload.last,
                                              *( [self.req.payload.meta]
                                                 if self._meta_bits else [])))
                for i in range(lanes):
                    m.d.sync += lane[d * lanes + i].eq(in_lanes[i])

        # -- arbitration: one group per bank ------------------------------------------------
        # Age order starts at the head beat: entries of beats at or after the head come first.
        at_or_after_head = Signal(entries)
        m.d.comb += at_or_after_head.eq(Cat((head <= d).replicate(lanes) for d in range(depth)))

        def older_any(vector, name):
            """Bit j: some entry older than j (in window age order) has its bit set."""
            late = Signal(entries, name=f"{name}_late")
            m.d.comb += late.eq(vector & at_or_after_head)
            before_late = _exclusive_prefix_or(m, late, f"{name}_pl")
            before_all = _exclusive_prefix_or(m, vector, f"{name}_pa")
            result = Signal(entries, name=name)
            m.d.comb += result.eq((at_or_after_head & before_late)
                                  | (~at_or_after_head & (late.any().replicate(entries)
                                                          | before_all)))
            return result

        sel_set = [Signal(g.set_bits, name=f"bank{b}_set") for b in range(banks)]
        sel_tag = [Signal(g.tag_bits, name=f"bank{b}_tag") for b in range(banks)]
        same_set = Signal(entries)
        same_tag = Signal(entries)
        for j in range(entries):
            m.d.comb += [same_set[j].eq(lane[j].set == Array(sel_set)[bank_of[j]]),
                         same_tag[j].eq(lane[j].tag == Array(sel_tag)[bank_of[j]])]
        issued = Signal(entries)
        issued_first = Signal(entries)
        for b in range(banks):
            requests = Signal(entries, name=f"bank{b}_requests")
            m.d.comb += requests.eq(pending & Cat(bank_of[j] == b for j in range(entries)))
            oldest = Signal(entries, name=f"bank{b}_oldest")
            m.d.comb += oldest.eq(requests & ~older_any(requests, f"bank{b}_older"))
            m.d.comb += [
                sel_set[b].eq(reduce(lambda a, c: a | c, (
                    Mux(oldest[j], lane[j].set, 0) for j in range(entries)))),
                sel_tag[b].eq(reduce(lambda a, c: a | c, (
                    Mux(oldest[j], lane[j].tag, 0) for j in range(entries)))),
            ]
            blockers = Signal(entries, name=f"bank{b}_blockers")
            m.d.comb += blockers.eq(requests & same_set & ~same_tag)
            blocked = older_any(blockers, f"bank{b}_blocked")
            group = Signal(entries, name=f"bank{b}_group")
            m.d.comb += group.eq(requests & same_set & same_tag
                                 & ~(learn.replicate(entries) & blocked))
            port = self.bank_lookup[b]
            m.d.comb += [
                port.valid.eq(requests.any()),
                port.payload.index.eq(sel_set[b][bank_bits:]),
                port.payload.tag.eq(sel_tag[b]),
                port.payload.learn.eq(learn),
                port.payload.repeat.eq(learn & (group & ~oldest).any()),
            ]
            issued_b, first_b = issued, issued_first
            issued = Signal(entries, name=f"issued_{b}")
            issued_first = Signal(entries, name=f"issued_first_{b}")
            m.d.comb += [issued.eq(issued_b | group), issued_first.eq(first_b | oldest)]

        # -- results: every in-flight entry takes its bank's answer -------------------------
        learn_q = Signal()
        m.d.sync += learn_q.eq(learn)
        answered = Signal(entries)
        result_hit = Array(self.bank_result[b].payload.hit for b in range(banks))
        result_way = Array(self.bank_result[b].payload.way for b in range(banks))
        for j in range(entries):
            with m.If(inflight[j]):
                m.d.comb += answered[j].eq(1)
                bank_hit = result_hit[bank_of[j]]
                m.d.sync += [
                    hit[j].eq(bank_hit | (learn_q & ~first[j])),
                    has_slot[j].eq(bank_hit | learn_q),
                    way[j].eq(result_way[bank_of[j]]),
                ]
        m.d.sync += [
            pending.eq((pending & ~issued & ~alloc_mask)
                       | (alloc_mask & usable_in.replicate(depth))),
            inflight.eq(issued),
            first.eq(issued_first),
            done.eq((done & ~alloc_mask) | answered
                    | (alloc_mask & ~usable_in.replicate(depth))),
        ]
        with m.If(alloc):
            # Lanes that need no bank access are answered at once: hit 0, no slot.
            for d in range(depth):
                with m.If(tail == d):
                    for i in range(lanes):
                        m.d.sync += [hit[d * lanes + i].eq(0), has_slot[d * lanes + i].eq(0)]

        m.d.comb += self.empty.eq(count == 0)
        return m
