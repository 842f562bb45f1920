"""Compiled fast path of the Criteo TSV parser: ``csrc/criteo_parse.c`` through ctypes.

:func:`parse_well_formed` parses a chunk of whole lines in one pass of C over its bytes into
the arrays :func:`~sw_driver.data.criteo_parser._parse_chunk` returns, when every line of the
chunk is well formed as it stands; otherwise (a malformed, short or empty line, a lone CR) it
returns ``None`` and the numpy parser, which flags, pads and reports such lines, parses the
chunk. The two give the same arrays (``tests/data/test_criteo_fast.py``); the C path is about
4x faster per line.

The library is compiled on first use with the system C compiler (``$CC``, else ``cc``, else
``gcc``) and cached under ``sim_build/criteo_parser/<key>/`` (``HOTLINE_CRITEO_BUILD``
overrides the root), keyed by a hash of the source and the flags; concurrent processes
building the same key wait on a file lock. With no compiler, or ``HOTLINE_CRITEO_PARSER=numpy``
in the environment, every chunk takes the numpy parser: same results, slower.
:func:`parser_in_use` says which one a process uses and why.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

__all__ = ["parse_well_formed", "parser_in_use", "SOURCE", "BUILD_ROOT"]

SOURCE = Path(__file__).resolve().parent / "csrc" / "criteo_parse.c"
REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_ROOT = Path(os.environ.get("HOTLINE_CRITEO_BUILD",
                                 REPO_ROOT / "sim_build" / "criteo_parser"))
_CFLAGS = ["-O2", "-std=c99", "-shared", "-fPIC", "-fvisibility=hidden"]
_N_DENSE, _N_TABLES = 13, 26

_state: dict = {}


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc"):
        if name and shutil.which(name):
            return name
    return None


def _build() -> tuple[ctypes.CDLL | None, str]:
    """The loaded library and a line saying where it came from, or ``None`` and why not."""
    if os.environ.get("HOTLINE_CRITEO_PARSER", "").lower() == "numpy":
        return None, "numpy (HOTLINE_CRITEO_PARSER=numpy)"
    compiler = _compiler()
    if compiler is None:
        return None, "numpy (no C compiler: $CC, cc or gcc)"
    source = SOURCE.read_bytes()
    key = hashlib.sha256(source + repr(_CFLAGS).encode()).hexdigest()[:16]
    directory = BUILD_ROOT / key
    library = directory / "libcriteo_parse.so"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not library.exists():
                (directory / "criteo_parse.c").write_bytes(source)
                staging = directory / f"libcriteo_parse.so.{os.getpid()}"
                proc = subprocess.run([compiler, *_CFLAGS, "-o", str(staging),
                                       str(directory / "criteo_parse.c")],
                                      capture_output=True, text=True, timeout=120)
                if proc.returncode != 0:
                    (directory / "build.log").write_text(proc.stdout + proc.stderr)
                    return None, (f"numpy ({compiler} failed: see "
                                  f"{directory / 'build.log'})")
                staging.replace(library)
        lib = ctypes.CDLL(str(library))
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"numpy (the compiled parser could not be built or loaded: {exc})"
    function = lib.hl_parse_criteo
    function.restype = ctypes.c_long
    function.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p,
                         ctypes.c_void_p, ctypes.c_void_p]
    return lib, f"compiled ({library})"


def _library() -> ctypes.CDLL | None:
    if "lib" not in _state:
        _state["lib"], _state["why"] = _build()
    return _state["lib"]


def parser_in_use() -> str:
    """``"compiled (<library>)"`` or ``"numpy (<why>)"``: the parser this process uses."""
    _library()
    return _state["why"]


def parse_well_formed(data: bytes):
    """``(labels float32 [n], dense int64 [n, 13], cats uint64 [n, 26])`` of ``data`` (whole
    lines, ending with LF) if every line is well formed as it stands, else ``None`` (also when
    the compiled parser is not available)."""
    lib = _library()
    if lib is None:
        return None
    n = data.count(b"\n")
    labels = np.empty(n, np.float32)
    dense = np.empty((n, _N_DENSE), np.int64)
    cats = np.empty((n, _N_TABLES), np.uint64)
    got = lib.hl_parse_criteo(data, len(data), n, labels.ctypes.data, dense.ctypes.data,
                              cats.ctypes.data)
    if got != n:
        return None
    return labels, dense, cats
