"""Gather engine: the accelerator's memory side (the paper's data dispatcher)."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .axi import AXI4Signature, connect_half
from .gather_stream import (gather_request_layout, gathered_row_layout,
                            table_word_read_signature, table_word_write_signature,
                            write_back_layout)
from .row_address import RowAddress
from .row_reader import RowReader
from .row_writer import RowWriter
from .table_parameters import TableParameters

__all__ = ["GatherEngine"]


class GatherEngine(wiring.Component):
    """Cold embedding rows from host memory (gather) and updated rows back (write-back).

    Bit-exact with :class:`hotline_hw.model.gather.GatherModel`: gathered beats (data, tag,
    error) are the model's ``gather`` responses in order, and memory after write-back is the
    model's ``write_back``. Connects a ``RowAddress`` + :class:`RowReader` (gather) and a
    ``RowAddress`` + :class:`RowWriter` (write-back) to one AXI4 manager port, both reading the
    per-table parameters from one :class:`TableParameters` memory; see those blocks for the
    contracts, latency and throughput.

    Reads and writes are independent: a gather of a row that a write-back is updating may see
    the old or the new row. Wait until ``write_busy`` is low before gathering rows just
    written back.

    Parameters
    ----------
    num_tables : int
        Table register sets.
    data_bits, addr_bits, id_bits : int
        AXI4 data width (64 to 1024), address width, ID width.
    reads_in_flight, writes_in_flight : int
        Rows being read (reorder-buffer slots; a power of two <= ``2 ** id_bits``) and write
        bursts awaiting their response, at most.
    max_dim : int
        Largest row (fp32 values); ``dim`` is set at run time.
    table_in_bits, row_in_bits, stride_bits, tag_bits, counter_bits : int
        Widths of the ids, of ``stride``, of the request tag and of the status counters.

    Members
    -------
    i : ``In(stream.Signature(gather_request_layout(...)))``
        Cold rows to fetch ``{table, row}``; tagged 0, 1, 2, ... from reset.
    o : ``Out(stream.Signature(gathered_row_layout(...)))``
        Gathered rows, in request order.
    wb : ``In(stream.Signature(write_back_layout(...)))``
        Rows to write back.
    m_axi : ``Out(AXI4Signature(...))``
        Host memory.
    table_write : ``In(table_word_write_signature(num_tables=...))``
    table_read : ``In(table_word_read_signature(num_tables=...))``
        The per-table registers, one 32-bit word at a time (:class:`TableParameters`); all
        tables unconfigured after reset (``table_write.ready`` rises when they are).
    dim : ``In(range(max_dim + 1))``
        Configuration (with the table registers): change only while ``read_busy`` and
        ``write_busy`` are low.
    errors_clear, counters_clear : ``In(1)``
        Clear the sticky errors (and first-error records); zero the counters.
    read_*, write_* : status of the two halves (errors, first error, counters, busy).
    """

    def __init__(self, *, num_tables: int = 26, data_bits: int = 128, addr_bits: int = 48,
                 id_bits: int = 6, reads_in_flight: int = 64, writes_in_flight: int = 16,
                 max_dim: int = 64, table_in_bits: int = 5, row_in_bits: int = 24,
                 stride_bits: int = 32, tag_bits: int = 32, counter_bits: int = 32):
        ids = dict(table_in_bits=table_in_bits, row_in_bits=row_in_bits)
        bus = dict(data_bits=data_bits, addr_bits=addr_bits, id_bits=id_bits, max_dim=max_dim)
        addressing = dict(num_tables=num_tables, addr_bits=addr_bits, stride_bits=stride_bits,
                          bus_bytes=data_bits // 8, max_dim=max_dim, **ids)
        self._parameters = TableParameters(num_tables=num_tables, addr_bits=addr_bits,
                                           stride_bits=stride_bits, lookup_ports=2, **ids)
        self._read_address = RowAddress(**addressing)
        self._write_address = RowAddress(**addressing)
        self._reader = RowReader(reads_in_flight=reads_in_flight, tag_bits=tag_bits,
                                 counter_bits=counter_bits, **bus, **ids)
        self._writer = RowWriter(writes_in_flight=writes_in_flight, counter_bits=counter_bits,
                                 **bus, **ids)
        self.num_tables = num_tables
        self.data_bits = data_bits
        self.max_dim = max_dim
        reader, writer = self._reader.signature.members, self._writer.signature.members
        super().__init__({
            "i": In(stream.Signature(gather_request_layout(**ids))),
            "o": Out(stream.Signature(gathered_row_layout(data_bits=data_bits,
                                                          tag_bits=tag_bits, **ids))),
            "wb": In(stream.Signature(write_back_layout(data_bits=data_bits, **ids))),
            "m_axi": Out(AXI4Signature(addr_bits=addr_bits, data_bits=data_bits,
                                       id_bits=id_bits)),
            "table_write": In(table_word_write_signature(num_tables=num_tables)),
            "table_read": In(table_word_read_signature(num_tables=num_tables)),
            "dim": In(range(max_dim + 1)),
            "errors_clear": In(1),
            "counters_clear": In(1),
            **{f"read_{name}": reader[name] for name in self._READ_STATUS},
            **{f"write_{name}": writer[name] for name in self._WRITE_STATUS},
        })

    _READ_STATUS = ("errors", "error_code", "error_tag", "error_table", "error_row", "rows",
                    "beats", "bursts", "in_flight", "busy")
    _WRITE_STATUS = ("errors", "error_code", "error_table", "error_row", "rows_in",
                     "rows_written", "beats", "bursts", "pending", "busy")

    def elaborate(self, platform):
        m = Module()
        m.submodules.parameters = parameters = self._parameters
        m.submodules.read_address = read_address = self._read_address
        m.submodules.reader = reader = self._reader
        m.submodules.write_address = write_address = self._write_address
        m.submodules.writer = writer = self._writer

        wiring.connect(m, wiring.flipped(self.i), read_address.i)
        wiring.connect(m, read_address.o, reader.i)
        wiring.connect(m, reader.o, wiring.flipped(self.o))
        wiring.connect(m, wiring.flipped(self.wb), writer.i)
        wiring.connect(m, writer.address_request, write_address.i)
        wiring.connect(m, write_address.o, writer.address)
        connect_half(m, self.m_axi, reader.axi)
        connect_half(m, self.m_axi, writer.axi)
        wiring.connect(m, wiring.flipped(self.table_write), parameters.write)
        wiring.connect(m, wiring.flipped(self.table_read), parameters.read)
        for k, block in enumerate((read_address, write_address)):
            wiring.connect(m, block.table_params, parameters.lookup[k])
            m.d.comb += block.dim.eq(self.dim)
        for block in (reader, writer):
            m.d.comb += [block.dim.eq(self.dim), block.errors_clear.eq(self.errors_clear),
                         block.counters_clear.eq(self.counters_clear)]
        for name in self._READ_STATUS:
            m.d.comb += getattr(self, f"read_{name}").eq(getattr(reader, name))
        for name in self._WRITE_STATUS:
            m.d.comb += getattr(self, f"write_{name}").eq(getattr(writer, name))
        return m
