# amaranth: UnusedElaboratable=no
"""amaranth.sim unit tests of the gather engine RTL against the golden model.

A cycle-level AXI4 subordinate written here (latency, reordering across IDs, stalls on every
channel, error injection, protocol checks) serves host memory; the cocotb regression
(``tb/test_gather_engine.py``) repeats this on the generated Verilog with cocotbext-axi.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import pytest
from amaranth.sim import Simulator

from hotline_hw.axi import AXCACHE, AXPROT, AxiResp
from hotline_hw.gather_engine import GatherEngine
from hotline_hw.model.gather import BOUNDARY, GatherError, GatherModel
from tests.hw.table_words import write_tables


@dataclass
class _Burst:
    id: int
    address: int
    beats: int
    ready_at: int
    sent: int = 0
    error: int = 0


@dataclass
class AxiMemorySim:
    """Host memory for amaranth.sim: call :meth:`drive` before and :meth:`update` after each
    clock edge (handshakes are decided on the values sampled in between)."""
    memory: np.ndarray
    bus_bytes: int
    pyrng: object
    latency: tuple[int, int] = (1, 20)
    stall: float = 0.3
    reorder: bool = True
    read_errors: set = field(default_factory=set)    # byte addresses
    write_errors: set = field(default_factory=set)
    cycle: int = 0
    reads: list = field(default_factory=list)
    writes: deque = field(default_factory=deque)
    w_beats: deque = field(default_factory=deque)
    b_queue: deque = field(default_factory=deque)
    r_beat: tuple | None = None
    violations: list = field(default_factory=list)
    r_beats: int = 0
    ar_log: list = field(default_factory=list)      # (address, beats) of each AR, in order
    aw_log: list = field(default_factory=list)

    def _check_burst(self, kind, address, length, size, burst):
        if burst != 1:
            self.violations.append(f"{kind} burst type {burst} (INCR expected)")
        if 1 << size != self.bus_bytes:
            self.violations.append(f"{kind}SIZE {size} is not the bus width")
        if address % self.bus_bytes:
            self.violations.append(f"{kind}ADDR {address:#x} not aligned")
        end = address + (length + 1) * self.bus_bytes - 1
        if address // BOUNDARY != end // BOUNDARY:
            self.violations.append(f"{kind} burst {address:#x}+{length + 1} crosses 4 KiB")

    def _check_attributes(self, kind, cache, prot):
        if (cache, prot) != (AXCACHE, AXPROT):
            self.violations.append(f"{kind}CACHE / {kind}PROT {cache:#x} / {prot:#x}, expected "
                                   f"{AXCACHE:#x} / {AXPROT:#x}")

    def _faulty(self, errors, address):
        return any(address <= a < address + self.bus_bytes for a in errors)

    def drive(self, ctx, axi):
        rnd = self.pyrng.random
        ctx.set(axi.arready, rnd() >= self.stall)
        ctx.set(axi.awready, rnd() >= self.stall)
        ctx.set(axi.wready, rnd() >= self.stall)
        if self.r_beat is None and rnd() >= self.stall:
            eligible, seen = [], set()
            for burst in self.reads:
                if burst.id in seen:
                    continue
                seen.add(burst.id)
                if burst.ready_at <= self.cycle:
                    eligible.append(burst)
                if not self.reorder:
                    break
            if eligible:
                burst = self.pyrng.choice(eligible)
                address = burst.address + burst.sent * self.bus_bytes
                error = self._faulty(self.read_errors, address)
                beat = bytes(self.memory[address:address + self.bus_bytes])
                self.r_beat = (burst, int.from_bytes(beat, "little"),
                               AxiResp.SLVERR if error else AxiResp.OKAY)
        if self.r_beat is not None:
            burst, value, resp = self.r_beat
            ctx.set(axi.rvalid, 1)
            ctx.set(axi.rid, burst.id)
            ctx.set(axi.rdata, value)
            ctx.set(axi.rresp, resp)
            ctx.set(axi.rlast, burst.sent + 1 == burst.beats)
        else:
            # Without RVALID / BVALID the other R and B signals mean nothing: drive garbage
            # (error responses included) so that a block looking at them unqualified fails.
            ctx.set(axi.rvalid, 0)
            ctx.set(axi.rresp, self.pyrng.randrange(4))
            ctx.set(axi.rid, self.pyrng.randrange(1 << len(axi.rid)))
            ctx.set(axi.rdata, self.pyrng.getrandbits(len(axi.rdata)))
        if self.b_queue and self.b_queue[0][0] <= self.cycle and rnd() >= self.stall:
            ctx.set(axi.bvalid, 1)
            ctx.set(axi.bresp, self.b_queue[0][1])
        else:
            ctx.set(axi.bvalid, 0)
            ctx.set(axi.bresp, self.pyrng.randrange(4))

    def sample(self, ctx, axi):
        """Handshakes of this cycle (call after :meth:`drive`, before the edge)."""
        g = ctx.get
        events = {}
        if g(axi.arvalid) and g(axi.arready):
            events["ar"] = (g(axi.arid), g(axi.araddr), g(axi.arlen), g(axi.arsize),
                            g(axi.arburst))
            self._check_attributes("AR", g(axi.arcache), g(axi.arprot))
        if g(axi.rvalid) and g(axi.rready):
            events["r"] = True
        if g(axi.awvalid) and g(axi.awready):
            events["aw"] = (g(axi.awaddr), g(axi.awlen), g(axi.awsize), g(axi.awburst))
            self._check_attributes("AW", g(axi.awcache), g(axi.awprot))
        if g(axi.wvalid) and g(axi.wready):
            events["w"] = (g(axi.wdata), g(axi.wstrb), g(axi.wlast))
        if g(axi.bvalid) and g(axi.bready):
            events["b"] = True
        return events

    def update(self, events):
        if "ar" in events:
            arid, address, length, size, burst = events["ar"]
            self._check_burst("AR", address, length, size, burst)
            self.ar_log.append((address, length + 1))
            self.reads.append(_Burst(arid, address, length + 1,
                                     self.cycle + self.pyrng.randint(*self.latency)))
        if "r" in events:
            burst, _, _ = self.r_beat
            burst.sent += 1
            self.r_beats += 1
            if burst.sent == burst.beats:
                self.reads.remove(burst)
            self.r_beat = None
        if "aw" in events:
            address, length, size, burst = events["aw"]
            self._check_burst("AW", address, length, size, burst)
            self.aw_log.append((address, length + 1))
            self.writes.append([address, length + 1, 0, AxiResp.OKAY])
        if "w" in events:
            self.w_beats.append(events["w"])
        while self.writes and self.w_beats:
            burst = self.writes[0]
            wdata, wstrb, wlast = self.w_beats.popleft()
            address = burst[0] + burst[2] * self.bus_bytes
            burst[2] += 1
            if wlast != (burst[2] == burst[1]):
                self.violations.append(f"WLAST {wlast} on beat {burst[2]} of {burst[1]}")
            if self._faulty(self.write_errors, address):
                burst[3] = AxiResp.SLVERR
            else:
                data = wdata.to_bytes(self.bus_bytes, "little")
                for b in range(self.bus_bytes):
                    if wstrb >> b & 1:
                        self.memory[address + b] = data[b]
            if burst[2] == burst[1]:
                self.writes.popleft()
                self.b_queue.append((self.cycle + self.pyrng.randint(*self.latency), burst[3]))
        if "b" in events:
            self.b_queue.popleft()
        self.cycle += 1


def _layout(pyrng, model: GatherModel, num_tables, memory_size):
    """Random table layouts, non-overlapping, some crossing 4 KiB boundaries; returns them."""
    cursor = 64
    layouts = []
    for t in range(num_tables):
        stride = model.row_bytes + 4 * pyrng.randrange(0, 5)
        rows = pyrng.randrange(4, 40)
        base = cursor + 4 * pyrng.randrange(0, 16)
        if pyrng.random() < 0.5:   # straddle the next 4 KiB boundary
            base = max(base, (base // BOUNDARY + 1) * BOUNDARY - stride * (rows // 2) - 4 * t)
        assert base + rows * stride < memory_size
        layouts.append((base, stride, rows))
        cursor = base + rows * stride + 64
    return layouts


def simulate(*, data_bits, dim, max_dim, reads_in_flight, pyrng, requests, write_rows,
             layouts, memory, read_errors=(), write_errors=(), stall=0.3,
             backpressure=0.3, latency=(1, 20), reorder=True, no_last=(), hold_ready=0):
    """Run gather requests and write-backs (interleaved) through the RTL; returns the gathered
    beats, the memory afterwards and the status. ``no_last``: indices of ``write_rows`` sent
    with ``last`` low on every beat (a framing error)."""
    num_tables = len(layouts) + 1            # the last table stays unconfigured
    dut = GatherEngine(num_tables=num_tables, data_bits=data_bits, addr_bits=32, id_bits=4,
                       reads_in_flight=reads_in_flight, writes_in_flight=4, max_dim=max_dim,
                       table_in_bits=3, row_in_bits=10, tag_bits=16, counter_bits=16)
    bus_bytes = data_bits // 8
    mem = AxiMemorySim(memory, bus_bytes, pyrng, latency=latency, stall=stall, reorder=reorder,
                       read_errors=set(read_errors), write_errors=set(write_errors))
    out = []
    status = {}
    wb_cycles = []                           # cycle of each write-back beat taken
    status["wb_cycles"] = wb_cycles
    row_beats = -(-4 * dim // bus_bytes)
    wb_beats = []
    for n, (table, row, values) in enumerate(write_rows):
        raw = values.astype("<f4").tobytes() + bytes(row_beats * bus_bytes - 4 * dim)
        for k in range(row_beats):
            wb_beats.append((table, row, raw[k * bus_bytes:(k + 1) * bus_bytes],
                             k == row_beats - 1 and n not in no_last))

    async def bench(ctx):
        await write_tables(ctx, dut.table_write, layouts)
        ctx.set(dut.dim, dim)
        expected_beats = len(requests) * row_beats   # upper bound for the loop's end
        pending_req = deque(requests)
        pending_wb = deque(wb_beats)
        idle = 0
        for cycle in range(200_000):
            i_valid = bool(pending_req) and pyrng.random() >= stall
            if i_valid:
                ctx.set(dut.i.payload.table, pending_req[0][0])
                ctx.set(dut.i.payload.row, pending_req[0][1])
            ctx.set(dut.i.valid, i_valid)
            wb_valid = bool(pending_wb) and pyrng.random() >= stall
            if wb_valid:
                table, row, raw, last = pending_wb[0]
                ctx.set(dut.wb.payload.table, table)
                ctx.set(dut.wb.payload.row, row)
                ctx.set(dut.wb.payload.data, int.from_bytes(raw, "little"))
                ctx.set(dut.wb.payload.last, last)
            ctx.set(dut.wb.valid, wb_valid)
            o_ready = pyrng.random() >= backpressure and cycle >= hold_ready
            if cycle == hold_ready - 1:       # valid must not wait for ready
                status["valid_before_ready"] = ctx.get(dut.o.valid)
            ctx.set(dut.o.ready, o_ready)
            mem.drive(ctx, dut.m_axi)
            events = mem.sample(ctx, dut.m_axi)
            if i_valid and ctx.get(dut.i.ready):
                pending_req.popleft()
            if wb_valid and ctx.get(dut.wb.ready):
                pending_wb.popleft()
                wb_cycles.append(cycle)
            if o_ready and ctx.get(dut.o.valid):
                p = ctx.get(dut.o.payload)
                out.append((int(p.tag), int(p.table), int(p.row), int(p.error),
                            int(p.data).to_bytes(bus_bytes, "little"), int(p.first),
                            int(p.last)))
            await ctx.tick()
            mem.update(events)
            busy = ctx.get(dut.read_busy) or ctx.get(dut.write_busy)
            idle = 0 if (busy or pending_req or pending_wb or mem.reads or mem.b_queue) \
                else idle + 1
            if idle > 10:
                break
        else:
            raise AssertionError(f"not idle after {cycle} cycles; {len(out)} beats out of "
                                 f"about {expected_beats}")
        names = ("read_errors", "read_error_code", "read_error_tag", "read_error_table",
                 "read_error_row", "read_rows", "read_beats", "read_bursts",
                 "write_errors", "write_error_code", "write_error_table", "write_error_row",
                 "write_rows_in", "write_rows_written", "write_beats", "write_bursts",
                 "write_pending")
        for name in names:
            status[name] = ctx.get(getattr(dut, name))
        # Then one cycle of errors_clear and counters_clear: what they leave.
        ctx.set(dut.errors_clear, 1)
        ctx.set(dut.counters_clear, 1)
        await ctx.tick()
        ctx.set(dut.errors_clear, 0)
        ctx.set(dut.counters_clear, 0)
        status["after_clear"] = {name: ctx.get(getattr(dut, name)) for name in names}

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert not mem.violations, mem.violations[:5]
    status["r_beats_memory"] = mem.r_beats
    status["ar_bursts"], status["aw_bursts"] = mem.ar_log, mem.aw_log
    return out, status


def _expected(model, requests, memory, read_errors=()):
    beats = []
    for r in model.gather(requests, memory, frozenset(read_errors)):
        for k, beat in enumerate(r.beats):
            beats.append((r.tag, r.table, r.row, int(r.error), beat, int(k == 0),
                          int(k == len(r.beats) - 1)))
    return beats


def _bursts(model, rows):
    """The model's bursts ``(address, beats)`` for the accepted ``(table, row, ...)`` rows."""
    return [(b.address, b.beats) for t, r, *_ in rows if model.address(t, r) is not None
            for b in model.bursts(model.address(t, r))]


