"""A check that a testbench drives every input of its DUT.

Verilator has no ``z``: an input the testbench forgets reads 0 there, and a test can pass by
accident (the forgotten ``alpha`` of the popularity-scheduler bench did, and hung under
Icarus). Under Icarus the same input reads ``z``; :func:`assert_inputs_driven`, called after
reset, names it. Stream payloads are left out: a source may leave them undriven while
``valid`` is low.
"""

from __future__ import annotations

__all__ = ["assert_inputs_driven"]


def assert_inputs_driven(dut) -> None:
    """Raise if a top-level signal of ``dut`` (payloads aside) reads ``z`` in any bit."""
    floating = []
    for handle in dut:
        name = handle._name
        if "$" in name or "\\" in name or "payload" in name:
            continue
        try:
            value = str(handle.value)
        except (TypeError, ValueError, AttributeError):
            continue
        if "z" in value.lower():
            floating.append(name)
    assert not floating, f"testbench leaves DUT inputs undriven (read z): {sorted(floating)}"
