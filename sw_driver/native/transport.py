"""Native backend of the host driver: ``HotlineTop`` Verilated into a shared library with a C++
harness (``csrc/``) that owns the clock and every port, called through ctypes.

Python crosses into C++ once per transaction: a register access, a batch of stream beats, one
received packet. The harness clocks the design until the transaction completes (or the
watchdog fires); host memory lives in C++ and is shared with Python as a numpy array, so
preloading tables or checking written rows costs no call at all.
"""

from __future__ import annotations

import ctypes
import weakref
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from hotline_hw.axi import AxiResp
from hotline_hw.device_config import HotlineConfig

from ..transport import Transport, TransportTimeout
from ..wire import StreamBeat
from . import library as lib
from .build import build

__all__ = ["NativeTransport", "NativeMemory", "AxiProtocolError"]


_RESP_NAMES = {AxiResp.OKAY: "OKAY", AxiResp.EXOKAY: "EXOKAY", AxiResp.SLVERR: "SLVERR",
               AxiResp.DECERR: "DECERR"}


class AxiProtocolError(RuntimeError):
    """The DUT broke an AXI4 / AXI4-Lite / AXI4-Stream rule; the message names the port, the
    rule and the cycle. The transport refuses further calls afterwards."""


class NativeMemory:
    """Host memory of a :class:`NativeTransport`: bytes owned by the harness, seen from Python
    as the numpy ``uint8`` array :attr:`array` (no copy). Same calls as the testbenches'
    :class:`tb.axi_memory.HostMemory`: ``read`` / ``write`` by byte address, error injection,
    statistics."""

    def __init__(self, transport: "NativeTransport"):
        self._transport = transport
        size = transport._lib.hl_memory_size(transport._handle)
        pointer = transport._lib.hl_memory(transport._handle)
        self.array = np.ctypeslib.as_array((ctypes.c_uint8 * size).from_address(pointer))
        self.size = size

    def read(self, address: int, length: int) -> bytes:
        self._check(address, length)
        return self.array[address:address + length].tobytes()

    def write(self, address: int, data: bytes) -> None:
        self._check(address, len(data))
        self.array[address:address + len(data)] = np.frombuffer(bytes(data), dtype=np.uint8)

    def _check(self, address: int, length: int) -> None:
        if address < 0 or length < 0 or address + length > self.size:
            raise ValueError(f"host memory access {address:#x}+{length} outside "
                             f"{self.size} bytes")

    def inject_error(self, address: int, length: int, resp: int = AxiResp.SLVERR, *,
                     read: bool = True, write: bool = True) -> None:
        """Answer accesses to bytes ``address .. address+length-1`` with ``resp`` (SLVERR or
        DECERR): R beats whose bus word touches them carry zero data, write bursts with such a
        beat answer ``resp`` and leave those bytes (as ``HostMemory.inject_error``)."""
        if resp not in (AxiResp.SLVERR, AxiResp.DECERR):
            raise ValueError(f"resp must be SLVERR ({AxiResp.SLVERR}) or DECERR "
                             f"({AxiResp.DECERR}), not {resp}")
        if length <= 0:
            raise ValueError("length must be positive")
        t = self._transport
        t._lib.hl_inject(t._handle, address, address + length, int(resp), int(read), int(write))

    def clear_errors(self) -> None:
        t = self._transport
        t._lib.hl_clear_faults(t._handle)

    def stats(self) -> dict:
        """Bursts and beats served, maxima and what is outstanding now."""
        t = self._transport
        out = (ctypes.c_uint64 * len(lib.STATS))()
        t._lib.hl_stats(t._handle, out)
        return dict(zip(lib.STATS, map(int, out)))

    def check(self, idle: bool = False) -> None:
        """Raise ``AssertionError`` if, with ``idle``, a burst is still outstanding or W beats
        wait for their AW (protocol violations already raised :class:`AxiProtocolError`)."""
        if idle:
            s = self.stats()
            busy = {k: s[k] for k in ("outstanding_reads", "outstanding_writes",
                                      "w_beats_waiting") if s[k]}
            if busy:
                raise AssertionError(f"host memory not idle: {busy}")