def _setup(pyrng, data_bits, dim, num_tables=3, memory_size=1 << 16):
    model = GatherModel(num_tables=num_tables + 1, bus_bytes=data_bits // 8, addr_bits=32,
                        dim=dim)
    layouts = _layout(pyrng, model, num_tables, memory_size)
    for t, (base, stride, rows) in enumerate(layouts):
        model.configure(t, base=base, stride=stride, rows=rows)
    memory = np.frombuffer(pyrng.randbytes(memory_size), dtype=np.uint8).copy()
    return model, layouts, memory


def _requests(pyrng, layouts, count, bad=0.1):
    out = []
    for _ in range(count):
        if pyrng.random() < bad:
            out.append(pyrng.choice([(len(layouts), 0),                  # unconfigured table
                                     (len(layouts) + 1 + pyrng.randrange(3), 1),  # no table
                                     (0, layouts[0][2] + pyrng.randrange(5))]))    # row >= rows
        else:
            t = pyrng.randrange(len(layouts))
            out.append((t, pyrng.randrange(layouts[t][2])))
    return out


@pytest.mark.parametrize("data_bits, dim, reorder", [
    (64, 1, True), (64, 5, True), (64, 16, False), (128, 7, True), (256, 16, True),
    (512, 20, True),
])
def test_gather_matches_model(pyrng, data_bits, dim, reorder):
    model, layouts, memory = _setup(pyrng, data_bits, dim)
    requests = _requests(pyrng, layouts, 150)
    out, status = simulate(data_bits=data_bits, dim=dim, max_dim=24, reads_in_flight=8,
                           pyrng=pyrng, requests=requests, write_rows=[], layouts=layouts,
                           memory=memory.copy(), reorder=reorder)
    expected = _expected(model, requests, memory)
    assert len(out) == len(expected)
    for n, (got, want) in enumerate(zip(out, expected)):
        assert got == want, f"beat {n}: got {got}, expected {want}"
    assert status["read_rows"] == len(requests)
    rejected = sum(model.address(t, r) is None for t, r in requests)
    assert status["read_errors"] == (GatherError.RANGE if rejected else 0)
    assert status["r_beats_memory"] == status["read_beats"]
    assert status["ar_bursts"] == _bursts(model, requests)   # no beat more or less


