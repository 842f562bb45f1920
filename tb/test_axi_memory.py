"""Regression of :class:`tb.axi_memory.HostMemory`, the host memory of our AXI4 masters' tests.

The DUT is :class:`AxiPassThrough`: wires from an AXI4 subordinate port ``s_axi`` to a manager
port ``m_axi`` (plus a cycle counter, which gives the module its clock). cocotbext-axi's
``AxiMaster`` drives ``s_axi``; the ``HostMemory`` under test sits on ``m_axi``. Cases, per bus
width:

* ``random_traffic_matches_mirror`` (in order / reorder / reorder without interleaving):
  concurrent random reads and writes, stalls on all channels of both sides, every read compared
  with a Python mirror and the memory with it at the end, R / B order checked beat by beat
  against the memory's AR / AW logs (same ID in order, RLAST, nothing extra or missing;
  reordering seen iff ``reorder``, interleaving iff ``reorder`` and ``interleave``).
* ``latency_is_pipelined``: exact first-beat latency, N one-beat bursts in ~L + N cycles (not
  N * L), ``max_reads`` throttling, a full-rate R channel, pipelined write latency.
* ``errors_answer_without_hang``: SLVERR / DECERR on read and write, data and unwritten bytes,
  out-of-range DECERR, ``clear_errors``.
* ``protocol_violations_are_recorded``: raw channel drivers (no AxiMaster) send misaligned, 4 KiB
  crossing, FIXED and narrow bursts, early / missing WLAST, W before AW, stray W beats;
  ``strict_violation_fails_the_test``: with ``strict=True`` a violation fails the test.

``test_burst_violations`` tests the per-burst rule checker without a simulator.
"""

from __future__ import annotations

import random
from collections import defaultdict, deque

import cocotb
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout
from cocotbext.axi import (AxiARBus, AxiAWBus, AxiBBus, AxiBus, AxiMaster, AxiRBus, AxiWBus)
from cocotbext.axi.axi_channels import (AxiARSource, AxiARTransaction, AxiAWSource,
                                        AxiAWTransaction, AxiBMonitor, AxiBSink, AxiRMonitor,
                                        AxiRSink, AxiWSource, AxiWTransaction)

from hotline_hw.axi import AXI4Signature, AxiBurst, AxiResp, axsize_for
from tb.axi_memory import HostMemory, burst_violations
from tb.runner import run_cocotb, tb_params
from tb.streams import random_pause

CLOCK_NS = 10
ADDR_BITS = 32
ID_BITS = 4
MEM_SIZE = 1 << 20


class AxiPassThrough(wiring.Component):
    """``s_axi`` wired straight to ``m_axi``; ``cycles`` counts clock cycles (so the module has
    ``clk`` / ``rst`` for the testbench)."""

    def __init__(self, *, addr_bits: int, data_bits: int, id_bits: int):
        signature = AXI4Signature(addr_bits=addr_bits, data_bits=data_bits, id_bits=id_bits)
        super().__init__({"s_axi": In(signature), "m_axi": Out(signature), "cycles": Out(32)})

    def elaborate(self, platform):
        m = Module()
        wiring.connect(m, wiring.flipped(self.s_axi), wiring.flipped(self.m_axi))
        m.d.sync += self.cycles.eq(self.cycles + 1)
        return m


def _bus(dut, name):
    return AxiBus.from_prefix(dut, name, bus_separator="__")


