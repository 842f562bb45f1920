"""HotlineTop: the whole accelerator (connections only)."""

from amaranth.hdl import Cat, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from . import register_map as rmap
from .axi import AXI4LiteSignature, AXI4Signature, AXI4StreamSignature
from .cold_row_unpacker import ColdRowUnpacker
from .control_registers import ControlRegisters
from .gather_engine import GatherEngine
from .lookup_input import LookupInput
from .micro_batch_output import MicroBatchOutput
from .model.popularity_table import Mode, TableGeometry
from .popularity_scheduler import PopularityScheduler

__all__ = ["HotlineTop"]


class HotlineTop(wiring.Component):
    """The Hotline accelerator: popularity table, micro-batch scheduler and gather engine
    behind AXI interfaces.

    Ports
    -----
    s_axil : ``In(AXI4LiteSignature(addr_bits=12))``
        Control and status registers (:mod:`hotline_hw.register_map`).
    s_axis_lookups : ``In(AXI4StreamSignature(data_bits=32 * lanes, user_bits=sample_bits + 1))``
        Mini-batch indices, one sample per packet (:class:`~hotline_hw.lookup_input.
        LookupInput`).
    m_axis_micro_batches : ``Out(AXI4StreamSignature(...))``
        One packet per micro-batch (:class:`~hotline_hw.micro_batch_output.MicroBatchOutput`).
    m_axis_rows : ``Out(AXI4StreamSignature(data_bits=data_bits, user_bits=...))``
        Gathered cold rows, one packet per row, in the order of the micro-batches' cold lookups;
        ``tuser = {tag[32], table, row, error[2]}`` (first field in bit 0).
    s_axis_write_back : ``In(AXI4StreamSignature(data_bits=data_bits, user_bits=...))``
        Updated rows, one packet per row; ``tuser = {table, row}``.
    m_axi : ``Out(AXI4Signature(...))``
        Host memory (embedding tables).

    Blocks: ``LookupInput`` -> ``PopularityScheduler`` (table -> scheduler) -> micro-batches
    out through ``MicroBatchOutput``; the scheduler's cold rows -> ``ColdRowUnpacker`` ->
    ``GatherEngine`` -> rows out; write-back in -> ``GatherEngine``; ``ControlRegisters``
    configures all and collects their status. The only logic here: the control bits mapped to
    the blocks' inputs and ``CAPACITY_LIMIT`` saturated to the scheduler's port width.

    Parameters
    ----------
    geometry, lanes, table_in_bits, row_in_bits : popularity table (and request widths)
    sample_bits, max_lookups, capacity, size_bits, working_set_bits : scheduler
    num_tables, data_bits, addr_bits, id_bits, reads_in_flight, writes_in_flight, max_dim :
        gather engine
    """

    #: One line per interface, for the generated port description (``rtl/hotline_top.md``).
    PORT_DOCS = {
        "s_axil": "AXI4-Lite subordinate, 12-bit addresses: control and status registers "
                  "(table below); {a, b} lists fields from bit 0 up",
        "s_axis_lookups": "AXI4-Stream in: one packet per sample; tdata lane k (bits 32k.."
                          "32k+31) = {row[row_in_bits], table[table_in_bits], ..., valid at "
                          "bit 31}; tuser = {sample[sample_bits], flush}",
        "m_axis_micro_batches": "AXI4-Stream out: one packet per micro-batch; tdata = the "
                                "scheduler's micro_batch_layout (descriptor beat, then sample "
                                "records), zero-padded to bytes",
        "m_axis_rows": "AXI4-Stream out: one packet per gathered cold row, in the order of the "
                       "micro-batches' cold lookups; tdata = row bytes from byte 0; tuser = "
                       "{tag[32], table, row, error[2]} (error 1 RANGE, 2 BUS)",
        "s_axis_write_back": "AXI4-Stream in: one packet per updated row, same byte order; "
                             "tuser = {table, row}",
        "m_axi": "AXI4 manager to host memory (the embedding tables): reads gather cold rows "
                 "(ARID = reorder-buffer slot), writes store updated rows (AWID 0)",
    }

    def __init__(self, *, geometry: TableGeometry = TableGeometry(), lanes: int = 4,
                 table_in_bits: int = 5, row_in_bits: int = 24, sample_bits: int = 32,
                 max_lookups: int = 32, capacity: int = 4096, size_bits: int = 16,
                 working_set_bits: int = 4, num_tables: int = 26, data_bits: int = 128,
                 addr_bits: int = 48, id_bits: int = 6, reads_in_flight: int = 64,
                 writes_in_flight: int = 16, max_dim: int = 64):
        if geometry.key_bits > 32:
            raise ValueError(f"HOST_KEY holds 32 bits: table_bits + row_bits = "
                             f"{geometry.key_bits} is too wide")
        self.geometry = geometry
        self.lanes = lanes
        self.params = dict(lanes=lanes, table_in_bits=table_in_bits, row_in_bits=row_in_bits,
                           sample_bits=sample_bits, max_lookups=max_lookups,
                           capacity=capacity, size_bits=size_bits,
                           working_set_bits=working_set_bits, num_tables=num_tables,
                           data_bits=data_bits, addr_bits=addr_bits, id_bits=id_bits,
                           reads_in_flight=reads_in_flight, writes_in_flight=writes_in_flight,
                           max_dim=max_dim)
        ids = dict(table_in_bits=table_in_bits, row_in_bits=row_in_bits)
        self._core = PopularityScheduler(
            geometry=geometry, lanes=lanes, sample_bits=sample_bits, max_lookups=max_lookups,
            capacity=capacity, size_bits=size_bits, working_set_bits=working_set_bits,
            counter_bits=32, **ids)
        self._input = LookupInput(lanes=lanes, sample_bits=sample_bits, **ids)
        self._output = MicroBatchOutput(self._core.signature.members["o"].signature
                                        .members["payload"].shape)
        beat_bits = max(1, (-(-max_lookups // lanes) - 1).bit_length())
        self._unpacker = ColdRowUnpacker(lanes=lanes, size_bits=size_bits,
                                         beat_bits=beat_bits, **ids)
        self._gather = GatherEngine(num_tables=num_tables, data_bits=data_bits,
                                    addr_bits=addr_bits, id_bits=id_bits,
                                    reads_in_flight=reads_in_flight,
                                    writes_in_flight=writes_in_flight, max_dim=max_dim,
                                    stride_bits=32, tag_bits=32, counter_bits=32, **ids)
        self._registers = ControlRegisters(
            geometry=geometry,
            params=dict(lanes=lanes, max_lookups=max_lookups, num_tables=num_tables,
                        bus_bytes=data_bits // 8, max_dim=max_dim,
                        reads_in_flight=reads_in_flight, capacity=capacity))
        self.row_user_bits = 32 + table_in_bits + row_in_bits + 2
        self.write_back_user_bits = table_in_bits + row_in_bits
        super().__init__({
            "s_axil": In(AXI4LiteSignature(addr_bits=rmap.ADDRESS_BITS)),
            "s_axis_lookups": In(AXI4StreamSignature(data_bits=32 * lanes,
                                                     user_bits=sample_bits + 1)),
            "m_axis_micro_batches": Out(self._output.signature.members["m_axis"].signature),
            "m_axis_rows": Out(AXI4StreamSignature(data_bits=data_bits,
                                                   user_bits=self.row_user_bits)),
            "s_axis_write_back": In(AXI4StreamSignature(data_bits=data_bits,
                                                        user_bits=self.write_back_user_bits)),
            "m_axi": Out(AXI4Signature(addr_bits=addr_bits, data_bits=data_bits,
                                       id_bits=id_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.input = inp = self._input
        m.submodules.core = core = self._core
        m.submodules.output = out = self._output
        m.submodules.unpacker = unpacker = self._unpacker
        m.submodules.gather = gather = self._gather
        m.submodules.registers = regs = self._registers

        # -- data path ------------------------------------------------------------------------
        wiring.connect(m, wiring.flipped(self.s_axis_lookups), inp.s_axis)
        wiring.connect(m, inp.o, core.req)
        wiring.connect(m, core.o, out.i)
        wiring.connect(m, out.m_axis, wiring.flipped(self.m_axis_micro_batches))
        wiring.connect(m, core.cold, unpacker.i)
        wiring.connect(m, unpacker.o, gather.i)
        wiring.connect(m, gather.m_axi, wiring.flipped(self.m_axi))
        rows, wb = self.m_axis_rows, self.s_axis_write_back
        row = gather.o.payload
        m.d.comb += [
            rows.tdata.eq(row.data),
            rows.tuser.eq(Cat(row.tag, row.table, row.row, row.error)),
            rows.tlast.eq(row.last),
            rows.tvalid.eq(gather.o.valid),
            gather.o.ready.eq(rows.tready),
            gather.wb.payload.data.eq(wb.tdata),
            gather.wb.payload.table.eq(wb.tuser[:len(row.table)]),
            gather.wb.payload.row.eq(wb.tuser[len(row.table):]),
            gather.wb.payload.last.eq(wb.tlast),
            gather.wb.valid.eq(wb.tvalid),
            wb.tready.eq(gather.wb.ready),
        ]

        # -- control ------------------------------------------------------------------------
        wiring.connect(m, wiring.flipped(self.s_axil), regs.s_axil)
        wiring.connect(m, regs.host_cmd, core.host_cmd)
        wiring.connect(m, core.host_resp, regs.host_resp)
        wiring.connect(m, regs.table_write, gather.table_write)
        wiring.connect(m, regs.table_read, gather.table_read)
        control = rmap.register("CONTROL")
        learn = regs.control[control.field("learn").lsb]
        split = regs.control[control.field("split").lsb]
        m.d.comb += [
            core.mode.eq(Mux(learn, Mode.LEARN, Mode.RUN)),
            core.split.eq(split),
            core.batch_size.eq(regs.batch_size),
            core.working_set.eq(regs.working_set),
            # Saturated: any bit above the port's range sets every bit (ORs, no comparison).
            core.capacity_limit.eq(
                regs.capacity_limit[:len(core.capacity_limit)]
                | regs.capacity_limit[len(core.capacity_limit):].any().replicate(
                    len(core.capacity_limit))),
            core.alpha.eq(regs.alpha),
            inp.lookups.eq(regs.lookups),
            gather.dim.eq(regs.dim),
            core.counters_clear.eq(regs.clear_counters),
            gather.counters_clear.eq(regs.clear_counters),
            core.errors_clear.eq(regs.clear_errors),
            inp.errors_clear.eq(regs.clear_errors),
            gather.errors_clear.eq(regs.clear_errors),
        ]

        # -- status -------------------------------------------------------------------------
        errors = {
            "lookup_range": core.table_error_sticky,
            "sample_framing": inp.framing_error | core.framing_error,
            "gather_range": gather.read_errors[0],
            "gather_bus": gather.read_errors[1],
            "write_range": gather.write_errors[0],
            "write_bus": gather.write_errors[1],
            "write_framing": gather.write_errors[2],
        }
        m.d.comb += [
            regs.status.eq(Cat(core.busy, gather.read_busy, gather.write_busy)),
            regs.errors.eq(Cat(*(errors[name] for name in rmap.ERROR_BITS
                                 if name in errors))),
            regs.gather_error_tag.eq(gather.read_error_tag),
            regs.gather_error_table.eq(gather.read_error_table | (gather.read_error_code << 8)),
            regs.gather_error_row.eq(gather.read_error_row),
            regs.write_error_table.eq(gather.write_error_table | (gather.write_error_code << 8)),
            regs.write_error_row.eq(gather.write_error_row),
            regs.table_lookups.eq(core.table_lookups),
            regs.table_hits.eq(core.table_hits),
            regs.table_errors.eq(core.table_errors),
            regs.table_conflicts.eq(core.table_conflicts),
            regs.samples_in.eq(core.samples_in),
            regs.popular.eq(core.popular),
            regs.non_popular.eq(core.non_popular),
            regs.skipped.eq(core.skipped),
            regs.micro_batches.eq(core.micro_batches),
            regs.early_closes.eq(core.early_closes),
            regs.input_stalls.eq(core.stalls),
            regs.rows_gathered.eq(gather.read_rows),
            regs.read_beats.eq(gather.read_beats),
            regs.read_bursts.eq(gather.read_bursts),
            regs.rows_written_in.eq(gather.write_rows_in),
            regs.rows_written.eq(gather.write_rows_written),
            regs.write_pending.eq(gather.write_pending),
        ]
        return m
