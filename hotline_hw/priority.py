"""Priority and one-hot helpers shared by the blocks: flat AND-OR logic, no carry chains."""

from functools import reduce
from operator import or_

from amaranth.hdl import Cat, Const, Mux

__all__ = ["first_set", "lowest", "is_one_hot", "select_one_hot"]


def first_set(bits: list, index_bits: int):
    """(any, index of the lowest true bit) of a list of 1-bit values, as a priority encoder."""
    index = Const(0, index_bits)
    for position in reversed(range(len(bits))):
        index = Mux(bits[position], position, index)
    return Cat(*bits).any(), index


def lowest(bits):
    """The lowest set bit of ``bits`` as a one-hot value (0 if none): a priority mask, not
    ``bits & -bits`` (which is a carry chain)."""
    return Cat(*(bits[i] & ~bits[:i].any() if i else bits[0] for i in range(len(bits))))


def is_one_hot(bits):
    """Exactly one bit of ``bits`` is set."""
    return bits.any() & ((bits & ~lowest(bits)) == 0)


def select_one_hot(mask, rows):
    """``rows[k]`` for the one set bit ``k`` of the one-hot ``mask`` (an AND-OR choice)."""
    return reduce(or_, (mask[k].replicate(len(row)) & row for k, row in enumerate(rows)))
