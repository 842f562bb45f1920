"""Payload layouts of the micro-batch scheduler's streams.

* Input: the popularity table's lookup response stream (``lookup_response_layout``) whose
  ``meta`` field is :func:`sample_meta_layout`: the sample id and a ``flush`` bit (this is the
  last sample of the data: close the open working set after it).
* ``o``: micro-batches. A descriptor beat (``desc = 1``: ``kind``, ``size``, ``working_set``,
  ``index``, ``step``) is followed by the records of its ``size`` samples, each in the beats the
  sample arrived in (``first`` / ``last`` frame a sample; ``position`` is its place in the
  micro-batch). A record lane holds ``hot`` (the lookup is served from the hot table on the
  GPU: it hit and the table is not learning), the table's ``slot``, and the ``table`` / ``row``;
  lanes that are not valid are all zero. Record beats also carry their micro-batch's ``step``;
  their ``kind`` / ``size`` / ``working_set`` / ``index`` are 0, and a descriptor's record
  fields (``sample``, ``position``, ``beat``, ``first``, ``last``, ``lanes``) are 0.
* A ``SKIPPED`` micro-batch (Slipstream's stale inputs) carries ids only: per sample one record
  beat (``beat`` 0, ``first`` = ``last`` = 1) whose lanes are all zero; it has no cold rows.
* ``cold``: the rows the gather engine must fetch, in the order the micro-batches need them: one
  beat per record beat that has any cold lane (``valid`` lanes; lookup index
  ``beat * lanes + lane`` within sample ``position`` of micro-batch ``step``).
"""

from __future__ import annotations

from amaranth.lib import data

__all__ = ["sample_meta_layout", "micro_batch_layout", "cold_request_layout", "MicroBatchKind"]


class MicroBatchKind:
    """Micro-batch kinds (``o.payload.kind``); same codes as the golden model's."""
    POPULAR = 0
    MIXED = 1
    NON_POPULAR = 2
    SKIPPED = 3      #: skipped samples (ids only: one record beat per sample, every lane 0)


def sample_meta_layout(sample_bits: int) -> data.StructLayout:
    """``meta`` of the scheduler's input: ``{sample, flush}``."""
    return data.StructLayout({"sample": sample_bits, "flush": 1})


def micro_batch_layout(*, lanes: int, table_in_bits: int, row_in_bits: int, slot_bits: int,
                       sample_bits: int, size_bits: int, index_bits: int,
                       beat_bits: int) -> data.StructLayout:
    lane = data.StructLayout({"valid": 1, "hot": 1, "slot": slot_bits,
                              "table": table_in_bits, "row": row_in_bits})
    return data.StructLayout({
        "desc": 1, "kind": 2, "size": size_bits, "working_set": 32, "index": index_bits,
        "step": 32, "sample": sample_bits, "position": size_bits, "beat": beat_bits,
        "first": 1, "last": 1, "lanes": data.ArrayLayout(lane, lanes),
    })


def cold_request_layout(*, lanes: int, table_in_bits: int, row_in_bits: int, size_bits: int,
                        beat_bits: int) -> data.StructLayout:
    lane = data.StructLayout({"valid": 1, "table": table_in_bits, "row": row_in_bits})
    return data.StructLayout({"step": 32, "position": size_bits, "beat": beat_bits,
                              "lanes": data.ArrayLayout(lane, lanes)})
