"""The nets with the most loads in a Yosys JSON netlist (e.g. ``build/synth/ecp5/<block>/
netlist.json`` after ``make synth``): high-fanout enables and resets are what nextpnr routes
slowest, and neither Yosys nor nextpnr-ecp5 duplicates their drivers.

    python scripts/net_fanout.py build/synth/ecp5/hotline_top/netlist.json --top 20

Prints, per net bit: loads, its shortest public name, and the three most common (cell type,
port) pairs it drives (``TRELLIS_FF.CE``: a flip-flop's enable)."""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path


def net_fanout(netlist: dict, module: str | None = None) -> list[tuple[int, str, dict]]:
    """(loads, name, {cell type.port: loads}) for every driven net bit of ``module`` (the only
    module, or ``top``), most loads first."""
    modules = netlist["modules"]
    if module is None:
        module = "top" if "top" in modules else next(iter(modules))
    if module not in modules:
        raise KeyError(f"no module {module!r} in the netlist (it has {sorted(modules)})")
    mod = modules[module]
    names: dict[int, str] = {}
    for name, net in mod.get("netnames", {}).items():
        hidden = bool(net.get("hide_name", 0))
        for bit in net["bits"]:
            if isinstance(bit, int):
                best = names.get(bit)
                if best is None or (not hidden and len(name) < len(best)):
                    names[bit] = name
    loads: collections.Counter = collections.Counter()
    kinds: dict[int, collections.Counter] = collections.defaultdict(collections.Counter)
    for cell in mod.get("cells", {}).values():
        directions = cell.get("port_directions", {})
        for port, bits in cell["connections"].items():
            if directions.get(port) != "input":
                continue
            for bit in bits:
                if isinstance(bit, int):          # constants ("0", "1", "x") are not nets
                    loads[bit] += 1
                    kinds[bit][f"{cell['type']}.{port}"] += 1
    return [(count, names.get(bit, f"<bit {bit}>"), dict(kinds[bit].most_common(3)))
            for bit, count in loads.most_common()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("netlist", type=Path, help="Yosys JSON netlist (write_json / -json)")
    parser.add_argument("--top", type=int, default=30, help="nets to list (default 30)")
    parser.add_argument("--module", help="module (default: top, or the only one)")
    args = parser.parse_args(argv)
    try:
        netlist = json.loads(args.netlist.read_text())
        rows = net_fanout(netlist, args.module)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {args.netlist}: {exc}", file=sys.stderr)
        return 2
    for count, name, kinds in rows[:args.top]:
        print(f"{count:7d}  {name}  {kinds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
