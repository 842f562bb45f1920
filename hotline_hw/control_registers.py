"""AXI4-Lite register file of the accelerator, built from :mod:`hotline_hw.register_map`."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from . import register_map as rmap
from .axi import AXI4LiteSignature, AxiResp
from .gather_stream import (table_word_bits, table_word_read_signature,
                            table_word_write_signature)
from .lookup_stream import host_command_layout, host_response_layout
from .model.popularity_table import TableGeometry

__all__ = ["ControlRegisters", "INPUT_REGISTERS", "CONFIG_REGISTERS"]

#: Read-only registers whose value comes from the blocks (one ``In(32)`` member each, named in
#: lower case); ``status`` and ``errors`` get the register file's own bits ORed in.
INPUT_REGISTERS = tuple(r.name for r in rmap.REGISTERS if r.access == "ro" and r.name not in (
    "ID", "VERSION", "PARAMS0", "PARAMS1", "PARAMS2", "PARAMS3", "CYCLES", "HOST_RESULT",
    "HOST_DONE", "HOST_FLAGS"))
#: Configuration registers (one ``Out(32)`` member each, lower case); HOST_ENTRY and HOST_KEY
#: are internal.
CONFIG_REGISTERS = tuple(r.name for r in rmap.REGISTERS
                         if r.access == "rw" and r.name not in ("HOST_ENTRY", "HOST_KEY"))


class ControlRegisters(wiring.Component):
    """The register map behind an AXI4-Lite subordinate port.

    Writes take effect (and configuration outputs change) the cycle after the AW and W beats
    are both taken; ``WSTRB`` selects bytes. Reads return the value the cycle after AR.
    Writes to read-only or unmapped addresses and reads of unmapped addresses answer
    ``SLVERR`` and change nothing. One write and one read at a time: AWREADY / WREADY rise
    together once both AW and W are valid and the previous B has been taken; ARREADY once the
    previous R has been taken. The per-table registers are not flip-flops here: their
    accesses go to the gather engine's table-parameter memory through ``table_write`` /
    ``table_read`` (one word each, same timing). Every access waits while
    ``table_write.ready`` is low (the memory being cleared, the first
    ``2 ** ceil(log2(num_tables))`` cycles after reset); the handshakes never depend on the
    address.

    ``HOST_CMD`` becomes a ``host_cmd`` stream beat (``op``, ``slot``, ``HOST_ENTRY`` and
    ``HOST_KEY``); ``STATUS.host_pending`` stays up until its ``host_resp`` arrives, which sets
    ``HOST_RESULT`` / ``HOST_FLAGS`` and counts in ``HOST_DONE``. A ``HOST_CMD`` written while
    one is pending is ignored and sets ``ERRORS.host_overrun``.

    Parameters
    ----------
    geometry : TableGeometry
        Popularity table geometry (host command layout, ``PARAMS0`` / ``PARAMS1``).
    params : dict
        Values of the ``PARAMS*`` fields (``lanes``, ``max_lookups``, ``num_tables``,
        ``bus_bytes``, ``max_dim``, ``reads_in_flight``, ``capacity``).

    Members
    -------
    s_axil : ``In(AXI4LiteSignature(addr_bits=ADDRESS_BITS))``
    <config> : ``Out(32)`` per :data:`CONFIG_REGISTERS` (``control``, ``lookups``, ...)
    table_write : ``Out(table_word_write_signature(num_tables=...))``
    table_read : ``Out(table_word_read_signature(num_tables=...))``
        Accesses of the per-table registers (word ``(address - TABLE_BASE) / 4``).
    <input> : ``In(32)`` per :data:`INPUT_REGISTERS` (``status``, ``errors``, counters, ...)
    clear_counters, clear_errors : ``Out(1)``
        One-cycle pulses from ``COMMAND`` (``clear_counters`` also zeroes ``CYCLES``).
    host_cmd : ``Out(stream.Signature(host_command_layout(geometry)))``
    host_resp : ``In(stream.Signature(host_response_layout(geometry)))``
    """

    def __init__(self, *, geometry: TableGeometry, params: dict):
        self._geometry = geometry
        self._params = dict(params)
        self._num_tables = num_tables = params["num_tables"]
        # The word index is the address's bits above the byte offset: the table block must
        # start at a multiple of its power-of-two size.
        self._word_bits = table_word_bits(num_tables)
        if rmap.TABLE_BASE % (4 << self._word_bits) or \
                rmap.TABLE_BASE + rmap.TABLE_STRIDE * num_tables > 1 << rmap.ADDRESS_BITS:
            raise ValueError(f"{num_tables} tables' registers do not fit the register map "
                             f"(TABLE_BASE {rmap.TABLE_BASE:#x}, {rmap.ADDRESS_BITS} address "
                             "bits)")
        members = {"s_axil": In(AXI4LiteSignature(addr_bits=rmap.ADDRESS_BITS))}
        for name in CONFIG_REGISTERS:
            members[name.lower()] = Out(32, init=rmap.register(name).reset)
        members["table_write"] = Out(table_word_write_signature(num_tables=num_tables))
        members["table_read"] = Out(table_word_read_signature(num_tables=num_tables))
        for name in INPUT_REGISTERS:
            members[name.lower()] = In(32)
        members["clear_counters"] = Out(1)
        members["clear_errors"] = Out(1)
        members["host_cmd"] = Out(stream.Signature(host_command_layout(geometry)))
        members["host_resp"] = In(stream.Signature(host_response_layout(geometry)))
        super().__init__(members)

    def _constants(self) -> dict[str, int]:
        return rmap.constant_values(self._geometry, self._params)

    def elaborate(self, platform):
        m = Module()
        axil = self.s_axil
        constants = self._constants()

        storage: dict[str, Signal] = {}
        for name in CONFIG_REGISTERS:
            storage[name] = getattr(self, name.lower())
        host_entry = Signal(32, name="host_entry")
        storage["HOST_ENTRY"] = host_entry
        host_key = Signal(32, name="host_key")
        storage["HOST_KEY"] = host_key
        # A table register: the bits above the word index name the (aligned) table block, the
        # word index is below 4 * num_tables. Bit slices and a small comparison, no adders.
        words = slice(2, 2 + self._word_bits)
        block = rmap.TABLE_BASE >> (2 + self._word_bits)

        def in_tables(address):
            return ((address[2 + self._word_bits:] == block)
                    & (address[words] < 4 * self._num_tables))

        aw_table = in_tables(axil.awaddr)
        ar_table = in_tables(axil.araddr)
        # Every access waits while the table memory is cleared after reset (a few cycles): the
        # handshakes do not depend on the address.
        table_ready = self.table_write.ready

        cycles = Signal(32)
        host_result = Signal(32)
        host_flags = Signal(2)
        host_done = Signal(32)
        host_waiting = Signal()              # command sent, response not yet back
        overrun = Signal()

        # -- write channel ----------------------------------------------------------------
        write = Signal()
        m.d.comb += [
            write.eq(axil.awvalid & axil.wvalid & ~axil.bvalid & table_ready),
            axil.awready.eq(write), axil.wready.eq(write),
            self.table_write.en.eq(write & aw_table),
            self.table_write.word.eq(axil.awaddr[words]),
            self.table_write.data.eq(axil.wdata),
            self.table_write.strobe.eq(axil.wstrb),
        ]
        strobe_mask = Signal(32)
        m.d.comb += strobe_mask.eq(Cat(*(axil.wstrb[b].replicate(8) for b in range(4))))

        def merged(reg: Signal, mask: int) -> object:
            return ((reg & ~strobe_mask) | (axil.wdata & strobe_mask)) & mask

        with m.If(axil.bvalid & axil.bready):
            m.d.sync += axil.bvalid.eq(0)
        with m.If(write & aw_table):
            m.d.sync += [axil.bvalid.eq(1), axil.bresp.eq(AxiResp.OKAY)]
        with m.Elif(write):
            m.d.sync += [axil.bvalid.eq(1), axil.bresp.eq(AxiResp.SLVERR)]
            with m.Switch(axil.awaddr[2:]):
                for r in rmap.REGISTERS:
                    if r.access == "ro":
                        continue
                    mask = sum(f.mask for f in r.fields)
                    with m.Case(r.address >> 2):
                        m.d.sync += axil.bresp.eq(AxiResp.OKAY)
                        if r.access == "rw":
                            m.d.sync += storage[r.name].eq(merged(storage[r.name], mask))
                        elif r.name == "COMMAND":
                            m.d.comb += [
                                self.clear_counters.eq(
                                    axil.wdata[r.field("clear_counters").lsb] & axil.wstrb[0]),
                                self.clear_errors.eq(
                                    axil.wdata[r.field("clear_errors").lsb] & axil.wstrb[0]),
                            ]
                        elif r.name == "HOST_CMD":
                            slot, op = r.field("slot"), r.field("op")
                            with m.If(self.host_cmd.valid | host_waiting):
                                m.d.sync += overrun.eq(1)
                            with m.Else():
                                m.d.sync += [
                                    self.host_cmd.valid.eq(1),
                                    self.host_cmd.payload.op.eq(
                                        axil.wdata[op.lsb:op.lsb + op.width]),
                                    self.host_cmd.payload.slot.eq(
                                        axil.wdata[slot.lsb:slot.lsb + slot.width]),
                                    self.host_cmd.payload.entry.eq(host_entry),
                                    self.host_cmd.payload.key.eq(host_key),
                                    host_waiting.eq(1),
                                ]

        # -- host command / response ------------------------------------------------------
        with m.If(self.host_cmd.valid & self.host_cmd.ready):
            m.d.sync += self.host_cmd.valid.eq(0)
        m.d.comb += self.host_resp.ready.eq(1)
        with m.If(self.host_resp.valid):
            m.d.sync += [host_result.eq(self.host_resp.payload.entry),
                         host_flags.eq(Cat(self.host_resp.payload.stale,
                                           self.host_resp.payload.hit)),
                         host_waiting.eq(0),
                         host_done.eq(host_done + 1)]

        # -- clears, cycle counter -----------------------------------------------------------
        m.d.sync += cycles.eq(cycles + 1)
        with m.If(self.clear_counters):
            m.d.sync += cycles.eq(0)
        with m.If(self.clear_errors):
            m.d.sync += overrun.eq(0)

        # -- read channel --------------------------------------------------------------------
        # A table word comes from the memory's read register, anything else from rdata's.
        rdata = Signal(32)
        rdata_from_table = Signal()
        read = axil.arvalid & axil.arready
        m.d.comb += [
            axil.arready.eq(~axil.rvalid & table_ready),
            self.table_read.en.eq(read & ar_table),
            self.table_read.word.eq(axil.araddr[words]),
            axil.rdata.eq(Mux(rdata_from_table, self.table_read.data, rdata)),
        ]
        with m.If(axil.rvalid & axil.rready):
            m.d.sync += axil.rvalid.eq(0)
        status_bit = rmap.register("STATUS").field("host_pending").lsb
        overrun_bit = rmap.ERROR_BITS["host_overrun"][0]
        with m.If(read):
            m.d.sync += [axil.rvalid.eq(1), axil.rresp.eq(AxiResp.OKAY), rdata.eq(0),
                         rdata_from_table.eq(ar_table)]
        with m.If(read & ~ar_table):
            with m.Switch(axil.araddr[2:]):
                for r in rmap.REGISTERS:
                    with m.Case(r.address >> 2):
                        if r.name in constants:
                            value = Const(constants[r.name], 32)
                        elif r.name == "CYCLES":
                            value = cycles
                        elif r.name == "HOST_RESULT":
                            value = host_result
                        elif r.name == "HOST_DONE":
                            value = host_done
                        elif r.name == "HOST_FLAGS":
                            value = host_flags
                        elif r.name == "STATUS":
                            value = self.status | ((self.host_cmd.valid | host_waiting)
                                                   << status_bit)
                        elif r.name == "ERRORS":
                            value = self.errors | (overrun << overrun_bit)
                        elif r.access == "wo":
                            value = Const(0, 32)
                        elif r.name in storage:
                            value = storage[r.name]
                        else:
                            value = getattr(self, r.name.lower())
                        m.d.sync += rdata.eq(value)
                with m.Default():
                    m.d.sync += axil.rresp.eq(AxiResp.SLVERR)

        return m
