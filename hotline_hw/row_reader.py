"""Row reader: cold rows from host memory over AXI4 reads, returned in request order."""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .axi import (AXCACHE, AXPROT, MAX_BURST, AXI4ReadSignature, AxiBurst, PagedBurstAddress,
                  axsize_for, burst_beats, check_manager_params)
from .gather_stream import GatherError, gathered_row_layout, row_address_layout
from .params import require_positive_ints, require_power_of_two
from .row_address import beat_count_bits, max_row_beats

__all__ = ["RowReader"]


def _times_constant(value, constant: int):
    """``value * constant`` as a sum of shifted copies of ``value`` (one per set bit of the
    constant): adders, not a multiplier block, for the row buffer's slot addresses."""
    terms = [value << k for k in range(constant.bit_length()) if constant >> k & 1]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


class RowReader(wiring.Component):
    """Reads rows (``RowAddress`` results) with AXI4 INCR bursts and returns them in order.

    The read half of the gather engine; its output is
    :meth:`hotline_hw.model.gather.GatherModel.gather`'s, beat for beat.

    Each accepted row takes a slot of a reorder buffer of ``reads_in_flight`` slots; the slot
    number is the ``ARID`` of the row's bursts (a row that crosses a 4 KiB boundary, or has
    more than 256 beats, is read with several bursts of the same ID, in address order). Read
    data may come back in any order across IDs, interleaved or not: each beat is stored in
    its slot as it arrives (``RREADY`` is always high). Rows leave from the oldest slot once
    all its beats are in, realigned (the row's first byte to byte 0) and with the bytes past
    the row's end zeroed. A rejected request (``error`` from ``RowAddress``) takes a slot too,
    issues nothing and leaves as one zero beat flagged ``RANGE``. A beat with ``RRESP``
    ``SLVERR`` / ``DECERR`` marks its row: the row's beats leave zeroed, flagged ``BUS``, and
    the first error since ``errors_clear`` is recorded (``error_*``).

    Parameters
    ----------
    data_bits, addr_bits, id_bits : int
        AXI data width (64 to 1024, a power of two), address and ID widths.
    reads_in_flight : int
        Reorder-buffer slots (rows requested and not yet returned); a power of two, at least 2,
        at most ``2 ** id_bits``.
    max_dim : int
        Largest row (fp32 values); the buffer holds ``max_row_beats`` beats per slot.
    table_in_bits, row_in_bits, tag_bits, counter_bits : int
        Widths of the row's table and row ids, of the output's tag (request number, from 0 at
        reset, wrapping) and of the counters.

    Members
    -------
    i : ``In(stream.Signature(row_address_layout(...)))``
        Rows to read, in request order.
    o : ``Out(stream.Signature(gathered_row_layout(...)))``
        Gathered rows (see ``gather_stream``).
    axi : ``Out(AXI4ReadSignature(...))``
        AR and R channels.
    dim : ``In(range(max_dim + 1))``
        Values per row; change only while ``busy`` is low.
    errors_clear : ``In(1)``
        Clears ``errors`` and re-arms the first-error record.
    counters_clear : ``In(1)``
        Zeroes ``rows``, ``beats`` and ``bursts``.
    errors : ``Out(2)``
        Sticky :class:`GatherError` bits seen on the output (``RANGE``, ``BUS``).
    error_code, error_tag, error_table, error_row
        The first error since reset / ``errors_clear``: its code, request tag and row.
    rows, beats, bursts : ``Out(counter_bits)``
        Rows sent on ``o``; R beats received; AR bursts issued.
    in_flight : ``Out(range(reads_in_flight + 1))``
        Slots in use.
    busy : ``Out(1)``
        A row is in the block.

    Latency and throughput
    ----------------------
    One AR burst per cycle; a request is taken the cycle its predecessor's last burst is
    issued if a slot is free. R data: one beat per cycle, always accepted, stored one cycle
    after it arrives. A row's first beat is valid on ``o`` 3 cycles after its last R beat
    arrives (if it is the oldest); then one beat per cycle. To keep the R channel busy with
    memory latency ``L`` cycles, ``reads_in_flight`` must cover ``L`` plus about 6 cycles of
    rows: ``reads_in_flight * beats_per_row >= L + 6``.
    """

    def __init__(self, *, data_bits: int = 128, addr_bits: int = 48, id_bits: int = 6,
                 reads_in_flight: int = 64, max_dim: int = 64, table_in_bits: int = 5,
                 row_in_bits: int = 24, tag_bits: int = 32, counter_bits: int = 32):
        require_positive_ints(addr_bits=addr_bits, id_bits=id_bits, max_dim=max_dim,
                              table_in_bits=table_in_bits, row_in_bits=row_in_bits,
                              tag_bits=tag_bits, counter_bits=counter_bits)
        require_power_of_two(reads_in_flight=reads_in_flight)
        check_manager_params(data_bits=data_bits, addr_bits=addr_bits)
        if not 2 <= reads_in_flight <= 1 << id_bits:
            raise ValueError(f"reads_in_flight must be from 2 to 2 ** id_bits = "
                             f"{1 << id_bits}, not {reads_in_flight}")
        self._data_bits = data_bits
        self._bus_bytes = data_bits // 8
        self._addr_bits = addr_bits
        self._id_bits = id_bits
        self._slots = reads_in_flight
        self._max_dim = max_dim
        self._table_in_bits = table_in_bits
        self._row_in_bits = row_in_bits
        self._tag_bits = tag_bits
        self._max_beats = max_row_beats(self._bus_bytes, max_dim)
        self._bc_bits = beat_count_bits(self._bus_bytes, max_dim)
        ids = dict(table_in_bits=table_in_bits, row_in_bits=row_in_bits)
        super().__init__({
            "i": In(stream.Signature(row_address_layout(
                addr_bits=addr_bits, beat_count_bits=self._bc_bits, **ids))),
            "o": Out(stream.Signature(gathered_row_layout(
                data_bits=data_bits, tag_bits=tag_bits, **ids))),
            "axi": Out(AXI4ReadSignature(addr_bits=addr_bits, data_bits=data_bits,
                                         id_bits=id_bits)),
            "dim": In(range(max_dim + 1)),
            "errors_clear": In(1),
            "counters_clear": In(1),
            "errors": Out(2),
            "error_code": Out(2),
            "error_tag": Out(tag_bits),
            "error_table": Out(table_in_bits),
            "error_row": Out(row_in_bits),
            "rows": Out(counter_bits),
            "beats": Out(counter_bits),
            "bursts": Out(counter_bits),
            "in_flight": Out(range(reads_in_flight + 1)),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        slots, bus_bytes = self._slots, self._bus_bytes
        shift = (bus_bytes - 1).bit_length()
        word_bits = shift - 2                     # 32-bit words per beat, log2
        slot_bits = (slots - 1).bit_length()
        bc_bits, max_beats = self._bc_bits, self._max_beats
        axi = self.axi

        # -- reorder buffer: per-slot row description, arrival state, data ---------------------
        slot_layout = data.StructLayout({
            "beats": bc_bits, "offset": word_bits, "range": 1,
            "table": self._table_in_bits, "row": self._row_in_bits})
        m.submodules.slot_info = slot_info = Memory(shape=slot_layout, depth=slots, init=[])
        info_write = slot_info.write_port()
        info_head = slot_info.read_port(domain="comb")
        m.submodules.row_data = row_data = Memory(shape=unsigned(self._data_bits),
                                                  depth=slots * max_beats, init=[])
        data_write = row_data.write_port()
        data_lo = row_data.read_port()        # beat k of the head row
        data_hi = row_data.read_port()        # beat k + 1
        received = Array(Signal(bc_bits, name=f"received_{s}") for s in range(slots))
        left = Array(Signal(bc_bits, name=f"left_{s}") for s in range(slots))   # beats to come
        left_is_one = Array(Signal(name=f"left_is_one_{s}") for s in range(slots))  # left == 1
        done = Array(Signal(name=f"done_{s}") for s in range(slots))
        bus_error = Array(Signal(name=f"bus_error_{s}") for s in range(slots))

        tail = Signal(slot_bits)
        head = Signal(slot_bits)
        used = Signal(range(slots + 1))

        # -- allocation: a slot per request, in order; its first burst planned here -------------
        # Rows to read wait in ``ar_queue`` (address aligned to the bus, beats, slot, first
        # burst): the input's ready depends on registers only, not on ARREADY.
        ar_job = data.StructLayout({"addr": self._addr_bits, "left": bc_bits, "slot": slot_bits,
                                    "burst": range(MAX_BURST + 1), "final": 1})
        m.submodules.ar_queue = ar_q = SyncFIFOBuffered(width=ar_job.size, depth=4)
        req = self.i.payload
        m.d.comb += self.i.ready.eq(ar_q.w_rdy & (used < slots))
        load = self.i.valid & self.i.ready
        slot_entry = Signal(slot_layout)
        m.d.comb += [
            slot_entry.beats.eq(req.beats), slot_entry.offset.eq(req.address[2:shift]),
            slot_entry.range.eq(req.error), slot_entry.table.eq(req.table),
            slot_entry.row.eq(req.row),
            info_write.addr.eq(tail), info_write.data.eq(slot_entry), info_write.en.eq(load),
        ]
        new_job = Signal(ar_job)
        req_addr = Cat(Const(0, shift), req.address[shift:])
        first_burst = burst_beats(m, req_addr, req.beats, bus_bytes=bus_bytes)
        m.d.comb += [new_job.addr.eq(req_addr), new_job.left.eq(req.beats),
                     new_job.slot.eq(tail), new_job.burst.eq(first_burst),
                     new_job.final.eq(first_burst == req.beats),
                     ar_q.w_data.eq(new_job)]
        with m.If(load):
            m.d.sync += [tail.eq(tail + 1), received[tail].eq(0), left[tail].eq(req.beats),
                         left_is_one[tail].eq(req.beats == 1),
                         done[tail].eq(req.error), bus_error[tail].eq(0)]

        # -- AR: one burst per cycle ------------------------------------------------------------
        # The burst on AR is a register: a row's first burst comes planned from the queue; after
        # a burst that is not the row's last, the next is planned in the following cycle (a row
        # crossing 4 KiB or longer than 256 beats issues its bursts every other cycle).
        ar_active = Signal()
        ar_planned = Signal()                   # ar_burst / ar_final are current
        ar_addr = PagedBurstAddress(m, addr_bits=self._addr_bits, bus_bytes=bus_bytes,
                                    name="ar_addr")
        ar_left = Signal(bc_bits)               # beats of the row still to request
        ar_slot = Signal(slot_bits)
        ar_burst = Signal(range(MAX_BURST + 1))
        ar_last = Signal()                      # ar_burst == ar_left
        next_burst = burst_beats(m, ar_addr.low, ar_left, bus_bytes=bus_bytes)
        m.d.comb += [
            axi.arvalid.eq(ar_active & ar_planned),
            axi.araddr.eq(ar_addr.address),
            axi.arlen.eq(ar_burst - 1),
            axi.arsize.eq(axsize_for(self._data_bits)),
            axi.arburst.eq(AxiBurst.INCR),
            axi.arid.eq(ar_slot),
            axi.arcache.eq(AXCACHE),
            axi.arprot.eq(AXPROT),
        ]
        ar_take = axi.arvalid & axi.arready
        queued = data.View(ar_job, ar_q.r_data)
        m.d.comb += ar_q.r_en.eq(~ar_active | ar_take & ar_last)
        with m.If(ar_take):
            m.d.sync += [*ar_addr.advance(ar_burst),
                         ar_left.eq(ar_left - ar_burst), ar_planned.eq(0),
                         self.bursts.eq(self.bursts + 1)]
        with m.Elif(ar_active & ~ar_planned):
            m.d.sync += [ar_burst.eq(next_burst), ar_last.eq(next_burst == ar_left),
                         ar_planned.eq(1)]
        # A row taken while the AR side is idle and nothing is queued goes straight to it.
        direct = load & ~req.error & ~ar_active & (ar_q.level == 0)
        m.d.comb += ar_q.w_en.eq(load & ~req.error & ~direct)
        with m.If(ar_q.r_en):
            m.d.sync += [ar_active.eq(ar_q.r_rdy), *ar_addr.load(queued.addr),
                         ar_left.eq(queued.left), ar_slot.eq(queued.slot),
                         ar_burst.eq(queued.burst), ar_last.eq(queued.final),
                         ar_planned.eq(1)]
        with m.If(direct):
            m.d.sync += [ar_active.eq(1), *ar_addr.load(new_job.addr), ar_left.eq(new_job.left),
                         ar_slot.eq(new_job.slot), ar_burst.eq(new_job.burst),
                         ar_last.eq(new_job.final), ar_planned.eq(1)]

        # -- R: registered, then stored in its slot -----------------------------------------------
        # The beat's place in its row is looked up as it arrives, into the same register stage:
        # the slot's beats received so far and still to come, so the stored beat's address and
        # its "row is in" flag start from registers. Where the beat in the stage ahead is of the
        # same slot, the slot's registers still hold that beat's own count and beats to come (a
        # slot's beats leave R in order, each writing them back), so the new beat's come from
        # R's registers, one on or one less; else from the slot's registers: a choice among the
        # slots and a two-way choice, no adder after the lookup. (A beat whose ID names a slot
        # with no row outstanding breaks the protocol; its count is then undefined.)
        r_valid = Signal()
        r_slot = Signal(slot_bits)
        r_data = Signal(self._data_bits)
        r_error = Signal()
        count = Signal(bc_bits)                 # beats of its row received before this one
        r_left = Signal(bc_bits)                # beats of its row to come, this one included
        row_in = Signal()                       # this R beat is its row's last
        in_slot = axi.rid[:slot_bits]
        same_slot = r_valid & (r_slot == in_slot)
        m.d.comb += axi.rready.eq(1)
        m.d.sync += [r_valid.eq(axi.rvalid), r_slot.eq(in_slot),
                     r_data.eq(axi.rdata), r_error.eq(axi.rresp[1]),
                     count.eq(Mux(same_slot, count + 1, received[in_slot])),
                     r_left.eq(Mux(same_slot, r_left - 1, left[in_slot])),
                     row_in.eq(Mux(same_slot, r_left == 2, left_is_one[in_slot]))]
        m.d.comb += [
            data_write.addr.eq(_times_constant(r_slot, max_beats) + count),
            data_write.data.eq(r_data),
            data_write.en.eq(r_valid & (count < max_beats)),
        ]
        with m.If(r_valid):
            m.d.sync += [received[r_slot].eq(count + 1), left[r_slot].eq(r_left - 1),
                         left_is_one[r_slot].eq(r_left == 2),
                         self.beats.eq(self.beats + 1)]
            with m.If(r_error):
                m.d.sync += bus_error[r_slot].eq(1)
            with m.If(row_in):
                m.d.sync += done[r_slot].eq(1)

        # -- output: the head row, realigned, one beat per cycle -----------------------------------
        advance = ~self.o.valid | self.o.ready
        m.d.comb += info_head.addr.eq(head)
        head_info = info_head.data
        # done[head], registered (a 64-way choice is not on the path to the head's advance):
        # next cycle's head slot's done bit, including the bits set this cycle.
        head_done = Signal()
        eligible = (used != 0) & head_done
        out_beats = Signal(bc_bits + 1)          # output beats of a row
        m.d.comb += out_beats.eq((self.dim * 4 + bus_bytes - 1) >> shift)
        out_k = Signal(bc_bits)
        # out_k + 1 >= out_beats, kept in a register with out_k (computed for the value out_k
        # takes; recomputed while the output stage waits, so that it follows ``dim``).
        out_k_last = Signal()
        out_tag = Signal(self._tag_bits)
        last_k = head_info.range | out_k_last
        free = advance & eligible & last_k

        base = Signal(range(slots * max_beats))     # head * max_beats, kept with head
        m.d.comb += [
            data_lo.addr.eq(base + out_k),
            data_hi.addr.eq(base + Mux(out_k + 1 < max_beats, out_k + 1, out_k)),
            data_lo.en.eq(advance), data_hi.en.eq(advance),
        ]
        # Stage "rd": the beat whose data the read ports deliver.
        rd_valid = Signal()
        rd = Signal(data.StructLayout({
            "tag": self._tag_bits, "table": self._table_in_bits, "row": self._row_in_bits,
            "error": 2, "first": 1, "last": 1, "offset": word_bits,
            "words_left": range(-(1 << (bc_bits + word_bits)), self._max_dim + 1)}))
        words_per_beat = 1 << word_bits
        window = Cat(data_lo.data, data_hi.data)
        aligned = window.bit_select(Cat(Const(0, 5), rd.offset), self._data_bits)
        kept = Cat(Mux(w < rd.words_left, aligned.word_select(w, 32), 0)
                   for w in range(words_per_beat))
        error_code = Mux(head_info.range, GatherError.RANGE,
                         Mux(bus_error[head], GatherError.BUS, GatherError.NONE))

        with m.If(~(advance & eligible)):
            m.d.sync += out_k_last.eq(out_k + 1 >= out_beats)
        with m.If(advance):
            m.d.sync += [
                self.o.valid.eq(rd_valid),
                self.o.payload.data.eq(Mux(rd.error != 0, 0, kept)),
                self.o.payload.tag.eq(rd.tag),
                self.o.payload.table.eq(rd.table),
                self.o.payload.row.eq(rd.row),
                self.o.payload.error.eq(rd.error),
                self.o.payload.first.eq(rd.first),
                self.o.payload.last.eq(rd.last),
                rd_valid.eq(eligible),
            ]
            with m.If(eligible):
                m.d.sync += [
                    rd.tag.eq(out_tag), rd.table.eq(head_info.table), rd.row.eq(head_info.row),
                    rd.error.eq(error_code), rd.first.eq(out_k == 0), rd.last.eq(last_k),
                    rd.offset.eq(head_info.offset),
                    rd.words_left.eq(self.dim - (out_k << word_bits)),
                    out_k.eq(Mux(last_k, 0, out_k + 1)),
                    out_k_last.eq(Mux(last_k, out_beats <= 1, out_k + 2 >= out_beats)),
                ]
        def done_next(slot):
            return (done[slot] | (r_valid & row_in & (r_slot == slot))
                    | (load & req.error & (tail == slot)))
        m.d.sync += head_done.eq(Mux(free, done_next((head + 1)[:slot_bits]), done_next(head)))
        with m.If(free):
            m.d.sync += [head.eq(head + 1), out_tag.eq(out_tag + 1), done[head].eq(0),
                         base.eq(Mux(head == slots - 1, 0, base + max_beats))]
        m.d.sync += used.eq(used + load - free)

        # -- status ----------------------------------------------------------------------------
        new_error = advance & rd_valid & rd.first & (rd.error != 0)
        captured = Signal()
        with m.If(self.errors_clear):
            m.d.sync += [self.errors.eq(0), captured.eq(0)]
        with m.If(new_error):
            m.d.sync += self.errors.eq(Mux(self.errors_clear, 0, self.errors) | rd.error)
            with m.If(~captured | self.errors_clear):
                m.d.sync += [captured.eq(1), self.error_code.eq(rd.error),
                             self.error_tag.eq(rd.tag), self.error_table.eq(rd.table),
                             self.error_row.eq(rd.row)]
        with m.If(self.o.valid & self.o.ready & self.o.payload.last):
            m.d.sync += self.rows.eq(self.rows + 1)
        m.d.comb += [
            self.in_flight.eq(used),
            self.busy.eq((used != 0) | ar_active | (ar_q.level != 0) | rd_valid | self.o.valid
                         | r_valid),
        ]
        with m.If(self.counters_clear):
            m.d.sync += [self.rows.eq(0), self.beats.eq(0), self.bursts.eq(0)]
        return m
