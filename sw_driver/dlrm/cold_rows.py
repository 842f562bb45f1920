"""Cold embedding rows in host memory, laid out as the gather engine reads them, and the port
that fetches and stores them.

Host memory image
-----------------
:class:`HostEmbeddingMemory` is one flat ``uint8`` array (the CPU DRAM the accelerator reaches
over PCIe). Table ``t`` starts at byte ``base[t]``; its row ``r`` is ``dim`` little-endian fp32
values at ``base[t] + r * stride[t]``. These are exactly the gather engine's per-table registers
``base``, ``stride`` (bytes) and ``rows`` (:class:`hotline_hw.model.gather.TableRegisters`), so an
address the driver computes is the address the hardware reads. Tables follow each other in
order, each base rounded up to ``align`` bytes; ``stride`` defaults to the row size (rows packed
back to back) and may be larger (padded rows), as the hardware allows.

Port
----
:class:`ColdRowPort` is the interface between the trainer and whatever moves cold rows:
``gather(requests)`` returns the rows, ``write_back(table, rows, values)`` stores updated ones.
:class:`GatherModelPort` implements it with the golden model
(:class:`hotline_hw.model.gather.GatherModel`: address generation, burst split, realignment and
range checks, the specification of the RTL) over a :class:`HostEmbeddingMemory`; the accelerator
driver or the RTL co-simulation plugs in a port of its own with the same two calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from hotline_hw.model.fast_gather import gather_many, write_back_many
from hotline_hw.model.gather import GatherError, GatherModel, TableRegisters

__all__ = ["ColdRowError", "ColdRowPort", "GatherModelPort", "HostEmbeddingMemory"]


class ColdRowError(RuntimeError):
    """The port could not gather or write back a row (rejected request or bus error).

    Attributes
    ----------
    table, row : int
        The row.
    error : GatherError
        ``RANGE`` (table not configured or row out of range) or ``BUS`` (an AXI error).
    operation : str
        ``"gather"`` or ``"write_back"``.
    """

    def __init__(self, operation: str, table: int, row: int, error: GatherError):
        super().__init__(f"{operation} of table {table} row {row} failed: {error.name}")
        self.operation, self.table, self.row, self.error = operation, table, row, error


class HostEmbeddingMemory:
    """Embedding tables as one flat memory image in the gather engine's layout.

    Parameters
    ----------
    table_sizes : sequence of int
        Rows per table.
    dim : int
        Values per row.
    dtype : numpy dtype
        ``float32`` (default, the hardware's rows: ``row_bytes = 4 * dim``) or ``float64``
        (``row_bytes = 8 * dim``, for float64 verification runs; the gather engine moves 4-byte
        words and does not look at them, so such a row is ``2 * dim`` of its fp32 words).
    stride : int, optional
        Bytes from one row to the next, the same for every table: a multiple of 4 and at least
        ``row_bytes``. Default: ``row_bytes``.
    align : int
        Every table base is a multiple of this (a multiple of 4; default 64, a cache line).
    base : int
        Address of the first table (a multiple of ``align``).

    Attributes
    ----------
    memory : numpy.ndarray
        The image, ``uint8`` indexed by address (addresses below ``base`` and padding bytes are
        part of it and stay zero).
    registers : tuple of TableRegisters
        ``(base, stride, rows)`` per table, what the gather engine's registers are set to.
    """

    def __init__(self, table_sizes: Sequence[int], dim: int, *, dtype=np.float32,
                 stride: int | None = None, align: int = 64, base: int = 0):
        table_sizes = tuple(int(r) for r in table_sizes)
        if not table_sizes or min(table_sizes) < 1:
            raise ValueError(f"table_sizes must be a non-empty list of sizes >= 1, "
                             f"not {table_sizes}")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive int, not {dim!r}")
        dtype = np.dtype(dtype)
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype must be float32 or float64, not {dtype}")
        self.dtype = dtype.newbyteorder("<")
        row_bytes = dtype.itemsize * dim
        stride = row_bytes if stride is None else int(stride)
        if stride % 4 or stride < row_bytes:
            raise ValueError(f"stride must be a multiple of 4 of at least {row_bytes} bytes "
                             f"(a row), not {stride}")
        if align < 4 or align % 4:
            raise ValueError(f"align must be a positive multiple of 4, not {align}")
        if base < 0 or base % align:
            raise ValueError(f"base must be a non-negative multiple of align={align}, not {base}")
        registers = []
        address = base
        for rows in table_sizes:
            address += -address % align
            registers.append(TableRegisters(address, stride, rows))
            address += (rows - 1) * stride + row_bytes
        self.table_sizes = table_sizes
        self.dim = dim
        self.row_bytes = row_bytes
        self.registers = tuple(registers)
        self.memory = np.zeros(address, dtype=np.uint8)

    @property
    def n_tables(self) -> int:
        return len(self.table_sizes)

    @property
    def size(self) -> int:
        """Bytes in the image (the end of the last row)."""
        return self.memory.size

    def address(self, table: int, row: int) -> int:
        """Byte address of a row (``IndexError`` outside the tables)."""
        if not 0 <= table < self.n_tables or not 0 <= row < self.table_sizes[table]:
            raise IndexError(f"no row {row} in table {table}")
        regs = self.registers[table]
        return regs.base + row * regs.stride

    def table_view(self, table: int) -> np.ndarray:
        """Table ``table`` as a writable ``[rows, dim]`` view (of :attr:`dtype`) into
        :attr:`memory`.

        Host-side access (initialisation, checkpoints, checks): the trainer's cold rows move
        only through a :class:`ColdRowPort`.
        """
        regs = self.registers[table]
        return np.ndarray((regs.rows, self.dim), dtype=self.dtype, buffer=self.memory,
                          offset=regs.base, strides=(regs.stride, self.dtype.itemsize))

    def load_tables(self, tables: Sequence[np.ndarray]) -> None:
        """Write every table's rows (``[rows, dim]`` each) into the image."""
        if len(tables) != self.n_tables:
            raise ValueError(f"expected {self.n_tables} tables, got {len(tables)}")
        for t, values in enumerate(tables):
            view = self.table_view(t)
            if np.shape(values) != view.shape:
                raise ValueError(f"table {t} must be of shape {view.shape}, "
                                 f"not {np.shape(values)}")
            view[...] = values

    def relocate(self, buffer) -> np.ndarray:
        """Move the image into ``buffer`` (a writable bytes-like object of at least ``size``
        bytes, e.g. the storage of a simulated host memory) at address 0 and work on it from
        then on: :attr:`memory` becomes a view of ``buffer``. Returns the view."""
        view = np.frombuffer(buffer, dtype=np.uint8)
        if view.size < self.size:
            raise ValueError(f"the buffer has {view.size} bytes; the image needs {self.size}")
        if not view.flags.writeable:
            raise ValueError("the buffer must be writable")
        view = view[:self.size]
        view[...] = self.memory
        self.memory = view
        return view

    def configure(self, model: GatherModel) -> None:
        """Set a gather model's (or, through a driver, the engine's) table registers."""
        for t, regs in enumerate(self.registers):
            model.configure(t, base=regs.base, stride=regs.stride, rows=regs.rows)


@runtime_checkable
class ColdRowPort(Protocol):
    """How the trainer fetches and stores cold rows.

    Contract:

    * ``gather(requests)``: ``requests`` is an int64 array ``[n, 2]`` of ``(table, row)``; the
      result is an array ``[n, dim]`` of the image's dtype (float32 on the hardware), row ``i``
      the current contents of request ``i``
      (requests may repeat). A rejected or failed request raises :class:`ColdRowError`, never
      returns wrong or zeroed data silently.
    * ``write_back(table, rows, values)``: stores ``values[i]`` (``[n, dim]``) as row
      ``rows[i]`` of ``table``; when it returns, a following ``gather`` sees the new values
      (the driver of the real engine waits for its ``write_busy`` to fall). Failure raises
      :class:`ColdRowError`.
    """

    dim: int

    def gather(self, requests: np.ndarray) -> np.ndarray: ...

    def write_back(self, table: int, rows: np.ndarray, values: np.ndarray) -> None: ...


class GatherModelPort:
    """:class:`ColdRowPort` over the gather engine's golden model and a host memory image.

    Every row goes through :meth:`GatherModel.gather` / :meth:`GatherModel.write_back`
    (addresses from the table registers, burst split, realignment, range checks), so the
    trainer moves rows exactly as the hardware would.

    Parameters
    ----------
    memory : HostEmbeddingMemory
        The image the rows live in; its registers are loaded into the model.
    bus_bytes : int
        The modelled AXI data width (16 bytes, the FPGA configuration's 128 bits).
    fast : bool
        Move all rows of a call at once (:mod:`hotline_hw.model.fast_gather`, proven equal to
        the golden model; default) or row by row through the golden model (``False``).

    Attributes
    ----------
    gather_calls, write_back_calls, rows_gathered, rows_written : int
        Traffic counters.
    """

    def __init__(self, memory: HostEmbeddingMemory, *, bus_bytes: int = 16, fast: bool = True):
        self.memory = memory
        self.fast = fast
        self.dim = memory.dim
        address_bits = max(12, (memory.size - 1).bit_length())
        self.model = GatherModel(num_tables=memory.n_tables, bus_bytes=bus_bytes,
                                 addr_bits=min(64, address_bits), dim=memory.row_bytes // 4)
        memory.configure(self.model)
        self.gather_calls = self.write_back_calls = 0
        self.rows_gathered = self.rows_written = 0

    def gather(self, requests: np.ndarray) -> np.ndarray:
        requests = np.asarray(requests, dtype=np.int64).reshape(-1, 2)
        self.gather_calls += 1
        self.rows_gathered += len(requests)
        if self.fast:
            data, error = gather_many(self.model, requests, self.memory.memory)
            if error.any():
                i = int(np.argmax(error != 0))
                raise ColdRowError("gather", int(requests[i, 0]), int(requests[i, 1]),
                                   GatherError(int(error[i])))
            return data[:, :self.memory.row_bytes].view(self.memory.dtype).reshape(
                len(requests), self.dim)
        out = np.empty((len(requests), self.dim), dtype=self.memory.dtype)
        responses = self.model.gather(requests.tolist(), self.memory.memory)
        for i, response in enumerate(responses):
            if response.error:
                raise ColdRowError("gather", response.table, response.row, response.error)
            out[i] = np.frombuffer(response.data, dtype=self.memory.dtype, count=self.dim)
        return out

    def write_back_many(self, requests: np.ndarray, values: np.ndarray) -> None:
        """Rows of several tables in one call (``requests`` ``[n, 2]`` of ``(table, row)``,
        grouped by table): the same as :meth:`write_back` per table in request order (a
        failure raises at the first rejected row; the rows before it are written)."""
        requests = np.asarray(requests, dtype=np.int64).reshape(-1, 2)
        if not self.fast:
            tables, starts = np.unique(requests[:, 0], return_index=True)
            for start, end in zip(starts.tolist(), [*starts[1:].tolist(), len(requests)]):
                self.write_back(int(requests[start, 0]), requests[start:end, 1],
                                values[start:end])
            return
        values = np.ascontiguousarray(values, dtype=self.memory.dtype)
        if values.shape != (len(requests), self.dim):
            raise ValueError(f"values must be of shape ({len(requests)}, {self.dim}), "
                             f"not {values.shape}")
        self.write_back_calls += 1
        self.rows_written += len(requests)
        error = write_back_many(self.model, requests[:, 0], requests[:, 1], values,
                                self.memory.memory, stop_at_error=True)
        if error.any():
            i = int(np.argmax(error != 0))
            raise ColdRowError("write_back", int(requests[i, 0]), int(requests[i, 1]),
                               GatherError(int(error[i])))

    def write_back(self, table: int, rows: np.ndarray, values: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.int64).ravel()
        values = np.ascontiguousarray(values, dtype=self.memory.dtype)
        if values.shape != (len(rows), self.dim):
            raise ValueError(f"values must be of shape ({len(rows)}, {self.dim}), "
                             f"not {values.shape}")
        self.write_back_calls += 1
        self.rows_written += len(rows)
        if self.fast:
            error = write_back_many(self.model, int(table), rows, values, self.memory.memory,
                                    stop_at_error=True)
            if error.any():
                i = int(np.argmax(error != 0))
                raise ColdRowError("write_back", int(table), int(rows[i]),
                                   GatherError(int(error[i])))
            return
        for row, value in zip(rows.tolist(), values):
            error = self.model.write_back(int(table), row, value.tobytes(), self.memory.memory)
            if error:
                raise ColdRowError("write_back", int(table), row, GatherError(error))
