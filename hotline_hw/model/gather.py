"""Golden model of the gather engine: cold-row addresses, AXI4 bursts, gathered data, write-back.

The specification the gather engine RTL is checked against.

Tables
------
Each table ``t`` has three registers: ``base`` (byte address in host memory), ``stride`` (bytes
from one row to the next) and ``rows`` (row count; 0 = not configured). A row holds ``dim``
fp32 values: ``row_bytes = 4 * dim`` bytes at ``base + row * stride``. ``stride`` must be a
multiple of 4 and at least ``row_bytes``; ``base`` a multiple of 4; rows need not be aligned to
the bus width.

A request ``(table, row)`` is **rejected** (error ``RANGE``, nothing issued on the bus) if the
table does not exist or is not configured, or ``row >= rows``.

Bursts
------
A row is read (or written) with AXI4 INCR bursts of ``bus_bytes``-wide beats covering its bytes:
from its address rounded down to the bus width to its end rounded up. A burst never crosses a
4 KiB boundary and has at most 256 beats; a row that would is split there, in address order
(:meth:`GatherModel.bursts`).

Gather
------
Responses come in request order, one per request, tagged with the request's sequence number.
An accepted request yields the row's bytes realigned to byte 0 of its first beat, in
``ceil(row_bytes / bus_bytes)`` beats, the last one padded with zeros. A rejected request
yields a single zero beat flagged ``RANGE``. A row any of whose read beats had an AXI error
response (SLVERR / DECERR) yields its beats zeroed and flagged ``BUS``: never wrong data
without a flag.

Write-back
----------
``(table, row, data)`` writes the row's ``row_bytes`` bytes at the row's address (byte strobes
mask the bytes outside the row), or is rejected (``RANGE``, nothing written).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

__all__ = ["GatherError", "TableRegisters", "Burst", "GatherResponse", "GatherModel",
           "BOUNDARY", "MAX_BURST"]

BOUNDARY = 4096      #: AXI: a burst must not cross a 4 KiB boundary
MAX_BURST = 256      #: AXI4 INCR: at most 256 beats


class GatherError(enum.IntEnum):
    """Error codes of a response (a bit each, so a status register can collect them)."""
    NONE = 0
    RANGE = 1        #: table not configured or row out of range: not issued
    BUS = 2          #: an AXI error response (SLVERR / DECERR) while reading the row
    FRAMING = 4      #: (RTL write-back status only) a row's ``last`` flag disagreed with ``dim``


@dataclass(frozen=True)
class TableRegisters:
    base: int = 0
    stride: int = 0
    rows: int = 0


@dataclass(frozen=True)
class Burst:
    """One AXI4 INCR burst: ``address`` (aligned to the bus width) and ``beats`` (AxLEN + 1)."""
    address: int
    beats: int


@dataclass(frozen=True)
class GatherResponse:
    """The response to request ``tag``: its beats of ``bus_bytes`` bytes and its error code."""
    tag: int
    table: int
    row: int
    error: GatherError
    beats: tuple[bytes, ...]

    @property
    def data(self) -> bytes:
        return b"".join(self.beats)


class GatherModel:
    """Address generation, burst splitting, gather and write-back (see the module docstring).

    Parameters
    ----------
    num_tables : int
        Number of table register sets.
    bus_bytes : int
        AXI data width in bytes: 8, 16, 32 or 64 (64 to 512 bits).
    addr_bits : int
        AXI address width (up to 64).
    dim : int
        Values per row (``row_bytes = 4 * dim``).
    """

    def __init__(self, *, num_tables: int, bus_bytes: int, addr_bits: int = 48, dim: int = 16):
        if bus_bytes not in (8, 16, 32, 64):
            raise ValueError(f"bus_bytes must be 8, 16, 32 or 64, not {bus_bytes}")
        if not 12 <= addr_bits <= 64:
            raise ValueError(f"addr_bits must be from 12 to 64, not {addr_bits}")
        if num_tables < 1:
            raise ValueError(f"num_tables must be at least 1, not {num_tables}")
        if dim < 1:
            raise ValueError(f"dim must be at least 1, not {dim}")
        self.num_tables = num_tables
        self.bus_bytes = bus_bytes
        self.addr_bits = addr_bits
        self.dim = dim
        self.tables = [TableRegisters() for _ in range(num_tables)]
        self.next_tag = 0      #: tag of the next request (the RTL counts from reset)

    @property
    def row_bytes(self) -> int:
        return 4 * self.dim

    @property
    def row_beats(self) -> int:
        """Output beats per gathered row."""
        return -(-self.row_bytes // self.bus_bytes)

    def configure(self, table: int, *, base: int, stride: int, rows: int) -> None:
        """Set a table's registers (``rows = 0`` unconfigures it); checks the layout fits."""
        if not 0 <= table < self.num_tables:
            raise ValueError(f"table {table} does not exist (0 .. {self.num_tables - 1})")
        if base % 4 or stride % 4:
            raise ValueError(f"base ({base:#x}) and stride ({stride}) must be multiples of 4")
        if rows and stride < self.row_bytes:
            raise ValueError(f"stride {stride} is smaller than a row ({self.row_bytes} bytes)")
        end = base + (rows - 1) * stride + self.row_bytes if rows else base
        if base < 0 or end > (1 << self.addr_bits):
            raise ValueError(f"table {table} ({rows} rows at {base:#x}) does not fit "
                             f"{self.addr_bits}-bit addresses")
        self.tables[table] = TableRegisters(base, stride, rows)

    def address(self, table: int, row: int) -> int | None:
        """Byte address of a row, or ``None`` if the request is rejected."""
        if not 0 <= table < self.num_tables:
            return None
        regs = self.tables[table]
        if not 0 <= row < regs.rows:
            return None
        return regs.base + row * regs.stride

    def bursts(self, address: int) -> list[Burst]:
        """The bursts that read or write the row at ``address``, in address order."""
        start = address - address % self.bus_bytes
        end = address + self.row_bytes
        end += -end % self.bus_bytes
        out = []
        while start < end:
            limit = min(end, start - start % BOUNDARY + BOUNDARY,
                        start + MAX_BURST * self.bus_bytes)
            out.append(Burst(start, (limit - start) // self.bus_bytes))
            start = limit
        return out

    def gather(self, requests, memory: np.ndarray, bus_errors=frozenset()) \
            -> list[GatherResponse]:
        """Responses to ``requests`` (``(table, row)`` pairs) in order, reading ``memory``
        (uint8 array indexed by address). ``bus_errors``: byte addresses whose read beat gets
        an error response (to model error injection)."""
        out = []
        for table, row in requests:
            out.append(self._gather_one(int(table), int(row), memory, bus_errors))
        return out

    def _gather_one(self, table, row, memory, bus_errors) -> GatherResponse:
        tag = self.next_tag
        self.next_tag += 1
        address = self.address(table, row)
        if address is None:
            return GatherResponse(tag, table, row, GatherError.RANGE, (bytes(self.bus_bytes),))
        error = GatherError.NONE
        for burst in self.bursts(address):
            for beat in range(burst.beats):
                beat_address = burst.address + beat * self.bus_bytes
                if any(beat_address <= a < beat_address + self.bus_bytes for a in bus_errors):
                    error = GatherError.BUS
        padded = self.row_beats * self.bus_bytes
        if error:
            data = bytes(padded)
        else:
            data = bytes(memory[address:address + self.row_bytes]) \
                + bytes(padded - self.row_bytes)
        beats = tuple(data[i:i + self.bus_bytes] for i in range(0, padded, self.bus_bytes))
        return GatherResponse(tag, table, row, error, beats)

    def write_back(self, table: int, row: int, data: bytes, memory: np.ndarray) -> GatherError:
        """Write ``data`` (``row_bytes`` bytes) to the row; returns ``RANGE`` if rejected."""
        if len(data) != self.row_bytes:
            raise ValueError(f"a row is {self.row_bytes} bytes, got {len(data)}")
        address = self.address(table, row)
        if address is None:
            return GatherError.RANGE
        memory[address:address + self.row_bytes] = np.frombuffer(data, dtype=np.uint8)
        return GatherError.NONE
