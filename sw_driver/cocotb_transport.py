"""cocotb backend of the host driver: ``HotlineTop`` in a simulation, driven through
cocotbext-axi bus models (AXI4-Lite manager, AXI4-Stream sources and sinks); host memory is an
AXI4 subordinate model the caller binds to ``m_axi`` (an ``AxiRam``, or the testbenches'
``HostMemory`` with latency, stalls and error injection).

Only importable inside a cocotb simulation.
"""

from __future__ import annotations

import inspect
import logging
from typing import Sequence

from cocotb.task import resume
from cocotb.triggers import ClockCycles, with_timeout
from cocotbext.axi import (AxiLiteBus, AxiLiteMaster, AxiResp, AxiStreamBus, AxiStreamFrame,
                           AxiStreamSink, AxiStreamSource)

from hotline_hw.device_config import HotlineConfig

from .driver import HotlineDriver
from .transport import Transport, TransportTimeout
from .wire import StreamBeat

__all__ = ["BridgedHotlineDriver", "CocotbTransport"]


class CocotbTransport(Transport):
    """Transport to a ``HotlineTop`` DUT.

    Parameters
    ----------
    dut :
        The cocotb handle of the top (ports as in ``rtl/hotline_top.md``).
    config : HotlineConfig
        The build the DUT was generated from.
    memory :
        Host memory bound to ``dut``'s ``m_axi`` (``read`` / ``write`` by address).
    clock_ns : float
        Clock period, for timeouts.
    timeout_cycles : int
        How long a ``recv_*`` waits for a packet before raising ``TransportTimeout``.
    """

    def __init__(self, dut, config: HotlineConfig, memory, *, clock_ns: float = 10,
                 timeout_cycles: int = 200_000):
        self.dut = dut
        self.config = config
        self.memory = memory
        self.clock_ns = clock_ns
        self.timeout_cycles = timeout_cycles
        clk, rst = dut.clk, dut.rst
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil", bus_separator="__"),
                                  clk, rst)
        self.lookups = AxiStreamSource(
            AxiStreamBus.from_prefix(dut, "s_axis_lookups", bus_separator="__"), clk, rst)
        self.write_backs = AxiStreamSource(
            AxiStreamBus.from_prefix(dut, "s_axis_write_back", bus_separator="__"), clk, rst)
        self.micro_batches = AxiStreamSink(
            AxiStreamBus.from_prefix(dut, "m_axis_micro_batches", bus_separator="__"), clk, rst)
        self.rows = AxiStreamSink(
            AxiStreamBus.from_prefix(dut, "m_axis_rows", bus_separator="__"), clk, rst)
        # The bus models log every transaction at INFO: millions of lines in a long run.
        for model in (self.axil.read_if, self.axil.write_if, self.lookups, self.write_backs,
                      self.micro_batches, self.rows):
            model.log.setLevel(logging.WARNING)

    # -- registers -------------------------------------------------------------------------

    async def read_register(self, address: int) -> int:
        response = await self.axil.read(address, 4)
        if response.resp != AxiResp.OKAY:
            raise OSError(f"register read at {address:#x} answered {response.resp!r}")
        return int.from_bytes(response.data, "little")

    async def write_register(self, address: int, value: int) -> None:
        response = await self.axil.write(address, (value & 0xFFFFFFFF).to_bytes(4, "little"))
        if response.resp != AxiResp.OKAY:
            raise OSError(f"register write at {address:#x} answered {response.resp!r}")

    # -- streams -----------------------------------------------------------------------------

    @staticmethod
    def _frames(beats: Sequence[StreamBeat], width_bytes: int):
        frame: list[StreamBeat] = []
        for beat in beats:
            frame.append(beat)
            if beat.tlast:
                if any(b.tuser != frame[0].tuser for b in frame):
                    raise ValueError("tuser must be constant within a packet")
                data = b"".join(int(b.tdata).to_bytes(width_bytes, "little") for b in frame)
                yield AxiStreamFrame(tdata=data, tuser=frame[0].tuser)
                frame = []
        if frame:
            raise ValueError("the last beat must have tlast")

    async def send_lookups(self, beats: Sequence[StreamBeat]) -> None:
        for frame in self._frames(beats, self.lookups.byte_lanes):
            await self.lookups.send(frame)

    async def send_write_back(self, beats: Sequence[StreamBeat]) -> None:
        for frame in self._frames(beats, self.write_backs.byte_lanes):
            await self.write_backs.send(frame)

    async def _recv(self, sink, what: str):
        try:
            return await with_timeout(sink.recv(), self.timeout_cycles * self.clock_ns, "ns")
        except TimeoutError as error:      # cocotb's SimTimeoutError is a TimeoutError
            raise TransportTimeout(f"no {what} packet within {self.timeout_cycles} "
                                   f"cycles") from error

    @staticmethod
    def _words(frame, width_bytes: int) -> list[int]:
        data = bytes(frame.tdata)
        return [int.from_bytes(data[i:i + width_bytes], "little")
                for i in range(0, len(data), width_bytes)]

    async def recv_micro_batch(self) -> list[int]:
        frame = await self._recv(self.micro_batches, "micro-batch")
        return self._words(frame, self.micro_batches.byte_lanes)

    async def recv_row(self) -> tuple[list[int], int]:
        frame = await self._recv(self.rows, "gathered-row")
        tuser = frame.tuser[0] if isinstance(frame.tuser, list) else frame.tuser
        return self._words(frame, self.rows.byte_lanes), int(tuser or 0)

    async def idle(self) -> None:
        while not (self.lookups.idle() and self.write_backs.idle()):
            await ClockCycles(self.dut.clk, 4)


class BridgedHotlineDriver:
    """Blocking facade of a :class:`HotlineDriver` for synchronous code running in a cocotb
    bridge thread (``await cocotb.task.bridge(function)()``): every coroutine method runs in the
    simulation (``cocotb.task.resume``) while the calling thread waits, the simulator advancing
    as the driver awaits. This is how synchronous host code, e.g. the DLRM trainer
    (:class:`sw_driver.dlrm.accelerator.AcceleratorTrainer`), drives the RTL: the same calls as
    :class:`~sw_driver.driver.SyncHotlineDriver` on the golden-model backend."""

    def __init__(self, driver: HotlineDriver):
        self.driver = driver

    def __getattr__(self, name):
        attr = getattr(self.driver, name)
        if not inspect.iscoroutinefunction(attr):
            return attr
        call = resume(attr)
        call.__doc__ = attr.__doc__
        return call
