"""Micro-batch scheduler: classify samples, hold them, re-form working sets into micro-batches."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .lookup_stream import lookup_response_layout
from .params import require_positive_ints
from .micro_batch_plan import plan_micro_batch
from .skid_buffer import SkidBuffer
from .micro_batch_stream import (MicroBatchKind, cold_request_layout, micro_batch_layout,
                                 sample_meta_layout)

__all__ = ["MicroBatchScheduler"]


class MicroBatchScheduler(wiring.Component):
    """Micro-batch scheduler (the paper's input classifier, scheduler and input buffer).

    Bit-exact with :class:`hotline_hw.model.scheduler.MicroBatchScheduler`: the micro-batches
    (descriptors, then sample records in order) and the cold-row requests are the model's,
    ``SKIPPED`` micro-batches included (a would-be popular sample with at least ``alpha`` stale
    lookups, ``alpha`` >= 1; see the model: skipped samples do not count towards mini-batches
    and working sets, but do take buffer room). Stale lookups are counted over the beats stored
    (a sample longer than ``max_lookups`` is a framing error anyway).

    Parameters
    ----------
    lanes, table_in_bits, row_in_bits, slot_bits : int
        Shape of the input: the popularity table's lookup response stream (same parameters).
    sample_bits : int
        Width of the sample id carried in the input's ``meta`` (:func:`sample_meta_layout`).
    max_lookups : int
        Largest number of lookups per sample ``F`` (a sample is ``ceil(F / lanes)`` beats).
    capacity : int
        Sample buffer size in samples (block RAM: ``capacity * beats`` records of ``lanes``
        lookups). The runtime ``capacity_limit`` may be lower.
    size_bits : int
        Width of ``batch_size`` and of micro-batch sizes.
    working_set_bits : int
        Width of ``working_set``.
    counter_bits : int
        Width of the status counters.

    Members
    -------
    i : ``In(stream.Signature(lookup_response_layout(..., meta_bits=sample_bits + 1)))``
        Classified lookups: one sample per ``first`` .. ``last`` run of beats, ``meta`` =
        ``{sample, flush}``.
    o : ``Out(stream.Signature(micro_batch_layout(...)))``
        Descriptor beat then sample records, per micro-batch (see ``micro_batch_stream``).
    cold : ``Out(stream.Signature(cold_request_layout(...)))``
        Cold rows, in the order the micro-batches need them.
    split, learn : ``In(1)``
        ``SPLIT`` mode (else ``REFORMED``); learning phase (no sample is popular). Change only
        while ``busy`` is low.
    batch_size : ``In(size_bits)``, working_set : ``In(working_set_bits)``
        ``B`` (>= 1) and ``W`` (>= 1).
    alpha : ``In(8)``
        Stale lookups that make a would-be popular sample skipped; 0 disables skipping. Change
        only while ``busy`` is low.
    capacity_limit : ``In(size_bits + working_set_bits)``
        Held samples that close a working set early (>= ``batch_size``; the model's
        ``capacity``). Values above ``capacity`` act as ``capacity`` (the buffer's physical
        size), so ``W * B`` can be written as is.
    samples_in, popular, non_popular, skipped, micro_batches, early_closes, stalls :
        ``Out(counter_bits)``
        Status counters; ``stalls`` counts cycles with ``i.valid`` and not ``i.ready``.
    framing_error : ``Out(1)``
        Sticky: a sample had more than ``max_lookups`` lookups. The extra beats are neither stored
        nor counted: the sample is scheduled as its first ``max_lookups`` lookups.
    counters_clear, errors_clear : ``In(1)``
        Zero the status counters; clear ``framing_error`` (an error in the same cycle sets it
        again).
    busy : ``Out(1)``
        A sample is held or a micro-batch is being emitted.

    Throughput and latency
    ----------------------
    Input: one beat per cycle while a buffer slot is free (else ``i.ready`` falls: the input
    stalls, nothing is dropped). Output: one beat per cycle, descriptors included: a micro-batch
    of ``n`` record beats takes ``n + 1`` cycles. The emitter idles only while it has no job
    (nothing scheduled yet) and for one cycle after a ``REFORMED`` working set whose samples
    all left in popular micro-batches. A popular micro-batch's descriptor leaves 9 cycles after
    its last sample's last beat is taken.

    Backpressure: ``o`` and ``cold`` come out of their own FIFOs (:data:`OUTPUT_DEPTH` beats),
    read independently; the emitter issues a beat only while both FIFOs have room for it and
    for every beat still on its way (credits), so the stages after the emitter never stall, and
    neither output's ``ready`` reaches any logic but its FIFO's read side and a credit counter.
    Every path inside starts and ends at a register (the queues' heads are skid buffers).
    """

    #: Entries of each output FIFO: enough that the emitter issues every cycle while the outputs
    #: are read every cycle (beats in stages R, S, T and U and the FIFO's own two-cycle latency).
    OUTPUT_DEPTH = 12

    def __init__(self, *, lanes: int = 4, table_in_bits: int = 8, row_in_bits: int = 32,
                 slot_bits: int = 16, sample_bits: int = 32, max_lookups: int = 32,
                 capacity: int = 1024, size_bits: int = 16, working_set_bits: int = 4,
                 counter_bits: int = 32):
        require_positive_ints(lanes=lanes, table_in_bits=table_in_bits,
                              row_in_bits=row_in_bits, slot_bits=slot_bits,
                              sample_bits=sample_bits, max_lookups=max_lookups,
                              capacity=capacity, size_bits=size_bits,
                              working_set_bits=working_set_bits, counter_bits=counter_bits)
        if capacity < 2:
            raise ValueError(f"capacity must be at least 2, not {capacity}")
        self._lanes = lanes
        self._table_in_bits = table_in_bits
        self._row_in_bits = row_in_bits
        self._slot_bits = slot_bits
        self._sample_bits = sample_bits
        self._max_lookups = max_lookups
        self._capacity = capacity
        self._size_bits = size_bits
        self._ws_bits = working_set_bits
        self._counter_bits = counter_bits
        self._beats = -(-max_lookups // lanes)
        self._beat_bits = max(1, (self._beats - 1).bit_length())
        widths = dict(lanes=lanes, table_in_bits=table_in_bits, row_in_bits=row_in_bits)
        super().__init__({
            "i": In(stream.Signature(lookup_response_layout(
                slot_bits=slot_bits, meta_bits=sample_bits + 1, **widths))),
            "o": Out(stream.Signature(micro_batch_layout(
                slot_bits=slot_bits, sample_bits=sample_bits, size_bits=size_bits,
                index_bits=working_set_bits + 1, beat_bits=self._beat_bits, **widths))),
            "cold": Out(stream.Signature(cold_request_layout(
                size_bits=size_bits, beat_bits=self._beat_bits, **widths))),
            "split": In(1),
            "learn": In(1),
            "batch_size": In(size_bits),
            "working_set": In(working_set_bits),
            "capacity_limit": In(size_bits + working_set_bits),
            "alpha": In(8),
            "samples_in": Out(counter_bits),
            "popular": Out(counter_bits),
            "non_popular": Out(counter_bits),
            "skipped": Out(counter_bits),
            "micro_batches": Out(counter_bits),
            "early_closes": Out(counter_bits),
            "stalls": Out(counter_bits),
            "framing_error": Out(1),
            "counters_clear": In(1),
            "errors_clear": In(1),
            "busy": Out(1),
        })

    lanes = property(lambda self: self._lanes)
    capacity = property(lambda self: self._capacity)
    max_lookups = property(lambda self: self._max_lookups)
    beats_per_sample = property(lambda self: self._beats)

    def elaborate(self, platform):
        m = Module()
        lanes, capacity = self._lanes, self._capacity
        size_bits, beat_bits = self._size_bits, self._beat_bits
        slot_index_bits = max(1, (capacity - 1).bit_length())
        count = range(capacity + 1)

        record_lane = data.StructLayout({"valid": 1, "hot": 1, "slot": self._slot_bits,
                                         "table": self._table_in_bits,
                                         "row": self._row_in_bits})
        record = data.ArrayLayout(record_lane, lanes)
        m.submodules.records = records = Memory(shape=record, depth=capacity * (1 << beat_bits),
                                                init=[])
        rec_write = records.write_port()
        rec_read = records.read_port()

        held_entry = data.StructLayout({"slot": slot_index_bits, "sample": self._sample_bits,
                                        "last_beat": beat_bits})
        job_layout = data.StructLayout({"full_pop": 1, "close": 1, "n_pop": len(Signal(count)),
                                        "n_non": len(Signal(count)),
                                        "n_skip": len(Signal(count))})
        m.submodules.pop_queue = pop_q = SyncFIFOBuffered(width=held_entry.size, depth=capacity)
        m.submodules.non_queue = non_q = SyncFIFOBuffered(width=held_entry.size, depth=capacity)
        m.submodules.skip_queue = skip_q = SyncFIFOBuffered(width=held_entry.size,
                                                            depth=capacity)
        m.submodules.free_slots = free_q = SyncFIFOBuffered(width=slot_index_bits,
                                                            depth=capacity)
        # One entry more than the planner may fill: ``jobs_room`` (below) is a register that keeps
        # one entry free, so that the FIFO's combinational ``w_rdy`` reaches no input logic.
        jobs_depth = min(capacity, 64) + 1
        m.submodules.jobs = jobs = SyncFIFOBuffered(width=job_layout.size, depth=jobs_depth)

        # -- input: allocate a slot per sample, store its beats, classify it ------------------------
        i = self.i.payload
        meta = data.View(sample_meta_layout(self._sample_bits), i.meta)
        in_sample = Signal()
        cur_slot = Signal(slot_index_bits)
        cur_beat = Signal(beat_bits + 1)
        cur_hot = Signal()
        # Stale lookups the sample still needs to reach ``alpha`` (alpha less those so far,
        # floored at 0): a beat's count is compared with it, no sum before the comparison.
        stale_need = Signal.like(self.alpha)
        cur_sample = Signal(self._sample_bits)
        fresh = Signal(count)                   # slots never used since reset: 0 .. fresh-1
        have_fresh = Signal(init=1)             # fresh < capacity, registered
        slot_available = have_fresh | free_q.r_rdy

        # Planner state: the open working set.
        pend_pop = Signal(count)
        pend_non = Signal(count)
        pend_skip = Signal(count)
        in_batch = Signal(size_bits)
        batches_in_set = Signal(self._ws_bits)

        # Stage D: the classified sample (its last beat taken), planned in the next cycle.
        d_valid = Signal()
        d_go = Signal()                         # D's sample is planned this cycle
        # The jobs FIFO has room for one more job: a register, so that D's progress, the input's
        # ready and every stage enable of the classifier start at flip-flops. Its next value
        # compares the FIFO's level with constants and counts a job for every planned sample
        # (whether or not it makes one) and none for a job read: it may say "no room" for a
        # cycle while there is, never the reverse.
        jobs_room = Signal(init=1)
        m.d.sync += jobs_room.eq(Mux(d_go, jobs.level < jobs_depth - 2,
                                     jobs.level < jobs_depth - 1))
        m.d.comb += d_go.eq(d_valid & jobs_room)
        m.d.comb += self.i.ready.eq((in_sample | slot_available)
                                    & (~i.last | ~d_valid | d_go))
        take = self.i.valid & self.i.ready
        slot_now = Mux(in_sample, cur_slot, Mux(have_fresh, fresh, free_q.r_data))
        beat_now = Mux(in_sample, cur_beat, 0)
        sample_now = Mux(in_sample, cur_sample, meta.sample)
        lanes_hot = Cat(*(~i.lanes[k].valid | i.lanes[k].hit for k in range(lanes))).all()
        overflow = beat_now >= self._beats
        # Beats past max_lookups are neither stored nor counted (popularity included).
        hot_now = Mux(in_sample, cur_hot, 1) & (lanes_hot | overflow)
        beat_stale = Signal(range(lanes + 1))
        m.d.comb += beat_stale.eq(Mux(overflow, 0, sum(i.lanes[k].valid & i.lanes[k].stale
                                                       for k in range(lanes))))
        need_now = Signal.like(self.alpha)
        reaches_alpha = Signal()
        m.d.comb += [need_now.eq(Mux(in_sample, stale_need, self.alpha)),
                     reaches_alpha.eq(beat_stale >= need_now)]

        m.d.comb += [
            rec_write.addr.eq(Cat(beat_now[:beat_bits], slot_now)),
            rec_write.en.eq(take & ~overflow),
        ]
        for k in range(lanes):
            lane_in, lane_rec = i.lanes[k], rec_write.data[k]
            m.d.comb += [
                lane_rec.valid.eq(lane_in.valid),
                lane_rec.hot.eq(lane_in.valid & lane_in.hit & ~self.learn),
                # Fields of lanes that are not valid are stored as 0: the output is exact.
                lane_rec.slot.eq(Mux(lane_in.valid, lane_in.slot, 0)),
                lane_rec.table.eq(Mux(lane_in.valid, lane_in.table, 0)),
                lane_rec.row.eq(Mux(lane_in.valid, lane_in.row, 0)),
            ]

        with m.If(take & ~in_sample):
            with m.If(have_fresh):
                m.d.sync += [fresh.eq(fresh + 1), have_fresh.eq(fresh != capacity - 1)]
            with m.Else():
                m.d.comb += free_q.r_en.eq(1)
        with m.If(self.errors_clear):
            m.d.sync += self.framing_error.eq(0)
        with m.If(take & overflow):
            m.d.sync += self.framing_error.eq(1)

        would_pop = hot_now & ~self.learn
        skip = Signal()
        m.d.comb += skip.eq(would_pop & (self.alpha != 0) & reaches_alpha)
        popular = would_pop & ~skip
        entry = Signal(held_entry)
        m.d.comb += [entry.slot.eq(slot_now), entry.sample.eq(sample_now),
                     entry.last_beat.eq(Mux(overflow, self._beats - 1, beat_now))]
        d_entry = Signal(held_entry)
        d_popular, d_skip, d_flush = Signal(), Signal(), Signal()
        with m.If(d_go):
            m.d.sync += d_valid.eq(0)
        with m.If(take):
            with m.If(i.last):
                m.d.sync += [in_sample.eq(0), d_valid.eq(1), d_entry.eq(entry),
                             d_popular.eq(popular), d_skip.eq(skip), d_flush.eq(meta.flush)]
            with m.Else():
                m.d.sync += [in_sample.eq(1), cur_slot.eq(slot_now), cur_hot.eq(hot_now),
                             stale_need.eq(Mux(reaches_alpha, 0, need_now - beat_stale)),
                             cur_beat.eq(Mux(overflow, beat_now, beat_now + 1)),
                             cur_sample.eq(sample_now)]
        m.d.comb += [pop_q.w_data.eq(d_entry), non_q.w_data.eq(d_entry),
                     skip_q.w_data.eq(d_entry)]

        # Stage P (planning D's sample). The configuration's "minus one"s and the running sums
        # are registers, so that planning is comparisons of registers, not sums of sums.
        # (Configuration changes only while busy is low, so the registers are current.)
        batch_m1 = Signal(size_bits)
        set_m1 = Signal(self._ws_bits)
        limit_m1 = Signal(count)
        limit_zero = Signal()
        limit, limit_now = Signal(count), Signal(count)
        m.d.comb += limit_now.eq(Mux(self.capacity_limit > capacity, capacity,
                                     self.capacity_limit))
        # (The "minus one" of the clamped limit as a choice between two "minus one"s computed
        # beside the comparison, not after it; capacity >= 2, so only a limit of 0 is 0.)
        m.d.sync += [batch_m1.eq(self.batch_size - 1), set_m1.eq(self.working_set - 1),
                     limit.eq(limit_now),
                     limit_m1.eq(Mux(self.capacity_limit > capacity, capacity - 1,
                                     self.capacity_limit - 1)),
                     limit_zero.eq(self.capacity_limit == 0)]
        pend_total = Signal(range(3 * capacity + 1))    # pend_pop + pend_non + pend_skip
        pend_rest = Signal(range(2 * capacity + 1))     # pend_non + pend_skip
        d_non = ~d_popular & ~d_skip
        pend_pop_next = Signal(count)
        pend_non_next = Signal(count)
        pend_skip_next = Signal(count)
        full_pop = Signal()
        batch_done = Signal()
        set_done = Signal()
        close = Signal()
        early = Signal()
        reaches_limit = Signal()
        m.d.comb += [
            full_pop.eq(~self.split & d_popular & (pend_pop == batch_m1)),
            pend_pop_next.eq(Mux(full_pop, 0, pend_pop + d_popular)),
            pend_non_next.eq(pend_non + d_non),
            pend_skip_next.eq(pend_skip + d_skip),
            # A skipped sample does not count towards mini-batches and working sets.
            batch_done.eq(~d_skip & (in_batch == batch_m1)),
            set_done.eq(batch_done & (self.split | (batches_in_set == set_m1))),
            # Held samples after this one: pend_total + 1, or pend_rest after a full popular
            # micro-batch leaves (the sample was its last).
            reaches_limit.eq(limit_zero | Mux(full_pop, pend_rest >= limit,
                                              pend_total >= limit_m1)),
            early.eq(~set_done & reaches_limit),
            close.eq(set_done | early | d_flush),
        ]
        job = Signal(job_layout)
        m.d.comb += [job.full_pop.eq(full_pop), job.close.eq(close),
                     job.n_pop.eq(pend_pop_next), job.n_non.eq(pend_non_next),
                     job.n_skip.eq(pend_skip_next), jobs.w_data.eq(job)]

        with m.If(d_go):
            m.d.comb += [pop_q.w_en.eq(d_popular), non_q.w_en.eq(d_non),
                         skip_q.w_en.eq(d_skip), jobs.w_en.eq(full_pop | close)]
            m.d.sync += [self.samples_in.eq(self.samples_in + 1),
                         self.popular.eq(self.popular + d_popular),
                         self.non_popular.eq(self.non_popular + d_non),
                         self.skipped.eq(self.skipped + d_skip)]
            # An enable, not ``+ early``: ``early`` comes late in the cycle and would start
            # the counter's carry chain.
            with m.If(early):
                m.d.sync += self.early_closes.eq(self.early_closes + 1)
            with m.If(close):
                m.d.sync += [pend_pop.eq(0), pend_non.eq(0), pend_skip.eq(0), pend_total.eq(0),
                             pend_rest.eq(0), in_batch.eq(0), batches_in_set.eq(0)]
            with m.Else():
                m.d.sync += [pend_pop.eq(pend_pop_next), pend_non.eq(pend_non_next),
                             pend_skip.eq(pend_skip_next),
                             pend_total.eq(Mux(full_pop, pend_rest, pend_total + 1)),
                             pend_rest.eq(pend_rest + ~d_popular),
                             in_batch.eq(Mux(batch_done, 0, in_batch + ~d_skip)),
                             batches_in_set.eq(batches_in_set + batch_done)]
        with m.If(self.i.valid & ~self.i.ready):
            m.d.sync += self.stalls.eq(self.stalls + 1)

        # -- emitter: jobs -> descriptor and record beats ---------------------------------------
        op_layout = data.StructLayout({
            "desc": 1, "kind": 2, "size": size_bits, "working_set": 32,
            "index": self._ws_bits + 1, "step": 32, "sample": self._sample_bits,
            "position": size_bits, "beat": beat_bits, "first": 1, "last": 1,
            "ids": 1,           # a SKIPPED micro-batch's record: the id only, lanes zero
        })
        issue = Signal(op_layout)
        issue_valid = Signal()
        r, r_valid = Signal(op_layout), Signal()
        # The outputs leave through FIFOs, and the emitter issues a beat only while both have room
        # for it and for every beat still in stages R to U (credits): the stages after the
        # emitter never stall, and the downstream ``ready`` reaches no stage enable, only the
        # FIFOs' read side. ``advance`` (the emitter may issue) compares registers.
        o_layout, cold_layout = self.o.payload.shape(), self.cold.payload.shape()
        depth = self.OUTPUT_DEPTH
        m.submodules.o_fifo = o_fifo = SyncFIFOBuffered(width=o_layout.size, depth=depth)
        m.submodules.cold_fifo = cold_fifo = SyncFIFOBuffered(width=cold_layout.size,
                                                              depth=depth)
        # Beats past stage R and not yet read from ``o`` (in S, T, U or the FIFO: counted as they
        # leave R, so that the count does not wait on the emitter's decision; the beat in R is the
        # one more that the threshold leaves room for), and the same for ``cold`` less the beats
        # without cold rows.
        # ``advance`` is a flip-flop: the counts' next values compared with the threshold.
        o_used, o_used_next = Signal(range(depth + 1)), Signal(range(depth + 1))
        cold_used, cold_used_next = Signal(range(depth + 1)), Signal(range(depth + 1))
        advance = Signal(init=1)
        m.d.sync += [o_used.eq(o_used_next), cold_used.eq(cold_used_next),
                     advance.eq((o_used_next < depth - 1) & (cold_used_next < depth - 1))]

        # Stage J: the next job, prepared. Planning a micro-batch is then a choice between
        # registered values and one subtraction: the job's total and its comparisons with B are
        # computed here, the cycle it leaves the FIFO (the emitter's own remainders get the same
        # flags one cycle after they change; a micro-batch takes at least one cycle to emit, so
        # they are current whenever the next one is planned).
        j_valid = Signal()
        job_now = Signal(job_layout)
        j_total = Signal(len(Signal(count)) + 1)           # n_pop + n_non
        j_flags = data.StructLayout({"total_ge_b": 1, "pop_ge_b": 1, "skip_ge_b": 1,
                                     "pop_eq_total": 1})
        j_flag = Signal(j_flags)
        j_total_nz, j_skip_nz = Signal(), Signal()
        r_job = data.View(job_layout, jobs.r_data)
        r_total = Signal(len(Signal(count)) + 1)
        take_job = Signal()
        plan_now = Signal()                     # the emitter plans this cycle
        # Stage F before J: the job out of the FIFO's block RAM and its total, registered (the
        # comparisons with B come after the register). F refills J in the cycle J is taken, so
        # a queued job reaches J one cycle later than before, and back-to-back jobs do not wait.
        f_valid = Signal()
        f_job = Signal(job_layout)
        f_total = Signal(len(r_total))
        j_load = Signal()
        m.d.comb += [r_total.eq(r_job.n_pop + r_job.n_non),
                     j_load.eq(~j_valid | take_job),
                     jobs.r_en.eq(~f_valid | j_load)]
        with m.If(~f_valid | j_load):
            m.d.sync += [f_valid.eq(jobs.r_rdy), f_job.eq(r_job), f_total.eq(r_total)]
        with m.If(j_load):
            m.d.sync += [j_valid.eq(f_valid), job_now.eq(f_job), j_total.eq(f_total),
                         j_flag.total_ge_b.eq(f_total >= self.batch_size),
                         j_flag.pop_ge_b.eq(f_job.n_pop >= self.batch_size),
                         j_flag.skip_ge_b.eq(f_job.n_skip >= self.batch_size),
                         j_flag.pop_eq_total.eq(f_job.n_non == 0),
                         j_total_nz.eq(f_total != 0), j_skip_nz.eq(f_job.n_skip != 0)]

        pending_full_pop = Signal()
        pending_close = Signal()
        rem_pop = Signal(count)
        rem_non = Signal(count)                 # SPLIT only (REFORMED keeps rem_total)
        rem_total = Signal(len(Signal(count)) + 1)         # REFORMED: rem_pop + the non-popular remainder
        rem_skip = Signal(count)
        rem_flag = Signal(j_flags)              # rem_* compared with B, one cycle later
        m.d.sync += [rem_flag.total_ge_b.eq(rem_total >= self.batch_size),
                     rem_flag.pop_ge_b.eq(rem_pop >= self.batch_size),
                     rem_flag.skip_ge_b.eq(rem_skip >= self.batch_size),
                     rem_flag.pop_eq_total.eq(rem_pop == rem_total)]
        skipping = Signal()                     # the micro-batch being emitted is SKIPPED
        split_phase = Signal(2)
        from_pop = Signal(size_bits)            # of the remaining samples, from the pop queue
        left = Signal(size_bits)                # samples left in this micro-batch
        position = Signal(size_bits)
        beat = Signal(beat_bits + 1)
        set_id = Signal(32)
        set_id_inc = Signal(32, init=1)         # set_id + 1, kept beside it (no adder after finish)
        index = Signal(self._ws_bits + 1)
        step = Signal(32)

        # The current job, or the next one from the FIFO when the current one is used up.
        # rem_total != 0 and rem_skip != 0, registered with them (planning reads no comparison).
        rem_total_nz, rem_skip_nz = Signal(), Signal()
        has_more = Mux(self.split, (split_phase < 2) | ((split_phase == 2) & rem_skip_nz),
                       rem_total_nz | rem_skip_nz)
        exhausted = ~pending_full_pop & ~(pending_close & has_more)
        finish = exhausted & pending_close          # the working set's last micro-batch is out
        m.d.comb += take_job.eq(plan_now & exhausted & j_valid)
        # The plan of the next micro-batch is built twice, from the job in stage J (as if it is
        # taken) and from the current job's remainders, and ``take_job`` (the end of a long
        # chain of flags) picks one of the two at the end, not at the start of the planning.
        total = Signal(len(Signal(count)) + 1)
        common = dict(batch_size=self.batch_size, split=self.split, size_bits=size_bits)
        planned_take = plan_micro_batch(
            m, "take", full=job_now.full_pop, close=job_now.close, pop=job_now.n_pop,
            non=job_now.n_non, skip=job_now.n_skip, phase=Const(0, 2), total=j_total,
            flags=j_flag, total_nz=j_total_nz, skip_nz=j_skip_nz, **common)
        planned_rem = plan_micro_batch(
            m, "rem", full=pending_full_pop, close=pending_close & ~finish, pop=rem_pop,
            non=rem_non, skip=rem_skip, phase=split_phase, total=rem_total, flags=rem_flag,
            total_nz=rem_total_nz, skip_nz=rem_skip_nz, **common)
        chosen = {name: Signal.like(planned_take[name], name=f"e_{name}")
                  for name in planned_take}
        for name, signal in chosen.items():
            m.d.comb += signal.eq(Mux(take_job, planned_take[name], planned_rem[name]))
        e_full, e_close, e_phase = chosen["full"], chosen["close"], chosen["phase"]
        e_pop, e_non, e_skip = chosen["pop"], chosen["non"], chosen["skip"]
        chunk, chunk_pop, skip_chunk = chosen["chunk"], chosen["chunk_pop"], chosen["skip_chunk"]
        start, new_kind, new_size = chosen["start"], chosen["kind"], chosen["size"]
        new_from_pop, new_skip = chosen["from_pop"], chosen["new_skip"]
        m.d.comb += total.eq(chosen["total"])
        e_set = Signal(32)
        e_index = Signal(self._ws_bits + 1)
        m.d.comb += [e_set.eq(Mux(finish, set_id_inc, set_id)), e_index.eq(Mux(finish, 0, index))]

        pop_left = Signal()                     # from_pop != 0, registered
        use_pop = ~skipping & pop_left
        use_non = ~skipping & ~pop_left
        # Each queue's head in a skid buffer: the queues' block RAM outputs go no further, and
        # the queue is read on the buffer's registered ``ready``, not on the emitter's take
        # (one sample per cycle as before).
        heads = {}
        for name, q in (("pop", pop_q), ("non", non_q), ("skip", skip_q)):
            m.submodules[f"{name}_head"] = h = SkidBuffer(held_entry)
            m.d.comb += [h.i.payload.eq(q.r_data), h.i.valid.eq(q.r_rdy),
                         q.r_en.eq(h.i.ready)]
            heads[name] = (h.o.valid, h.o.payload, h.o.ready)
        head = data.View(held_entry, Mux(skipping, heads["skip"][1],
                                         Mux(use_pop, heads["pop"][1], heads["non"][1])))
        head_ready = Mux(skipping, heads["skip"][0],
                         Mux(use_pop, heads["pop"][0], heads["non"][0]))
        head_last = skipping | (beat == head.last_beat)

        with m.If(advance):
            with m.FSM() as emitter:
                with m.State("PLAN"):
                    # Issues the descriptor of the next micro-batch in the same cycle.
                    m.d.comb += plan_now.eq(1)
                    m.d.sync += [
                        pending_full_pop.eq(0), pending_close.eq(e_close), set_id.eq(e_set),
                        set_id_inc.eq(Mux(finish, set_id_inc + 1, set_id_inc)),
                        index.eq(e_index), rem_pop.eq(e_pop), rem_non.eq(e_non),
                        rem_total.eq(total), rem_skip.eq(e_skip), split_phase.eq(e_phase),
                        rem_total_nz.eq(total != 0), rem_skip_nz.eq(e_skip != 0),
                    ]
                    with m.If(start):
                        m.d.comb += [issue_valid.eq(1), issue.desc.eq(1),
                                     issue.kind.eq(new_kind), issue.size.eq(new_size),
                                     issue.working_set.eq(e_set), issue.index.eq(e_index),
                                     issue.step.eq(step)]
                        m.d.sync += [step.eq(step + 1), index.eq(Mux(finish, 1, index + 1)),
                                     left.eq(new_size), from_pop.eq(new_from_pop),
                                     pop_left.eq(new_from_pop != 0),
                                     skipping.eq(new_skip), position.eq(0), beat.eq(0),
                                     self.micro_batches.eq(self.micro_batches + 1)]
                        with m.If(~e_full & e_close & self.split & ~new_skip):
                            # SPLIT phase 2 repeats while skipped samples remain (they do not
                            # count towards the mini-batch: there may be more than B).
                            m.d.sync += split_phase.eq(e_phase + 1)
                        with m.If(new_skip):
                            m.d.sync += [rem_skip.eq(e_skip - skip_chunk),
                                         rem_skip_nz.eq(e_skip != skip_chunk)]
                        with m.Elif(~e_full & e_close & ~self.split):
                            m.d.sync += [rem_pop.eq(e_pop - chunk_pop),
                                         rem_total.eq(total - chunk),
                                         rem_total_nz.eq(total != chunk)]
                        with m.If(new_size != 0):
                            m.next = "SAMPLE"
                with m.State("SAMPLE"):
                    with m.If(head_ready):
                        m.d.comb += [issue_valid.eq(1), issue.sample.eq(head.sample),
                                     issue.position.eq(position), issue.beat.eq(beat),
                                     issue.step.eq(step - 1), issue.ids.eq(skipping),
                                     issue.first.eq(beat == 0), issue.last.eq(head_last)]
                        with m.If(head_last):
                            m.d.comb += [heads["pop"][2].eq(use_pop),
                                         heads["non"][2].eq(use_non),
                                         heads["skip"][2].eq(skipping), free_q.w_en.eq(1)]
                            m.d.sync += [beat.eq(0), position.eq(position + 1),
                                         left.eq(left - 1),
                                         from_pop.eq(Mux(use_pop, from_pop - 1, 0)),
                                         pop_left.eq(use_pop & (from_pop != 1))]
                            with m.If(left == 1):
                                m.next = "PLAN"
                        with m.Else():
                            m.d.sync += beat.eq(beat + 1)
        # Stage R: the issued beat, and its record's address in a register (the head choice does
        # not drive the block RAMs' address inputs directly).
        rec_addr = Signal(len(rec_read.addr))
        m.d.comb += [free_q.w_data.eq(head.slot),
                     rec_read.addr.eq(rec_addr)]
        m.d.sync += [r_valid.eq(advance & issue_valid), r.eq(issue),
                     rec_addr.eq(Cat(beat[:beat_bits], head.slot))]
        # Stage S: the record read from R's address. Stage T: the record as the block RAM
        # delivered it, registered with no logic in between (the RAM's output goes to one
        # register; the output stage muxes from registers).
        s_valid, s_op = Signal(), Signal(op_layout)
        t_valid, t_op = Signal(), Signal(op_layout)
        rec_t = Signal(record)
        m.d.sync += [s_valid.eq(r_valid), s_op.eq(r),
                     t_valid.eq(s_valid), t_op.eq(s_op), rec_t.eq(rec_read.data)]

        # -- outputs ------------------------------------------------------------------------------
        # Stage T's beat formatted for ``o`` and ``cold`` (lanes not valid, and every lane of a
        # descriptor or a SKIPPED record, as 0).
        out, cold = Signal(o_layout), Signal(cold_layout)
        any_cold = Signal()
        blank = t_op.desc | t_op.ids            # no lookup fields on this beat
        m.d.comb += [
            out.desc.eq(t_op.desc), out.kind.eq(t_op.kind), out.size.eq(t_op.size),
            out.working_set.eq(t_op.working_set), out.index.eq(t_op.index),
            out.step.eq(t_op.step), out.sample.eq(t_op.sample),
            out.position.eq(t_op.position), out.beat.eq(t_op.beat),
            out.first.eq(t_op.first), out.last.eq(t_op.last),
            any_cold.eq(~blank & Cat(*(rec_t[k].valid & ~rec_t[k].hot
                                       for k in range(lanes))).any()),
            cold.step.eq(t_op.step), cold.position.eq(t_op.position), cold.beat.eq(t_op.beat),
        ]
        for k in range(lanes):
            rec = rec_t[k]
            m.d.comb += [
                out.lanes[k].valid.eq(~blank & rec.valid),
                out.lanes[k].hot.eq(~blank & rec.hot),
                out.lanes[k].slot.eq(Mux(blank, 0, rec.slot)),
                out.lanes[k].table.eq(Mux(blank, 0, rec.table)),
                out.lanes[k].row.eq(Mux(blank, 0, rec.row)),
                cold.lanes[k].valid.eq(rec.valid & ~rec.hot),
                cold.lanes[k].table.eq(Mux(rec.valid & ~rec.hot, rec.table, 0)),
                cold.lanes[k].row.eq(Mux(rec.valid & ~rec.hot, rec.row, 0)),
            ]
        o_read = self.o.valid & self.o.ready
        cold_read = self.cold.valid & self.cold.ready
        # Stage U: the output beats in registers, written into the FIFOs from there.
        u_valid, u_cold = Signal(), Signal()
        u_out, u_cold_out = Signal(o_layout), Signal(cold_layout)
        m.d.sync += [u_valid.eq(t_valid), u_cold.eq(t_valid & any_cold), u_out.eq(out),
                     u_cold_out.eq(cold)]
        m.d.comb += [
            o_fifo.w_data.eq(u_out), o_fifo.w_en.eq(u_valid),
            cold_fifo.w_data.eq(u_cold_out), cold_fifo.w_en.eq(u_cold),
            self.o.payload.eq(o_fifo.r_data), self.o.valid.eq(o_fifo.r_rdy),
            o_fifo.r_en.eq(self.o.ready),
            self.cold.payload.eq(cold_fifo.r_data), self.cold.valid.eq(cold_fifo.r_rdy),
            cold_fifo.r_en.eq(self.cold.ready),
        ]
        m.d.comb += [o_used_next.eq(o_used + r_valid - o_read),
                     cold_used_next.eq(cold_used + r_valid - (t_valid & ~any_cold) - cold_read)]

        m.d.comb += self.busy.eq(in_sample | d_valid | (pend_total != 0)
                                 | (skip_q.level != 0) | (jobs.level != 0) | f_valid | j_valid
                                 | ~emitter.ongoing("PLAN")
                                 | pending_full_pop | pending_close
                                 | r_valid | (o_used != 0) | (cold_used != 0)
                                 | (pop_q.level != 0) | (non_q.level != 0)
                                 | heads["pop"][0] | heads["non"][0] | heads["skip"][0])
        with m.If(self.counters_clear):
            m.d.sync += [counter.eq(0) for counter in (
                self.samples_in, self.popular, self.non_popular, self.skipped,
                self.micro_batches,
                self.early_closes, self.stalls)]
        return m
