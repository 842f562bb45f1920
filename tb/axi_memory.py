"""Host memory for the testbenches of our AXI4 managers (gather engine, later the accelerator).

:class:`HostMemory` is a :class:`cocotbext.axi.AxiRam` (same storage, same ``read`` /
``write`` / ``hexdump`` backdoor for the testbench) whose read and write sides are replaced by
pipelined models with configurable latency, out-of-order answers, random stalls on every
channel, error injection, protocol checks and statistics. It is bound to a DUT's manager port
whose Verilog ports are ``<prefix>__araddr`` and so on (Amaranth flattening)::

    memory = HostMemory.from_prefix(dut, "m_axi", size=1 << 20, rng=rng, read_latency=100)
    memory.write(0x1000, table_bytes)           # preload
    ...                                          # run the DUT
    memory.check(idle=True)                      # no protocol violation, nothing left over

Contract
--------
Cycles.
    ``cycle`` counts the rising edges of ``clock`` since the model was built. Every handshake
    is stamped with the index of the edge at which it happened (``ar_log`` / ``aw_log``).

Read latency (pipelined).
    A burst whose AR handshake happens at edge ``a`` drives RVALID for its first beat at the
    earliest at edge ``a + read_latency`` (RVALID is high from the cycle that edge starts; the
    first R handshake is at edge ``a + read_latency + 1`` at the earliest). ``read_latency`` >= 1
    (1 = a registered RAM); with ``latency_jitter`` = J each burst's latency is drawn from
    ``read_latency .. read_latency + J`` (uniform, from ``rng``). Latency never serialises:
    any number of bursts (up to ``max_reads``) wait out their latency at the same time and the
    R channel can carry one beat per cycle. A burst is *outstanding* from its AR handshake
    until its last beat is handed to the R driver; ARREADY is low while ``max_reads`` bursts
    are outstanding.

Write latency (pipelined).
    A burst is complete when it has its AW and all its W beats; its B response is valid at the
    earliest at edge ``max(AW edge, last W edge) + write_latency`` (``write_latency`` >= 1;
    plus ``0 .. latency_jitter`` drawn per burst).
    W beats may arrive before their AW (they are buffered; W has no ID, so beats belong to the
    bursts in AW order). Writes are applied to memory as the beats are matched with their AW,
    byte lane by byte lane as WSTRB says. AWREADY is low while ``max_writes`` bursts (AW
    accepted, B not yet handed to the B driver) are outstanding. WREADY does not depend on AW.

Ordering.
    ``reorder=False``: R bursts strictly in AR order, beats of one burst back to back (no
    interleaving); B in AW order. ``reorder=True``: for every beat (every B) the model picks at
    random (from ``rng``) among the bursts whose latency has elapsed and that are the oldest of
    their ID, so bursts with different IDs come back in any order and, with ``interleave=True``
    (default), their R beats interleave; with ``interleave=False`` a started burst finishes
    before another starts. Bursts with the same ID are always answered in request order.

Stalls.
    Every channel takes a pause generator (an iterator of bools, one per cycle, True = stall):
    AR / AW / W stalls hold the READY low, R / B stalls put gaps in VALID.
    :meth:`set_stalls` installs independent :func:`tb.streams.random_pause` generators seeded
    from one rng; :meth:`set_pause_generator` sets one channel's.

Errors.
    :meth:`inject_error` marks a byte range: every R beat whose bus word touches it returns
    that RRESP with zero data (the burst still returns all its beats with RLAST on the last);
    every write burst with a beat whose bus word touches it returns that BRESP, and the bytes
    in the range are not written (the other strobed bytes are). Several responses: the largest
    code wins (DECERR > SLVERR). Beats outside ``[0, size)`` get DECERR (not a violation).

Protocol checks (violations are appended to ``violations`` and logged; :meth:`check` raises
``AssertionError`` listing them; ``strict=True`` raises at once, failing the running test).
    Per AR / AW (:func:`burst_violations`): AxBURST INCR only; AxSIZE = the full bus width;
    AxLEN <= 255; address aligned to the bus width; the burst does not cross a 4 KiB boundary.
    A violating burst is still served (as INCR of full-width beats from the aligned-down
    address) so the DUT does not hang. Per write burst: WLAST exactly on beat AWLEN+1. An early
    WLAST ends the burst there; a missing WLAST ends it after AWLEN+1 beats (both answered with
    B). ``check(idle=True)`` also requires that nothing is outstanding and no W beat is left
    without its AW (extra W beats). R / B beyond what was requested cannot be produced: every
    response is built from an accepted burst (``check`` also verifies ``r_beats`` against the
    beats requested and ``b_responses`` against the AWs).

Statistics.
    ``ar_bursts``, ``r_beats``, ``aw_bursts``, ``w_beats``, ``b_responses``,
    ``max_outstanding_reads``, ``max_outstanding_writes``; ``ar_log`` / ``aw_log``: one
    :class:`BurstLog` ``(cycle, id, address, len)`` per burst in handshake order (``len`` is
    AxLEN, beats - 1). ``r_beats`` / ``b_responses`` count responses handed to the channel
    drivers (they are on the bus a few cycles later at most). :meth:`reset_stats` zeroes all.

Randomness: only from the ``rng`` passed in (reordering, jitter) and the generators given for
stalls.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from typing import Iterator, Mapping, NamedTuple

import cocotb
from cocotb.triggers import ClockCycles, FallingEdge, First, RisingEdge
from cocotb.utils import get_sim_time
from cocotbext.axi import AxiBus, AxiRam
from cocotbext.axi.axi_channels import (AxiARSink, AxiAWSink, AxiBSource, AxiBTransaction,
                                        AxiRSource, AxiRTransaction, AxiWSink)
from cocotbext.axi.memory import Memory
from cocotbext.axi.reset import Reset

from hotline_hw.axi import AxiBurst, AxiResp

from .streams import random_pause

__all__ = ["HostMemory", "BurstLog", "CHANNELS", "burst_violations"]

#: Channel names accepted by :meth:`HostMemory.set_pause_generator` / :meth:`set_stalls`.
CHANNELS = ("aw", "w", "b", "ar", "r")

_BURST_NAMES = {AxiBurst.FIXED: "FIXED", AxiBurst.INCR: "INCR", AxiBurst.WRAP: "WRAP"}


class BurstLog(NamedTuple):
    """One accepted AR or AW: handshake edge, ID, address, AxLEN (beats - 1)."""
    cycle: int
    id: int
    address: int
    len: int


def burst_violations(address: int, axlen: int, axsize: int, axburst: int,
                     bus_bytes: int) -> list[str]:
    """The protocol rules one AR / AW breaks (empty list: none), in words.

    Rules: INCR only, AxSIZE = log2(``bus_bytes``), AxLEN in 0..255, ``address`` aligned to
    ``bus_bytes``, and the burst (``axlen + 1`` beats of ``2**axsize`` bytes from the address
    aligned to the beat size) within one 4 KiB page.
    """
    problems = []
    if axburst != AxiBurst.INCR:
        problems.append(f"AxBURST={axburst} ({_BURST_NAMES.get(axburst, 'reserved')}): "
                        f"only INCR is accepted")
    full_size = bus_bytes.bit_length() - 1
    if axsize != full_size:
        problems.append(f"AxSIZE={axsize} ({1 << axsize} bytes per beat): must be {full_size} "
                        f"(the full {bus_bytes}-byte bus)")
    if not 0 <= axlen <= 255:
        problems.append(f"AxLEN={axlen}: must be 0..255")
    if address % bus_bytes:
        problems.append(f"address 0x{address:x} is not aligned to the {bus_bytes}-byte bus")
    beat_bytes = 1 << axsize
    start = address - address % beat_bytes
    end = start + (axlen + 1) * beat_bytes          # exclusive
    if start >> 12 != (end - 1) >> 12:
        problems.append(f"burst 0x{start:x}..0x{end - 1:x} crosses a 4 KiB boundary")
    return problems


# --- channel models -------------------------------------------------------------------------

class _StampedSink:
    """Mixin for cocotbext-axi sinks: every received transaction gets ``edge``, the index of
    the clock edge of its handshake, and READY also drops while ``side`` has no room.

    The stock sink builds each transaction with ``self._transaction_obj()`` right at the
    handshake edge: overriding that stamps it exactly, whatever order the coroutines woken by
    that edge run in.
    """

    def _setup(self, memory: "HostMemory", side=None):
        self._memory = memory
        self._side = side

    def _transaction_obj(self):
        obj = self._base_transaction()
        obj.edge = self._memory.current_cycle()
        return obj

    def full(self):
        if self._side is not None and self.count() + self._side.outstanding >= self._side.limit:
            return True
        return super().full()


class _ARSink(_StampedSink, AxiARSink):
    _base_transaction = AxiARSink._transaction_obj


class _AWSink(_StampedSink, AxiAWSink):
    _base_transaction = AxiAWSink._transaction_obj


class _WSink(_StampedSink, AxiWSink):
    _base_transaction = AxiWSink._transaction_obj


class _Burst:
    """An accepted burst on its way through the model."""
    __slots__ = ("id", "address", "axlen", "beats", "done", "next_word", "accept_edge",
                 "ready", "seq", "resp", "last_edge")

    def __init__(self, id_, address, axlen, bus_bytes, accept_edge, seq):
        self.id = id_
        self.address = address
        self.axlen = axlen
        self.beats = axlen + 1
        self.done = 0                                   # beats sent (R) / received (W)
        self.next_word = address - address % bus_bytes  # bus word of the next beat
        self.accept_edge = accept_edge
        self.ready = None                               # earliest edge for its response
        self.seq = seq                                  # global request order
        self.resp = AxiResp.OKAY                        # write bursts: BRESP so far
        self.last_edge = accept_edge                    # write bursts: edge of the last W


class _ResponseQueue:
    """Bursts waiting to be answered: per-ID FIFOs, and the ordering policy."""

    def __init__(self, memory: "HostMemory"):
        self.memory = memory
        self.by_id: dict[int, deque] = {}
        self.current = None            # burst being sent (interleave=False)

    def clear(self):
        self.by_id.clear()
        self.current = None

    def __bool__(self):
        return bool(self.by_id)

    def add(self, burst: _Burst):
        self.by_id.setdefault(burst.id, deque()).append(burst)

    def remove(self, burst: _Burst):
        queue = self.by_id[burst.id]
        assert queue[0] is burst
        queue.popleft()
        if not queue:
            del self.by_id[burst.id]
        if self.current is burst:
            self.current = None

    def pick(self, edge: int, beats: bool):
        """The burst to answer at ``edge`` (None if none may)."""
        memory = self.memory
        if not memory.reorder:
            oldest = min((q[0] for q in self.by_id.values()), key=lambda b: b.seq, default=None)
            return oldest if oldest is not None and oldest.ready <= edge else None
        if beats and not memory.interleave and self.current is not None:
            return self.current
        eligible = [q[0] for q in self.by_id.values() if q[0].ready <= edge]
        if not eligible:
            return None
        choice = eligible[0] if len(eligible) == 1 else memory.rng.choice(eligible)
        if beats:
            self.current = choice
        return choice

    def next_ready(self):
        """Earliest edge at which a burst may be answered (None if none is waiting)."""
        memory = self.memory
        if not self.by_id:
            return None
        if not memory.reorder:
            return min((q[0] for q in self.by_id.values()), key=lambda b: b.seq).ready
        return min(q[0].ready for q in self.by_id.values())


class _Side(Reset):
    """Common part of the read and write sides: the process woken at falling edges."""

    _RESPONSE_DEPTH = 2       # responses queued in the R / B driver ahead of the bus

    def __init__(self, memory: "HostMemory", clock, reset, reset_active_level):
        self.memory = memory
        self.clock = clock
        self.outstanding = 0
        self._task = None
        self._seq = 0
        super().__init__()

    def _handle_reset(self, state):
        if state:
            if self._task is not None:
                self._task.cancel()
                self._task = None
            self._clear()
        elif self._task is None:
            self._task = cocotb.start_soon(self._run())

    def _clear(self):
        raise NotImplementedError

    def _sinks(self):
        raise NotImplementedError

    def _step(self, edge: int):
        """At a falling edge, before ``edge``: take handshakes, send responses due at ``edge``.

        Returns the number of falling edges until the next step is needed (None: only on a new
        handshake).
        """
        raise NotImplementedError

    async def _run(self):
        falling = FallingEdge(self.clock)
        sinks = self._sinks()
        await falling
        while True:
            wait = self._step(self.memory.cycle + 1)
            if wait == 1:
                await falling
                continue
            triggers = [sink.active_event.wait() for sink in sinks]
            if wait is not None:
                triggers.append(ClockCycles(self.clock, wait, rising=False))
            await First(*triggers)
            if int(self.clock.value):   # woken by a handshake at a rising edge
                await falling

    def _respond_wait(self, queue: _ResponseQueue, driver, edge: int):
        """Falling edges until ``queue`` may need the driver again."""
        if not queue:
            return None
        if driver.count() >= self._RESPONSE_DEPTH:
            return 1
        ready = queue.next_ready()
        return max(1, ready - edge)


class HostMemoryRead(_Side):
    """Read side of :class:`HostMemory`: AR sink, pipelined latency, R source."""

    def __init__(self, memory: "HostMemory", bus, clock, reset=None, reset_active_level=True):
        super().__init__(memory, clock, reset, reset_active_level)
        self.ar_channel = _ARSink(bus.ar, clock, reset, reset_active_level)
        self.ar_channel._setup(memory, self)
        self.r_channel = AxiRSource(bus.r, clock, reset, reset_active_level)
        self.r_channel.queue_occupancy_limit = self._RESPONSE_DEPTH
        self.bus_bytes = len(self.r_channel.bus.rdata) // 8
        assert len(self.r_channel.bus.rid) == len(self.ar_channel.bus.arid)
        self.pending = _ResponseQueue(memory)
        self._init_reset(reset, reset_active_level)

    @property
    def limit(self):
        return self.memory.max_reads

    def _clear(self):
        self.pending.clear()
        self.outstanding = 0
        self.ar_channel.clear()
        self.r_channel.clear()

    def _sinks(self):
        return [self.ar_channel]

    def _accept(self, ar):
        memory = self.memory
        arid, address = int(ar.arid), int(ar.araddr)
        axlen, axsize, axburst = int(ar.arlen), int(ar.arsize), int(ar.arburst)
        memory.ar_log.append(BurstLog(ar.edge, arid, address, axlen))
        memory.ar_bursts += 1
        for problem in burst_violations(address, axlen, axsize, axburst, self.bus_bytes):
            memory._violation(f"AR at cycle {ar.edge} (id {arid}, address 0x{address:x}, "
                              f"len {axlen}): {problem}")
        burst = _Burst(arid, address, axlen, self.bus_bytes, ar.edge, self._seq)
        burst.ready = ar.edge + memory.read_latency + memory._jitter()
        self._seq += 1
        self.pending.add(burst)
        self.outstanding += 1
        memory._requested_r_beats += burst.beats
        memory.max_outstanding_reads = max(memory.max_outstanding_reads, self.outstanding)

    def _step(self, edge):
        memory = self.memory
        ar_channel, r_channel = self.ar_channel, self.r_channel
        while not ar_channel.empty():
            self._accept(ar_channel.recv_nowait())
        while r_channel.count() < self._RESPONSE_DEPTH:
            burst = self.pending.pick(edge, beats=True)
            if burst is None:
                break
            word = burst.next_word
            resp = memory._access_resp(word, self.bus_bytes, read=True)
            data = memory.read(word, self.bus_bytes) if resp == AxiResp.OKAY else b""
            burst.done += 1
            burst.next_word += self.bus_bytes
            last = burst.done == burst.beats
            r_channel.send_nowait(AxiRTransaction(
                rid=burst.id, rdata=int.from_bytes(data, "little"), rresp=resp, rlast=last))
            memory.r_beats += 1
            if last:
                self.pending.remove(burst)
                self.outstanding -= 1
                ar_channel.wake_event.set()      # ARREADY may rise again
        return self._respond_wait(self.pending, r_channel, edge)


class HostMemoryWrite(_Side):
    """Write side of :class:`HostMemory`: AW and W sinks, memory update, pipelined B."""

    def __init__(self, memory: "HostMemory", bus, clock, reset=None, reset_active_level=True):
        super().__init__(memory, clock, reset, reset_active_level)
        self.aw_channel = _AWSink(bus.aw, clock, reset, reset_active_level)
        self.aw_channel._setup(memory, self)
        self.w_channel = _WSink(bus.w, clock, reset, reset_active_level)
        self.w_channel._setup(memory)
        self.b_channel = AxiBSource(bus.b, clock, reset, reset_active_level)
        self.b_channel.queue_occupancy_limit = self._RESPONSE_DEPTH
        self.bus_bytes = len(self.w_channel.bus.wdata) // 8
        self.strb_mask = (1 << self.bus_bytes) - 1
        self.wstrb_present = hasattr(self.w_channel.bus, "wstrb")
        assert len(self.b_channel.bus.bid) == len(self.aw_channel.bus.awid)
        self.awaiting_data: deque[_Burst] = deque()     # AW accepted, W beats missing
        self.w_beats: deque = deque()                   # W beats not yet matched with an AW
        self.pending = _ResponseQueue(memory)           # complete, B not yet sent
        self._init_reset(reset, reset_active_level)

    @property
    def limit(self):
        return self.memory.max_writes

    def _clear(self):
        self.awaiting_data.clear()
        self.w_beats.clear()
        self.pending.clear()
        self.outstanding = 0
        self.aw_channel.clear()
        self.w_channel.clear()
        self.b_channel.clear()

    def _sinks(self):
        return [self.aw_channel, self.w_channel]

    def _accept(self, aw):
        memory = self.memory
        awid, address = int(aw.awid), int(aw.awaddr)
        axlen, axsize, axburst = int(aw.awlen), int(aw.awsize), int(aw.awburst)
        memory.aw_log.append(BurstLog(aw.edge, awid, address, axlen))
        memory.aw_bursts += 1
        memory._requested_b += 1
        for problem in burst_violations(address, axlen, axsize, axburst, self.bus_bytes):
            memory._violation(f"AW at cycle {aw.edge} (id {awid}, address 0x{address:x}, "
                              f"len {axlen}): {problem}")
        burst = _Burst(awid, address, axlen, self.bus_bytes, aw.edge, self._seq)
        self._seq += 1
        self.awaiting_data.append(burst)
        self.outstanding += 1
        memory.max_outstanding_writes = max(memory.max_outstanding_writes, self.outstanding)

    def _write_beat(self, burst: _Burst, w):
        memory, lanes = self.memory, self.bus_bytes
        word = burst.next_word
        burst.next_word += lanes
        strb = int(w.wstrb) if self.wstrb_present else self.strb_mask
        resp = memory._access_resp(word, lanes, read=False)
        if resp != AxiResp.OKAY:
            burst.resp = max(burst.resp, resp)
            if word < 0 or word + lanes > memory.size:
                return                                   # outside memory: nothing to write
            strb &= ~memory._error_lanes(word, lanes)
        if not strb:
            return
        data = int(w.wdata).to_bytes(lanes, "little")
        if strb == self.strb_mask:
            memory.write(word, data)
            return
        lane = 0
        while lane < lanes:                              # each run of enabled lanes
            if strb >> lane & 1:
                end = lane
                while end < lanes and strb >> end & 1:
                    end += 1
                memory.write(word + lane, data[lane:end])
                lane = end
            else:
                lane += 1

    def _step(self, edge):
        memory = self.memory
        aw_channel, w_channel, b_channel = self.aw_channel, self.w_channel, self.b_channel
        while not aw_channel.empty():
            self._accept(aw_channel.recv_nowait())
        while not w_channel.empty():
            self.w_beats.append(w_channel.recv_nowait())
            memory.w_beats += 1
        # W beats belong to the bursts in AW order.
        while self.awaiting_data and self.w_beats:
            burst = self.awaiting_data[0]
            w = self.w_beats.popleft()
            self._write_beat(burst, w)
            burst.done += 1
            burst.last_edge = max(burst.last_edge, w.edge)
            wlast = bool(int(w.wlast))
            if burst.done == burst.beats or wlast:
                if burst.done < burst.beats:
                    memory._violation(
                        f"W burst of AW at cycle {burst.accept_edge} (id {burst.id}, address "
                        f"0x{burst.address:x}, len {burst.axlen}): WLAST on beat {burst.done} "
                        f"of {burst.beats} (cycle {w.edge})")
                elif not wlast:
                    memory._violation(
                        f"W burst of AW at cycle {burst.accept_edge} (id {burst.id}, address "
                        f"0x{burst.address:x}, len {burst.axlen}): WLAST low on its last beat "
                        f"(beat {burst.beats}, cycle {w.edge})")
                self.awaiting_data.popleft()
                burst.ready = burst.last_edge + memory.write_latency + memory._jitter()
                self.pending.add(burst)
        while b_channel.count() < self._RESPONSE_DEPTH:
            burst = self.pending.pick(edge, beats=False)
            if burst is None:
                break
            b_channel.send_nowait(AxiBTransaction(bid=burst.id, bresp=burst.resp))
            memory.b_responses += 1
            self.pending.remove(burst)
            self.outstanding -= 1
            aw_channel.wake_event.set()          # AWREADY may rise again
        return self._respond_wait(self.pending, b_channel, edge)


# --- the memory -----------------------------------------------------------------------------

class HostMemory(AxiRam):
    """AXI4 subordinate memory with pipelined latency, reordering, stalls, errors and checks.

    See the module docstring for the full contract.

    Parameters
    ----------
    bus : cocotbext.axi.AxiBus
        The DUT's manager port (see :meth:`from_prefix`).
    clock, reset :
        Clock and (synchronous, active-high by default) reset signals.
    size : int
        Memory size in bytes (addresses ``0 .. size-1``; beyond: DECERR).
    rng : random.Random, optional
        Source of all randomness (reordering, stall generators made by ``stall_probability``).
        Required when ``reorder``, ``latency_jitter`` or ``stall_probability`` is used.
    read_latency, write_latency : int
        Cycles (edges) from AR handshake to first RVALID / from a write burst's completion to
        BVALID; >= 1.
    latency_jitter : int
        Extra latency per burst, uniform in ``0 .. latency_jitter`` (from ``rng``): makes
        bursts of different IDs overtake each other when ``reorder`` is on.
    reorder : bool
        Answer bursts of different IDs in random order (same ID: always in order).
    interleave : bool
        With ``reorder``: interleave R beats of different bursts.
    max_reads, max_writes : int
        Outstanding read / write bursts accepted before ARREADY / AWREADY stay low.
    stall_probability : float or mapping of channel to float
        If non-zero, :meth:`set_stalls` is called with ``rng`` and this.
    strict : bool
        Raise at the first protocol violation instead of only recording it.
    mem : optional
        Storage to share (e.g. another AxiRam's ``mem``); a new sparse memory by default.
    """

    def __init__(self, bus: AxiBus, clock, reset=None, *, size: int,
                 rng: random.Random | None = None, read_latency: int = 1,
                 write_latency: int = 1, latency_jitter: int = 0, reorder: bool = False,
                 interleave: bool = True,
                 max_reads: int = 256, max_writes: int = 256,
                 stall_probability: float | Mapping[str, float] = 0.0, strict: bool = False,
                 reset_active_level: bool = True, mem=None):
        if read_latency < 1 or write_latency < 1:
            raise ValueError("read_latency and write_latency must be >= 1")
        if max_reads < 1 or max_writes < 1:
            raise ValueError("max_reads and max_writes must be >= 1")
        if rng is None and (reorder or stall_probability or latency_jitter):
            raise ValueError("reorder, latency_jitter and stalls need an rng "
                             "(random.Random(cocotb.RANDOM_SEED))")
        # AxiRam.__init__ would start the stock one-burst-at-a-time sides: build ours instead.
        Memory.__init__(self, size, mem)
        self.clock = clock
        self.rng = rng
        self.read_latency = read_latency
        self.write_latency = write_latency
        self.latency_jitter = latency_jitter
        self.reorder = reorder
        self.interleave = interleave
        self.max_reads = max_reads
        self.max_writes = max_writes
        self.strict = strict
        entity = bus.read.ar._entity._name
        self.log = logging.getLogger(f"cocotb.{entity}.{bus.read.ar._name or 'axi'}.memory")
        self.violations: list[str] = []
        self._errors: list[tuple[int, int, int, bool, bool]] = []
        self.cycle = 0
        self._cycle_time = None
        self.reset_stats()
        cocotb.start_soon(self._count_cycles())
        self.write_if = HostMemoryWrite(self, bus.write, clock, reset, reset_active_level)
        self.read_if = HostMemoryRead(self, bus.read, clock, reset, reset_active_level)
        self.bus_bytes = self.read_if.bus_bytes
        if stall_probability:
            self.set_stalls(rng, stall_probability)

    @classmethod
    def from_prefix(cls, dut, prefix: str, clock=None, reset=None, **kwargs) -> "HostMemory":
        """Bound to ``dut``'s ports ``<prefix>__araddr`` ...; clock / reset default to
        ``dut.clk`` / ``dut.rst``."""
        bus = AxiBus.from_prefix(dut, prefix, bus_separator="__")
        return cls(bus, dut.clk if clock is None else clock,
                   dut.rst if reset is None else reset, **kwargs)

    # --- cycles -------------------------------------------------------------------------

    async def _count_cycles(self):
        edge = RisingEdge(self.clock)
        while True:
            await edge
            self.cycle += 1
            self._cycle_time = get_sim_time()

    def current_cycle(self) -> int:
        """Index of the current rising edge when called at one (even before :attr:`cycle` has
        counted it), else of the last one."""
        return self.cycle if get_sim_time() == self._cycle_time else self.cycle + 1

    def _jitter(self) -> int:
        return self.rng.randint(0, self.latency_jitter) if self.latency_jitter else 0

    # --- statistics -------------------------------------------------------------------------

    def reset_stats(self):
        """Zero the counters, maxima and logs (outstanding bursts are not forgotten)."""
        self.ar_bursts = self.r_beats = 0
        self.aw_bursts = self.w_beats = self.b_responses = 0
        self.max_outstanding_reads = self.max_outstanding_writes = 0
        self._requested_r_beats = self._requested_b = 0
        self.ar_log: list[BurstLog] = []
        self.aw_log: list[BurstLog] = []
        if getattr(self, "read_if", None) is not None:      # not in __init__
            self._requested_r_beats = sum(burst.beats - burst.done
                                          for queue in self.read_if.pending.by_id.values()
                                          for burst in queue)
            self._requested_b = self.write_if.outstanding
            self.max_outstanding_reads = self.read_if.outstanding
            self.max_outstanding_writes = self.write_if.outstanding

    def stats(self) -> dict:
        """Counters as a dict (JSON-able)."""
        return {"cycle": self.cycle, "ar_bursts": self.ar_bursts, "r_beats": self.r_beats,
                "aw_bursts": self.aw_bursts, "w_beats": self.w_beats,
                "b_responses": self.b_responses,
                "max_outstanding_reads": self.max_outstanding_reads,
                "max_outstanding_writes": self.max_outstanding_writes}

    @property
    def outstanding_reads(self) -> int:
        return self.read_if.outstanding

    @property
    def outstanding_writes(self) -> int:
        return self.write_if.outstanding

    def idle(self) -> bool:
        """No burst outstanding, no W beat waiting for its AW, no handshake unprocessed."""
        r, w = self.read_if, self.write_if
        return not (r.outstanding or w.outstanding or w.w_beats or r.ar_channel.count()
                    or w.aw_channel.count() or w.w_channel.count()
                    or r.r_channel.count() or w.b_channel.count())

    # --- stalls ---------------------------------------------------------------------------

    def _channel(self, name: str):
        channels = {"aw": self.write_if.aw_channel, "w": self.write_if.w_channel,
                    "b": self.write_if.b_channel, "ar": self.read_if.ar_channel,
                    "r": self.read_if.r_channel}
        if name not in channels:
            raise KeyError(f"unknown channel {name!r}; channels: {', '.join(CHANNELS)}")
        return channels[name]

    def set_pause_generator(self, channel: str, generator: Iterator[bool] | None):
        """Stall ``channel`` ("aw", "w", "b", "ar", "r") on the cycles ``generator`` yields True
        (READY low on AW / W / AR, no VALID on R / B); None removes it."""
        self._channel(channel).set_pause_generator(generator)

    def set_stalls(self, rng: random.Random, probability: float | Mapping[str, float],
                   channels=CHANNELS):
        """Random stalls: each of ``channels`` stalls each cycle with ``probability`` (or
        ``probability[channel]``), from its own generator seeded from ``rng``."""
        for name in channels:
            p = probability.get(name, 0.0) if isinstance(probability, Mapping) else probability
            seed = rng.getrandbits(64)
            self.set_pause_generator(name, random_pause(random.Random(seed), p) if p else None)

    def clear_stalls(self):
        for name in CHANNELS:
            self.set_pause_generator(name, None)

    # --- errors ---------------------------------------------------------------------------

    def inject_error(self, address: int, length: int, resp: int = AxiResp.SLVERR, *,
                     read: bool = True, write: bool = True):
        """Answer accesses to bytes ``address .. address+length-1`` with ``resp`` (SLVERR or
        DECERR): reads (if ``read``) get zero data, writes (if ``write``) leave those bytes."""
        if resp not in (AxiResp.SLVERR, AxiResp.DECERR):
            raise ValueError(f"resp must be SLVERR ({AxiResp.SLVERR}) or DECERR "
                             f"({AxiResp.DECERR}), not {resp}")
        if length <= 0:
            raise ValueError("length must be positive")
        self._errors.append((address, address + length, int(resp), read, write))

    def clear_errors(self):
        self._errors.clear()

    def _access_resp(self, word: int, lanes: int, *, read: bool) -> int:
        if word < 0 or word + lanes > self.size:
            return AxiResp.DECERR
        resp = AxiResp.OKAY
        for start, end, code, on_read, on_write in self._errors:
            if (on_read if read else on_write) and start < word + lanes and word < end:
                resp = max(resp, code)
        return resp

    def _error_lanes(self, word: int, lanes: int) -> int:
        """Lane mask of the bytes of bus word ``word`` that writes must not change."""
        mask = 0
        for start, end, _, _, on_write in self._errors:
            if on_write:
                for lane in range(max(start, word) - word, min(end, word + lanes) - word):
                    mask |= 1 << lane
        return mask

    # --- checks ---------------------------------------------------------------------------

    def _violation(self, message: str):
        self.violations.append(message)
        self.log.error("AXI protocol violation: %s", message)
        if self.strict:
            raise AssertionError(f"AXI protocol violation: {message}")

    def check(self, idle: bool = False):
        """Raise ``AssertionError`` listing every protocol violation seen; with ``idle`` also
        if a burst is still outstanding or W beats have no AW."""
        problems = list(self.violations)
        if self.r_beats > self._requested_r_beats:
            problems.append(f"model error: {self.r_beats} R beats for "
                            f"{self._requested_r_beats} requested")
        if self.b_responses > self._requested_b:
            problems.append(f"model error: {self.b_responses} B responses for "
                            f"{self._requested_b} AWs")
        if idle:
            r, w = self.read_if, self.write_if
            if r.outstanding or r.ar_channel.count():
                problems.append(f"{r.outstanding + r.ar_channel.count()} read bursts still "
                                f"outstanding")
            if w.outstanding or w.aw_channel.count():
                problems.append(f"{w.outstanding + w.aw_channel.count()} write bursts still "
                                f"outstanding")
            extra = len(w.w_beats) + w.w_channel.count()
            if extra:
                problems.append(f"{extra} W beats without an AW (more W beats than AWLEN+1 "
                                f"summed over the AWs)")
        if problems:
            raise AssertionError("HostMemory: " + "; ".join(problems))
