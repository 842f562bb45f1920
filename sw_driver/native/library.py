"""The C ABI of the native harness (``csrc/harness.cpp``) declared for ctypes.

ctypes, not nanobind / pybind11: the harness exchanges only integers, pointers to numpy
buffers and C strings, so the standard library's FFI is enough and the backend adds no
dependency and no second compilation step (the library Verilator links is loaded as is).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

__all__ = ["HarnessKnobs", "load", "STATUS_OK", "STATUS_TIMEOUT", "STATUS_PROTOCOL",
           "STATUS_USAGE", "STATUS_NEED_SPACE", "PORT_LOOKUPS", "PORT_WRITE_BACK",
           "PORT_MICRO_BATCHES", "PORT_ROWS", "CHANNELS", "STATS"]

STATUS_OK, STATUS_TIMEOUT, STATUS_PROTOCOL, STATUS_USAGE, STATUS_NEED_SPACE = range(5)
PORT_LOOKUPS, PORT_WRITE_BACK, PORT_MICRO_BATCHES, PORT_ROWS = range(4)
#: Host-memory channels in the order of ``HarnessKnobs.stall`` (as tb.axi_memory.CHANNELS).
CHANNELS = ("aw", "w", "b", "ar", "r")
#: ``hl_stats`` output, in order.
STATS = ("ar_bursts", "r_beats", "aw_bursts", "w_beats", "b_responses",
         "max_outstanding_reads", "max_outstanding_writes", "outstanding_reads",
         "outstanding_writes", "w_beats_waiting")

_u8p = ctypes.POINTER(ctypes.c_uint8)
_u32p = ctypes.POINTER(ctypes.c_uint32)
_u64p = ctypes.POINTER(ctypes.c_uint64)


class HarnessKnobs(ctypes.Structure):
    """``hotline::Knobs`` in ``harness.cpp`` (same fields, same order)."""
    _fields_ = [("memory_size", ctypes.c_uint64), ("seed", ctypes.c_uint64),
                ("read_latency", ctypes.c_uint32), ("write_latency", ctypes.c_uint32),
                ("latency_jitter", ctypes.c_uint32), ("reorder", ctypes.c_uint32),
                ("interleave", ctypes.c_uint32), ("max_reads", ctypes.c_uint32),
                ("max_writes", ctypes.c_uint32), ("stall", ctypes.c_double * 5),
                ("input_gap", ctypes.c_double), ("output_stall", ctypes.c_double)]


_SIGNATURES = {
    "hl_create": (ctypes.c_void_p, [ctypes.POINTER(HarnessKnobs)]),
    "hl_destroy": (None, [ctypes.c_void_p]),
    "hl_message": (ctypes.c_char_p, [ctypes.c_void_p]),
    "hl_cycle": (ctypes.c_uint64, [ctypes.c_void_p]),
    "hl_memory": (ctypes.c_void_p, [ctypes.c_void_p]),
    "hl_memory_size": (ctypes.c_uint64, [ctypes.c_void_p]),
    "hl_bus_bytes": (ctypes.c_int, [ctypes.c_void_p]),
    "hl_port_words": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
    "hl_queued": (ctypes.c_uint64, [ctypes.c_void_p, ctypes.c_int]),
    "hl_reset": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_uint32]),
    "hl_register": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32,
                                   ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint64, _u32p,
                                   _u32p]),
    "hl_send": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                               ctypes.c_void_p, ctypes.c_int]),
    "hl_recv": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64, ctypes.c_void_p,
                               ctypes.c_uint64, _u64p, _u64p]),
    "hl_recv_many": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64,
                                    ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64,
                                    ctypes.c_void_p, ctypes.c_void_p, _u64p]),
    "hl_idle": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_uint64]),
    "hl_run": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_uint64]),
    "hl_idle_loop": (None, [ctypes.c_void_p, ctypes.c_uint64]),
    "hl_waves": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint64,
                                ctypes.c_uint64]),
    "hl_inject": (None, [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint32,
                         ctypes.c_int, ctypes.c_int]),
    "hl_clear_faults": (None, [ctypes.c_void_p]),
    "hl_stats": (None, [ctypes.c_void_p, _u64p]),
    "hl_clear_stats": (None, [ctypes.c_void_p]),
    "hl_check_handshake": (ctypes.c_int64, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                            ctypes.c_int, ctypes.c_int64, ctypes.c_char_p,
                                            ctypes.c_int]),
    "hl_check_burst": (ctypes.c_int, [ctypes.c_uint64, ctypes.c_uint, ctypes.c_uint,
                                      ctypes.c_uint, ctypes.c_uint, ctypes.c_char_p,
                                      ctypes.c_int]),
}

_loaded: dict[Path, ctypes.CDLL] = {}


def load(path: Path) -> ctypes.CDLL:
    """The harness library at ``path`` with its functions typed (loaded once per process)."""
    path = Path(path).resolve()
    if path not in _loaded:
        library = ctypes.CDLL(str(path))
        for name, (restype, argtypes) in _SIGNATURES.items():
            function = getattr(library, name)
            function.restype = restype
            function.argtypes = argtypes
        _loaded[path] = library
    return _loaded[path]
