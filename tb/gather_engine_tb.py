"""Testbench of the gather engine: host memory, stream models, golden-model scoreboard.

:class:`GatherEngineTB` wraps one ``GatherEngine`` DUT built by :func:`make_component` from a
JSON-able parameter dict (:func:`make_params`; the same dict reaches the cocotb side through
:func:`tb.runner.tb_params`):

* **Host memory.** A :class:`tb.axi_memory.HostMemory` (cocotbext-axi ``AxiRam`` with
  pipelined latency, reordering, stalls on every channel, error injection and AXI protocol
  checks) on ``m_axi``, filled with random bytes, so every byte outside the tables is a guard
  byte: after write-back the *whole* memory is compared with the model's.
* **Drivers.** ``i`` (requests) and ``wb`` (write-back rows) through
  :class:`tb.streams.StreamSource` s with idle generators; ``o`` through a
  :class:`tb.streams.StreamSink` with backpressure.
* **Scoreboard.** :meth:`GatherEngineTB.gather` computes the expected beats with
  :meth:`hotline_hw.model.gather.GatherModel.gather` on a snapshot of memory (with the
  injected read errors), sends the requests and compares every output beat, all fields, in
  order. Write-back goes through :meth:`write_rows`; :meth:`wait_writes` waits for the
  engine to report every burst acknowledged, and :meth:`check_memory` compares memory with the
  model's (bytes under injected write errors keep their old value).
* **Stream rules.** On ``o``, once ``valid`` is up and the beat not taken, ``valid`` stays and
  the payload holds.
"""

from __future__ import annotations

import os
import random
from typing import NamedTuple, Sequence

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hotline_hw.gather_stream import (gather_request_layout, gathered_row_layout,
                                      write_back_layout)
from hotline_hw.model.gather import BOUNDARY, GatherModel

from .axi_memory import HostMemory
from .streams import StreamSink, StreamSource, StructCodec, bind_stream, random_pause
from .table_registers import TableRegisterPorts
from .undriven import assert_inputs_driven

__all__ = ["CLOCK_NS", "GatheredBeat", "GatherEngineTB", "make_params", "make_component",
           "random_layout", "expected_beats"]

CLOCK_NS = 10
STATUS = ("read_errors", "read_error_code", "read_error_tag", "read_error_table",
          "read_error_row", "read_rows", "read_beats", "read_bursts", "read_in_flight",
          "read_busy", "write_errors", "write_error_code", "write_error_table",
          "write_error_row", "write_rows_in", "write_rows_written", "write_beats",
          "write_bursts", "write_pending", "write_busy")


class GatheredBeat(NamedTuple):
    tag: int
    table: int
    row: int
    error: int
    first: int
    last: int
    data: bytes


_RTL_PARAMS = ("num_tables", "data_bits", "addr_bits", "id_bits", "reads_in_flight",
               "writes_in_flight", "max_dim", "table_in_bits", "row_in_bits", "stride_bits",
               "tag_bits", "counter_bits")


def make_params(*, data_bits: int, max_dim: int, reads_in_flight: int, id_bits: int,
                num_tables: int = 5, addr_bits: int = 32, writes_in_flight: int = 4,
                table_in_bits: int = 4, row_in_bits: int = 16, stride_bits: int = 16,
                tag_bits: int = 12, counter_bits: int = 32, memory_size: int = 1 << 18,
                **extra) -> dict:
    """The JSON-able parameter dict of one DUT configuration (plus any ``extra`` entries)."""
    params = dict(num_tables=num_tables, data_bits=data_bits, addr_bits=addr_bits,
                  id_bits=id_bits, reads_in_flight=reads_in_flight,
                  writes_in_flight=writes_in_flight, max_dim=max_dim,
                  table_in_bits=table_in_bits, row_in_bits=row_in_bits,
                  stride_bits=stride_bits, tag_bits=tag_bits, counter_bits=counter_bits,
                  memory_size=memory_size)
    params.update(extra)
    return params


def make_component(params: dict):
    """The ``GatherEngine`` RTL component of a parameter dict."""
    from hotline_hw.gather_engine import GatherEngine

    return GatherEngine(**{name: params[name] for name in _RTL_PARAMS})


def expected_beats(responses, tag_bits: int) -> list[GatheredBeat]:
    """The model's gather responses as output beats."""
    out = []
    mask = (1 << tag_bits) - 1
    for r in responses:
        for k, beat in enumerate(r.beats):
            out.append(GatheredBeat(r.tag & mask, r.table, r.row, int(r.error), int(k == 0),
                                    int(k == len(r.beats) - 1), beat))
    return out


