"""Row writer: updated rows written back to host memory with AXI4 writes."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from .axi import (AXCACHE, AXPROT, BOUNDARY_BITS, MAX_BURST, AXI4WriteSignature, AxiBurst,
                  PagedBurstAddress, axsize_for, burst_beats, check_manager_params)
from .gather_stream import (GatherError, gather_request_layout, row_address_layout,
                            write_back_layout)
from .params import require_positive_ints
from .row_address import beat_count_bits

__all__ = ["RowWriter"]


class RowWriter(wiring.Component):
    """Writes rows (:meth:`hotline_hw.model.gather.GatherModel.write_back`) with AXI4 bursts.

    A row arrives on ``i`` as ``ceil(4 * dim / bus_bytes)`` beats, its first byte in byte 0 of
    its first beat (the gathered rows' format). The writer asks ``RowAddress`` (through
    ``address_request`` / ``address``) for the row's address, then issues the row's bursts
    (split at 4 KiB boundaries and at 256 beats, ``AWID`` 0) and its W beats realigned to the
    row's address, with ``WSTRB`` set on exactly the row's bytes. A rejected row (table not
    configured, row out of range) is consumed and not written: ``errors`` gets ``RANGE``. A
    row whose ``last`` flag is not on its last beat (by ``dim``) is written all the same (the
    row is ``dim`` values; beats are counted) and ``errors`` gets ``FRAMING``. A burst answered
    ``SLVERR`` / ``DECERR`` sets ``BUS``. ``error_*`` record the first error since reset or
    ``errors_clear``.

    Completion: ``rows_written`` counts rows all of whose bursts have been acknowledged (B),
    ``pending`` the bursts issued and not yet acknowledged (at most ``writes_in_flight``:
    ``AWVALID`` waits). All writes handed in are done when ``busy`` is low.

    Parameters
    ----------
    data_bits, addr_bits, id_bits : int
        AXI data width (64 to 1024, a power of two), address and ID widths.
    writes_in_flight : int
        Bursts issued and not yet acknowledged, at most.
    max_dim, table_in_bits, row_in_bits, counter_bits : int
        Largest row (fp32 values); widths of the ids and of the counters.

    Members
    -------
    i : ``In(stream.Signature(write_back_layout(...)))``
    address_request : ``Out(stream.Signature(gather_request_layout(...)))``
    address : ``In(stream.Signature(row_address_layout(...)))``
        To and from a ``RowAddress`` (one request in flight at a time).
    axi : ``Out(AXI4WriteSignature(...))``
    dim : ``In(range(max_dim + 1))``
        Values per row; change only while ``busy`` is low.
    errors_clear, counters_clear : ``In(1)``
        Clear ``errors`` (re-arming the first-error record); zero the counters.
    errors : ``Out(3)``
        Sticky :class:`GatherError` bits (``RANGE``, ``BUS``, ``FRAMING``).
    error_code, error_table, error_row
        The first error since reset / ``errors_clear``.
    rows_in, rows_written, beats, bursts : ``Out(counter_bits)``
        Rows taken from ``i``; rows fully acknowledged; W beats and AW bursts sent.
    pending : ``Out(range(writes_in_flight + 1))``
    busy : ``Out(1)``

    Latency and throughput
    ----------------------
    W: one beat per cycle within a row. Between rows the writer waits for the next row's
    address (``RowAddress``'s 3 cycles and the hand-offs around them): back-to-back rows of
    ``n`` W beats start every ``n + 4`` cycles when the memory keeps up
    (``tests/hw/test_gather_engine_sim.py::test_write_back_rows_take_documented_cycles``).
    """

    def __init__(self, *, data_bits: int = 128, addr_bits: int = 48, id_bits: int = 6,
                 writes_in_flight: int = 16, max_dim: int = 64, table_in_bits: int = 5,
                 row_in_bits: int = 24, counter_bits: int = 32):
        require_positive_ints(addr_bits=addr_bits, id_bits=id_bits, max_dim=max_dim,
                              writes_in_flight=writes_in_flight, table_in_bits=table_in_bits,
                              row_in_bits=row_in_bits, counter_bits=counter_bits)
        check_manager_params(data_bits=data_bits, addr_bits=addr_bits)
        self._data_bits = data_bits
        self._bus_bytes = data_bits // 8
        self._addr_bits = addr_bits
        self._id_bits = id_bits
        self._writes = writes_in_flight
        self._max_dim = max_dim
        self._table_in_bits = table_in_bits
        self._row_in_bits = row_in_bits
        self._bc_bits = beat_count_bits(self._bus_bytes, max_dim)
        ids = dict(table_in_bits=table_in_bits, row_in_bits=row_in_bits)
        super().__init__({
            "i": In(stream.Signature(write_back_layout(data_bits=data_bits, **ids))),
            "address_request": Out(stream.Signature(gather_request_layout(**ids))),
            "address": In(stream.Signature(row_address_layout(
                addr_bits=addr_bits, beat_count_bits=self._bc_bits, **ids))),
            "axi": Out(AXI4WriteSignature(addr_bits=addr_bits, data_bits=data_bits,
                                          id_bits=id_bits)),
            "dim": In(range(max_dim + 1)),
            "errors_clear": In(1),
            "counters_clear": In(1),
            "errors": Out(3),
            "error_code": Out(3),
            "error_table": Out(table_in_bits),
            "error_row": Out(row_in_bits),
            "rows_in": Out(counter_bits),
            "rows_written": Out(counter_bits),
            "beats": Out(counter_bits),
            "bursts": Out(counter_bits),
            "pending": Out(range(writes_in_flight + 1)),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        bus_bytes, bc_bits = self._bus_bytes, self._bc_bits
        shift = (bus_bytes - 1).bit_length()
        axi = self.axi
        wb = self.i.payload

        # Bursts awaiting their B response: which row, and whether the row's last burst.
        burst_info = data.StructLayout({"table": self._table_in_bits,
                                        "row": self._row_in_bits, "last": 1})
        m.submodules.bursts = bursts = SyncFIFO(width=burst_info.size, depth=self._writes)

        # Input beats per row. It feeds only registers (``in_last``, ``need_input``: the flags
        # the input's ready and framing check read are computed a beat ahead).
        out_beats = Signal(bc_bits + 1)
        m.d.comb += out_beats.eq((self.dim * 4 + bus_bytes - 1) >> shift)
        row_bytes = Signal(range(4 * self._max_dim + 1))
        m.d.comb += row_bytes.eq(self.dim * 4)

        table = Signal(self._table_in_bits)
        row = Signal(self._row_in_bits)
        in_k = Signal(bc_bits + 1)                  # input beats of the row taken
        in_last = Signal()                          # in_k + 1 >= out_beats, kept with in_k
        range_error = Signal()
        framing_error = Signal()
        bus_error = Signal()
        new_error = Signal(3)
        m.d.comb += new_error.eq(Cat(range_error, bus_error, framing_error))

        # -- AW: the row's bursts ------------------------------------------------------------------
        # The burst on AW is a register: a row's first burst is planned as its address arrives;
        # after a burst that is not the row's last, the next is planned in the following cycle
        # (a row crossing 4 KiB or longer than 256 beats issues its bursts every other cycle).
        aw_active = Signal()
        aw_planned = Signal()                       # aw_burst / aw_final are current
        aw_addr = PagedBurstAddress(m, addr_bits=self._addr_bits, bus_bytes=bus_bytes,
                                    name="aw_addr")
        aw_left = Signal(bc_bits)
        aw_burst = Signal(range(MAX_BURST + 1))
        aw_final = Signal()                         # aw_burst == aw_left: the row's last burst
        next_burst = burst_beats(m, aw_addr.low, aw_left, bus_bytes=bus_bytes)
        info = Signal(burst_info)
        m.d.comb += [
            axi.awvalid.eq(aw_active & aw_planned & bursts.w_rdy),
            axi.awaddr.eq(aw_addr.address),
            axi.awlen.eq(aw_burst - 1),
            axi.awsize.eq(axsize_for(self._data_bits)),
            axi.awburst.eq(AxiBurst.INCR),
            axi.awid.eq(0),
            axi.awcache.eq(AXCACHE),
            axi.awprot.eq(AXPROT),
            info.table.eq(table), info.row.eq(row), info.last.eq(aw_final),
            bursts.w_data.eq(info),
        ]
        aw_take = axi.awvalid & axi.awready
        m.d.comb += bursts.w_en.eq(aw_take)
        with m.If(aw_take):
            m.d.sync += [*aw_addr.advance(aw_burst), aw_left.eq(aw_left - aw_burst),
                         aw_planned.eq(0), self.bursts.eq(self.bursts + 1)]
            with m.If(aw_final):
                m.d.sync += aw_active.eq(0)
        with m.Elif(aw_active & ~aw_planned):
            m.d.sync += [aw_burst.eq(next_burst), aw_final.eq(next_burst == aw_left),
                         aw_planned.eq(1)]

        # -- W: realigned beats through an output register ----------------------------------------
        w_beats = Signal(bc_bits)                   # W beats of the row
        w_j = Signal(bc_bits)                       # W beats loaded
        w_done = Signal()
        w_addr = Signal(BOUNDARY_BITS)              # low bits of the beat's address
        w_in_burst = Signal(range(MAX_BURST))
        offset = Signal(shift)                      # the row's byte offset in its first beat
        window_left = Signal(range(-(1 << (bc_bits + shift)), 4 * self._max_dim + bus_bytes))
        previous = Signal(self._data_bits)
        w_load = ~axi.wvalid | axi.wready
        with m.If(axi.wvalid & axi.wready):
            m.d.sync += [axi.wvalid.eq(0), self.beats.eq(self.beats + 1)]

        need_input = Signal()                       # w_j < out_beats, kept with w_j
        current = Mux(need_input, wb.data, 0)
        window = Cat(previous, current)
        # Byte p of the beat is the row's if it is past the row's start (first beat) and
        # before its end. Rows are whole 32-bit words, so this is decided per word.
        words = bus_bytes // 4
        started = [((w_j != 0) | (offset[2:] <= w)) if w < words - 1 else Const(1)
                   for w in range(words)]
        strobes = Cat((started[w] & (4 * w < window_left)).replicate(4) for w in range(words))
        burst_end = ((w_addr + bus_bytes)[:BOUNDARY_BITS] == 0) | (w_in_burst == MAX_BURST - 1)
        row_end = w_j + 1 == w_beats

        # -- B ------------------------------------------------------------------------------------
        done_info = Signal(burst_info)
        m.d.comb += [axi.bready.eq(1), done_info.eq(bursts.r_data)]
        b_take = axi.bvalid & bursts.r_rdy
        m.d.comb += bursts.r_en.eq(b_take)
        with m.If(b_take):
            m.d.sync += self.rows_written.eq(self.rows_written + done_info.last)

        # -- row sequencing ------------------------------------------------------------------------
        resp = self.address.payload
        resp_addr = Cat(Const(0, shift), resp.address[shift:])
        first_burst = burst_beats(m, resp_addr, resp.beats, bus_bytes=bus_bytes)
        # The request's payload is the input's whatever the state (only ``valid`` is the state's):
        # no state decode before the row-address unit's table choice.
        m.d.comb += [self.address_request.payload.table.eq(wb.table),
                     self.address_request.payload.row.eq(wb.row)]
        with m.FSM(name="writer") as fsm:
            with m.State("IDLE"):
                m.d.comb += self.address_request.valid.eq(self.i.valid)
                with m.If(self.address_request.valid & self.address_request.ready):
                    m.d.sync += [table.eq(wb.table), row.eq(wb.row), in_k.eq(0),
                                 in_last.eq(out_beats <= 1)]
                    m.next = "ADDRESS"
            with m.State("ADDRESS"):
                m.d.comb += self.address.ready.eq(1)
                with m.If(self.address.valid):
                    with m.If(resp.error):
                        m.d.comb += range_error.eq(1)
                        m.next = "DRAIN"
                    with m.Else():
                        m.d.sync += [
                            aw_active.eq(1),
                            *aw_addr.load(resp_addr),
                            aw_left.eq(resp.beats),
                            aw_burst.eq(first_burst),
                            aw_final.eq(first_burst == resp.beats),
                            aw_planned.eq(1),
                            w_beats.eq(resp.beats), w_j.eq(0), w_done.eq(0),
                            need_input.eq(out_beats != 0),
                            w_addr.eq(Cat(Const(0, shift), resp.address[shift:BOUNDARY_BITS])),
                            w_in_burst.eq(0),
                            offset.eq(resp.address[:shift]),
                            window_left.eq(resp.address[:shift] + row_bytes),
                            previous.eq(0),
                        ]
                        m.next = "DATA"
            with m.State("DATA"):
                can = w_load & ~w_done & (~need_input | self.i.valid)
                m.d.comb += self.i.ready.eq(w_load & ~w_done & need_input)
                with m.If(can):
                    m.d.sync += [
                        axi.wvalid.eq(1),
                        axi.wdata.eq(window.bit_select(
                            Cat(Const(0, 3), bus_bytes - offset), self._data_bits)),
                        axi.wstrb.eq(strobes),
                        axi.wlast.eq(row_end | burst_end),
                        previous.eq(current),
                        w_j.eq(w_j + 1),
                        need_input.eq(w_j + 1 < out_beats),
                        w_addr.eq(w_addr + bus_bytes),
                        w_in_burst.eq(Mux(row_end | burst_end, 0, w_in_burst + 1)),
                        window_left.eq(window_left - bus_bytes),
                    ]
                    with m.If(row_end):
                        m.d.sync += w_done.eq(1)
                with m.If((w_done | (can & row_end)) & (~aw_active | (aw_take & aw_final))):
                    m.next = "IDLE"
            with m.State("DRAIN"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid & in_last):
                    m.next = "IDLE"

        # Input framing: ``last`` must be on the row's last beat (by ``dim``).
        take = self.i.valid & self.i.ready
        with m.If(take):
            m.d.sync += [in_k.eq(in_k + 1), in_last.eq(in_k + 2 >= out_beats)]
            with m.If(wb.last != in_last):
                m.d.comb += framing_error.eq(1)
            with m.If(in_last):
                m.d.sync += self.rows_in.eq(self.rows_in + 1)
        with m.If(b_take & axi.bresp[1]):
            m.d.comb += bus_error.eq(1)

        # -- status ----------------------------------------------------------------------------
        captured = Signal()
        with m.If(self.errors_clear):
            m.d.sync += [self.errors.eq(0), captured.eq(0)]
        with m.If(new_error != 0):
            m.d.sync += self.errors.eq(Mux(self.errors_clear, 0, self.errors) | new_error)
            with m.If(~captured | self.errors_clear):
                # A B error belongs to the burst's row, the others to the current row.
                bus_only = new_error == GatherError.BUS
                m.d.sync += [captured.eq(1), self.error_code.eq(new_error),
                             self.error_table.eq(Mux(bus_only, done_info.table, table)),
                             self.error_row.eq(Mux(bus_only, done_info.row, row))]
        m.d.comb += [
            self.pending.eq(bursts.level),
            self.busy.eq(~fsm.ongoing("IDLE") | axi.wvalid | (bursts.level != 0)),
        ]
        with m.If(self.counters_clear):
            m.d.sync += [self.rows_in.eq(0), self.rows_written.eq(0), self.beats.eq(0),
                         self.bursts.eq(0)]
        return m