def test_write_back_matches_model(pyrng):
    data_bits, dim = 64, 7
    model, layouts, memory = _setup(pyrng, data_bits, dim)
    expected_memory = memory.copy()
    rows = []
    for _ in range(60):
        t = pyrng.randrange(len(layouts))
        rows.append((t, pyrng.randrange(layouts[t][2]),
                     np.array([pyrng.uniform(-1, 1) for _ in range(dim)], dtype=np.float32)))
    rows.append((len(layouts), 3, np.zeros(dim, np.float32)))          # rejected
    for t, r, values in rows:
        model.write_back(t, r, values.astype("<f4").tobytes(), expected_memory)
    requests = _requests(pyrng, layouts, 40, bad=0)
    got_memory = memory.copy()
    out, status = simulate(data_bits=data_bits, dim=dim, max_dim=24, reads_in_flight=4,
                           pyrng=pyrng, requests=[], write_rows=rows, layouts=layouts,
                           memory=got_memory)
    diff = np.flatnonzero(got_memory != expected_memory)
    assert diff.size == 0, f"{diff.size} bytes differ, first at {diff[:4]}"
    assert status["write_rows_in"] == len(rows)
    assert status["write_rows_written"] == len(rows) - 1
    assert status["write_errors"] == GatherError.RANGE
    assert (status["write_error_table"], status["write_error_row"]) == (len(layouts), 3)
    assert status["write_pending"] == 0
    # Then gather what was written: the engine reads back the model's memory.
    out, status = simulate(data_bits=data_bits, dim=dim, max_dim=24, reads_in_flight=4,
                           pyrng=pyrng, requests=requests, write_rows=[], layouts=layouts,
                           memory=got_memory)
    reader_model = GatherModel(num_tables=len(layouts) + 1, bus_bytes=data_bits // 8,
                               addr_bits=32, dim=dim)
    for t, (base, stride, count) in enumerate(layouts):
        reader_model.configure(t, base=base, stride=stride, rows=count)
    assert out == _expected(reader_model, requests, expected_memory)


