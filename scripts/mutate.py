"""``make mutate``: mutation testing of the Amaranth sources against the regression.

Each mutant is one small change to the logic of one block (inside its ``elaborate``), the kind
of bug a reviewer would inject by hand:

``compare``      a comparison flipped (``==`` / ``!=``, ``<`` / ``>=``, ``>`` / ``<=``) or made
                 off by one at its boundary (``<`` / ``<=``, ``>`` / ``>=``);
``constant``     an integer constant off by one (``c + 1``, ``c - 1``);
``logic``        ``&`` / ``|`` swapped, or one term of a ``&`` / ``|`` dropped (a ready, valid
                 or stall expression that ignores a condition);
``negation``     a ``~`` dropped;
``condition``    ``m.If(c)`` / ``m.Elif(c)`` inverted;
``stuck``        an assignment ``x.eq(e)`` made ``x.eq(0)`` (a status or error bit stuck low);
``skipped``      an assignment ``m.d.<domain> += ...`` removed (a clear of sticky state, an
                 update, a handshake that never happens).

Every mutant is applied to a copy of the tree (``git archive HEAD`` into
``sim_build/mutate/<pid>``, one per run; the checkout is never touched), elaborated by its
block's tests, and run against the fast tier (amaranth.sim, ``tests/hw``) first and, with
``--cocotb``, the block's cocotb tests on the generated Verilog second (``tb/``; slower). A mutant is *killed* when a test fails or times out
(a hang is a detected bug), *survives* otherwise. Mutants listed in ``scripts/mutation_equivalent.json``
(the mutant's id -> a one-line argument why it cannot change behaviour) are *equivalent* and
left out of the score. Mutation points are enumerated deterministically and sampled with
``--seed`` (``--per-block``, all with 0).

Writes ``--out`` (JSON: per block the mutants with operator, line, source before / after,
verdict and the first failing test; the score = killed / (killed + survived)) and prints a
table. ``make mutate`` is not part of ``make test``; ``tests/test_mutate.py`` checks the
machinery (enumeration, application, a surviving and a killed mutant).
"""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "docs" / "mutation" / "results.json"
EQUIVALENT = REPO / "scripts" / "mutation_equivalent.json"

#: Block source -> (fast-tier tests, cocotb tests).
BLOCKS: dict[str, tuple[list[str], list[str]]] = {
    "feistel_hash": (["tests/hw/test_feistel_hash_sim.py"], ["tb/test_feistel_hash.py"]),
    "popularity_table": (["tests/hw/test_popularity_table_sim.py",
                          "tests/hw/test_popularity_table_stale_sim.py"],
                         ["tb/test_popularity_table.py"]),
    "banked_popularity_table": (["tests/hw/test_banked_popularity_table_sim.py"],
                                ["tb/test_banked_popularity_table.py"]),
    "lookup_crossbar": (["tests/hw/test_banked_popularity_table_sim.py"],
                        ["tb/test_banked_popularity_table.py"]),
    "table_bank": (["tests/hw/test_banked_popularity_table_sim.py"],
                   ["tb/test_banked_popularity_table.py"]),
    "micro_batch_scheduler": (["tests/hw/test_micro_batch_scheduler_sim.py"],
                              ["tb/test_micro_batch_scheduler.py"]),
    "micro_batch_plan": (["tests/hw/test_micro_batch_scheduler_sim.py"],
                         ["tb/test_micro_batch_scheduler.py"]),
    "skid_buffer": (["tests/hw/test_skid_buffer_sim.py",
                     "tests/hw/test_micro_batch_scheduler_sim.py"],
                    ["tb/test_micro_batch_scheduler.py"]),
    "cold_row_unpacker": (["tests/hw/test_cold_row_unpacker_sim.py"],
                          ["tb/test_scheduler_gather.py"]),
    "row_address": (["tests/hw/test_gather_engine_sim.py", "tests/hw/test_row_address_sim.py"],
                    ["tb/test_gather_engine.py"]),
    "table_parameters": (["tests/hw/test_table_parameters_sim.py",
                          "tests/hw/test_row_address_sim.py"], ["tb/test_gather_engine.py"]),
    "row_reader": (["tests/hw/test_gather_engine_sim.py"], ["tb/test_gather_engine.py"]),
    "row_writer": (["tests/hw/test_gather_engine_sim.py"], ["tb/test_gather_engine.py"]),
    "gather_engine": (["tests/hw/test_gather_engine_sim.py"], ["tb/test_gather_engine.py"]),
    "control_registers": ([], ["tb/test_hotline_top.py"]),
    "lookup_input": ([], ["tb/test_hotline_top.py"]),
    "micro_batch_output": ([], ["tb/test_hotline_top.py"]),
}