class NativeTransport(Transport):
    """Transport to ``HotlineTop`` under Verilator in this process (see the module docstring).

    Parameters
    ----------
    config : HotlineConfig
        The build; the default is the ``rtl/`` build (``rtl/hotline_top.v``), any other is
        generated from the Amaranth sources. Built on first use and cached
        (:mod:`sw_driver.native.build`).
    memory_size : int
        Host memory bytes (addresses beyond answer DECERR).
    seed : int
        Seeds every random choice of the harness (stalls, reordering, jitter).
    read_latency, write_latency, latency_jitter, reorder, interleave, max_reads, max_writes :
        Host memory timing, as :class:`tb.axi_memory.HostMemory`'s knobs of the same names.
    stall_probability : float or mapping of channel ("aw", "w", "b", "ar", "r") to float
        Random stalls of host memory's channels, per cycle.
    input_gap, output_stall : float
        Per cycle: an input stream withholds its next beat / an output stream holds tready low.
    timeout_cycles : int
        Watchdog: a call that waits (register access, ``recv_*``, ``idle``) raises
        :class:`TransportTimeout` after this many cycles without a transfer on any port.
    waves : bool
        Use the build with FST tracing (a separate cached build); record with
        :meth:`record_waves`.
    build_root : path, optional
        Build cache directory (default ``sim_build/native``).

    Raises :class:`~sw_driver.native.build.NativeBuildError` if the build fails,
    :class:`TransportTimeout` from the watchdog, :class:`AxiProtocolError` when the DUT breaks
    a bus rule, ``OSError`` on a register error response.
    """

    def __init__(self, config: HotlineConfig = HotlineConfig(), *, memory_size: int = 1 << 24,
                 seed: int = 0, read_latency: int = 1, write_latency: int = 1,
                 latency_jitter: int = 0, reorder: bool = False, interleave: bool = True,
                 max_reads: int = 256, max_writes: int = 256,
                 stall_probability: float | Mapping[str, float] = 0.0,
                 input_gap: float = 0.0, output_stall: float = 0.0,
                 timeout_cycles: int = 200_000, waves: bool = False,
                 build_root: str | Path | None = None, verilog: str | None = None):
        if read_latency < 1 or write_latency < 1:
            raise ValueError("read_latency and write_latency must be >= 1")
        if max_reads < 1 or max_writes < 1:
            raise ValueError("max_reads and max_writes must be >= 1")
        if latency_jitter < 0 or memory_size <= 0 or timeout_cycles < 1:
            raise ValueError("latency_jitter >= 0, memory_size > 0 and timeout_cycles >= 1")
        stalls = _stalls(stall_probability)
        for name, value in (("input_gap", input_gap), ("output_stall", output_stall)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), not {value}")
        self.config = config
        self.timeout_cycles = int(timeout_cycles)
        self.build = build(config, verilog=verilog, waves=waves, root=build_root)
        self._lib = lib.load(self.build.library)
        knobs = lib.HarnessKnobs(
            memory_size=memory_size, seed=seed & (2 ** 64 - 1), read_latency=read_latency,
            write_latency=write_latency, latency_jitter=latency_jitter, reorder=int(reorder),
            interleave=int(interleave), max_reads=max_reads, max_writes=max_writes,
            stall=(ctypes.c_double * 5)(*stalls), input_gap=input_gap,
            output_stall=output_stall)
        handle = self._lib.hl_create(ctypes.byref(knobs))
        if not handle:
            raise MemoryError(f"the native harness could not be created ({memory_size} bytes "
                              f"of host memory)")
        self._handle = handle
        self._finalizer = weakref.finalize(self, self._lib.hl_destroy, handle)
        self.memory = NativeMemory(self)
        self._words = {port: self._lib.hl_port_words(handle, port) for port in range(4)}
        self._buffer = np.empty(1024 * max(self._words.values()), dtype=np.uint32)
        self._beats = ctypes.c_uint64()
        self._user = ctypes.c_uint64()
        self._reg_data = ctypes.c_uint32()
        self._reg_resp = ctypes.c_uint32()

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Free the simulation (the memory array must not be used afterwards)."""
        self.memory.array = None
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def cycle(self) -> int:
        """Rising edges simulated since the transport was created."""
        return int(self._lib.hl_cycle(self._handle))

    def reset(self, cycles: int = 3) -> None:
        """Hold ``rst`` for ``cycles``; queued beats, packets and bursts in flight are dropped
        (host memory contents stay)."""
        self._lib.hl_reset(self._handle, cycles)

    def run(self, cycles: int) -> None:
        """Clock ``cycles`` cycles, serving every port."""
        self._status(self._lib.hl_run(self._handle, cycles))

    def idle_loop(self, cycles: int) -> None:
        """Verilator's own loop on this build: ``cycles`` clock cycles with idle inputs and
        ready outputs, no harness work (the speed ceiling; use on an idle device only)."""
        self._lib.hl_idle_loop(self._handle, cycles)

    def record_waves(self, path: str | Path, start: int, stop: int) -> Path:
        """Record an FST of cycles ``start .. stop-1`` (absolute, see :attr:`cycle`) to
        ``path``; needs ``waves=True``."""
        path = Path(path)
        if start < 0 or stop <= start:
            raise ValueError(f"waves window {start}..{stop} is empty")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._status(self._lib.hl_waves(self._handle, str(path).encode(), start, stop))
        return path

    def inject_error(self, address: int, length: int = 1, *, read: bool = True,
                     write: bool = True) -> None:
        """As :meth:`sw_driver.model_device.ModelDevice.inject_error` (SLVERR until
        :meth:`clear_injected_errors`)."""
        self.memory.inject_error(address, length, AxiResp.SLVERR, read=read, write=write)

    def clear_injected_errors(self) -> None:
        self.memory.clear_errors()

    # -- registers -------------------------------------------------------------------------

    def _register(self, write: bool, address: int, value: int = 0, strb: int = 0xF) -> int:
        if not 0 <= address < 1 << 32:
            raise ValueError(f"register address {address:#x} out of range")
        status = self._lib.hl_register(self._handle, int(write), address, value & 0xFFFFFFFF,
                                       strb, self.timeout_cycles, self._reg_data, self._reg_resp)
        self._status(status)
        if self._reg_resp.value != AxiResp.OKAY:
            raise OSError(f"register {'write' if write else 'read'} at {address:#x} answered "
                          f"{_RESP_NAMES[self._reg_resp.value]}")
        return self._reg_data.value

    async def read_register(self, address: int) -> int:
        return self._register(False, address)

    async def write_register(self, address: int, value: int) -> None:
        self._register(True, address, value)

    def write_register_bytes(self, address: int, value: int, strb: int) -> None:
        """A write with byte strobes (``strb``: 4 bits)."""
        self._register(True, address, value, strb & 0xF)

    # -- streams -----------------------------------------------------------------------------

    async def send_lookups(self, beats: Sequence[StreamBeat]) -> None:
        self._send(lib.PORT_LOOKUPS, beats, "s_axis_lookups")

    async def send_write_back(self, beats: Sequence[StreamBeat]) -> None:
        self._send(lib.PORT_WRITE_BACK, beats, "s_axis_write_back")

    def _send(self, port: int, beats: Sequence[StreamBeat], name: str) -> None:
        beats = list(beats)
        if not beats:
            return
        if not beats[-1].tlast:
            raise ValueError(f"{name}: the last beat must have tlast")
        first = 0
        for n, beat in enumerate(beats):
            if beat.tuser != beats[first].tuser:
                raise ValueError(f"{name}: tuser must be constant within a packet (beat {n})")
            if beat.tlast:
                first = n + 1
        width = 4 * self._words[port]
        try:
            data = b"".join(int(b.tdata).to_bytes(width, "little") for b in beats)
        except OverflowError:
            raise ValueError(f"{name}: tdata wider than the port's {8 * width} bits") from None
        self.send_arrays(port, np.frombuffer(data, dtype=np.uint32),
                         np.fromiter((b.tuser for b in beats), np.uint64, len(beats)),
                         np.fromiter((b.tlast for b in beats), np.uint8, len(beats)))

    def send_arrays(self, port: int, data: np.ndarray, user: np.ndarray,
                    last: np.ndarray) -> None:
        """Queue beats from arrays (one call for any number): ``data`` the ``tdata`` words
        (``uint32``, little-endian word order, :meth:`port_words` per beat), ``user`` / ``last``
        one ``uint64`` / ``uint8`` per beat. ``port``: 0 lookups, 1 write-back."""
        data = np.ascontiguousarray(data, dtype=np.uint32)
        user = np.ascontiguousarray(user, dtype=np.uint64)
        last = np.ascontiguousarray(last, dtype=np.uint8)
        if data.size != user.size * self._words[port] or last.size != user.size:
            raise ValueError(f"{user.size} beats need {user.size * self._words[port]} data "
                             f"words and {user.size} tlast flags")
        self._status(self._lib.hl_send(self._handle, port, data.ctypes.data, user.ctypes.data,
                                       last.ctypes.data, user.size))

    def port_words(self, port: int) -> int:
        """32-bit words of ``tdata`` per beat on ``port`` (0..3: lookups, write-back,
        micro-batches, rows)."""
        return self._words[port]

    def recv_arrays(self, port: int) -> tuple[np.ndarray, int]:
        """The next packet on ``port`` (2 micro-batches, 3 rows) as a ``(beats, words)``
        ``uint32`` array (a copy) and its first beat's ``tuser``: one call, no per-beat
        Python."""
        words = self._receive(port)
        return (self._buffer[:self._beats.value * words].reshape(-1, words).copy(),
                self._user.value)

    def recv_packets(self, port: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The next ``count`` packets on ``port`` in one call: their beats back to back as a
        ``(beats, words)`` ``uint32`` array, each packet's beat count and first ``tuser``
        (``uint64`` arrays of ``count``). Waits until all ``count`` are complete (watchdog
        as for ``recv_*``)."""
        if count < 0:
            raise ValueError(f"count must be >= 0, not {count}")
        words = self._words[port]
        beats = np.empty(count, np.uint64)
        users = np.empty(count, np.uint64)
        total = ctypes.c_uint64()
        while True:
            status = self._lib.hl_recv_many(self._handle, port, count, self.timeout_cycles,
                                            self._buffer.ctypes.data, self._buffer.size // words,
                                            beats.ctypes.data, users.ctypes.data, total)
            if status != lib.STATUS_NEED_SPACE:
                break
            self._buffer = np.empty(2 * total.value * words, dtype=np.uint32)
        self._status(status)
        return (self._buffer[:total.value * words].reshape(-1, words).copy(), beats, users)

    def _receive(self, port: int) -> int:
        words = self._words[port]
        while True:
            status = self._lib.hl_recv(self._handle, port, self.timeout_cycles,
                                       self._buffer.ctypes.data, self._buffer.size // words,
                                       self._beats, self._user)
            if status != lib.STATUS_NEED_SPACE:
                break
            self._buffer = np.empty(2 * self._beats.value * words, dtype=np.uint32)
        self._status(status)
        return words

    def _recv(self, port: int) -> tuple[list[int], int]:
        words = self._receive(port)
        raw = self._buffer[:self._beats.value * words].tobytes()
        step = 4 * words
        return ([int.from_bytes(raw[i:i + step], "little") for i in range(0, len(raw), step)],
                self._user.value)

    async def recv_micro_batch(self) -> list[int]:
        return self._recv(lib.PORT_MICRO_BATCHES)[0]

    async def recv_row(self) -> tuple[list[int], int]:
        return self._recv(lib.PORT_ROWS)

    async def idle(self) -> None:
        self._status(self._lib.hl_idle(self._handle, self.timeout_cycles))

    def queued(self, port: int) -> int:
        """Beats not yet taken (ports 0, 1) / complete packets not yet received (2, 3)."""
        return int(self._lib.hl_queued(self._handle, port))

    # -- errors ------------------------------------------------------------------------------

    def _status(self, status: int) -> None:
        if status == lib.STATUS_OK:
            return
        message = self._lib.hl_message(self._handle).decode(errors="replace")
        if status == lib.STATUS_TIMEOUT:
            raise TransportTimeout(message)
        if status == lib.STATUS_PROTOCOL:
            raise AxiProtocolError(message)
        raise ValueError(message)


def _stalls(probability) -> list[float]:
    if isinstance(probability, Mapping):
        unknown = set(probability) - set(lib.CHANNELS)
        if unknown:
            raise KeyError(f"unknown channel(s) {sorted(unknown)}; channels: "
                           f"{', '.join(lib.CHANNELS)}")
        values = [float(probability.get(name, 0.0)) for name in lib.CHANNELS]
    else:
        values = [float(probability)] * len(lib.CHANNELS)
    for name, value in zip(lib.CHANNELS, values):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"stall probability of {name} must be in [0, 1], not {value}")
    return values
