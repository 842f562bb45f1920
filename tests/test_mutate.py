"""The mutation-testing machinery (scripts/mutate.py): every operator is found and applied
where it should be, only inside ``elaborate``, and a real mutant of a real block is killed by
its fast-tier tests while the unmutated block passes them."""

from __future__ import annotations

import ast
import os
from importlib import import_module

import pytest

TOY = '''
class Block:
    def __init__(self, width):
        self.width = width + 1          # not logic: never mutated

    def elaborate(self, platform):
        m = Module()
        with m.If(self.a.valid & self.b.ready):
            m.d.sync += self.count.eq(self.count + 1)
        with m.Elif(self.count >= 3):
            m.d.comb += self.error.eq(~self.ok | self.clear)
            m.d.sync += self.sent.eq(0)
        return m
'''


@pytest.fixture(scope="module")
def mutate():
    return import_module("scripts.mutate")


def test_every_operator_is_found_inside_elaborate_only(mutate):
    mutants = mutate.enumerate_mutants("toy", TOY)
    operators = {m.operator for m in mutants}
    assert operators == {"compare", "constant", "logic", "negation", "condition", "stuck",
                         "skipped"}
    assert all(m.line >= 6 for m in mutants)           # nothing from __init__
    ids = [m.id for m in mutants]
    assert len(set(ids)) == len(ids)
    assert mutants == mutate.enumerate_mutants("toy", TOY)        # deterministic
    assert all(m.before != m.after for m in mutants)              # no no-op mutant
    assert not [m for m in mutants if m.operator == "stuck" and "sent" in m.before]


@pytest.mark.parametrize("operator, before, after", [
    ("compare", "self.count >= 3", "self.count < 3"),
    ("compare", "self.count >= 3", "self.count > 3"),
    ("constant", "3", "4"),
    ("logic", "self.a.valid & self.b.ready", "self.a.valid | self.b.ready"),
    ("logic", "self.a.valid & self.b.ready", "self.a.valid"),
    ("negation", "~self.ok", "self.ok"),
    ("condition", "m.If(self.a.valid & self.b.ready)", "m.If(~(self.a.valid & self.b.ready))"),
    ("stuck", "self.error.eq(~self.ok | self.clear)", "self.error.eq(0)"),
    ("skipped", "m.d.sync += self.count.eq(self.count + 1)", "pass"),
])
def test_mutants_change_exactly_their_point(mutate, operator, before, after):
    mutant = next(m for m in mutate.enumerate_mutants("toy", TOY)
                  if m.operator == operator and m.before == before and m.after == after)
    mutated = mutate.mutated_source(TOY, mutant)
    original = ast.unparse(ast.parse(TOY))
    assert mutated != original
    assert mutated.replace(after, before, 1) == original or after == "pass"
    ast.parse(mutated)


def test_sampling_is_seeded(mutate):
    mutants = mutate.enumerate_mutants("toy", TOY)
    a = mutate.sample(mutants, 4, seed=1)
    assert a == mutate.sample(mutants, 4, seed=1) and len(a) == 4
    assert mutate.sample(mutants, 0, seed=1) == mutants


def test_a_real_mutant_is_killed_and_the_block_passes(mutate, tmp_path):
    tree = mutate.make_tree(tmp_path / "mutate")
    tests = mutate.BLOCKS["feistel_hash"][0]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    assert mutate.run_tests(tree, tests, 300, env) == ("passed", "")
    path = tree / "hotline_hw" / "feistel_hash.py"
    source = path.read_text()
    stuck = next(m for m in mutate.enumerate_mutants("feistel_hash", source)
                 if m.operator == "stuck" and "hash" in m.before)
    path.write_text(mutate.mutated_source(source, stuck))
    outcome, where = mutate.run_tests(tree, tests, 300, env)
    assert outcome == "failed" and where.startswith("tests/hw/test_feistel_hash_sim.py::")