_FLIP = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.GtE, ast.GtE: ast.Lt,
         ast.Gt: ast.LtE, ast.LtE: ast.Gt}
_EDGE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}


@dataclass(frozen=True)
class Mutant:
    """One change: ``operator`` at node ``index`` (pre-order among ``elaborate``'s nodes) of
    ``block``'s source, with a ``variant`` where an operator has several."""
    block: str
    operator: str
    index: int
    variant: int
    line: int
    before: str
    after: str

    @property
    def id(self) -> str:
        text = f"{self.block}:{self.operator}:{self.line}:{self.before}->{self.after}"
        return hashlib.sha1(text.encode()).hexdigest()[:12]


#: Module-level functions that build a block's logic outside an ``elaborate`` method (mutated
#: like one).
_GATEWARE_FUNCTIONS = {"plan_micro_batch"}


def _elaborate_nodes(tree: ast.Module) -> list[ast.AST]:
    nodes = []
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef) and (func.name == "elaborate"
                                                  or func.name in _GATEWARE_FUNCTIONS):
            nodes.extend(ast.walk(func))
    return nodes


def _is_if_call(node) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("If", "Elif") and len(node.args) == 1)


def _is_eq_call(node) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "eq" and len(node.args) == 1)


def _is_domain_add(node) -> bool:
    """``m.d.<domain> += ...``."""
    return (isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add)
            and isinstance(node.target, ast.Attribute)
            and isinstance(node.target.value, ast.Attribute) and node.target.value.attr == "d")


def _variants(node) -> list[tuple[str, int]]:
    """The mutations that apply to ``node``: ``(operator, variant)``."""
    out = []
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        op = type(node.ops[0])
        if op in _FLIP:
            out.append(("compare", 0))
        if op in _EDGE:
            out.append(("compare", 1))
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        out += [("constant", 0), ("constant", 1)] if node.value > 0 else [("constant", 0)]
    elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):
        out += [("logic", 0), ("logic", 1), ("logic", 2)]
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
        out.append(("negation", 0))
    elif _is_if_call(node):
        out.append(("condition", 0))
    elif _is_eq_call(node):
        out.append(("stuck", 0))
    elif _is_domain_add(node):
        out.append(("skipped", 0))
    return out


def _mutate(node, operator: str, variant: int):
    """The replacement of ``node`` (a new node; ``None`` removes a statement)."""
    new = copy.deepcopy(node)
    if operator == "compare":
        op = type(node.ops[0])
        new.ops = [(_FLIP if variant == 0 else _EDGE)[op]()]
    elif operator == "constant":
        new.value = node.value + (1 if variant == 0 else -1)
    elif operator == "logic":
        if variant == 0:
            new.op = ast.BitOr() if isinstance(node.op, ast.BitAnd) else ast.BitAnd()
        else:
            return copy.deepcopy(node.left if variant == 1 else node.right)
    elif operator == "negation":
        return copy.deepcopy(node.operand)
    elif operator == "condition":
        new.args = [ast.UnaryOp(op=ast.Invert(), operand=copy.deepcopy(node.args[0]))]
    elif operator == "stuck":
        new.args = [ast.Constant(0)]
    elif operator == "skipped":
        return ast.Pass()
    return new


def _replace(tree: ast.Module, index: int, operator: str, variant: int) -> ast.Module:
    tree = copy.deepcopy(tree)
    target = _elaborate_nodes(tree)[index]
    replacement = _mutate(target, operator, variant)
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is target:
                setattr(parent, field, replacement)
                return ast.fix_missing_locations(tree)
            if isinstance(value, list) and any(v is target for v in value):
                value[[i for i, v in enumerate(value) if v is target][0]] = replacement
                return ast.fix_missing_locations(tree)
    raise RuntimeError(f"node {index} not found")


def enumerate_mutants(block: str, source: str) -> list[Mutant]:
    """Every mutation point of ``block`` (deterministic order)."""
    tree = ast.parse(source)
    out = []
    for index, node in enumerate(_elaborate_nodes(tree)):
        for operator, variant in _variants(node):
            replacement = _mutate(node, operator, variant)
            after = ast.unparse(replacement)
            if after == ast.unparse(node):
                continue                       # no change (e.g. an .eq(0) made .eq(0))
            out.append(Mutant(block, operator, index, variant, getattr(node, "lineno", 0),
                              ast.unparse(node), after))
    return out


def mutated_source(source: str, mutant: Mutant) -> str:
    return ast.unparse(_replace(ast.parse(source), mutant.index, mutant.operator,
                                mutant.variant))


