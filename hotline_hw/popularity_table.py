"""Popularity lookup table: Feistel-hashed lookup lanes and the set-associative SRRIP logger."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .feistel_hash import delay_line, feistel_pipeline
from .priority import first_set, is_one_hot, lowest, select_one_hot
from .skid_buffer import SkidBuffer
from .lookup_stream import (HostOp, entry_layout, host_command_layout, host_response_layout,
                            lookup_request_layout, lookup_response_layout)
from .model.popularity_table import RRPV_BITS, RRPV_HIT, RRPV_INSERT, RRPV_MAX, Mode, \
    TableGeometry

__all__ = ["PopularityTable"]


def _index_bits(count: int) -> int:
    return max(1, (count - 1).bit_length())


class PopularityTable(wiring.Component):
    """Popularity lookup table (the paper's Embedding Access Logger and lookup engines).

    Bit-exact with :class:`hotline_hw.model.popularity_table.PopularityTable`: responses and
    final contents equal the model's lookups applied lane by lane (lane 0 first), beat by beat,
    whatever the lanes of a beat address, including the same set or the same key.

    Parameters
    ----------
    geometry : TableGeometry
        Key widths, sets, ways (a power of two here), Feistel rounds and keys.
    lanes : int
        Lookup lanes ``P`` per beat, 1 to 64.
    table_in_bits, row_in_bits : int
        Widths of the request's table and row fields; at least the geometry's key widths. A
        request using the extra bits is out of range: answered with ``error``, never stored.
    meta_bits : int
        Width of the ``meta`` field carried from request to response (0: no field).
    counter_bits : int
        Width of the status counters (they wrap).

    Members
    -------
    req : ``In(stream.Signature(lookup_request_layout(...)))``
        Beats of up to ``lanes`` lookups, framed by ``first`` / ``last``.
    resp : ``Out(stream.Signature(lookup_response_layout(...)))``
        One beat per request beat, in order: per lane ``valid`` (echoed), ``hit``, ``error``,
        ``slot``, the request's ``table`` / ``row`` and ``stale`` (RUN only: the hit entry's
        stale bit); lanes that are not valid read 0 in ``hit`` / ``error`` / ``slot`` /
        ``stale``.
    host_cmd : ``In(stream.Signature(host_command_layout(geometry)))``
        ``READ`` / ``WRITE`` one entry by slot, ``CLEAR`` the table, ``MARK_STALE`` the entry
        holding a key, ``CLEAR_STALE`` every stale bit (see :class:`HostOp`). Taken only when
        no lookup beat is in the hash stages, while a command is offered ``req.ready`` stays
        low, and a hashed beat is not injected while a command is in the host stages: a command
        is exactly sequential with the lookups around it in the order the two ports take their
        words, in either mode, as the golden model's host methods.
    host_resp : ``Out(stream.Signature(host_response_layout(geometry)))``
        One response per host command, in order, once it has taken effect.
    mode : ``In(1)``
        :class:`~hotline_hw.model.popularity_table.Mode`: 0 LEARN (SRRIP updates), 1 RUN
        (read-only). Sampled per beat; change it only while ``busy`` is low.
    counters_clear : ``In(1)``
        Zeroes the counters and ``error_sticky``.
    errors_clear : ``In(1)``
        Clears ``error_sticky`` only (an out-of-range lookup in the same cycle sets it again).
    lookups, hits, errors, conflicts : ``Out(counter_bits)``
        Lookups answered (valid lanes, out-of-range ones included), hits, out-of-range
        lookups (each up to date by the time its response beat can be taken), and same-set
        conflicts (lanes addressing the same set as an earlier usable lane of their beat; see
        :func:`~hotline_hw.model.popularity_table.beat_set_conflicts`).
    error_sticky : ``Out(1)``
        Set by any out-of-range lookup.
    busy : ``Out(1)``
        A lookup or host command is in the pipeline (its write or count included), or a clear
        is running.

    Organisation
    ------------
    One memory word per set (``ways`` entries of valid, RRPV, tag, stale) in a
    ``lib.memory.Memory``
    with one write port and ``lanes`` synchronous read ports (block RAM, replicated per read
    port by synthesis), all transparent for the write port. Pipeline: ``rounds`` hash stages
    (``lanes`` Feistel networks, one round per stage) -> H (a skid buffer holding the hashed
    beat: the hash stages' enable is a flip-flop) -> read address (A) -> read data (R, registered) -> compare (B: every lane's tags, the LEARN
    lane's victim) -> update (B2: the set word rewritten) -> response register; the set-memory
    write is registered too (stage W). Host commands pass through as
    many stages of their own (a ``MARK_STALE`` key is hashed there) before they are taken.

    Latency and throughput
    ----------------------
    A request beat's response is valid ``rounds + 6`` cycles after the beat is taken (10 with
    the default 4 rounds); a host command's response ``rounds + 5`` cycles after it is taken
    when no beat is in the way.
    RUN: one beat (``lanes`` lookups) per cycle. LEARN: one valid lane per cycle (a beat with
    no valid lane takes one cycle): every miss, and a hit not already at RRPV 0, rewrites its
    set, and the set memory has one write port; serialising the lanes makes same-set and
    same-key lanes exactly sequential. Host READ / WRITE / MARK_STALE: one per cycle; CLEAR
    and CLEAR_STALE: one cycle per set. One exception to all of these: an op is not injected
    in the cycle right after an op that may write a set it reads (a LEARN lane, a host op
    other than READ, a sweep step), but one cycle later: in LEARN, two lanes of the same set
    in a row (in lane order, beat after beat) cost one cycle more (about one lane in ``sets``
    on hashed traffic). So the set's read-modify-write is split over two stages (compare,
    then update) with no loop through both.

    Backpressure
    ------------
    If ``resp`` (or ``host_resp``) holds a word that is not taken, the whole pipeline stalls and
    ``req.ready`` (``host_cmd.ready``) falls when the last hash stage is full: nothing is
    dropped. The hash stages move together (a stalled H holds every stage before it).
    """

    def __init__(self, *, geometry: TableGeometry = TableGeometry(), lanes: int = 4,
                 table_in_bits: int = 8, row_in_bits: int = 32, meta_bits: int = 0,
                 counter_bits: int = 32):
        if not isinstance(geometry, TableGeometry):
            raise TypeError(f"geometry must be a TableGeometry, not {geometry!r}")
        for name, value in (("lanes", lanes), ("table_in_bits", table_in_bits),
                            ("row_in_bits", row_in_bits), ("meta_bits", meta_bits),
                            ("counter_bits", counter_bits)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, not {value!r}")
        if not 1 <= lanes <= 64:
            raise ValueError(f"lanes must be from 1 to 64, not {lanes}")
        if geometry.ways & (geometry.ways - 1):
            raise ValueError(f"ways must be a power of two in the RTL, not {geometry.ways}")
        if geometry.set_bits < 1:
            raise ValueError(f"the RTL needs at least 2 sets (set_bits >= 1), not "
                             f"set_bits={geometry.set_bits}")
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
    table_in_bits = property(lambda self: self._table_in_bits)
    row_in_bits = property(lambda self: self._row_in_bits)
    meta_bits = property(lambda self: self._meta_bits)
    counter_bits = property(lambda self: self._counter_bits)

    def elaborate(self, platform):
        m = Module()
        g = self._geometry
        lanes = self._lanes
        way_bits = _index_bits(g.ways)
        slot_way_bits = (g.ways - 1).bit_length()     # slot = Cat(way[:slot_way_bits], set)
        lane_bits = _index_bits(lanes)
        hash_model = g.make_hash()

        # -- layouts of the pipeline registers --------------------------------------------------
        lane_op = data.StructLayout({
            "valid": 1, "error": 1, "set": g.set_bits, "tag": g.tag_bits,
            "table": self._table_in_bits, "row": self._row_in_bits,
        })
        framing = {"first": 1, "last": 1}
        if self._meta_bits:
            framing["meta"] = self._meta_bits
        beat = data.StructLayout({"lanes": data.ArrayLayout(lane_op, lanes), **framing})
        op_layout = data.StructLayout({
            "host": 1,          # a host command (else a lookup op)
            "learn": 1,         # lookup op of a LEARN beat: one lane, read-modify-write
            "mask": lanes,      # lanes this lookup op answers
            "beat_end": 1,      # last op of its beat: the response beat is complete
            "beat": beat,
            "rmw_set": g.set_bits,
            "rmw_lane": lane_bits,
            "host_op": 3,
            "host_slot": g.slot_bits,
            "host_tag": g.tag_bits,     # MARK_STALE: the key's tag (rmw_set is its set)
            "host_entry": entry_layout(g),
            "host_ack": 1,      # answer on host_resp (CLEAR answers after its last set)
            "writes": 1,        # may write rmw_set (a LEARN lane, a host op other than READ)
        })
        # The stored entry: the host-visible entry with the stale bit last, so that assigning a
        # host entry (WRITE) zero-extends it into a stored one with the stale bit cleared.
        stored = data.StructLayout({**{name: f.shape for name, f in entry_layout(g)},
                                    "stale": 1})
        set_word = data.ArrayLayout(stored, g.ways)

        # -- set memory -------------------------------------------------------------------------
        m.submodules.sets = sets_mem = Memory(shape=set_word, depth=g.sets, init=[])
        write = sets_mem.write_port()
        reads = [sets_mem.read_port(transparent_for=(write,)) for _ in range(lanes)]

        # -- stages S1..S<rounds>: hash every lane of the incoming beat, one Feistel round per
        # stage, then H: a skid buffer whose beat is injected. The hash stages move together
        # (``shift``) while the skid buffer's input is ready (a flip-flop) or their last stage
        # is empty: the injection decision reaches H's registers only, not the hash stages'
        # enables.
        # H also holds its beat's first valid lane (a one-hot mask) and whether that lane is the
        # only one, computed from the last hash stage: the injection control starts there.
        h_layout = data.StructLayout({"beat": beat, "first_lane": lanes, "single_lane": 1})
        m.submodules.h_buffer = h_buffer = SkidBuffer(h_layout)
        h = h_buffer.o.payload.beat
        h_valid = h_buffer.o.valid
        h_take = h_buffer.o.ready           # H's beat is fully injected this cycle
        hashed_beat = Signal(beat)          # the last hash stage
        shift = Signal()
        hash_valids = delay_line(m, self.req.valid & self.req.ready, g.rounds, enable=shift,
                                 name="hash_valid")
        # A host command waiting at its port holds new beats back (see host_cmd below).
        m.d.comb += [shift.eq(h_buffer.i.ready | ~hash_valids[-1]),
                     self.req.ready.eq(shift & ~self.host_cmd.valid),
                     h_buffer.i.valid.eq(hash_valids[-1]),
                     h_buffer.i.payload.beat.eq(hashed_beat)]
        beats_hashing = Signal()
        m.d.comb += beats_hashing.eq(Cat(*hash_valids).any() | h_valid)
        carried = Signal(beat)              # what H carries besides each lane's hash
        m.d.comb += [carried.first.eq(self.req.payload.first),
                     carried.last.eq(self.req.payload.last)]
        if self._meta_bits:
            m.d.comb += carried.meta.eq(self.req.payload.meta)
        for i in range(lanes):
            lane_in = self.req.payload.lanes[i]
            in_range = Signal(name=f"lane{i}_in_range")
            m.d.comb += [
                in_range.eq((lane_in.table >> g.table_bits == 0)
                            & (lane_in.row >> g.row_bits == 0)),
                carried.lanes[i].valid.eq(lane_in.valid),
                carried.lanes[i].error.eq(lane_in.valid & ~in_range),
                carried.lanes[i].table.eq(lane_in.table),
                carried.lanes[i].row.eq(lane_in.row),
            ]
        m.d.comb += hashed_beat.eq(delay_line(m, carried, g.rounds, enable=shift,
                                              name="hash_beat")[-1])
        for i in range(lanes):
            lane_in = self.req.payload.lanes[i]
            key = Cat(lane_in.row[:g.row_bits], lane_in.table[:g.table_bits],
                      Const(0, g.hash_bits - g.key_bits))
            hashed = feistel_pipeline(m, key, hash_model, enable=shift, name=f"lane{i}_hash")
            m.d.comb += [hashed_beat.lanes[i].set.eq(hashed[:g.set_bits]),
                         hashed_beat.lanes[i].tag.eq(hashed[g.set_bits:])]
        hashed_valids = Cat(*(hashed_beat.lanes[i].valid for i in range(lanes)))
        m.d.comb += [h_buffer.i.payload.first_lane.eq(lowest(hashed_valids)),
                     h_buffer.i.payload.single_lane.eq(is_one_hot(hashed_valids))]

        # Same-set conflicts of H's beat, counted in the cycle after the beat is taken (the
        # lanes' set comparisons and their sum are not in series with the counter's adder).
        conflict_bits = []
        for j in range(lanes):
            usable_j = h.lanes[j].valid & ~h.lanes[j].error
            earlier = [h.lanes[i].valid & ~h.lanes[i].error & (h.lanes[i].set == h.lanes[j].set)
                       for i in range(j)]
            conflict_bits.append(usable_j & Cat(*earlier).any() if earlier else Const(0))
        beat_conflicts = Signal(range(lanes + 1))
        m.d.comb += beat_conflicts.eq(sum(conflict_bits))

        # -- pipeline registers A (read address), R (read data), B (compare), B2 (update) -------
        a, a_valid = Signal(op_layout, name="a"), Signal(name="a_valid")
        r, r_valid = Signal(op_layout, name="r"), Signal(name="r_valid")
        b, b_valid = Signal(op_layout, name="b"), Signal(name="b_valid")
        b2, b2_valid = Signal(op_layout, name="b2"), Signal(name="b2_valid")
        advance = Signal()                  # every stage moves on this cycle
        m.d.comb += advance.eq(~(self.resp.valid & ~self.resp.ready)
                               & ~(self.host_resp.valid & ~self.host_resp.ready))

        # -- injection: choose the op entering A --------------------------------------------------
        inject = Signal(op_layout)
        inject_valid = Signal()
        remaining = Signal(lanes)           # lanes of H's LEARN beat not yet injected
        mid_beat = Signal()                 # H's LEARN beat is partly injected
        clearing = Signal()
        clear_set = Signal(range(g.sets))
        clear_op = Signal(3)                # CLEAR or CLEAR_STALE, while clearing

        lane_valids = Cat(*(h.lanes[i].valid for i in range(lanes)))
        pending = Signal(lanes)
        m.d.comb += pending.eq(Mux(mid_beat, remaining, lane_valids))
        # The next lane as a one-hot mask (the lowest pending lane) and whether it is the last,
        # from registers (H's, or those kept for the rest of a partly injected beat); the lane's
        # index is for the data path only.
        next_mask = Signal(lanes)
        last_lane = Signal()
        rest_mask = Signal(lanes)           # the lane after this one, while mid-beat
        rest_single = Signal()              # ... and it is the beat's last
        m.d.comb += [next_mask.eq(Mux(mid_beat, rest_mask, h_buffer.o.payload.first_lane)),
                     last_lane.eq(Mux(mid_beat, rest_single, h_buffer.o.payload.single_lane))]
        any_pending = mid_beat | lane_valids.any()
        _, next_lane = first_set([next_mask[i] for i in range(lanes)], lane_bits)
        rest = Signal(lanes)
        m.d.comb += rest.eq(pending & ~next_mask)
        # Host commands pass through as many stages as lookups (hashing a MARK_STALE key one
        # round per stage); the last one (HH) is injected between beats. A command is taken
        # only when no beat is in the hash stages, and new beats wait while it is offered: the
        # order of effect is the order in which the two ports take their words.
        host_take = Signal()                # HH's command is injected this cycle
        host_shift = Signal()
        hh_valid = Signal()
        m.d.comb += [host_shift.eq(~hh_valid | host_take),
                     self.host_cmd.ready.eq(host_shift & ~beats_hashing)]
        host_valids = delay_line(m, self.host_cmd.valid & self.host_cmd.ready, g.rounds,
                                 enable=host_shift, name="host_valid")
        m.d.comb += hh_valid.eq(host_valids[-1])
        host_cmd = delay_line(m, self.host_cmd.payload, g.rounds, enable=host_shift,
                              name="host_cmd")[-1]
        # A beat in H was taken after every command in the host stages (a command is taken only
        # with no beat hashing), so it waits until they are all injected. HH alone is not
        # enough: while a stalled HH holds the host stages, a later beat can reach H, and a
        # bubble behind HH would let it pass the commands in the stages before.
        host_queued = Signal()
        m.d.comb += host_queued.eq(Cat(*host_valids).any())
        host_hashed = feistel_pipeline(
            m, Cat(self.host_cmd.payload.key, Const(0, g.hash_bits - g.key_bits)), hash_model,
            enable=host_shift, name="host_hash")

        # Adjacent ops: an op is not injected right behind one that may write a set it reads
        # (its set word would come from before that write, and the write's word is computed in
        # B2 while the op compares in B): a one-cycle bubble. Ops two or more apart are
        # forwarded (see stage W). Compared with A, which holds the op injected last cycle.
        a_writes = Signal()
        m.d.comb += a_writes.eq(a_valid & a.writes)
        host_set = Signal(g.set_bits)
        m.d.comb += host_set.eq(Mux(host_cmd.op == HostOp.MARK_STALE, host_hashed[:g.set_bits],
                                    host_cmd.slot[slot_way_bits:]))
        # For H's lanes the hazard is a register (``lane_hazard``: H's lane j reads the set A's op
        # writes), set a cycle ahead from comparisons of registers only: every set H's next op
        # can write (H's lanes, HH's command, the sweep's set) against the sets of the beat H
        # holds next (the same beat, or the one the skid buffer gives it next: its skid entry's
        # or its input's, both compared and one result chosen), chosen by what is injected.
        # The injection control then reaches H's enable with no comparison before it.
        lane_hazard = Signal(lanes)

        def sets_equal(beat_, value):
            return Cat(*(beat_.lanes[j].set == value for j in range(lanes)))

        def following_sets_equal(value):
            return Mux(h_buffer.skid_valid, sets_equal(h_buffer.skid.beat, value),
                       sets_equal(hashed_beat, value))
        same_h = [sets_equal(h, h.lanes[k].set) for k in range(lanes)]
        same_next = [following_sets_equal(h.lanes[k].set) for k in range(lanes)]
        host_hazard = Signal()
        clear_hazard = Signal()
        m.d.comb += [host_hazard.eq(a_writes & (host_set == a.rmw_set)),
                     clear_hazard.eq(a_writes & (clear_set == a.rmw_set))]

        learn_lane_injected = Signal()      # H's next LEARN lane is injected this cycle
        # The op's beat is H's whatever is injected: only a beat op reads it (a host or sweep
        # op reads its own fields and ``rmw_set``, every use of an op is gated by its valid
        # bit), so the injection choice does not fan out to the beat's 200-odd bits (in the
        # placed top it did: 3.4 ns of routing on the critical path).
        m.d.comb += inject.beat.eq(h)
        with m.If(advance):
            with m.If(clearing):
                with m.If(~clear_hazard):
                    m.d.comb += [
                        inject_valid.eq(1),
                        inject.host.eq(1),
                        inject.host_op.eq(clear_op),
                        inject.rmw_set.eq(clear_set),
                        inject.host_ack.eq(clear_set == g.sets - 1),
                        inject.writes.eq(1),
                    ]
                    m.d.sync += clear_set.eq(clear_set + 1)
                    with m.If(clear_set == g.sets - 1):
                        m.d.sync += clearing.eq(0)
            with m.Elif(hh_valid & ~mid_beat):
                with m.If((host_cmd.op == HostOp.CLEAR) | (host_cmd.op == HostOp.CLEAR_STALE)):
                    m.d.comb += host_take.eq(1)
                    m.d.sync += [clearing.eq(1), clear_set.eq(0), clear_op.eq(host_cmd.op)]
                with m.Elif(~host_hazard):
                    m.d.comb += [
                        host_take.eq(1),
                        inject_valid.eq(1),
                        inject.host.eq(1),
                        inject.host_op.eq(host_cmd.op),
                        inject.host_slot.eq(host_cmd.slot),
                        inject.host_entry.eq(host_cmd.entry),
                        inject.host_ack.eq(1),
                        inject.rmw_set.eq(host_set),
                        inject.writes.eq(host_cmd.op != HostOp.READ),
                    ]
                    with m.If(host_cmd.op == HostOp.MARK_STALE):
                        m.d.comb += inject.host_tag.eq(host_hashed[g.set_bits:])
            with m.Elif(h_valid & ~host_queued):
                with m.If(~mid_beat & (self.mode == Mode.RUN)):
                    with m.If(~(lane_valids & lane_hazard).any()):
                        m.d.comb += [inject_valid.eq(1),
                                     inject.mask.eq(lane_valids), inject.beat_end.eq(1),
                                     h_take.eq(1)]
                with m.Elif(~any_pending):          # a LEARN beat with no valid lane
                    m.d.comb += [inject_valid.eq(1), inject.learn.eq(1),
                                 inject.beat_end.eq(1), h_take.eq(1)]
                with m.Elif(~(next_mask & lane_hazard).any()):
                    m.d.comb += [
                        inject_valid.eq(1),
                        inject.learn.eq(1),
                        inject.mask.eq(next_mask),
                        inject.rmw_lane.eq(next_lane),
                        inject.rmw_set.eq(h.lanes[next_lane].set),
                        inject.beat_end.eq(last_lane),
                        inject.writes.eq(1),
                        h_take.eq(last_lane),
                        learn_lane_injected.eq(1),
                    ]
                    m.d.sync += [remaining.eq(rest), mid_beat.eq(~last_lane),
                                 rest_mask.eq(lowest(rest)), rest_single.eq(is_one_hot(rest))]

        # lane_hazard for the next cycle. Its op: the sweep's, HH's command, or H's next lane
        # (the only ops that can precede an injection from H), whichever this cycle's branch
        # offers; if that op is held back (its own hazard) the same branch runs again next
        # cycle and H is not injected then, so the value is not used. Its beat: H's if H keeps
        # its beat (always, while sweeping or taking a command), else the one H takes next
        # (after H's last lane). Each choice is made from registers; whether the LEARN lane is
        # injected comes last.
        learn_hazard = Signal(lanes)        # if H's next LEARN lane is injected
        m.d.comb += learn_hazard.eq(Mux(
            last_lane,
            select_one_hot(next_mask, same_next),
            select_one_hot(next_mask, same_h)))
        with m.If(advance):
            with m.If(clearing):
                m.d.sync += lane_hazard.eq(Mux(h_valid, sets_equal(h, clear_set),
                                               following_sets_equal(clear_set)))
            with m.Elif(hh_valid & ~mid_beat):
                host_writes = host_cmd.op != HostOp.READ
                m.d.sync += lane_hazard.eq(host_writes.replicate(lanes) & Mux(
                    h_valid, sets_equal(h, host_set), following_sets_equal(host_set)))
            with m.Else():
                m.d.sync += lane_hazard.eq(learn_lane_injected.replicate(lanes) & learn_hazard)
        with m.Elif(~h_valid):                  # H takes a beat while A holds its op
            m.d.sync += lane_hazard.eq(a_writes.replicate(lanes)
                                       & following_sets_equal(a.rmw_set))

        with m.If(advance):
            m.d.sync += [a_valid.eq(inject_valid), a.eq(inject),
                         r_valid.eq(a_valid), r.eq(a),
                         b_valid.eq(r_valid), b.eq(r),
                         b2_valid.eq(b_valid), b2.eq(b)]

        # -- stage W: the write of the op that left B2 (registered: the set memory's write port,
        # copied per read port, is fed from flip-flops). A port reads in A and the memory is
        # transparent for the write made in the same cycle, so the read misses the writes of the
        # three ops ahead of it. The one right ahead (in R then) never writes a set the reader
        # reads: injection leaves a bubble instead (see above). The one in B2 then is in W when
        # the read data arrive: R registers W's word instead of the read data where W writes the
        # port's set (``forward_r``, decided in A). The one in B then is in W when the reader
        # reaches B: B takes W's word instead of R's where W writes it (``forward_b``, decided in
        # R). No combinational path from B2's update to B or R, and the block RAM's output goes
        # through one multiplexer into R's register.
        w_en = Signal()
        w_set = Signal(g.set_bits)
        w_word = Signal(set_word)
        b2_writes = Signal()                # B2's op writes its set (when it moves on)
        forward_r = [Signal(name=f"port{i}_forward_r") for i in range(lanes)]
        forward_b = [Signal(name=f"port{i}_forward_b") for i in range(lanes)]
        r_sets = [Signal(g.set_bits, name=f"port{i}_set") for i in range(lanes)]

        # -- stage A: read addresses --------------------------------------------------------------
        rmw_a = a.host | a.learn
        for i, port in enumerate(reads):
            m.d.comb += port.en.eq(advance)
            if i == 0:
                m.d.comb += port.addr.eq(Mux(rmw_a, a.rmw_set, a.beat.lanes[0].set))
            else:
                m.d.comb += port.addr.eq(a.beat.lanes[i].set)
            with m.If(advance):
                m.d.sync += [forward_r[i].eq(b2_writes & (b2.rmw_set == port.addr)),
                             r_sets[i].eq(port.addr),
                             forward_b[i].eq(b2_writes & (b2.rmw_set == r_sets[i]))]

        # -- stage R: each port's read data, registered (W's word where W writes its set) -------
        r_words = [Signal(set_word, name=f"port{i}_read") for i in range(lanes)]
        words = [Signal(set_word, name=f"port{i}_word") for i in range(lanes)]
        for i, port in enumerate(reads):
            with m.If(advance):
                m.d.sync += r_words[i].eq(Mux(forward_r[i], w_word, port.data))
            m.d.comb += words[i].eq(Mux(forward_b[i], w_word, r_words[i]))

        # -- stage B: compare (every lane; the LEARN lane's victim; a MARK_STALE key), results
        # registered into B2 -------------------------------------------------------------------
        results_hit = []
        results_slot = []
        results_stale = []
        for i, data_i in enumerate(words):
            lane = b.beat.lanes[i]
            matches = [data_i[w].valid & (data_i[w].tag == lane.tag) for w in range(g.ways)]
            hit, way = first_set(matches, way_bits)
            hit_i = Signal(name=f"lane{i}_hit")
            slot_i = Signal(g.slot_bits, name=f"lane{i}_slot")
            stale_i = Signal(name=f"lane{i}_stale")
            stale_bits = Cat(*(data_i[w].stale for w in range(g.ways)))
            m.d.comb += [hit_i.eq(hit & lane.valid & ~lane.error),
                         slot_i.eq(Mux(hit_i, Cat(way[:slot_way_bits], lane.set), 0)),
                         # (the first matching way's stale bit by a one-hot AND-OR, not
                         # through the way's index)
                         stale_i.eq(hit_i & (lowest(Cat(*matches)) & stale_bits).any())]
            results_hit.append(hit_i)
            results_slot.append(slot_i)
            results_stale.append(stale_i)

        word = words[0]
        rmw_lane = b.beat.lanes[b.rmw_lane]
        matches = [word[w].valid & (word[w].tag == rmw_lane.tag) for w in range(g.ways)]
        learn_hit, hit_way = first_set(matches, way_bits)
        has_invalid, invalid_way = first_set([~word[w].valid for w in range(g.ways)], way_bits)
        # The largest RRPV of the set, from "some way has RRPV v" for each v (flat, not a chain
        # of comparisons).
        max_rrpv = Signal(RRPV_BITS)
        found = Const(0, RRPV_BITS)
        for v in range(1, RRPV_MAX + 1):
            found = Mux(Cat(*(word[w].rrpv == v for w in range(g.ways))).any(), v, found)
        m.d.comb += max_rrpv.eq(found)
        _, aged_way = first_set([word[w].rrpv == max_rrpv for w in range(g.ways)], way_bits)
        mark_found, mark_way = first_set(
            [word[w].valid & (word[w].tag == b.host_tag) for w in range(g.ways)], way_bits)

        # B2's registers: the LEARN lane's outcome (hit, its way: the hit way or the victim, the
        # ageing of the other ways), the MARK_STALE outcome and every lane's RUN answer.
        b2_word = Signal(set_word)
        b2_hit = Signal()
        b2_way = Signal(way_bits)
        b2_age = Signal(RRPV_BITS)
        b2_tag = Signal(g.tag_bits)
        b2_error = Signal()
        b2_mark_found = Signal()
        b2_mark_way = Signal(way_bits)
        b2_results_hit = Signal(lanes)
        b2_results_slot = [Signal(g.slot_bits, name=f"lane{i}_b2_slot") for i in range(lanes)]
        b2_results_stale = Signal(lanes)
        with m.If(advance):
            m.d.sync += [
                b2_word.eq(word), b2_hit.eq(learn_hit),
                b2_way.eq(Mux(learn_hit, hit_way, Mux(has_invalid, invalid_way, aged_way))),
                b2_age.eq(Mux(learn_hit | has_invalid, 0, RRPV_MAX - max_rrpv)),
                b2_tag.eq(rmw_lane.tag), b2_error.eq(rmw_lane.error),
                b2_mark_found.eq(mark_found), b2_mark_way.eq(mark_way),
                b2_results_hit.eq(Cat(*results_hit)), b2_results_stale.eq(Cat(*results_stale)),
                *(b2_results_slot[i].eq(results_slot[i]) for i in range(lanes)),
            ]

        # -- stage B2: the updated set word (LEARN or host), into W -------------------------------
        learn_word = Signal(set_word)
        for w in range(g.ways):
            with m.If(b2_hit):
                m.d.comb += learn_word[w].eq(b2_word[w])
                with m.If(b2_way == w):
                    m.d.comb += learn_word[w].rrpv.eq(RRPV_HIT)
            with m.Elif(b2_way == w):
                m.d.comb += [learn_word[w].valid.eq(1), learn_word[w].rrpv.eq(RRPV_INSERT),
                             learn_word[w].tag.eq(b2_tag)]
            with m.Else():
                m.d.comb += [learn_word[w].eq(b2_word[w]),
                             learn_word[w].rrpv.eq(b2_word[w].rrpv + b2_age)]
        learn_error = b2_error
        learn_hit = b2_hit
        learn_slot = Signal(g.slot_bits)
        m.d.comb += learn_slot.eq(Mux(learn_error, 0,
                                      Cat(b2_way[:slot_way_bits], b2.rmw_set)))

        mark_found, mark_way = b2_mark_found, b2_mark_way
        is_mark = b2.host_op == HostOp.MARK_STALE
        host_way = Signal(way_bits)
        m.d.comb += host_way.eq(Mux(is_mark, mark_way,
                                    b2.host_slot[:slot_way_bits] if slot_way_bits else 0))
        host_word = Signal(set_word)
        m.d.comb += host_word.eq(b2_word)
        with m.If(b2.host_op == HostOp.WRITE):
            m.d.comb += host_word[host_way].eq(b2.host_entry)
        with m.If(b2.host_op == HostOp.CLEAR):
            m.d.comb += host_word.eq(0)
        with m.If(b2.host_op == HostOp.CLEAR_STALE):
            m.d.comb += [host_word[w].stale.eq(0) for w in range(g.ways)]
        with m.If(is_mark & mark_found):
            m.d.comb += host_word[host_way].stale.eq(1)

        learn_op = b2_valid & ~b2.host & b2.learn & b2.mask.any()
        m.d.comb += b2_writes.eq((learn_op & ~learn_error)
                                 | (b2_valid & b2.host & (b2.host_op != HostOp.READ)))
        with m.If(advance):
            m.d.sync += [w_en.eq(b2_writes), w_set.eq(b2.rmw_set),
                         w_word.eq(Mux(b2.host, host_word, learn_word))]
        # While the pipeline is stalled W writes the same word again: harmless.
        m.d.comb += [write.addr.eq(w_set), write.data.eq(w_word), write.en.eq(w_en)]

        # -- stage C: response registers ------------------------------------------------------------
        with m.If(self.resp.valid & self.resp.ready):
            m.d.sync += self.resp.valid.eq(0)
        with m.If(self.host_resp.valid & self.host_resp.ready):
            m.d.sync += self.host_resp.valid.eq(0)

        with m.If(advance & b2_valid & ~b2.host):
            resp = self.resp.payload
            m.d.sync += [resp.first.eq(b2.beat.first), resp.last.eq(b2.beat.last),
                         self.resp.valid.eq(b2.beat_end)]
            if self._meta_bits:
                m.d.sync += resp.meta.eq(b2.beat.meta)
            for i in range(lanes):
                lane, out = b2.beat.lanes[i], resp.lanes[i]
                m.d.sync += [out.valid.eq(lane.valid), out.table.eq(lane.table),
                             out.row.eq(lane.row)]
                with m.If(~lane.valid):
                    m.d.sync += [out.hit.eq(0), out.error.eq(0), out.slot.eq(0),
                                 out.stale.eq(0)]
                with m.Elif(b2.mask[i]):
                    with m.If(b2.learn):
                        m.d.sync += [out.hit.eq(learn_hit & ~learn_error),
                                     out.error.eq(learn_error), out.slot.eq(learn_slot),
                                     out.stale.eq(0)]
                    with m.Else():
                        m.d.sync += [out.hit.eq(b2_results_hit[i]), out.error.eq(lane.error),
                                     out.slot.eq(b2_results_slot[i]),
                                     out.stale.eq(b2_results_stale[i])]

        with m.If(advance & b2_valid & b2.host & b2.host_ack):
            sweep = (b2.host_op == HostOp.CLEAR) | (b2.host_op == HostOp.CLEAR_STALE)
            blank = sweep | (is_mark & ~mark_found)
            answered = host_word[host_way]
            m.d.sync += [
                self.host_resp.valid.eq(1),
                self.host_resp.payload.op.eq(b2.host_op),
                self.host_resp.payload.slot.eq(Mux(is_mark,
                                                   Mux(mark_found,
                                                       Cat(mark_way[:slot_way_bits], b2.rmw_set),
                                                       0),
                                                   b2.host_slot)),
                # The entry without its stale bit (the last field).
                self.host_resp.payload.entry.eq(Mux(blank, 0, answered.as_value()[
                    :len(answered.as_value()) - 1])),
                self.host_resp.payload.stale.eq(~blank & answered.stale),
                self.host_resp.payload.hit.eq(is_mark & mark_found),
            ]

        # -- status counters: B2's answers are counted in the next cycle (stage C, as its response
        # is registered; off the compare path), before the response can be taken -------------
        lane_hit = [Mux(b2.learn, learn_hit & ~learn_error, b2_results_hit[i]) for i in range(lanes)]
        counting = Signal()
        answered = Signal(range(lanes + 1))
        hits = Signal(range(lanes + 1))
        errors = Signal(range(lanes + 1))
        with m.If(advance):
            m.d.sync += [
                counting.eq(b2_valid & ~b2.host),
                answered.eq(sum(b2.mask[i] & b2.beat.lanes[i].valid for i in range(lanes))),
                hits.eq(sum(b2.mask[i] & lane_hit[i] for i in range(lanes))),
                errors.eq(sum(b2.mask[i] & b2.beat.lanes[i].error for i in range(lanes))),
            ]
        with m.Elif(counting):
            m.d.sync += counting.eq(0)
        with m.If(self.errors_clear):
            m.d.sync += self.error_sticky.eq(0)
        # H's conflicts as its beat is taken, added in the next cycle (busy covers that cycle:
        # the beat is in stage A then); a clear in the taking cycle drops them, as it did.
        beat_conflicts_taken = Signal(range(lanes + 1))
        m.d.sync += beat_conflicts_taken.eq(Mux(h_take & ~self.counters_clear, beat_conflicts, 0))
        with m.If(self.counters_clear):
            m.d.sync += [self.lookups.eq(0), self.hits.eq(0), self.errors.eq(0),
                         self.conflicts.eq(0), self.error_sticky.eq(0)]
        with m.Else():
            with m.If(counting):
                m.d.sync += [self.lookups.eq(self.lookups + answered),
                             self.hits.eq(self.hits + hits),
                             self.errors.eq(self.errors + errors)]
                with m.If(errors != 0):
                    m.d.sync += self.error_sticky.eq(1)
            m.d.sync += self.conflicts.eq(self.conflicts + beat_conflicts_taken)

        m.d.comb += self.busy.eq(Cat(*hash_valids, *host_valids).any() | h_valid | a_valid
                                 | r_valid
                                 | b_valid | b2_valid
                                 | w_en | counting | clearing)
        return m
