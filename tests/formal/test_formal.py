"""The quick subset of ``make formal`` (a minute or so), and the proof registry's coverage.

Each quick proof must pass to its depth, and each of its broken copies must fail on the
property it names: a proof that cannot fail would not be a test. The whole set (every streaming
block) runs in ``make formal``; ``docs/formal/results.json`` holds its last results.
Formal proofs have no seed: the solver covers every input sequence up to the depth.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hotline_hw.formal.proofs import PROOFS
from hotline_hw.formal.sby import run_sby, tools_available

REPO = Path(__file__).resolve().parents[2]
QUICK = [p for p in PROOFS if p.quick]
BROKEN = [(p, bug, expected) for p in QUICK for bug, _inject, expected in p.broken]

#: Components with handshake ports that have no proof of their own, and why.
EXEMPT = {
    "hotline_top": "composition only (wiring.connect): every streaming block in it is proved",
    "table_bank": "every port is always ready: the stall rules hold by construction",
    "control_registers": "AXI4-Lite register file (not a stream block); not yet proved",
    "synth_harness": "synthesis wrapper for measurements",
}

needs_tools = pytest.mark.skipif(not tools_available(), reason="formal tools (yowasp-sby, yices) not installed: run make venv (make test installs them)")


def _component_modules() -> set[str]:
    """hotline_hw modules defining a ``wiring.Component`` with handshake ports."""
    found = set()
    for path in (REPO / "hotline_hw").glob("*.py"):
        text = path.read_text()
        tree = ast.parse(text)
        components = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)
                      and any("Component" in ast.unparse(b) for b in n.bases)]
        if components and ("stream.Signature" in text or "Signature(" in text):
            found.add(path.stem)
    return found


def test_every_streaming_block_has_a_proof():
    proved = {p.block for p in PROOFS}
    missing = _component_modules() - proved - set(EXEMPT)
    print("proved:", sorted(proved))
    assert not missing, f"streaming blocks without a proof or an exemption: {sorted(missing)}"


def test_every_proof_has_a_broken_copy():
    for p in PROOFS:
        assert p.broken, f"{p.name} has no broken copy: nothing shows it can fail"
        assert p.depth >= 20, f"{p.name}: depth {p.depth} < 20"


@needs_tools
@pytest.mark.parametrize("proof", QUICK, ids=[p.name for p in QUICK])
def test_proof_holds(proof, tmp_path):
    result = run_sby(proof.build(), proof.name, proof.depth, tmp_path)
    print(f"{proof.name}: depth {result.depth} {result.status} in {result.seconds:.1f} s")
    assert result.status == "pass", result.log[-3000:]


@needs_tools
@pytest.mark.parametrize("proof,bug,expected", BROKEN,
                         ids=[f"{p.name}-{bug}" for p, bug, _ in BROKEN])
def test_broken_copy_fails(proof, bug, expected, tmp_path):
    result = run_sby(proof.build(bug), proof.name, proof.depth, tmp_path)
    print(f"{proof.name} broken by {bug}: {result.status} at step {result.step}: "
          f"{result.failed}")
    assert result.status == "fail", result.log[-3000:]
    assert expected in result.failed
