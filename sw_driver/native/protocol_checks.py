"""The harness's AXI checks (``csrc/protocol_checks.h``) on recorded traces: the same code the
harness applies each cycle to every channel the DUT drives, callable from Python so that each
rule can be shown to fire (the RTL itself never breaks them)."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from . import library as lib

__all__ = ["handshake_violation", "burst_violation"]


def handshake_violation(library: Path, valid, ready, payload) -> tuple[int, str] | None:
    """First violation of the handshake rules (valid held until ready, payload stable while
    stalled) in a trace of ``valid`` / ``ready`` flags and ``payload`` (cycles x words
    ``uint32``): ``(cycle, message)``, or ``None``."""
    valid = np.ascontiguousarray(valid, dtype=np.uint8)
    ready = np.ascontiguousarray(ready, dtype=np.uint8)
    payload = np.ascontiguousarray(payload, dtype=np.uint32).reshape(len(valid), -1)
    if len(ready) != len(valid):
        raise ValueError("valid and ready must have one entry per cycle")
    text = ctypes.create_string_buffer(512)
    cycle = lib.load(library).hl_check_handshake(valid.ctypes.data, ready.ctypes.data,
                                                 payload.ctypes.data, payload.shape[1],
                                                 len(valid), text, len(text))
    return None if cycle < 0 else (int(cycle), text.value.decode())


def burst_violation(library: Path, address: int, axlen: int, axsize: int, axburst: int,
                    bus_bytes: int) -> str | None:
    """The burst rule an AR / AW breaks (INCR, full-width beats, <= 256 beats, aligned, no
    4 KiB crossing), or ``None``."""
    text = ctypes.create_string_buffer(512)
    broken = lib.load(library).hl_check_burst(address, axlen, axsize, axburst, bus_bytes, text,
                                              len(text))
    return text.value.decode() if broken else None
