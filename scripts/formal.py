"""``make formal``: bounded proofs of the stream rules and block invariants (SymbiYosys).

For every proof of :data:`hotline_hw.formal.proofs.PROOFS` (one or more per streaming block):
the block, at small parameters, under any input behaviour that follows the stream rules, is
checked by bounded model checking (``yowasp-sby``, ``smtbmc`` with Yices) to ``--depth`` cycles
(default each proof's own, 20): its outputs follow the stream rules, and its counting / block
invariants hold. With ``--broken`` each proof's deliberately broken copies are run too and must
fail on the named property (that the proof can fail at all).

Writes ``--out`` (JSON: per proof depth, seconds, result, and per broken copy its result and the
failed properties) and prints a table; exits non-zero if a proof fails or a broken copy is not
caught. ``--quick``: only the subset ``make test`` runs (``tests/formal``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hotline_hw.formal.proofs import PROOFS  # noqa: E402
from hotline_hw.formal.sby import run_sby, tools_available  # noqa: E402

RESULTS = REPO / "docs" / "formal" / "results.json"
WORK = REPO / "sim_build" / "formal"


def run(proofs, *, depth=None, broken=True, progress=False) -> dict:
    """Run ``proofs`` (and their broken copies); returns the results document."""
    rows = []
    start = time.monotonic()
    for p in proofs:
        d = depth or p.depth
        result = run_sby(p.build(), p.name, d, WORK / p.name)
        row = {**result.as_dict(), "block": p.block, "broken": []}
        if progress:
            print(f"{p.name:45s} depth {d:3d} {result.status:5s} {result.seconds:7.1f} s",
                  flush=True)
        if broken:
            for bug, _inject, expected in p.broken:
                bad = run_sby(p.build(bug), p.name, d, WORK / f"{p.name}.{bug}")
                caught = bad.status == "fail" and expected in bad.failed
                row["broken"].append({"bug": bug, "expected": expected, "status": bad.status,
                                      "failed": bad.failed, "step": bad.step,
                                      "seconds": round(bad.seconds, 2), "caught": caught})
                if progress:
                    print(f"  broken {bug:38s} {bad.status:5s} step {bad.step} "
                          f"{'caught' if caught else 'NOT CAUGHT'}: {bad.failed}", flush=True)
        rows.append(row)
    ok = all(r["status"] == "pass" and all(b["caught"] for b in r["broken"]) for r in rows)
    return {"engine": "yowasp-sby bmc, smtbmc yices", "ok": ok,
            "seconds": round(time.monotonic() - start, 1), "proofs": rows,
            "table": table(rows)}


def table(rows) -> str:
    """Markdown table of the proofs."""
    lines = ["| proof | depth | result | seconds | broken copies caught |",
             "|---|---|---|---|---|"]
    for r in rows:
        caught = sum(b["caught"] for b in r["broken"])
        names = ", ".join(b["bug"] for b in r["broken"])
        lines.append(f"| {r['name']} | {r['depth']} | {r['status']} | {r['seconds']} | "
                     f"{caught}/{len(r['broken'])} ({names}) |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the make test subset")
    parser.add_argument("--only", nargs="*", help="proof names (block.property) or blocks")
    parser.add_argument("--depth", type=int, help="override every proof's depth")
    parser.add_argument("--no-broken", action="store_true", help="skip the broken copies")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    if not tools_available():
        print("yowasp-sby / yices-smt2 not found: run make venv", file=sys.stderr)
        return 2
    proofs = [p for p in PROOFS if not args.quick or p.quick]
    if args.only:
        proofs = [p for p in proofs if p.name in args.only or p.block in args.only]
    doc = run(proofs, depth=args.depth, broken=not args.no_broken, progress=args.progress)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(doc["table"])
    print(f"{'all proofs pass, every broken copy caught' if doc['ok'] else 'FAILED'} "
          f"({doc['seconds']} s) -> {args.out}")
    return 0 if doc["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
