"""Verilog generation: the single place that turns the Amaranth components into ``rtl/*.v``.

``python -m hotline_hw.verilog rtl`` (what ``make verilog`` runs) writes every entry of
:data:`RTL_TOPS` in its FPGA-sized default configuration. Testbenches use :func:`emit` to build
their own configurations. Output is byte-identical run to run (``emit_src=False``: no absolute
source paths in the file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from amaranth.back import verilog
from amaranth.lib import wiring

from .feistel_hash import FeistelHash
from .gather_engine import GatherEngine
from .micro_batch_scheduler import MicroBatchScheduler
from .popularity_table import PopularityTable
from .model.popularity_table import TableGeometry

__all__ = ["RTL_TOPS", "emit", "main"]

_FPGA = TableGeometry()  # the default geometry: 32 tables x 2**24 rows, 16K sets x 4 ways


#: Module name -> factory of the component in its FPGA-sized default configuration.
RTL_TOPS: dict[str, Callable[[], wiring.Component]] = {
    "feistel_hash": lambda: FeistelHash(width=_FPGA.hash_bits, rounds=_FPGA.rounds),
    # 64K entries (16K sets x 4 ways), 4 lookup lanes, 32-bit sample metadata.
    "popularity_table": lambda: PopularityTable(geometry=_FPGA, lanes=4, meta_bits=32),
    # Criteo: up to 32 lookups per sample (26 used); 4096 held samples; B < 65536, W < 16.
    "micro_batch_scheduler": lambda: MicroBatchScheduler(
        lanes=4, slot_bits=_FPGA.slot_bits, max_lookups=32, capacity=4096),
    # Criteo Kaggle: 26 tables of up to 2**24 rows, rows of up to 64 fp32 values, 128-bit AXI4
    # with 48-bit addresses; 64 rows read at once (covers ~400 cycles of latency with 64-byte
    # rows), 16 write bursts awaiting their response.
    "gather_engine": lambda: GatherEngine(
        num_tables=26, data_bits=128, addr_bits=48, id_bits=6, reads_in_flight=64,
        writes_in_flight=16, max_dim=64, table_in_bits=5, row_in_bits=24),
}


def emit(component: wiring.Component, name: str) -> str:
    """Verilog text of ``component`` as module ``name`` (deterministic)."""
    return verilog.convert(component, name=name, emit_src=False)


def write(out_dir: Path, names=None) -> list[Path]:
    """Write ``out_dir/<name>.v`` for the named tops (all by default); returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names or RTL_TOPS:
        if name not in RTL_TOPS:
            raise KeyError(f"unknown RTL top {name!r}; known: {', '.join(RTL_TOPS)}")
        path = out_dir / f"{name}.v"
        path.write_text(emit(RTL_TOPS[name](), name))
        paths.append(path)
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, nargs="?", default=Path("rtl"))
    parser.add_argument("names", nargs="*", help="tops to write (default: all)")
    args = parser.parse_args(argv)
    for path in write(args.out_dir, args.names):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
