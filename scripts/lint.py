"""Verilator lint of the generated Verilog (``make lint``).

Runs ``verilator --lint-only -Wall`` on each file with the warnings below switched off; each is
accepted for the reason given. Any other warning fails the lint.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tb.toolchain import prepare_simulator  # noqa: E402

#: Warning -> why it is accepted on Amaranth's output.
ACCEPTED_WARNINGS = {
    "WIDTH": "Amaranth relies on Verilog's implicit zero/sign extension and truncation in "
             "assignments; the widths are checked by Amaranth's own type system.",
    "UNUSEDSIGNAL": "Amaranth keeps named intermediate signals and unused bits of struct "
                    "payloads (e.g. fields a block passes through or ignores).",
    "DECLFILENAME": "rtl/ holds one module per file named after the module, but Amaranth also "
                    "emits submodules into the same file.",
    "CASEINCOMPLETE": "Amaranth emits each FSM's logic as a case over the state listing only the "
                      "states that act; every such always block assigns its default before the "
                      "case, so the missing cases are neither latches nor X.",
    "PROCASSINIT": "Amaranth gives registers an initial value in their declaration and assigns "
                   "them in processes; intended (FPGA power-up value), not a bug.",
}


def lint(path: Path) -> int:
    cmd = ["verilator", "--lint-only", "-Wall"] + [f"-Wno-{w}" for w in ACCEPTED_WARNINGS]
    cmd += [str(path)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    # Verilator also prints a statistics report; only %Warning/%Error lines are findings.
    findings = [line for line in (result.stdout + result.stderr).splitlines()
                if line.startswith(("%Warning", "%Error"))]
    status = "ok" if result.returncode == 0 and not findings else "FAIL"
    print(f"lint {path}: {status}")
    for line in findings:
        print(line)
    return 0 if status == "ok" else 1


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: lint.py FILE.v ...", file=sys.stderr)
        return 2
    prepare_simulator("verilator")
    return max(lint(Path(p)) for p in argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
