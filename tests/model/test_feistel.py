"""Feistel hash of the golden model: bijection, inverse, vectorised == scalar, parameters."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline_hw.model.feistel import FeistelHash, default_round_keys, round_function


@pytest.mark.parametrize("width", [2, 4, 8, 12])
@pytest.mark.parametrize("rounds", [1, 2, 4, 7])
def test_bijection_exhaustive(width, rounds):
    f = FeistelHash(width, rounds)
    x = np.arange(1 << width, dtype=np.uint64)
    y = f.forward_array(x)
    assert len(np.unique(y)) == 1 << width
    assert (f.inverse_array(y) == x).all()


@settings(max_examples=300)
@given(st.data())
def test_round_trip_and_vectorised(data):
    width = data.draw(st.integers(1, 31)) * 2
    rounds = data.draw(st.integers(1, 8))
    keys = data.draw(st.lists(st.integers(0, (1 << (width // 2)) - 1),
                              min_size=rounds, max_size=rounds))
    f = FeistelHash(width, rounds, keys)
    xs = data.draw(st.lists(st.integers(0, (1 << width) - 1), min_size=1, max_size=20))
    ys = [f.forward(x) for x in xs]
    assert [f.inverse(y) for y in ys] == xs
    assert f.forward_array(xs).tolist() == ys
    assert f.inverse_array(ys).tolist() == xs


def test_round_function_by_hand():
    # half = 8, key = 0x01, x = 0x80: t = 0x81
    # rotl1 = 0x03, rotl2 = 0x06, rotl5 = 0x30, rotl7 = 0xC0
    # F = 0x03 ^ (0x06 & 0x30) ^ 0xC0 ^ 0x80 = 0x43
    assert round_function(0x80, 0x01, 8) == 0x43


def test_one_round_by_hand():
    f = FeistelHash(16, 1, [0x01])
    # L = 0x12, R = 0x80 -> (L, R) = (0x80, 0x12 ^ F(0x80, 1)) = (0x80, 0x12 ^ 0x43)
    assert f.forward(0x1280) == (0x80 << 8) | (0x12 ^ 0x43)


def test_default_keys_documented_constant():
    # top bits of 0x9E3779B97F4A7C15 * (i + 1) mod 2**64
    assert default_round_keys(16, 2) == (0x9E37, (0x9E3779B97F4A7C15 * 2 % 2**64) >> 48)
    assert FeistelHash(32).keys == default_round_keys(16, 4)


def test_spreads_sequential_keys_over_sets():
    # Hot ids of real tables are often small consecutive integers (MovieLens items): the set
    # index (low hash bits) must spread them evenly. Chi-square per degree of freedom ~ 1.
    f = FeistelHash(30)
    sets = (f.forward_array(np.arange(1 << 16)) & np.uint64(1023)).astype(np.int64)
    counts = np.bincount(sets, minlength=1024)
    chi2_per_dof = ((counts - 64.0) ** 2 / 64.0).sum() / 1023
    assert chi2_per_dof < 1.5


@pytest.mark.parametrize("kwargs, message", [
    (dict(width=7), "even number"),
    (dict(width=0), "even number"),
    (dict(width=64), "even number"),
    (dict(width=8, rounds=0), "at least 1"),
    (dict(width=8, rounds=2, keys=[1]), "expected 2 round keys"),
    (dict(width=8, rounds=1, keys=[16]), "4-bit"),
])
def test_parameter_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FeistelHash(**kwargs)


def test_out_of_range_value():
    f = FeistelHash(8)
    with pytest.raises(ValueError, match="8 bits"):
        f.forward(256)
    with pytest.raises(ValueError, match="8 bits"):
        f.forward_array([1, 256])