class AxiMemoryTB:
    """Clock, reset, the memory on ``m_axi`` and (optionally) an AxiMaster on ``s_axi``."""

    def __init__(self, dut, *, master: bool = True, seed_salt: int = 0, **memory_kwargs):
        self.dut = dut
        self.params = tb_params()
        self.bus_bytes = self.params["data_bits"] // 8
        self.rng = random.Random(cocotb.RANDOM_SEED * 16 + seed_salt)
        dut.rst.value = 1
        cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
        self.memory = HostMemory.from_prefix(dut, "m_axi", size=MEM_SIZE, rng=self.rng,
                                             **memory_kwargs)
        self.master = AxiMaster(_bus(dut, "s_axi"), dut.clk, dut.rst) if master else None
        self.mirror = bytearray(MEM_SIZE)

    async def reset(self):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    def preload(self, address: int, length: int):
        data = self.rng.randbytes(length)
        self.memory.write(address, data)
        self.mirror[address:address + length] = data

    def stall_master(self, probability: float):
        """Valid gaps on AR / AW / W and ready gaps on R / B from the master's side."""
        ifs = (self.master.read_if.ar_channel, self.master.read_if.r_channel,
               self.master.write_if.aw_channel, self.master.write_if.w_channel,
               self.master.write_if.b_channel)
        for channel in ifs:
            channel.set_pause_generator(random_pause(random.Random(self.rng.getrandbits(64)),
                                                     probability))

    def watch(self, channel: str) -> list[int]:
        """Cycle (HostMemory edge index) of every handshake on ``m_axi``'s ``channel``."""
        edges: list[int] = []
        valid = getattr(self.dut, f"m_axi__{channel}valid")
        ready = getattr(self.dut, f"m_axi__{channel}ready")

        async def run():
            while True:
                await RisingEdge(self.dut.clk)
                if str(valid.value) == "1" and str(ready.value) == "1":
                    edges.append(self.memory.current_cycle())

        cocotb.start_soon(run())
        return edges

    def expect(self, address: int, data: bytes, what: str):
        expected = bytes(self.mirror[address:address + len(data)])
        if data != expected:
            bad = next(i for i in range(len(data)) if data[i] != expected[i])
            raise AssertionError(f"{what}: address 0x{address:x} length {len(data)}: first "
                                 f"difference at byte {bad} (0x{address + bad:x}): got "
                                 f"{data[bad]:#04x}, expected {expected[bad]:#04x}")


async def _all(tasks):
    for task in tasks:
        await task


def _aligned(tb, value):
    return value - value % tb.bus_bytes


def check_response_order(log, beats, id_attr: str, last_attr: str | None):
    """Walk the responses (``beats``, in bus order) against the bursts of ``log`` (AR or AW
    log, in handshake order): every response belongs to the oldest open burst of its ID, RLAST
    on exactly the last beat, nothing left over or missing. Returns (inversions, interleavings):
    bursts finishing before an older one, beats switching away from an unfinished burst."""
    per_id = defaultdict(deque)
    for index, entry in enumerate(log):
        per_id[entry.id].append(index)
    received = [0] * len(log)
    finished = []
    open_bursts: set[int] = set()
    interleavings = 0
    previous = None
    for n, beat in enumerate(beats):
        rid = int(getattr(beat, id_attr))
        assert per_id[rid], f"response {n} has id {rid} but no burst of that id is open"
        index = per_id[rid][0]
        received[index] += 1
        total = log[index].len + 1 if last_attr else 1
        last = received[index] == total
        if last_attr is not None:
            assert bool(int(getattr(beat, last_attr))) == last, (
                f"response {n} (id {rid}, beat {received[index]} of {total}): wrong RLAST")
        if previous is not None and previous != index and previous in open_bursts:
            interleavings += 1
        open_bursts.add(index)
        previous = index
        if last:
            per_id[rid].popleft()
            open_bursts.discard(index)
            finished.append(index)
    missing = [log[i] for q in per_id.values() for i in q]
    assert not missing, f"bursts never answered: {missing[:5]}"
    inversions = sum(1 for a, b in zip(finished, finished[1:]) if b < a)
    return inversions, interleavings


def _drain(monitor) -> list:
    out = []
    while not monitor.empty():
        out.append(monitor.recv_nowait())
    return out


# --- cocotb tests -----------------------------------------------------------------------------

ORDERINGS = {"in_order": (False, True), "reorder": (True, True),
             "reorder_no_interleave": (True, False)}