def sample(mutants: list[Mutant], per_block: int, seed: int) -> list[Mutant]:
    if per_block <= 0 or len(mutants) <= per_block:
        return list(mutants)
    chosen = random.Random(seed).sample(range(len(mutants)), per_block)
    return [mutants[i] for i in sorted(chosen)]


def make_tree(work: Path) -> Path:
    """A copy of the committed tree (``git archive HEAD``) to mutate in."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    archive = work / "head.tar"
    subprocess.run(["git", "archive", "-o", str(archive), "HEAD"], cwd=REPO, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(work / "tree", filter="data")
    archive.unlink()
    return work / "tree"


def run_tests(tree: Path, tests: list[str], timeout: float, env: dict) -> tuple[str, str]:
    """``("passed" | "failed" | "timeout", first failing test)``."""
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider",
           "--no-header", *tests]
    try:
        proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", f"over {timeout:.0f} s"
    if proc.returncode == 0:
        return "passed", ""
    failed = [line.split(" ", 2)[1] for line in proc.stdout.splitlines()
              if line.startswith("FAILED ") or line.startswith("ERROR ")]
    return "failed", failed[0] if failed else proc.stdout.strip().splitlines()[-1:][0]


def mutate_block(block: str, tree: Path, *, per_block: int, seed: int, cocotb: bool,
                 timeout: float, equivalent: dict, progress: bool) -> dict:
    path = tree / "hotline_hw" / f"{block}.py"
    source = path.read_text()
    every = enumerate_mutants(block, source)
    chosen = sample(every, per_block, seed)
    fast, slow = BLOCKS[block]
    tiers = [t for t in (fast, slow if cocotb or not fast else []) if t]
    env = {**os.environ, "PYTHONPATH": str(tree), "HOTLINE_SEED": str(seed)}
    records = []
    try:
        for n, mutant in enumerate(chosen):
            record = {**asdict(mutant), "id": mutant.id}
            if mutant.id in equivalent:
                record.update(verdict="equivalent", reason=equivalent[mutant.id])
            else:
                path.write_text(mutated_source(source, mutant))
                record["verdict"] = "survived"
                for tests in tiers:
                    outcome, where = run_tests(tree, tests, timeout, env)
                    if outcome != "passed":
                        record.update(verdict="killed", by=where, outcome=outcome)
                        break
            records.append(record)
            if progress:
                print(f"[mutate] {block} {n + 1}/{len(chosen)} {mutant.operator} "
                      f"line {mutant.line}: {record['verdict']}", file=sys.stderr, flush=True)
    finally:
        path.write_text(source)
    killed = sum(r["verdict"] == "killed" for r in records)
    survived = sum(r["verdict"] == "survived" for r in records)
    return {"mutation_points": len(every), "sampled": len(chosen), "killed": killed,
            "survived": survived,
            "equivalent": sum(r["verdict"] == "equivalent" for r in records),
            "score": killed / (killed + survived) if killed + survived else None,
            "tiers": tiers, "mutants": records}


def markdown_table(results: dict) -> str:
    lines = ["| block | mutation points | sampled | killed | survived | equivalent | score |",
             "|---|---|---|---|---|---|---|"]
    for block, r in results["blocks"].items():
        score = "" if r["score"] is None else f"{r['score']:.0%}"
        lines.append(f"| {block} | {r['mutation_points']} | {r['sampled']} | {r['killed']} "
                     f"| {r['survived']} | {r['equivalent']} | {score} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", nargs="+", choices=sorted(BLOCKS), default=sorted(BLOCKS))
    parser.add_argument("--per-block", type=int, default=20,
                        help="mutants sampled per block (0: every mutation point)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cocotb", action="store_true",
                        help="also run the block's cocotb tests on survivors of the fast tier")
    parser.add_argument("--timeout", type=float, default=300,
                        help="seconds per test run (a mutant that hangs longer is killed)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    equivalent = json.loads(EQUIVALENT.read_text()) if EQUIVALENT.exists() else {}
    started = time.perf_counter()
    # One copy per run (its process id): runs side by side never share a tree.
    work = REPO / "sim_build" / "mutate" / str(os.getpid())
    tree = make_tree(work)
    results = {"seed": args.seed, "per_block": args.per_block, "cocotb": args.cocotb,
               "blocks": {}}
    try:
        for block in args.blocks:
            results["blocks"][block] = mutate_block(
                block, tree, per_block=args.per_block, seed=args.seed, cocotb=args.cocotb,
                timeout=args.timeout, equivalent=equivalent, progress=args.progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["table"] = markdown_table(results)
    print(results["table"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
