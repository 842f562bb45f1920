"""The accelerator in pure Python: a :class:`~sw_driver.transport.Transport` backed by the
golden models (popularity table, scheduler, gather engine) behind the register map.

It produces, beat for beat, the streams ``HotlineTop`` produces (that is what the co-simulation
checks), instantly: inputs are processed when they are sent. Host memory is a numpy array.
"""

from __future__ import annotations

from collections import deque
from typing import Sequence

import numpy as np

from hotline_hw import register_map as rmap
from hotline_hw.device_config import HotlineConfig
from hotline_hw.model.gather import GatherError, GatherModel, TableRegisters
from hotline_hw.model.micro_batch_beats import expected_beats
from hotline_hw.model.popularity_table import Mode, PopularityTable, beat_set_conflicts
from hotline_hw.model.scheduler import Lookup, MicroBatchScheduler, ScheduleMode

from .transport import Transport, TransportTimeout
from .wire import GatheredRow, StreamBeat, WireFormat

__all__ = ["ModelDevice", "NumpyMemory"]

_MASK32 = 0xFFFFFFFF


class NumpyMemory:
    """Host memory as a numpy ``uint8`` array (``read`` / ``write`` by byte address).

    ``array``: an existing ``uint8`` array to use (shared, not copied), e.g. a DLRM trainer's
    host embedding image; otherwise ``size`` zero bytes."""

    def __init__(self, size: int = 0, *, array: np.ndarray | None = None):
        if array is not None:
            if array.dtype != np.uint8 or array.ndim != 1:
                raise ValueError("array must be a one-dimensional uint8 array")
            self.array = array
        else:
            self.array = np.zeros(size, dtype=np.uint8)

    def read(self, address: int, length: int) -> bytes:
        self._check(address, length)
        return self.array[address:address + length].tobytes()

    def write(self, address: int, data: bytes) -> None:
        self._check(address, len(data))
        self.array[address:address + len(data)] = np.frombuffer(bytes(data), dtype=np.uint8)

    def _check(self, address, length):
        if address < 0 or address + length > self.array.size:
            raise ValueError(f"host memory access {address:#x}+{length} outside "
                             f"{self.array.size} bytes")


