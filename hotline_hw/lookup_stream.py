"""Payload layouts of the lookup streams between the popularity table and the scheduler.

A *beat* carries up to ``lanes`` lookups (one per lane, each with its own ``valid``) of one
sample; ``first`` / ``last`` frame a sample that spans several beats, and ``meta`` is carried
through untouched (the scheduler puts the sample id and mini-batch framing there).

The layouts are plain :class:`amaranth.lib.data.StructLayout` values so they flatten to one
Verilog vector per stream (first field in the least significant bits); :func:`fields` gives
the same packing to testbenches and drivers.
"""

from __future__ import annotations

from amaranth.lib import data

from .model.popularity_table import RRPV_BITS, TableGeometry

__all__ = ["lookup_request_layout", "lookup_response_layout", "entry_layout",
           "host_command_layout", "host_response_layout", "HostOp"]


class HostOp:
    """Host command codes of the popularity table (``host_cmd.payload.op``)."""
    READ = 0         #: return the entry in ``slot`` (and its stale bit)
    WRITE = 1        #: overwrite the entry in ``slot`` with ``valid`` / ``rrpv`` / ``tag``
    CLEAR = 2        #: invalidate every entry (takes one cycle per set)
    MARK_STALE = 3   #: set the stale bit of the entry holding ``key``, if any
    CLEAR_STALE = 4  #: clear every entry's stale bit (takes one cycle per set)


def _framing(meta_bits: int) -> dict:
    fields = {"first": 1, "last": 1}
    if meta_bits:
        fields["meta"] = meta_bits
    return fields


def lookup_request_layout(*, lanes: int, table_in_bits: int, row_in_bits: int,
                          meta_bits: int = 0) -> data.StructLayout:
    """``{lanes: [lanes] x {valid, table, row}, first, last[, meta]}``."""
    lane = data.StructLayout({"valid": 1, "table": table_in_bits, "row": row_in_bits})
    return data.StructLayout({"lanes": data.ArrayLayout(lane, lanes), **_framing(meta_bits)})


def lookup_response_layout(*, lanes: int, table_in_bits: int, row_in_bits: int,
                           slot_bits: int, meta_bits: int = 0) -> data.StructLayout:
    """``{lanes: [lanes] x {valid, hit, error, slot, table, row, stale}, first, last[, meta]}``.

    ``table`` / ``row`` echo the request (the gather engine needs the key of every miss);
    ``stale``: a ``RUN`` lookup hit an entry whose stale bit is set.
    """
    lane = data.StructLayout({"valid": 1, "hit": 1, "error": 1, "slot": slot_bits,
                              "table": table_in_bits, "row": row_in_bits, "stale": 1})
    return data.StructLayout({"lanes": data.ArrayLayout(lane, lanes), **_framing(meta_bits)})


def entry_layout(geometry: TableGeometry) -> data.StructLayout:
    """One table entry: ``{valid, rrpv, tag}``."""
    return data.StructLayout({"valid": 1, "rrpv": RRPV_BITS, "tag": geometry.tag_bits})


def host_command_layout(geometry: TableGeometry) -> data.StructLayout:
    """``{op, slot, entry, key}``: see :class:`HostOp`; ``entry`` is used by ``WRITE`` only,
    ``key`` (``(table << row_bits) | row``) by ``MARK_STALE`` only."""
    return data.StructLayout({"op": 3, "slot": geometry.slot_bits,
                              "entry": entry_layout(geometry), "key": geometry.key_bits})


def host_response_layout(geometry: TableGeometry) -> data.StructLayout:
    """``{op, slot, entry, stale, hit}``: one per command, in command order.

    ``READ``: ``slot`` echoed, the entry and its stale bit. ``WRITE``: ``slot`` echoed, the
    entry written (its stale bit is cleared). ``MARK_STALE``: ``hit`` = the key was found, then
    ``slot`` / ``entry`` are its and ``stale`` = 1; all zero if not found. ``CLEAR`` /
    ``CLEAR_STALE``: slot 0, zero entry.
    """
    return data.StructLayout({"op": 3, "slot": geometry.slot_bits,
                              "entry": entry_layout(geometry), "stale": 1, "hit": 1})