@cocotb.test()
@cocotb.parametrize(ordering=list(ORDERINGS))
async def random_traffic_matches_mirror(dut, ordering):
    """Random reads / writes by 4 concurrent workers, then deep batches of concurrent writes
    and reads, with stalls on every channel of both sides, against a mirror; R / B order
    checked against the AR / AW logs."""
    reorder, interleave = ORDERINGS[ordering]
    tb = AxiMemoryTB(dut, seed_salt=list(ORDERINGS).index(ordering))
    memory, rng, bb = tb.memory, tb.rng, tb.bus_bytes
    memory.read_latency = rng.randint(1, 24)
    memory.write_latency = rng.randint(1, 16)
    memory.latency_jitter = 8               # lets bursts of different IDs overtake each other
    memory.reorder, memory.interleave = reorder, interleave
    memory.set_stalls(rng, 0.25)
    tb.stall_master(0.25)
    dut._log.info("read_latency %d write_latency %d reorder %s interleave %s",
                  memory.read_latency, memory.write_latency, reorder, interleave)
    r_monitor = AxiRMonitor(AxiRBus.from_prefix(dut, "m_axi", bus_separator="__"), dut.clk,
                            dut.rst)
    b_monitor = AxiBMonitor(AxiBBus.from_prefix(dut, "m_axi", bus_separator="__"), dut.clk,
                            dut.rst)
    await tb.reset()
    span = 16 << 10
    tb.preload(0, 4 * span)

    async def worker(base, ops, wrng):
        for op in range(ops):
            if op == 0:                                 # one maximal burst
                length = min(256 * bb, 0x1000)          # AxLEN 255, or a whole 4 KiB page
                offset = wrng.randrange(span // 0x1000) * 0x1000
            else:
                length = wrng.choice([wrng.randint(1, 4 * bb), wrng.randint(1, 40 * bb)])
                offset = _aligned(tb, wrng.randrange(span - length))
            address = base + offset
            ident = wrng.choice([None, wrng.randrange(1 << ID_BITS)])
            kind = "write+read" if op == 0 else wrng.choice(["write", "read"])
            if "write" in kind:
                data = wrng.randbytes(length)
                result = await tb.master.write(address, data, awid=ident)
                assert result.resp == AxiResp.OKAY, f"write 0x{address:x}: resp {result.resp}"
                tb.mirror[address:address + length] = data
            if "read" in kind:
                result = await tb.master.read(address, length, arid=ident)
                assert result.resp == AxiResp.OKAY, f"read 0x{address:x}: resp {result.resp}"
                tb.expect(address, result.data, f"worker read {op}")

    workers = [cocotb.start_soon(worker(i * span, 50, random.Random(rng.getrandbits(64))))
               for i in range(4)]
    await with_timeout(_all(workers), 400_000 * CLOCK_NS, "ns")

    # Deep batch of short writes: 32 in flight at once to disjoint slots, random IDs.
    slot = 4 * bb
    writes = []
    for i in range(32):
        address, data = 0x2000 + i * slot, rng.randbytes(rng.randint(1, slot))
        tb.mirror[address:address + len(data)] = data
        writes.append(tb.master.init_write(address, data, awid=rng.randrange(1 << ID_BITS)))
    for event in writes:
        await with_timeout(event.wait(), 100_000 * CLOCK_NS, "ns")
        assert event.data.resp == AxiResp.OKAY

    # Deep batch: 48 reads in flight at once, random IDs (repeats keep same-ID order).
    requests = []
    for _ in range(48):
        length = rng.randint(1, 8 * bb)
        address = _aligned(tb, rng.randrange(4 * span - length))
        requests.append((address, length,
                         tb.master.init_read(address, length, arid=rng.randrange(1 << ID_BITS))))
    for address, length, event in requests:
        await with_timeout(event.wait(), 100_000 * CLOCK_NS, "ns")
        assert event.data.resp == AxiResp.OKAY
        tb.expect(address, event.data.data, "batch read")
    await ClockCycles(dut.clk, 5)

    # Backdoor: the memory holds exactly what the mirror says.
    assert memory.read(0, 4 * span) == bytes(tb.mirror[:4 * span]), "memory differs from mirror"
    memory.check(idle=True)

    r_inv, r_inter = check_response_order(memory.ar_log, _drain(r_monitor), "rid", "rlast")
    b_inv, _ = check_response_order(memory.aw_log, _drain(b_monitor), "bid", None)
    assert memory.r_beats == sum(e.len + 1 for e in memory.ar_log)
    assert memory.w_beats == sum(e.len + 1 for e in memory.aw_log)
    assert memory.ar_bursts == len(memory.ar_log) and memory.aw_bursts == len(memory.aw_log)
    assert memory.b_responses == len(memory.aw_log)
    longest = min(256, 0x1000 // bb) - 1
    assert max(e.len for e in memory.ar_log) == max(e.len for e in memory.aw_log) == longest
    dut._log.info("stats %s; R inversions %d interleavings %d; B inversions %d",
                  memory.stats(), r_inv, r_inter, b_inv)
    if reorder:
        assert r_inv > 0 and b_inv > 0, "reorder=True never reordered"
        assert (r_inter > 0) == interleave, f"{r_inter} interleavings, interleave={interleave}"
    else:
        assert r_inv == 0 and r_inter == 0 and b_inv == 0, "reorder=False answered out of order"


@cocotb.test()
async def latency_is_pipelined(dut):
    """Latency is exact for a lone burst and overlaps for many (L + N, not N * L)."""
    tb = AxiMemoryTB(dut, read_latency=100, write_latency=60)
    memory, bb = tb.memory, tb.bus_bytes
    await tb.reset()
    tb.preload(0, 1 << 16)
    r_edges, b_edges = tb.watch("r"), tb.watch("b")

    async def reads(specs, latency, max_reads=256):
        memory.read_latency, memory.max_reads = latency, max_reads
        memory.reset_stats()
        r_edges.clear()
        events = [tb.master.init_read(address, length, arid=ident)
                  for address, length, ident in specs]
        for (address, length, _), event in zip(specs, events):
            await with_timeout(event.wait(), 100_000 * CLOCK_NS, "ns")
            assert event.data.resp == AxiResp.OKAY
            tb.expect(address, event.data.data, "latency read")
        await ClockCycles(dut.clk, 2)
        return list(memory.ar_log), list(r_edges)

    # One burst alone: first RVALID at edge a + L, handshake at a + L + 1.
    ar_log, edges = await reads([(0x100, bb, 3)], latency=100)
    assert edges == [ar_log[0].cycle + 101], f"AR at {ar_log[0].cycle}, R at {edges}"

    # N one-beat bursts back to back: ~L + N cycles.
    n, latency = 64, 200
    ar_log, edges = await reads([(i * bb, bb, i % 16) for i in range(n)], latency=latency)
    assert len(edges) == n
    for entry, edge in zip(ar_log, edges):            # in order: beat i answers AR i
        assert edge >= entry.cycle + latency + 1, f"beat for AR at {entry.cycle} at {edge}"
    issue = ar_log[-1].cycle - ar_log[0].cycle
    elapsed = edges[-1] - ar_log[0].cycle
    dut._log.info("%d bursts, latency %d: ARs over %d cycles, done in %d cycles (serial: %d)",
                  n, latency, issue, elapsed, n * latency)
    assert issue <= 2 * n, f"AxiMaster issued {n} ARs over {issue} cycles"
    assert elapsed <= latency + issue + 3, f"{n} bursts took {elapsed} cycles"
    assert memory.max_outstanding_reads >= n // 2

    # max_reads throttles: never more than 8 in flight, so 32 bursts need >= 4 latencies.
    ar_log, edges = await reads([(i * bb, bb, i % 16) for i in range(32)], latency=40,
                                max_reads=8)
    elapsed = edges[-1] - ar_log[0].cycle
    assert memory.max_outstanding_reads == 8, memory.max_outstanding_reads
    assert elapsed >= 4 * 40, f"32 bursts with max_reads 8 took only {elapsed} cycles"

    # Bandwidth: 8 bursts of 16 beats keep R busy every cycle after the first beat.
    ar_log, edges = await reads([(0x4000 + i * 16 * bb, 16 * bb, i) for i in range(8)],
                                latency=100)
    assert len(edges) == 128
    assert edges[-1] - edges[0] == 127, f"R not at full rate: {edges[-1] - edges[0] + 1} cycles"

    # Writes: N one-beat writes overlap their write latency too.
    memory.reset_stats()
    b_edges.clear()
    events = []
    for i in range(32):
        data = tb.rng.randbytes(bb)
        tb.mirror[0x8000 + i * bb:0x8000 + (i + 1) * bb] = data
        events.append(tb.master.init_write(0x8000 + i * bb, data, awid=i % 16))
    for event in events:
        await with_timeout(event.wait(), 100_000 * CLOCK_NS, "ns")
        assert event.data.resp == AxiResp.OKAY
    await ClockCycles(dut.clk, 2)
    aw_log = memory.aw_log
    first_b, elapsed = b_edges[0] - aw_log[0].cycle, b_edges[-1] - aw_log[0].cycle
    dut._log.info("32 writes, latency 60: first B after %d cycles, done in %d", first_b, elapsed)
    assert 61 <= first_b <= 64, f"first B {first_b} cycles after its AW"
    assert elapsed <= 60 + 2 * 32 + 6, f"32 writes took {elapsed} cycles"
    assert memory.read(0x8000, 32 * bb) == bytes(tb.mirror[0x8000:0x8000 + 32 * bb])
    memory.check(idle=True)


@cocotb.test()
async def errors_answer_without_hang(dut):
    """Injected SLVERR / DECERR come back on R and B with full bursts; faulting bytes stay."""
    tb = AxiMemoryTB(dut, read_latency=6, write_latency=3, reorder=True, stall_probability=0.2)
    memory, bb = tb.memory, tb.bus_bytes
    tb.stall_master(0.2)
    await tb.reset()
    base = 0x4000
    tb.preload(base, 0x2000)
    timeout = (20_000 * CLOCK_NS, "ns")
    slv = base + 0x100 + 3
    memory.inject_error(slv, 2, AxiResp.SLVERR)
    dec = base + 0x400
    memory.inject_error(dec, 4 * bb, AxiResp.DECERR, write=False)

    # Read over the SLVERR bytes: SLVERR, all data returned, the faulting word zero.
    address = base + 0x100 - 2 * bb
    result = await with_timeout(tb.master.read(address, 6 * bb), *timeout)
    assert result.resp == AxiResp.SLVERR, result.resp
    word = _aligned(tb, slv) - address
    assert result.data[word:word + bb] == bytes(bb)
    tb.expect(address, result.data[:word], "bytes before the error")
    tb.expect(address + word + bb, result.data[word + bb:], "bytes after the error")

    # Not touching: OKAY.
    result = await with_timeout(tb.master.read(base + 0x200, 4 * bb), *timeout)
    assert result.resp == AxiResp.OKAY
    tb.expect(base + 0x200, result.data, "clean read")

    # A two-burst read (split at 4 KiB) whose second burst faults.
    memory.inject_error(base + 0x1000 + bb, 1, AxiResp.SLVERR, write=False)
    result = await with_timeout(tb.master.read(base + 0x1000 - 4 * bb, 8 * bb), *timeout)
    assert result.resp == AxiResp.SLVERR and len(result.data) == 8 * bb

    # Write over the SLVERR bytes: SLVERR, the faulting bytes unchanged, the others written.
    address = base + 0x100 - bb
    data = tb.rng.randbytes(4 * bb)
    result = await with_timeout(tb.master.write(address, data, awid=5), *timeout)
    assert result.resp == AxiResp.SLVERR, result.resp
    for i in range(4 * bb):
        if not slv <= address + i < slv + 2:
            tb.mirror[address + i] = data[i]
    assert memory.read(address, 4 * bb) == bytes(tb.mirror[address:address + 4 * bb])

    # The DECERR range is read-only: writes succeed, reads fail.
    data = tb.rng.randbytes(2 * bb)
    result = await with_timeout(tb.master.write(dec + bb, data), *timeout)
    assert result.resp == AxiResp.OKAY
    tb.mirror[dec + bb:dec + 3 * bb] = data
    result = await with_timeout(tb.master.read(dec, 8 * bb), *timeout)
    assert result.resp == AxiResp.DECERR and len(result.data) == 8 * bb

    # Outside the memory: DECERR, nothing written.
    result = await with_timeout(tb.master.read(MEM_SIZE, 2 * bb), *timeout)
    assert result.resp == AxiResp.DECERR
    result = await with_timeout(tb.master.write(MEM_SIZE + 0x1000, bytes(bb)), *timeout)
    assert result.resp == AxiResp.DECERR

    # Many concurrent faulting and clean reads: every one completes.
    events = [tb.master.init_read(base + 0x100 + i * bb - 8 * bb, 3 * bb, arid=i % 16)
              for i in range(16)]
    for i, event in enumerate(events):
        await with_timeout(event.wait(), *timeout)
        touched = base + 0x100 + i * bb - 8 * bb <= slv < base + 0x100 + i * bb - 5 * bb
        assert event.data.resp == (AxiResp.SLVERR if touched else AxiResp.OKAY), (i, event.data)

    memory.clear_errors()
    result = await with_timeout(tb.master.read(base, 0x2000), *timeout)
    assert result.resp == AxiResp.OKAY
    tb.expect(base, result.data, "after clear_errors")
    memory.check(idle=True)


@cocotb.test()
async def protocol_violations_are_recorded(dut):
    """Raw channel drivers break the rules; the memory records each, still answers in full."""
    tb = AxiMemoryTB(dut, master=False, read_latency=3, write_latency=2)
    memory, bb = tb.memory, tb.bus_bytes
    size = axsize_for(8 * bb)
    clk, rst = dut.clk, dut.rst
    ar = AxiARSource(AxiARBus.from_prefix(dut, "s_axi", bus_separator="__"), clk, rst)
    aw = AxiAWSource(AxiAWBus.from_prefix(dut, "s_axi", bus_separator="__"), clk, rst)
    w = AxiWSource(AxiWBus.from_prefix(dut, "s_axi", bus_separator="__"), clk, rst)
    r = AxiRSink(AxiRBus.from_prefix(dut, "s_axi", bus_separator="__"), clk, rst)
    b = AxiBSink(AxiBBus.from_prefix(dut, "s_axi", bus_separator="__"), clk, rst)
    await tb.reset()
    tb.preload(0, 0x4000)
    timeout = (2_000 * CLOCK_NS, "ns")

    async def read_burst(address, axlen, axsize=size, burst=AxiBurst.INCR):
        await ar.send(AxiARTransaction(arid=7, araddr=address, arlen=axlen, arsize=axsize,
                                       arburst=burst))
        beats = [await with_timeout(r.recv(), *timeout) for _ in range(axlen + 1)]
        assert [int(x.rlast) for x in beats] == [0] * axlen + [1]
        assert all(int(x.rid) == 7 and int(x.rresp) == AxiResp.OKAY for x in beats)
        return b"".join(int(x.rdata).to_bytes(bb, "little") for x in beats)

    def expect_violation(*words):
        assert len(memory.violations) == 1, memory.violations
        message = memory.violations.pop()
        assert all(word in message for word in words), message

    # Misaligned: served from the aligned-down word.
    data = await read_burst(0x1000 + 4, 1)
    expect_violation("not aligned")
    assert data == bytes(tb.mirror[0x1000:0x1000 + 2 * bb])
    # Crossing 4 KiB: served linearly.
    data = await read_burst(0x2000 - 2 * bb, 3)
    expect_violation("4 KiB")
    assert data == bytes(tb.mirror[0x2000 - 2 * bb:0x2000 + 2 * bb])
    await read_burst(0x400, 1, burst=AxiBurst.FIXED)
    expect_violation("only INCR")
    await read_burst(0x400, 0, axsize=2)
    expect_violation("AxSIZE=2")

    async def write_burst(address, axlen, beats, lasts, aw_delay=0):
        words = [tb.rng.randbytes(bb) for _ in range(beats)]
        for data, last in zip(words, lasts):
            await w.send(AxiWTransaction(wdata=int.from_bytes(data, "little"),
                                         wstrb=(1 << bb) - 1, wlast=last))
        if aw_delay:
            await ClockCycles(clk, aw_delay)
            assert len(memory.write_if.w_beats) == beats   # buffered until the AW
        await aw.send(AxiAWTransaction(awid=3, awaddr=address, awlen=axlen, awsize=size,
                                       awburst=AxiBurst.INCR))
        response = await with_timeout(b.recv(), *timeout)
        assert int(response.bid) == 3 and int(response.bresp) == AxiResp.OKAY
        return words

    # W before AW (legal): buffered, then written.
    words = await write_burst(0x3000, 1, 2, [0, 1], aw_delay=20)
    assert not memory.violations, memory.violations
    assert memory.read(0x3000, 2 * bb) == b"".join(words)
    # Early WLAST: the burst ends there, B still comes.
    await write_burst(0x3100, 3, 2, [0, 1])
    expect_violation("WLAST on beat 2 of 4")
    # Missing WLAST.
    await write_burst(0x3200, 0, 1, [0])
    expect_violation("WLAST low")
    # A stray W beat (no AW for it): only check(idle=True) can tell.
    await w.send(AxiWTransaction(wdata=0, wstrb=0, wlast=1))
    await ClockCycles(clk, 10)
    memory.check()
    try:
        memory.check(idle=True)
    except AssertionError as error:
        assert "W beats without an AW" in str(error), error
    else:
        raise AssertionError("check(idle=True) missed a W beat without AW")
    # A recorded violation makes check() fail.
    memory._violation("synthetic")
    try:
        memory.check()
    except AssertionError as error:
        assert "synthetic" in str(error)
    else:
        raise AssertionError("check() passed with a violation recorded")
    memory.violations.clear()
    # Reset drops the stray beat.
    await tb.reset()
    memory.check(idle=True)


@cocotb.test(expect_fail=True)
async def strict_violation_fails_the_test(dut):
    """``strict=True``: the first violation (a misaligned read) raises inside the model, which
    fails the running test (expected here)."""
    tb = AxiMemoryTB(dut, strict=True)
    await tb.reset()
    await with_timeout(tb.master.read(0x13, 8), 2_000 * CLOCK_NS, "ns")
    await ClockCycles(dut.clk, 20)


# --- pytest -----------------------------------------------------------------------------------

def test_burst_violations():
    """The per-burst rules, without a simulator (AxiMaster never breaks them)."""
    assert burst_violations(0x1000, 255, 3, AxiBurst.INCR, 8) == []
    assert burst_violations(0x1F00, 7, 5, AxiBurst.INCR, 32) == []     # ends at 0x1FFF
    (problem,) = burst_violations(0x1F08, 31, 3, AxiBurst.INCR, 8)     # 0x1F08..0x2007
    assert "4 KiB" in problem
    (problem,) = burst_violations(0x1004, 0, 3, AxiBurst.INCR, 8)
    assert "not aligned" in problem
    (problem,) = burst_violations(0x1000, 0, 2, AxiBurst.INCR, 8)
    assert "AxSIZE=2" in problem
    (problem,) = burst_violations(0x1000, 0, 3, AxiBurst.WRAP, 8)
    assert "WRAP" in problem
    (problem,) = burst_violations(0x0, 256, 3, AxiBurst.INCR, 8)
    assert "AxLEN=256" in problem
    assert len(burst_violations(0xFFC, 1, 3, AxiBurst.FIXED, 8)) == 3  # burst, align, 4K


@pytest.mark.parametrize("data_bits", [64, 256])
def test_axi_memory(request, data_bits):
    run_cocotb(
        test_id=request.node.nodeid,
        component=AxiPassThrough(addr_bits=ADDR_BITS, data_bits=data_bits, id_bits=ID_BITS),
        toplevel="axi_pass_through",
        test_module="tb.test_axi_memory",
        params={"data_bits": data_bits},
    )