class ModelDevice(Transport):
    """Golden-model backend. ``memory``: a :class:`NumpyMemory` (16 MiB by default).

    Differences from the RTL, by design: ``STATUS`` always reads idle and ``CYCLES`` 0 (there
    is no time). With ``fast=True`` (default) the driver hands it whole working sets in process
    (:meth:`submit_in_process`, proven equal to the beat-level wire path, which ``fast=False``
    keeps for every call). Host memory answers with an error only where :meth:`inject_error` says so
    (the RTL tests' :class:`tb.axi_memory.HostMemory` has the same call).
    """

    def __init__(self, config: HotlineConfig = HotlineConfig(), memory=None,
                 memory_size: int = 1 << 24, *, fast: bool = True):
        self.config = config
        self.fast = fast
        self.memory = memory if memory is not None else NumpyMemory(memory_size)
        self.wire = WireFormat(config)
        c = config
        self._constants = rmap.constant_values(c.geometry, dict(
            lanes=c.lanes, max_lookups=c.max_lookups, num_tables=c.num_tables,
            bus_bytes=c.bus_bytes, max_dim=c.max_dim, reads_in_flight=c.reads_in_flight,
            capacity=c.capacity))
        self.table = PopularityTable(c.geometry, Mode.LEARN)
        self.gather = GatherModel(num_tables=c.num_tables, bus_bytes=c.bus_bytes,
                                  addr_bits=c.addr_bits, dim=1)
        self.registers = {r.name: r.reset for r in rmap.REGISTERS if r.access == "rw"}
        self.table_registers = {}
        self.scheduler: MicroBatchScheduler | None = None
        # CYCLES always reads 0 here (no time); the others count as the RTL's do.
        self.counters = {name: 0 for name in rmap.COUNTERS if name != "CYCLES"}
        self.errors = 0
        self.gather_error = None      # (tag, table, row, code)
        self.write_error = None       # (table, row, code)
        self.host_result = 0
        self.host_flags = 0
        self.host_done = 0
        self._partial: list[StreamBeat] = []
        self._write_partial: list[StreamBeat] = []
        self._micro_batches: deque[list[int]] = deque()
        self._rows: deque[tuple[list[int], int]] = deque()
        self._faults: list[list] = []       # [start, end, read, write, accesses left or None]
        # The in-process path's caches (model_device_fast); "frozen" is dropped whenever the
        # table may change (a learning sample, a host command).
        self._in_process_cache: dict = {}

    # -- host memory errors ----------------------------------------------------------------------

    def inject_error(self, address: int, length: int = 1, *, read: bool = True,
                     write: bool = True, times: int | None = None) -> None:
        """Make host memory answer accesses to bytes ``address .. address+length-1`` with an
        AXI error (as :meth:`tb.axi_memory.HostMemory.inject_error`): a gathered row that
        reads them comes back zeroed and flagged ``BUS``; a written row leaves those bytes and
        is flagged ``BUS``. ``times``: how many row accesses fail before the fault disappears
        (a transient error); ``None``: until :meth:`clear_injected_errors`."""
        if length <= 0:
            raise ValueError("length must be positive")
        if times is not None and times < 1:
            raise ValueError("times must be positive (or None: persistent)")
        self._faults.append([address, address + length, read, write, times])

    def clear_injected_errors(self) -> None:
        self._faults.clear()

    def _fault(self, start: int, end: int, *, read: bool) -> tuple[int, int] | None:
        """The first active fault overlapping bytes ``start .. end-1`` of a read (or write),
        as the overlapping byte range; consumes one access of a transient fault."""
        for fault in self._faults:
            lo, hi, on_read, on_write, left = fault
            if (on_read if read else on_write) and lo < end and start < hi:
                if left is not None:
                    fault[4] -= 1
                    if fault[4] == 0:
                        self._faults.remove(fault)
                return max(lo, start), min(hi, end)
        return None

    # -- registers -----------------------------------------------------------------------------

    async def read_register(self, address: int) -> int:
        table_reg = self._table_register(address)
        if table_reg is not None:
            return self.table_registers.get(table_reg, 0)
        reg = self._register_at(address)
        name = reg.name
        if name in self._constants:
            return self._constants[name]
        if reg.access == "rw":
            return self.registers[name]
        if reg.access == "wo":
            return 0
        if name == "STATUS" or name == "WRITE_PENDING" or name == "CYCLES":
            return 0                                    # always idle between calls
        if name == "ERRORS":
            # The table's sticky flag is cleared by clear_counters too (as in the RTL).
            return self.errors | (int(self.table.error_sticky)
                                  << rmap.ERROR_BITS["lookup_range"][0])
        if name == "GATHER_ERROR_TAG":
            return self.gather_error[0] & _MASK32 if self.gather_error else 0
        if name == "GATHER_ERROR_TABLE":
            return (self.gather_error[1] | (self.gather_error[3] << 8)) if self.gather_error \
                else 0
        if name == "GATHER_ERROR_ROW":
            return self.gather_error[2] if self.gather_error else 0
        if name == "WRITE_ERROR_TABLE":
            return (self.write_error[0] | (self.write_error[2] << 8)) if self.write_error else 0
        if name == "WRITE_ERROR_ROW":
            return self.write_error[1] if self.write_error else 0
        if name == "HOST_RESULT":
            return self.host_result
        if name == "HOST_DONE":
            return self.host_done
        if name == "HOST_FLAGS":
            return self.host_flags
        return self.counters[name] & _MASK32

    async def write_register(self, address: int, value: int) -> None:
        value &= _MASK32
        table_reg = self._table_register(address)
        if table_reg is not None:
            self.table_registers[table_reg] = value
            return
        reg = self._register_at(address)
        if reg.access == "ro":
            raise OSError(f"write to read-only register {reg.name} (SLVERR)")
        if reg.access == "rw":
            mask = sum(f.mask for f in reg.fields)
            self.registers[reg.name] = value & mask
            return
        if reg.name == "COMMAND":
            fields = reg.unpack(value)
            if fields["clear_counters"]:
                for name in self.counters:
                    self.counters[name] = 0
                self.table.reset_counters()
            if fields["clear_errors"]:
                self.errors = 0
                self.gather_error = self.write_error = None
                self.table.error_sticky = False
        elif reg.name == "HOST_CMD":
            self._host_command(reg.unpack(value))

    def _register_at(self, address: int):
        for reg in rmap.REGISTERS:
            if reg.address == address:
                return reg
        raise OSError(f"no register at {address:#x} (SLVERR)")

    def _table_register(self, address: int):
        offset = address - rmap.TABLE_BASE
        if 0 <= offset < rmap.TABLE_STRIDE * self.config.num_tables:
            if offset % 4:
                raise OSError(f"unaligned register address {address:#x}")
            return address
        return None

    def _host_command(self, fields: dict) -> None:
        self._in_process_cache.pop("frozen", None)
        entry = rmap.register("HOST_ENTRY").unpack(self.registers["HOST_ENTRY"])
        op, slot = fields["op"], fields["slot"]
        flags = rmap.register("HOST_FLAGS")
        self.host_flags = 0
        if op == 2:                                              # CLEAR
            self.table.clear()
            self.host_result = 0
        elif op == 4:                                            # CLEAR_STALE
            self.table.clear_stale()
            self.host_result = 0
        elif op == 3:                                            # MARK_STALE (HOST_KEY)
            g = self.config.geometry
            key = self.registers["HOST_KEY"] & ((1 << g.key_bits) - 1)
            found = self.table.mark_stale(key >> g.row_bits, key & ((1 << g.row_bits) - 1))
            self.host_result = 0
            if found.hit:
                got = self.table.read_entry(found.slot)
                self.host_result = rmap.register("HOST_RESULT").pack(
                    valid=int(got.valid), rrpv=got.rrpv, tag=got.tag)
                self.host_flags = flags.pack(stale=1, hit=1)
        elif op > 4:
            raise OSError(f"HOST_CMD op {op} is not a command")
        else:
            if slot >= self.config.geometry.entries:
                raise OSError(f"HOST_CMD slot {slot} beyond the table's "
                              f"{self.config.geometry.entries} entries")
            if op == 1:                                          # WRITE
                self.table.write_entry(slot, bool(entry["valid"]), entry["rrpv"], entry["tag"])
            got = self.table.read_entry(slot)
            self.host_result = rmap.register("HOST_RESULT").pack(
                valid=int(got.valid), rrpv=got.rrpv, tag=got.tag)
            self.host_flags = flags.pack(stale=int(self.table.is_stale(slot)), hit=0)
        self.host_done = (self.host_done + 1) & _MASK32

    # -- configuration as the blocks see it -------------------------------------------------

    def _field(self, name: str, field: str = "value") -> int:
        return rmap.register(name).unpack(self.registers[name])[field]

    def _learning(self) -> bool:
        return bool(self._field("CONTROL", "learn"))

    def _scheduler(self) -> MicroBatchScheduler:
        c = self.config
        split = bool(self._field("CONTROL", "split"))
        batch_size = self._field("BATCH_SIZE")
        working_set = self._field("WORKING_SET") & ((1 << c.working_set_bits) - 1)
        limit_width = c.size_bits + c.working_set_bits
        limit = min(self.registers["CAPACITY_LIMIT"], (1 << limit_width) - 1, c.capacity)
        mode = ScheduleMode.SPLIT if split else ScheduleMode.REFORMED
        if batch_size < 1 or working_set < 1:
            raise OSError(f"BATCH_SIZE ({batch_size}) and WORKING_SET ({working_set}) must be "
                          f">= 1")
        alpha = self._field("ALPHA")
        if self.scheduler is None:
            self.scheduler = MicroBatchScheduler(batch_size=batch_size, working_set=working_set,
                                                 mode=mode, learn=self._learning(),
                                                 capacity=max(limit, batch_size), alpha=alpha)
        else:
            self.scheduler.reconfigure(batch_size=batch_size, working_set=working_set,
                                       mode=mode, learn=self._learning(),
                                       capacity=max(limit, batch_size), alpha=alpha)
        return self.scheduler

    def _gather(self) -> GatherModel:
        c = self.config
        dim = self._field("DIM")
        self.gather.dim = max(dim, 1)
        for t in range(c.num_tables):
            base = rmap.table_register_address
            lo = self.table_registers.get(base("TABLE_BASE_LO", t), 0)
            hi = self.table_registers.get(base("TABLE_BASE_HI", t), 0)
            rows = min(self.table_registers.get(base("TABLE_ROWS", t), 0), 1 << c.row_in_bits)
            if not 1 <= dim <= c.max_dim:
                rows = 0                                         # every request rejected
            self.gather.tables[t] = TableRegisters(
                ((hi << 32) | lo) & ((1 << c.addr_bits) - 1),
                self.table_registers.get(base("TABLE_STRIDE", t), 0), rows)
        return self.gather

    # -- lookups in, micro-batches and rows out ------------------------------------------------

    async def send_lookups(self, beats: Sequence[StreamBeat]) -> None:
        for beat in beats:
            self._partial.append(beat)
            if beat.tlast:
                self._sample(self._partial)
                self._partial = []

    def _sample(self, beats: list[StreamBeat]) -> None:
        c = self.config
        lookups_f = self._field("LOOKUPS")
        if lookups_f and len(beats) != -(-lookups_f // c.lanes):
            self._error("sample_framing")
        if len(beats) > c.beats_per_sample:
            self._error("sample_framing")
            beats = beats[:c.beats_per_sample]
        self.table.mode = Mode.LEARN if self._learning() else Mode.RUN
        if self.table.mode is Mode.LEARN:
            self._in_process_cache.pop("frozen", None)
        lookups = []
        row_mask = (1 << c.row_in_bits) - 1
        table_mask = (1 << c.table_in_bits) - 1
        for beat in beats:
            sets, usable = [], []
            for k in range(c.lanes):
                word = (beat.tdata >> (32 * k)) & _MASK32
                if not word >> 31:
                    continue
                table, row = (word >> c.row_in_bits) & table_mask, word & row_mask
                ok = self.table.layout.in_range(table, row)
                sets.append(self.table.set_and_tag(table, row)[0] if ok else 0)
                usable.append(ok)
                answer = self.table.lookup(table, row)
                lookups.append(Lookup(table, row, *answer, stale=self.table.lookup_stale(answer)))
            self.counters["TABLE_CONFLICTS"] += beat_set_conflicts(sets, usable)
        self.counters["TABLE_LOOKUPS"] = self.table.lookups
        self.counters["TABLE_HITS"] = self.table.hits
        self.counters["TABLE_ERRORS"] = self.table.errors
        sample_id = beats[0].tuser & ((1 << c.sample_bits) - 1)
        flush = bool(beats[0].tuser >> c.sample_bits & 1) or bool(beats[-1].tuser >> c.sample_bits & 1)
        scheduler = self._scheduler()
        batches = scheduler.push(sample_id, lookups)
        if flush:
            batches += scheduler.flush()
        counters = scheduler.counters
        self.counters.update(SAMPLES_IN=counters.samples_in, POPULAR=counters.popular,
                             NON_POPULAR=counters.non_popular, SKIPPED=counters.skipped,
                             MICRO_BATCHES=counters.micro_batches,
                             EARLY_CLOSES=counters.early_closes)
        self._emit(batches, scheduler.learn)

    def _emit(self, batches, learn: bool) -> None:
        if not batches:
            return
        out, cold = expected_beats(batches, self.config.lanes, learn)
        packet: list[int] = []
        left = 0
        for beat in out:
            packet.append(self.wire.encode_micro_batch_beat(beat))
            if beat.desc:
                left = beat.size
                done = left == 0
            else:
                left -= beat.last
                done = left == 0 and beat.last
            if done:
                self._micro_batches.append(packet)
                packet = []
        requests = [(lane.table, lane.row) for beat in cold for lane in beat.lanes if lane.valid]
        gather = self._gather()
        for table, row in requests:
            faulty = ()
            address = gather.address(table, row)
            if address is not None and self._faults:
                bursts = gather.bursts(address)
                hit = self._fault(bursts[0].address,
                                  bursts[-1].address + bursts[-1].beats * gather.bus_bytes,
                                  read=True)
                faulty = (hit[0],) if hit else ()
            response, = gather.gather([(table, row)], self.memory.array, bus_errors=faulty)
            row = GatheredRow(response.tag, response.table, response.row, response.error,
                              response.data[:gather.row_bytes])
            beats = self.wire.encode_row(row, gather.dim)
            self._rows.append(([b.tdata for b in beats], beats[0].tuser))
            self.counters["ROWS_GATHERED"] += 1
            if response.error:
                self._error({GatherError.RANGE: "gather_range",
                             GatherError.BUS: "gather_bus"}[response.error])
                if self.gather_error is None:
                    self.gather_error = (response.tag, response.table, response.row,
                                         int(response.error))
            if response.error != GatherError.RANGE:
                address = gather.address(response.table, response.row)
                bursts = gather.bursts(address)
                self.counters["READ_BURSTS"] += len(bursts)
                self.counters["READ_BEATS"] += sum(b.beats for b in bursts)

    def submit_in_process(self, samples):
        """A whole working set without the wire codec (the driver's fast path; see
        :mod:`sw_driver.model_device_fast`): ``(micro_batches, rows, cold_lookups)``, or
        ``None`` where only the wire path applies (and always with ``fast=False``)."""
        if not self.fast:
            return None
        from .model_device_fast import submit_in_process
        return submit_in_process(self, samples)

    def submit_arrays_in_process(self, ids, keys):
        """:meth:`submit_in_process` of samples given as arrays (ids ``(n,)``, keys
        ``(n, lookups, 2)``): no per-key Python objects on the way in."""
        if not self.fast:
            return None
        from .model_device_fast import submit_arrays_in_process
        return submit_arrays_in_process(self, ids, keys)

    async def recv_micro_batch(self) -> list[int]:
        if not self._micro_batches:
            raise TransportTimeout("no micro-batch is pending (the working set is not closed)")
        return self._micro_batches.popleft()

    async def recv_row(self) -> tuple[list[int], int]:
        if not self._rows:
            raise TransportTimeout("no gathered row is pending")
        return self._rows.popleft()

    # -- write-back ---------------------------------------------------------------------------

    async def send_write_back(self, beats: Sequence[StreamBeat]) -> None:
        for beat in beats:
            self._write_partial.append(beat)
            dim = max(self._field("DIM"), 1)
            if len(self._write_partial) == self.wire.row_beats(dim):
                row_beats, self._write_partial = self._write_partial, []
                if not row_beats[-1].tlast or any(b.tlast for b in row_beats[:-1]):
                    self._write_error(row_beats, GatherError.FRAMING)
                self._write_row(row_beats, dim)

    def _write_row(self, beats, dim) -> None:
        table, row, data = self.wire.decode_write_back(beats, dim)
        gather = self._gather()
        self.counters["ROWS_WRITTEN_IN"] += 1
        if gather.address(table, row) is None:
            self._write_error(beats, GatherError.RANGE)
            return
        address = gather.address(table, row)
        fault = self._fault(address, address + gather.row_bytes, read=False) \
            if self._faults else None
        if fault is not None:
            kept = self.memory.array[fault[0]:fault[1]].copy()
            gather.write_back(table, row, data, self.memory.array)
            self.memory.array[fault[0]:fault[1]] = kept
            self._write_error(beats, GatherError.BUS)
            return
        gather.write_back(table, row, data, self.memory.array)
        self.counters["ROWS_WRITTEN"] += 1

    def _write_error(self, beats, code: GatherError) -> None:
        table, row, _ = self.wire.decode_write_back(beats, max(self._field("DIM"), 1))
        self._error({GatherError.RANGE: "write_range", GatherError.BUS: "write_bus",
                     GatherError.FRAMING: "write_framing"}[code])
        if self.write_error is None:
            self.write_error = (table, row, int(code))

    def _error(self, name: str) -> None:
        self.errors |= 1 << rmap.ERROR_BITS[name][0]

    async def idle(self) -> None:
        return None