def test_bus_errors_flag_rows_and_never_hang(pyrng):
    data_bits, dim = 128, 9
    model, layouts, memory = _setup(pyrng, data_bits, dim)
    requests = _requests(pyrng, layouts, 80, bad=0) + [(len(layouts), 0)]   # one rejected
    # Fault a word of a few requested rows, each on a table and a row other than 0 (so the
    # recorded table and row differ from their reset values).
    candidates = [n for n in range(3, 80) if requests[n][0] != 0 and requests[n][1] != 0]
    faulty = {model.address(*requests[n]) + 4 * pyrng.randrange(dim)
              for n in (candidates[0], candidates[1], candidates[2], candidates[-1])}
    out, status = simulate(data_bits=data_bits, dim=dim, max_dim=16, reads_in_flight=8,
                           pyrng=pyrng, requests=requests, write_rows=[], layouts=layouts,
                           memory=memory.copy(), read_errors=faulty)
    expected = _expected(model, requests, memory, faulty)
    assert out == expected
    first_bad = min(n for n, r in enumerate(requests)
                    if any(b.error for b in [model.gather([r], memory, faulty)[0]]))
    assert status["read_errors"] == GatherError.BUS | GatherError.RANGE     # sticky bits
    assert status["read_error_code"] == GatherError.BUS
    assert status["read_error_tag"] == first_bad
    assert requests[first_bad][0] != 0 and requests[first_bad][1] != 0
    assert (status["read_error_table"], status["read_error_row"]) == requests[first_bad]
    assert status["read_bursts"] == len(status["ar_bursts"])
    # errors_clear (through the engine) clears both halves' sticky bits; counters_clear zeroes
    # the counters.
    assert status["after_clear"]["read_errors"] == 0
    assert status["after_clear"]["read_rows"] == 0
    assert status["after_clear"]["read_bursts"] == 0 and status["after_clear"]["read_beats"] == 0


