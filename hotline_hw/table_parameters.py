"""Per-table parameters of the gather engine (base, stride, rows) in a small memory."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In

from . import register_map as rmap
from .gather_stream import (table_parameter_read_signature, table_word_bits,
                            table_word_read_signature, table_word_write_signature)
from .params import require_ids_fit, require_positive_ints

__all__ = ["TableParameters"]

_WORDS = len(rmap.TABLE_REGISTERS)      # 32-bit register words per table
_INDEX = {name: offset // 4 for name, (offset, _) in rmap.TABLE_REGISTERS.items()}
assert sorted(_INDEX.values()) == list(range(_WORDS)) and rmap.TABLE_STRIDE == 4 * _WORDS


class TableParameters(wiring.Component):
    """The per-table registers ``TABLE_BASE_LO`` / ``TABLE_BASE_HI`` / ``TABLE_STRIDE`` /
    ``TABLE_ROWS`` of every table in one memory word per table, instead of ``num_tables`` x
    128 flip-flops and a ``num_tables``-way choice in front of each user.

    The memory has one write port (a 32-bit register word with byte enables, from the
    register file) and asynchronous read ports, each followed by its own register: a small
    distributed (LUT) RAM per read port on FPGAs, fed and read by flip-flops.

    * ``write``: a register word ``4 * table + register`` (register index = its offset in the
      table's block / 4) takes ``data``'s bytes whose ``strobe`` bit is set, at the end of a
      cycle with ``en`` and ``ready`` high. (Words past ``4 * num_tables`` land in memory
      words that no table id below ``num_tables`` reads.)
    * ``read``: the word as written, the cycle after ``en`` (held while ``en`` is low).
    * ``lookup[k]``: table ``table``'s ``{base, stride, rows}`` the cycle after ``en`` (held
      while ``en`` is low): ``base`` = ``TABLE_BASE_HI:TABLE_BASE_LO`` cut to ``addr_bits``,
      ``stride`` = ``TABLE_STRIDE`` cut to ``stride_bits``, ``rows`` = ``TABLE_ROWS`` saturated
      at ``2 ** row_in_bits`` (more rows than row ids exist act as "every row id"). A table
      id ``>= num_tables`` reads zeros or another table's words: the user rejects it anyway.

    After reset every word is cleared (all tables unconfigured), one table per cycle, before
    ``write.ready`` rises: ``2 ** ceil(log2(num_tables))`` cycles. Reads and lookups in that
    time see words not yet cleared. A lookup in the cycle of a write to its table sees the
    old words (configure only while the gather engine is idle).

    Parameters
    ----------
    num_tables, table_in_bits, row_in_bits : int
        Tables; widths of a table id and a row id.
    addr_bits, stride_bits : int
        Widths of ``base`` (at most 64) and ``stride`` (at most 32).
    lookup_ports : int
        Read ports for row-address units.

    Members
    -------
    write : ``In(table_word_write_signature(num_tables=...))``
    read : ``In(table_word_read_signature(num_tables=...))``
    lookup : ``In(table_parameter_read_signature(...)).array(lookup_ports)``
    """

    def __init__(self, *, num_tables: int, table_in_bits: int, row_in_bits: int,
                 addr_bits: int, stride_bits: int, lookup_ports: int = 2):
        require_positive_ints(num_tables=num_tables, table_in_bits=table_in_bits,
                              row_in_bits=row_in_bits, addr_bits=addr_bits,
                              stride_bits=stride_bits, lookup_ports=lookup_ports)
        if addr_bits > 64 or stride_bits > 32:
            raise ValueError(f"addr_bits {addr_bits} > 64 or stride_bits {stride_bits} > 32: "
                             "the registers hold a 64-bit base and a 32-bit stride")
        require_ids_fit(num_tables=num_tables, table_in_bits=table_in_bits)
        self._row_in_bits = row_in_bits
        self._addr_bits = addr_bits
        self._stride_bits = stride_bits
        self.depth = 1 << (num_tables - 1).bit_length()
        super().__init__({
            "write": In(table_word_write_signature(num_tables=num_tables)),
            "read": In(table_word_read_signature(num_tables=num_tables)),
            "lookup": In(table_parameter_read_signature(
                table_in_bits=table_in_bits, addr_bits=addr_bits, stride_bits=stride_bits,
                row_in_bits=row_in_bits)).array(lookup_ports),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.words = words = Memory(shape=32 * _WORDS, depth=self.depth, init=[])
        index_bits = (self.depth - 1).bit_length()

        # -- write: one register word (byte enables), or the clearing sweep after reset --------
        port = words.write_port(granularity=8)
        clearing = Signal(init=1)
        sweep = Signal(range(self.depth))
        m.d.comb += self.write.ready.eq(~clearing)
        w = self.write
        register = w.word[:2]
        with m.If(clearing):
            m.d.comb += [port.addr.eq(sweep), port.data.eq(0),
                         port.en.eq(Const(-1, len(port.en)))]
            m.d.sync += sweep.eq(sweep + 1)
            with m.If(sweep == self.depth - 1):
                m.d.sync += clearing.eq(0)
        with m.Else():
            m.d.comb += [
                port.addr.eq(w.word[2:2 + index_bits]),
                port.data.eq(w.data.replicate(_WORDS)),
                port.en.eq(Cat(*(Mux(w.en & (register == r), w.strobe, 0)
                                 for r in range(_WORDS)))),
            ]

        # -- read back: the word as written ----------------------------------------------------
        readback = words.read_port(domain="comb")
        m.d.comb += readback.addr.eq(self.read.word[2:2 + index_bits])
        with m.If(self.read.en):
            m.d.sync += self.read.data.eq(readback.data.word_select(self.read.word[:2], 32))

        # -- lookups: the fields, registered -----------------------------------------------------
        rib = self._row_in_bits
        for k, lookup in enumerate(self.lookup):
            read = words.read_port(domain="comb")
            m.d.comb += read.addr.eq(lookup.table[:index_bits])
            raw = {name: read.data.word_select(i, 32) for name, i in _INDEX.items()}
            rows = raw["TABLE_ROWS"]
            if rib < 32:
                rows = Mux(rows[rib:].any(), 1 << rib, rows[:rib])
            with m.If(lookup.en):
                m.d.sync += [
                    lookup.data.base.eq(
                        Cat(raw["TABLE_BASE_LO"], raw["TABLE_BASE_HI"])[:self._addr_bits]),
                    lookup.data.stride.eq(raw["TABLE_STRIDE"][:self._stride_bits]),
                    lookup.data.rows.eq(rows),
                ]
        return m
