"""Many rows at once: a vectorised gather and write-back with the gather engine's semantics.

The golden model (:class:`hotline_hw.model.gather.GatherModel`) is the specification and moves
one row per Python call; these functions do the same for a whole array of requests with numpy
fancy indexing over the host image, and are proven equal to it by property tests
(``tests/model/test_fast_paths.py``). Nothing here is a different behaviour:

* a request ``(table, row)`` is rejected (``RANGE``, nothing read or written) when the table
  does not exist or is not configured, or ``row`` is outside ``0 .. rows - 1``; its data is
  zeros;
* an accepted row's address is ``base + row * stride`` from the model's registers; gathered
  data is the row's ``row_bytes`` bytes followed by zeros up to whole beats;
* a row any byte of whose beats (its address rounded down to the bus width, to its end rounded
  up) is in ``bus_errors`` comes back zeroed and flagged ``BUS``;
* gathers take the model's tags in request order (``next_tag`` advances by the request count);
* write-backs are applied in request order (a row written twice keeps the last value).
"""

from __future__ import annotations

import numpy as np

from .gather import GatherError, GatherModel

__all__ = ["addresses", "gather_many", "write_back_many"]


def _registers(model: GatherModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    regs = model.tables
    return (np.fromiter((r.base for r in regs), np.int64, len(regs)),
            np.fromiter((r.stride for r in regs), np.int64, len(regs)),
            np.fromiter((r.rows for r in regs), np.int64, len(regs)))


def addresses(model: GatherModel, tables, rows) -> tuple[np.ndarray, np.ndarray]:
    """``(address, rejected)`` of each request (int64 and bool arrays; address 0 where rejected).

    Equal to :meth:`GatherModel.address` request by request (``None`` there is ``rejected``).
    """
    tables = np.asarray(tables, dtype=np.int64).ravel()
    rows = np.asarray(rows, dtype=np.int64).ravel()
    if tables.shape != rows.shape:
        raise ValueError(f"tables and rows differ in length: {tables.size} != {rows.size}")
    base, stride, count = _registers(model)
    known = (tables >= 0) & (tables < model.num_tables)
    t = np.where(known, tables, 0)
    rejected = ~known | (rows < 0) | (rows >= count[t])
    address = np.where(rejected, 0, base[t] + np.where(rejected, 0, rows) * stride[t])
    return address, rejected


def _row_words(memory: np.ndarray, model: GatherModel) -> tuple[np.ndarray, np.ndarray]:
    """The image as 4-byte words and the word offsets of a row (base and stride are multiples
    of 4, so every row is whole words)."""
    words = memory[:memory.size - memory.size % 4].view(np.uint32)
    return words, np.arange(model.dim, dtype=np.int64)


def gather_many(model: GatherModel, requests, memory: np.ndarray, bus_errors=()) \
        -> tuple[np.ndarray, np.ndarray]:
    """Gather every request of ``requests`` (int array ``[n, 2]`` of ``(table, row)``).

    Returns ``(data, error)``: ``data`` uint8 ``[n, row_beats * bus_bytes]`` (a response's beats
    joined; zeros for a rejected or bus-failed request) and ``error`` uint8 ``[n]``
    (:class:`GatherError` codes). ``memory`` is the uint8 image indexed by address; a row
    reaching past its end raises ``IndexError``. Advances ``model.next_tag`` by ``n``.
    """
    requests = np.asarray(requests, dtype=np.int64).reshape(-1, 2)
    n = len(requests)
    address, rejected = addresses(model, requests[:, 0], requests[:, 1])
    error = np.where(rejected, np.uint8(GatherError.RANGE), np.uint8(GatherError.NONE))
    if len(bus_errors):
        faults = np.sort(np.fromiter((int(a) for a in bus_errors), np.int64))
        first = address - address % model.bus_bytes
        end = address + model.row_bytes
        end += -end % model.bus_bytes
        hit = np.searchsorted(faults, first, "left") < np.searchsorted(faults, end, "left")
        error[hit & ~rejected] = GatherError.BUS
    padded = model.row_beats * model.bus_bytes
    data = np.zeros((n, padded), dtype=np.uint8)
    good = np.flatnonzero(error == GatherError.NONE)
    if len(good):
        end = int(address[good].max()) + model.row_bytes
        if end > memory.size:
            raise IndexError(f"a row ends at byte {end}, past the {memory.size}-byte image")
        words, offsets = _row_words(memory, model)
        rows = words[(address[good] // 4)[:, None] + offsets[None, :]]
        data[good, :model.row_bytes] = rows.view(np.uint8)
    model.next_tag += n
    return data, error


def write_back_many(model: GatherModel, table, rows, data, memory: np.ndarray,
                    *, stop_at_error: bool = False) -> np.ndarray:
    """Write ``data[i]`` (uint8 ``[n, row_bytes]``, or anything of ``row_bytes`` bytes per
    row) to row ``rows[i]`` of ``table`` (one table, or one per row), in order; returns each
    request's error (``RANGE`` where rejected, nothing written there).

    With ``stop_at_error`` nothing from the first rejected request on is written (what a
    caller that stops at the first error sees from the golden model).
    """
    rows = np.asarray(rows, dtype=np.int64).ravel()
    data = np.ascontiguousarray(data).view(np.uint8)
    if data.size != len(rows) * model.row_bytes:
        raise ValueError(f"a row is {model.row_bytes} bytes: {len(rows)} rows need "
                         f"{len(rows) * model.row_bytes}, got {data.size}")
    data = data.reshape(len(rows), model.row_bytes)
    tables = np.broadcast_to(np.asarray(table, dtype=np.int64), rows.shape)
    address, rejected = addresses(model, tables, rows)
    error = np.where(rejected, np.uint8(GatherError.RANGE), np.uint8(GatherError.NONE))
    keep = ~rejected
    if stop_at_error and rejected.any():
        keep[int(np.argmax(rejected)):] = False
    index = np.flatnonzero(keep)
    if len(index):
        # The last write of a repeated row wins, as in request order.
        _, last = np.unique(address[index][::-1], return_index=True)
        index = index[::-1][last]
        end = int(address[index].max()) + model.row_bytes
        if end > memory.size:
            raise IndexError(f"a row ends at byte {end}, past the {memory.size}-byte image")
        words, offsets = _row_words(memory, model)
        words[(address[index] // 4)[:, None] + offsets[None, :]] = \
            data[index].view(np.uint32).reshape(len(index), model.dim)
    return error