def random_layout(rng: random.Random, *, num_tables: int, row_bytes: int, memory_size: int,
                  max_rows: int = 64, cross_boundary: float = 0.5,
                  start: int = 256) -> list[tuple[int, int, int]]:
    """``(base, stride, rows)`` per table: random base alignment (multiples of 4), strides of
    ``row_bytes`` plus 0 to 7 words, tables separated by random gaps (guard bytes), about
    ``cross_boundary`` of them straddling a 4 KiB boundary."""
    layouts, cursor = [], start
    for _ in range(num_tables):
        stride = row_bytes + 4 * rng.choice([0, 0, 1, 3, 7])
        rows = rng.randrange(2, max_rows + 1)
        base = cursor + 4 * rng.randrange(0, 32)
        if rng.random() < cross_boundary:
            boundary = (base // BOUNDARY + 1) * BOUNDARY
            base = max(base, boundary - stride * rng.randrange(0, rows) - 4 * rng.randrange(8))
        end = base + (rows - 1) * stride + row_bytes
        if end + 64 > memory_size:
            raise ValueError(f"tables do not fit {memory_size} bytes; lower max_rows")
        layouts.append((base, stride, rows))
        cursor = end + 4 * rng.randrange(1, 64)
    return layouts


def _word_diff(want: bytes, got: bytes) -> list[int]:
    return [k // 4 for k in range(0, len(want), 4) if want[k:k + 4] != got[k:k + 4]]


class GatherEngineTB:
    """Clock, reset, host memory, stream models and the golden model for one DUT.

    ``memory_kwargs`` go to :class:`HostMemory` (``read_latency``, ``write_latency``,
    ``reorder``, ``interleave``, ``stall_probability``, ...).
    """

    def __init__(self, dut, params: dict, **memory_kwargs):
        self.dut = dut
        self.params = params
        self.seed = int(os.environ.get("COCOTB_RANDOM_SEED", cocotb.RANDOM_SEED))
        self.rng = random.Random(cocotb.RANDOM_SEED)
        self.log = dut._log
        self.log.info("seed %d (reproduce with HOTLINE_SEED=%d), test seed %d", self.seed,
                      self.seed, cocotb.RANDOM_SEED)
        self.bus_bytes = params["data_bits"] // 8
        self.tag_bits = params["tag_bits"]
        ids = dict(table_in_bits=params["table_in_bits"], row_in_bits=params["row_in_bits"])
        self.req_codec = StructCodec.from_layout(gather_request_layout(**ids))
        self.row_codec = StructCodec.from_layout(gathered_row_layout(
            data_bits=params["data_bits"], tag_bits=params["tag_bits"], **ids))
        self.wb_codec = StructCodec.from_layout(write_back_layout(
            data_bits=params["data_bits"], **ids))
        self.table_registers = TableRegisterPorts(dut, dut.clk,
                                                  random.Random(self.rng.getrandbits(64)))

        cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
        memory_kwargs.setdefault("rng", random.Random(self.rng.getrandbits(64)))
        self.memory = HostMemory.from_prefix(dut, "m_axi", size=params["memory_size"],
                                             **memory_kwargs)
        self.requests = bind_stream(StreamSource, dut, "i", dut.clk, dut.rst)
        self.write_back = bind_stream(StreamSource, dut, "wb", dut.clk, dut.rst)
        self.rows = bind_stream(StreamSink, dut, "o", dut.clk, dut.rst)
        self.model = GatherModel(num_tables=params["num_tables"], bus_bytes=self.bus_bytes,
                                 addr_bits=params["addr_bits"], dim=1)
        self.layouts: list = []
        self.expected_memory: np.ndarray | None = None
        self.read_errors: set[int] = set()        # byte addresses
        self.write_error_ranges: list[tuple[int, int]] = []
        self.got: list[GatheredBeat] = []
        self.errors: list[str] = []
        self._rules = None

    # -- setup -------------------------------------------------------------------------------

    async def reset(self) -> None:
        dut = self.dut
        dut.errors_clear.value = 0
        dut.counters_clear.value = 0
        dut.dim.value = 0
        self.table_registers.idle()
        dut.rst.value = 1
        await ClockCycles(dut.clk, 3)
        dut.rst.value = 0
        await RisingEdge(dut.clk)
        assert_inputs_driven(dut)
        self.model.next_tag = 0
        if self._rules is None:
            self._rules = cocotb.start_soon(self._stream_rules())

    def fill_memory(self) -> None:
        """Random bytes everywhere (every byte outside a row is a guard byte)."""
        data = self.rng.randbytes(self.params["memory_size"])
        self.memory.write(0, data)
        self.expected_memory = np.frombuffer(data, dtype=np.uint8).copy()

    def snapshot(self) -> np.ndarray:
        return np.frombuffer(self.memory.read(0, self.params["memory_size"]),
                             dtype=np.uint8).copy()

    async def configure(self, layouts: Sequence[tuple[int, int, int]], dim: int) -> None:
        """Table registers (tables past ``layouts`` unconfigured; written through
        ``table_write`` and read back) and ``dim``; call while idle."""
        assert not int(self.dut.read_busy.value) and not int(self.dut.write_busy.value), \
            "configure only while idle"
        self.model.dim = dim
        for t in range(self.params["num_tables"]):
            base, stride, rows = layouts[t] if t < len(layouts) else (0, 0, 0)
            self.model.configure(t, base=base, stride=stride, rows=rows)
        await self.table_registers.configure(layouts, self.params["num_tables"])
        self.dut.dim.value = dim
        self.layouts = list(layouts)
        self.log.info("dim %d, tables %s", dim, layouts)

    def set_idle(self, probability: float) -> None:
        """Idle cycles on the request and write-back inputs."""
        for source in (self.requests, self.write_back):
            source.set_pause_generator(random_pause(random.Random(self.rng.getrandbits(64)),
                                                    probability) if probability else None)

    def set_backpressure(self, probability: float) -> None:
        self.rows.set_pause_generator(random_pause(random.Random(self.rng.getrandbits(64)),
                                                   probability) if probability else None)

    # -- traffic -----------------------------------------------------------------------------

    def random_requests(self, count: int, bad: float = 0.0) -> list[tuple[int, int]]:
        """Requests for rows of the configured tables; a fraction ``bad`` rejected ones (row
        past the end, unconfigured table, table id beyond ``num_tables``)."""
        out = []
        tables = len(self.layouts)
        table_limit = 1 << self.params["table_in_bits"]
        for _ in range(count):
            if self.rng.random() < bad:
                kind = self.rng.randrange(3)
                if kind == 0:
                    t = self.rng.randrange(tables)
                    row = self.layouts[t][2] + self.rng.randrange(3)
                    out.append((t, row))
                elif kind == 1 and tables < self.params["num_tables"]:
                    out.append((self.rng.randrange(tables, self.params["num_tables"]), 0))
                else:
                    out.append((self.rng.randrange(self.params["num_tables"], table_limit)
                                if self.params["num_tables"] < table_limit else tables, 1))
            else:
                t = self.rng.randrange(tables)
                out.append((t, self.rng.randrange(self.layouts[t][2])))
        return out

    def row_bytes(self) -> int:
        return self.model.row_bytes

    async def send_requests(self, requests: Sequence[tuple[int, int]]) -> None:
        for table, row in requests:
            await self.requests.send(self.requests._transaction_obj(
                payload=self.req_codec.pack(table=table, row=row)))

    def decode(self, word: int) -> GatheredBeat:
        f = self.row_codec.unpack(word)
        return GatheredBeat(f["tag"], f["table"], f["row"], f["error"], f["first"], f["last"],
                            f["data"].to_bytes(self.bus_bytes, "little"))

    async def gather(self, requests: Sequence[tuple[int, int]], *,
                     timeout_cycles: int | None = None) -> list[GatheredBeat]:
        """Send ``requests``, receive and check every output beat against the model (which
        reads the current memory, with the injected read errors). Returns the beats."""
        expected = expected_beats(
            self.model.gather(requests, self.snapshot(), frozenset(self.read_errors)),
            self.tag_bits)
        sender = cocotb.start_soon(self.send_requests(requests))
        if timeout_cycles is None:
            timeout_cycles = 2000 + 40 * len(expected) + 4 * self.memory.read_latency
        got = []
        for n, want in enumerate(expected):
            beat = await self._recv(timeout_cycles, f"beat {n} of {len(expected)}")
            got.append(beat)
            if beat != want:
                raise AssertionError(self._mismatch(n, want, beat))
        await sender
        await ClockCycles(self.dut.clk, 8)
        assert self.rows.empty(), f"more beats than expected (seed {self.seed})"
        self.got += got
        return got

    async def _recv(self, timeout_cycles: int, what: str) -> GatheredBeat:
        waited = 0
        while self.rows.empty():
            await RisingEdge(self.dut.clk)
            waited += 1
            if self.errors:
                raise AssertionError(self.errors[0])
            if waited > timeout_cycles:
                raise AssertionError(f"timed out waiting for {what} after {waited} cycles; "
                                     f"status {self.status()} (seed {self.seed})")
        return self.decode(int(self.rows.recv_nowait().payload))

    def _mismatch(self, n: int, want: GatheredBeat, got: GatheredBeat) -> str:
        fields = [f"{name}: expected {w!r}, got {g!r}" if name != "data" else
                  f"data words differ at {_word_diff(w, g)}: expected {w.hex()}, got {g.hex()}"
                  for name, w, g in zip(want._fields, want, got) if w != g]
        address = self.model.address(want.table, want.row)
        where = (f"row at {address:#x}, bursts {self.model.bursts(address)}"
                 if address is not None else "rejected row")
        return (f"beat {n} (tag {want.tag}, table {want.table}, row {want.row}, {where}): "
                + "; ".join(fields) +
                f" (seed {self.seed}, dim {self.model.dim}, tables {self.layouts})")

    async def write_rows(self, rows: Sequence[tuple[int, int, bytes]]) -> None:
        """Queue rows ``(table, row, row_bytes bytes)`` on ``wb`` and apply them to the
        expected memory (model ``write_back``; bytes under injected write errors stay)."""
        row_bytes = self.row_bytes()
        beats = -(-row_bytes // self.bus_bytes)
        for table, row, values in rows:
            assert len(values) == row_bytes
            padded = values + bytes(beats * self.bus_bytes - row_bytes)
            for k in range(beats):
                word = int.from_bytes(padded[k * self.bus_bytes:(k + 1) * self.bus_bytes],
                                      "little")
                await self.write_back.send(self.write_back._transaction_obj(
                    payload=self.wb_codec.pack(data=word, table=table, row=row,
                                               last=int(k == beats - 1))))
            before = self.expected_memory.copy()
            self.model.write_back(table, row, values, self.expected_memory)
            for start, end in self.write_error_ranges:
                self.expected_memory[start:end] = before[start:end]

    def random_rows(self, count: int, bad: float = 0.0) -> list[tuple[int, int, bytes]]:
        return [(t, r, self.rng.randbytes(self.row_bytes()))
                for t, r in self.random_requests(count, bad)]

    async def wait_writes(self, timeout_cycles: int = 100_000) -> None:
        """Wait until every queued write-back row is taken and acknowledged."""
        waited = 0
        while True:
            await ClockCycles(self.dut.clk, 8)
            waited += 8
            if (self.write_back.idle() and not int(self.dut.write_busy.value)
                    and not self.memory.outstanding_writes):
                return
            if waited > timeout_cycles:
                raise AssertionError(f"write-back not done after {waited} cycles; status "
                                     f"{self.status()} (seed {self.seed})")

    def check_memory(self) -> None:
        """The whole memory equals the model's (tables and guard bytes)."""
        got = self.snapshot()
        diff = np.flatnonzero(got != self.expected_memory)
        if diff.size:
            first = int(diff[0])
            raise AssertionError(
                f"{diff.size} bytes of memory differ from the model, first at {first:#x} "
                f"(expected {self.expected_memory[first]:#04x}, got {got[first]:#04x}); "
                f"tables {self.layouts}, dim {self.model.dim} (seed {self.seed})")

    # -- errors ------------------------------------------------------------------------------

    def inject_read_error(self, address: int, length: int, resp) -> None:
        self.memory.inject_error(address, length, resp, read=True, write=False)
        self.read_errors.update(range(address, address + length))

    def inject_write_error(self, address: int, length: int, resp) -> None:
        self.memory.inject_error(address, length, resp, read=False, write=True)
        self.write_error_ranges.append((address, address + length))

    def clear_injected_errors(self) -> None:
        self.memory.clear_errors()
        self.read_errors.clear()
        self.write_error_ranges.clear()

    async def clear_status_errors(self) -> None:
        self.dut.errors_clear.value = 1
        await RisingEdge(self.dut.clk)
        self.dut.errors_clear.value = 0
        await RisingEdge(self.dut.clk)

    async def clear_counters(self) -> None:
        self.dut.counters_clear.value = 1
        await RisingEdge(self.dut.clk)
        self.dut.counters_clear.value = 0
        await RisingEdge(self.dut.clk)

    # -- status ------------------------------------------------------------------------------

    def status(self) -> dict:
        return {name: int(getattr(self.dut, name).value) for name in STATUS}

    async def _stream_rules(self):
        dut = self.dut
        held, cycle = None, 0
        while True:
            await RisingEdge(dut.clk)
            cycle += 1
            valid = bool(dut.o__valid.value)
            if held is not None and not self.errors:
                if not valid:
                    self.errors.append(f"o: valid fell before the beat was taken (cycle {cycle})")
                elif int(dut.o__payload.value) != held:
                    self.errors.append(f"o: payload changed before the beat was taken "
                                       f"(cycle {cycle})")
            held = int(dut.o__payload.value) if valid and not dut.o__ready.value else None

    def finish(self) -> None:
        """No stream-rule failure; the memory saw no AXI protocol violation and is idle."""
        if self.errors:
            raise AssertionError(self.errors[0])
        self.memory.check(idle=True)
