"""Native backend of the host driver: ``HotlineTop`` Verilated under a C++ harness that owns
the clock and every port (see :class:`NativeTransport`)."""

from .build import NativeBuildError
from .transport import AxiProtocolError, NativeMemory, NativeTransport

__all__ = ["NativeTransport", "NativeMemory", "NativeBuildError", "AxiProtocolError"]
