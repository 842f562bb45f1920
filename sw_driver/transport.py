"""The abstract transport the host driver is written against (Glasgow style: the same driver
code runs on any backend that moves registers, stream beats and host memory).

Backends: :class:`sw_driver.model_device.ModelDevice` (the accelerator in pure Python, from the
golden models), :class:`sw_driver.cocotb_transport.CocotbTransport` (the RTL in a cocotb
simulation, through AXI4-Lite / AXI4-Stream / AXI4 bus models) and
:class:`sw_driver.native.NativeTransport` (the RTL under a C++ harness that owns every port).
"""

from __future__ import annotations

import abc
from typing import Protocol, Sequence

from hotline_hw.device_config import HotlineConfig

from .wire import StreamBeat

__all__ = ["Transport", "HostMemoryAccess", "TransportTimeout"]


class TransportTimeout(TimeoutError):
    """The device did not produce the expected output (it is stuck, or nothing is coming)."""


class HostMemoryAccess(Protocol):
    """Host memory as the accelerator's AXI4 port sees it (byte addresses)."""

    def read(self, address: int, length: int) -> bytes: ...

    def write(self, address: int, data: bytes) -> None: ...


class Transport(abc.ABC):
    """Registers, the four AXI4-Stream ports and host memory of one accelerator.

    ``send_*`` queue beats in order and may return before the device has taken them; the
    ``recv_*`` methods return the next complete packet, waiting for the device to produce it
    (``TransportTimeout`` if it does not).
    """

    config: HotlineConfig
    memory: HostMemoryAccess

    @abc.abstractmethod
    async def read_register(self, address: int) -> int:
        """32-bit read; raises ``OSError`` on an error response."""

    @abc.abstractmethod
    async def write_register(self, address: int, value: int) -> None:
        """32-bit write; raises ``OSError`` on an error response."""

    @abc.abstractmethod
    async def send_lookups(self, beats: Sequence[StreamBeat]) -> None:
        """Queue beats on ``s_axis_lookups``."""

    @abc.abstractmethod
    async def recv_micro_batch(self) -> list[int]:
        """The ``tdata`` words of the next ``m_axis_micro_batches`` packet."""

    @abc.abstractmethod
    async def recv_row(self) -> tuple[list[int], int]:
        """``(tdata words, tuser)`` of the next ``m_axis_rows`` packet."""

    @abc.abstractmethod
    async def send_write_back(self, beats: Sequence[StreamBeat]) -> None:
        """Queue beats on ``s_axis_write_back``."""

    @abc.abstractmethod
    async def idle(self) -> None:
        """Return once every queued input beat has been taken by the device."""
