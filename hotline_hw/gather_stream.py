"""Payload layouts of the gather engine's streams and registers.

* Requests (``i``): one cold row ``{table, row}`` per beat; the engine numbers them 0, 1, 2, ...
  from reset (the request's *tag*, modulo ``2**tag_bits``).
* Gathered rows (``o``): per request, in request order, ``ceil(4 * dim / bus_bytes)`` beats of
  ``{data, tag, table, row, error, first, last}``: the row's bytes from byte 0 of the first
  beat, the last beat padded with zeros. A rejected request (``error = RANGE``) is one zero beat;
  a row read with an AXI error response (``error = BUS``) has all its beats zeroed.
* Write-back (``wb``): per row, the same number of beats of ``{data, table, row, last}`` in the
  same byte order; ``table`` / ``row`` are taken from the row's first beat and ``last`` marks
  its last beat.
* Table registers: per table ``{base, stride, rows}`` (see
  :class:`hotline_hw.model.gather.GatherModel`), held in a small memory
  (:class:`hotline_hw.table_parameters.TableParameters`): written and read back one 32-bit
  register word at a time (``TABLE_BASE_LO``, ``TABLE_BASE_HI``, ``TABLE_STRIDE``,
  ``TABLE_ROWS`` of :mod:`hotline_hw.register_map`, word ``4 * table + register``), and read
  one table's ``{base, stride, rows}`` at a time by each row-address unit.

Error codes are :class:`hotline_hw.model.gather.GatherError`'s (``RANGE = 1``, ``BUS = 2``).
"""

from __future__ import annotations

from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .model.gather import GatherError

__all__ = ["GatherError", "gather_request_layout", "gathered_row_layout", "write_back_layout",
           "table_registers_layout", "row_address_layout", "table_word_bits",
           "table_parameter_read_signature", "table_word_write_signature",
           "table_word_read_signature"]


def gather_request_layout(*, table_in_bits: int, row_in_bits: int) -> data.StructLayout:
    """``{table, row}``."""
    return data.StructLayout({"table": table_in_bits, "row": row_in_bits})


def gathered_row_layout(*, data_bits: int, tag_bits: int, table_in_bits: int,
                        row_in_bits: int) -> data.StructLayout:
    """``{data, tag, table, row, error, first, last}``."""
    return data.StructLayout({"data": data_bits, "tag": tag_bits, "table": table_in_bits,
                              "row": row_in_bits, "error": 2, "first": 1, "last": 1})


def write_back_layout(*, data_bits: int, table_in_bits: int,
                      row_in_bits: int) -> data.StructLayout:
    """``{data, table, row, last}``."""
    return data.StructLayout({"data": data_bits, "table": table_in_bits, "row": row_in_bits,
                              "last": 1})


def table_registers_layout(*, addr_bits: int, stride_bits: int,
                           row_in_bits: int) -> data.StructLayout:
    """One table's registers ``{base, stride, rows}`` (``rows = 0``: not configured)."""
    return data.StructLayout({"base": addr_bits, "stride": stride_bits,
                              "rows": row_in_bits + 1})


def table_word_bits(num_tables: int) -> int:
    """Width of a table register word's index ``4 * table + register``."""
    return max(1, (4 * num_tables - 1).bit_length())


def table_parameter_read_signature(*, table_in_bits: int, addr_bits: int, stride_bits: int,
                                   row_in_bits: int) -> wiring.Signature:
    """A read port of the table parameters, as the reader sees it: ``data`` becomes table
    ``table``'s ``{base, stride, rows}`` (``rows`` saturated at ``2 ** row_in_bits``) the cycle
    after a cycle with ``en`` high, and holds while ``en`` is low (a synchronous read port)."""
    return wiring.Signature({
        "table": Out(table_in_bits),
        "en": Out(1),
        "data": In(table_registers_layout(addr_bits=addr_bits, stride_bits=stride_bits,
                                          row_in_bits=row_in_bits)),
    })


def table_word_write_signature(*, num_tables: int) -> wiring.Signature:
    """A write of one 32-bit table register word, as the writer sees it: in a cycle with
    ``en`` and ``ready`` high, the bytes of word ``word`` (``4 * table + register``) whose
    ``strobe`` bits are set take ``data``'s. ``ready`` is low only while the words are being
    cleared after reset."""
    return wiring.Signature({
        "en": Out(1),
        "word": Out(table_word_bits(num_tables)),
        "data": Out(32),
        "strobe": Out(4),
        "ready": In(1),
    })


def table_word_read_signature(*, num_tables: int) -> wiring.Signature:
    """A read of one 32-bit table register word, as the reader sees it: ``data`` becomes word
    ``word`` the cycle after a cycle with ``en`` high, and holds while ``en`` is low."""
    return wiring.Signature({
        "en": Out(1),
        "word": Out(table_word_bits(num_tables)),
        "data": In(32),
    })


def row_address_layout(*, addr_bits: int, beat_count_bits: int, table_in_bits: int,
                       row_in_bits: int) -> data.StructLayout:
    """Output of :class:`hotline_hw.row_address.RowAddress`: ``{address, beats, table, row,
    error}``: the row's byte address and the number of bus beats it spans (both 0 when
    ``error``, i.e. the request is rejected)."""
    return data.StructLayout({"address": addr_bits, "beats": beat_count_bits,
                              "table": table_in_bits, "row": row_in_bits, "error": 1})