def test_write_errors_sticky_first_recorded(pyrng):
    """A rejected row, then a row answered SLVERR, then one without ``last``: every error bit
    stays set, the first error (the rejected row) stays recorded."""
    data_bits, dim = 64, 7
    model, layouts, memory = _setup(pyrng, data_bits, dim)
    values = [np.full(dim, n, np.float32) for n in range(3)]
    rows = [(len(layouts), 3, values[0]), (0, 1, values[1]), (1, 2, values[2])]
    _, status = simulate(data_bits=data_bits, dim=dim, max_dim=24, reads_in_flight=4,
                         pyrng=pyrng, requests=[], write_rows=rows, layouts=layouts,
                         memory=memory, write_errors={model.address(0, 1)}, no_last={2})
    assert status["write_errors"] == GatherError.RANGE | GatherError.BUS | GatherError.FRAMING
    assert (status["write_error_code"], status["write_error_table"],
            status["write_error_row"]) == (GatherError.RANGE, len(layouts), 3)
    assert status["write_rows_in"] == 3 and status["write_rows_written"] == 2
    assert status["write_bursts"] == len(status["aw_bursts"])
    assert status["after_clear"]["write_errors"] == 0
    assert status["after_clear"]["write_rows_in"] == 0
    assert status["after_clear"]["write_rows_written"] == 0
    assert status["after_clear"]["write_bursts"] == 0 and status["after_clear"]["write_beats"] == 0


