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
* Table registers (``tables``): ``num_tables`` x ``{base, stride, rows}``, see
  :class:`hotline_hw.model.gather.GatherModel`.

Error codes are :class:`hotline_hw.model.gather.GatherError`'s (``RANGE = 1``, ``BUS = 2``).
"""

from __future__ import annotations

from amaranth.lib import data

from .model.gather import GatherError

__all__ = ["GatherError", "gather_request_layout", "gathered_row_layout", "write_back_layout",
           "table_registers_layout", "row_address_layout"]


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


def row_address_layout(*, addr_bits: int, beat_count_bits: int, table_in_bits: int,
                       row_in_bits: int) -> data.StructLayout:
    """Output of :class:`hotline_hw.row_address.RowAddress`: ``{address, beats, table, row,
    error}``: the row's byte address and the number of bus beats it spans (both 0 when
    ``error``, i.e. the request is rejected)."""
    return data.StructLayout({"address": addr_bits, "beats": beat_count_bits,
                              "table": table_in_bits, "row": row_in_bits, "error": 1})