def test_dim_zero_rejects_requests(pyrng):
    """``dim = 0`` is out of range: each request leaves as one zero beat flagged RANGE and
    nothing is read."""
    _, layouts, memory = _setup(pyrng, 64, 1)
    requests = [(t, r) for t in range(len(layouts)) for r in (0, 1)]
    out, status = simulate(data_bits=64, dim=0, max_dim=24, reads_in_flight=4, pyrng=pyrng,
                           requests=requests, write_rows=[], layouts=layouts, memory=memory)
    assert out == [(n, t, r, GatherError.RANGE, bytes(8), 1, 1)
                   for n, (t, r) in enumerate(requests)]
    assert status["ar_bursts"] == []


def test_long_rows_split_at_256_beats(pyrng):
    """Rows of 260 beats: bursts split at 256 beats and at 4 KiB exactly as the model's, on
    write-back and on gather."""
    data_bits, dim = 64, 520                   # 2080 bytes: 260 beats
    model = GatherModel(num_tables=2, bus_bytes=8, addr_bits=32, dim=dim)
    layouts = [(BOUNDARY, 4 * dim, 4)]         # rows at 0x1000 (256 + 4), 0x1820 (252 + 8), ...
    model.configure(0, base=BOUNDARY, stride=4 * dim, rows=4)
    memory = np.frombuffer(pyrng.randbytes(1 << 14), dtype=np.uint8).copy()
    rows = [(0, r, np.array([pyrng.uniform(-1, 1) for _ in range(dim)], np.float32))
            for r in range(4)]
    expected_memory = memory.copy()
    for t, r, values in rows:
        model.write_back(t, r, values.astype("<f4").tobytes(), expected_memory)
    bursts = _bursts(model, rows)
    assert max(beats for _, beats in bursts) == 256
    _, status = simulate(data_bits=data_bits, dim=dim, max_dim=dim, reads_in_flight=2,
                         pyrng=pyrng, requests=[], write_rows=rows, layouts=layouts,
                         memory=memory)
    assert np.array_equal(memory, expected_memory)
    assert status["aw_bursts"] == bursts
    assert status["write_rows_written"] == len(rows)   # a row of several bursts counts once
    requests = [(0, r) for r in range(4)]
    out, status = simulate(data_bits=data_bits, dim=dim, max_dim=dim, reads_in_flight=2,
                           pyrng=pyrng, requests=requests, write_rows=[], layouts=layouts,
                           memory=memory)
    assert out == _expected(model, requests, memory)
    assert status["ar_bursts"] == bursts


@pytest.mark.parametrize("dim", [2, 6])
def test_write_back_rows_take_documented_cycles(pyrng, dim):
    """RowWriter's pace with a memory that keeps up: back-to-back rows of ``n`` W beats start
    every ``n + 4`` cycles (measured; the address lookup overlaps the previous row's hand-offs).
    Rows here are aligned: ``n = ceil(4 dim / 8)``. Pins the writer's return to IDLE in the
    cycle its last AW is taken."""
    stride = 8 * -(-4 * dim // 8)
    layouts = [(0x100, stride, 16)]
    memory = np.zeros(1 << 12, np.uint8)
    rows = [(0, r, np.full(dim, r, np.float32)) for r in range(8)]
    _, status = simulate(data_bits=64, dim=dim, max_dim=8, reads_in_flight=2, pyrng=pyrng,
                         requests=[], write_rows=rows, layouts=layouts, memory=memory,
                         stall=0, backpressure=0, latency=(1, 1))
    n = -(-4 * dim // 8)
    firsts = status["wb_cycles"][::n]
    print(f"dim {dim}: first beats taken at {firsts}")
    assert [b - a for a, b in zip(firsts, firsts[1:])] == [n + 4] * (len(rows) - 1)
    assert status["write_rows_written"] == len(rows)



def test_valid_does_not_wait_for_ready(pyrng):
    """With ``o.ready`` held low from reset, the first gathered beat is still offered
    (``o.valid`` high before any ``ready``), then every row comes out as the model's."""
    model, layouts, memory = _setup(pyrng, 64, 3)
    requests = _requests(pyrng, layouts, 4, bad=0)
    out, status = simulate(data_bits=64, dim=3, max_dim=8, reads_in_flight=4, pyrng=pyrng,
                           requests=requests, write_rows=[], layouts=layouts,
                           memory=memory.copy(), stall=0, latency=(1, 2), hold_ready=200)
    assert status["valid_before_ready"] == 1
    assert out == _expected(model, requests, memory)
