"""Feistel-network hash of lookup keys: the bijection that spreads keys over the table's sets.

The hash works on ``width`` bits (an even number), split into a high half ``L`` and a low half
``R`` of ``half = width // 2`` bits each. Round ``i`` (``i = 0 .. rounds-1``) maps::

    L, R = R, L ^ F(R, k[i])

and the result is ``(L << half) | R``. The round function is cheap in logic (one adder and a few
XOR/AND gates per bit, no multiplier, no table) so a lookup lane can evaluate all rounds in one or
two clock cycles::

    t = (x + k) mod 2**half
    F(x, k) = rotl(t, 1) ^ (rotl(t, 2) & rotl(t, 5)) ^ rotl(t, 7) ^ x     (rotations mod half)

A Feistel network is a bijection whatever ``F`` is, so the inverse (rounds in reverse order,
``R, L = L, R ^ F(L, k[i])``) recovers the key from the hash: the popularity table stores only the
hash bits that the set index does not already give (the tag), and ``(set, tag)`` names the key.

The default round keys are the top ``half`` bits of ``(0x9E3779B97F4A7C15 * (i + 1)) mod 2**64``
(the golden-ratio constant), a documented fixed choice, not a secret: any keys give a bijection.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FeistelHash", "default_round_keys", "round_function"]

_GOLDEN = 0x9E3779B97F4A7C15
_ROTATIONS = (1, 2, 5, 7)


def default_round_keys(half: int, rounds: int) -> tuple[int, ...]:
    """The default round keys for halves of ``half`` bits (see the module docstring)."""
    mask = (1 << 64) - 1
    return tuple(((_GOLDEN * (i + 1)) & mask) >> (64 - half) for i in range(rounds))


def _rotl(x: int, amount: int, bits: int) -> int:
    amount %= bits
    mask = (1 << bits) - 1
    return ((x << amount) | (x >> (bits - amount))) & mask


def round_function(x: int, key: int, half: int) -> int:
    """The Feistel round function ``F(x, key)`` on ``half``-bit values."""
    mask = (1 << half) - 1
    t = (x + key) & mask
    r1, r2, r3, r4 = _ROTATIONS
    return (_rotl(t, r1, half) ^ (_rotl(t, r2, half) & _rotl(t, r3, half))
            ^ _rotl(t, r4, half) ^ x)


def _rotl_array(x: np.ndarray, amount: int, bits: int, mask: np.uint64) -> np.ndarray:
    amount %= bits
    if amount == 0:
        return x
    return ((x << np.uint64(amount)) | (x >> np.uint64(bits - amount))) & mask


def _round_function_array(x: np.ndarray, key: int, half: int) -> np.ndarray:
    mask = np.uint64((1 << half) - 1)
    t = (x + np.uint64(key)) & mask
    r1, r2, r3, r4 = _ROTATIONS
    return (_rotl_array(t, r1, half, mask)
            ^ (_rotl_array(t, r2, half, mask) & _rotl_array(t, r3, half, mask))
            ^ _rotl_array(t, r4, half, mask) ^ x)


class FeistelHash:
    """A balanced Feistel network over ``width`` bits (see the module docstring).

    Parameters
    ----------
    width : int
        Number of bits hashed; even, 2 to 62.
    rounds : int
        Number of Feistel rounds, at least 1 (default 4).
    keys : sequence of int, optional
        One round key of ``width // 2`` bits per round; defaults to :func:`default_round_keys`.
    """

    def __init__(self, width: int, rounds: int = 4, keys=None):
        if not isinstance(width, int) or isinstance(width, bool):
            raise TypeError(f"width must be an int, not {width!r}")
        if width < 2 or width > 62 or width % 2:
            raise ValueError(f"width must be an even number from 2 to 62, not {width}")
        if not isinstance(rounds, int) or isinstance(rounds, bool):
            raise TypeError(f"rounds must be an int, not {rounds!r}")
        if rounds < 1:
            raise ValueError(f"rounds must be at least 1, not {rounds}")
        half = width // 2
        if keys is None:
            keys = default_round_keys(half, rounds)
        keys = tuple(keys)
        if len(keys) != rounds:
            raise ValueError(f"expected {rounds} round keys, got {len(keys)}")
        for key in keys:
            if not isinstance(key, int) or not 0 <= key < (1 << half):
                raise ValueError(f"round key {key!r} is not a {half}-bit unsigned integer")
        self._width = width
        self._half = half
        self._rounds = rounds
        self._keys = keys

    @property
    def width(self) -> int:
        return self._width

    @property
    def half(self) -> int:
        return self._half

    @property
    def rounds(self) -> int:
        return self._rounds

    @property
    def keys(self) -> tuple[int, ...]:
        return self._keys

    def __repr__(self):
        return f"FeistelHash(width={self._width}, rounds={self._rounds}, keys={self._keys})"

    def _check(self, x: int) -> None:
        if not 0 <= x < (1 << self._width):
            raise ValueError(f"value {x:#x} does not fit {self._width} bits")

    def forward(self, x: int) -> int:
        """Hash one ``width``-bit value."""
        self._check(x)
        half = self._half
        lo_mask = (1 << half) - 1
        left, right = x >> half, x & lo_mask
        for key in self._keys:
            left, right = right, left ^ round_function(right, key, half)
        return (left << half) | right

    def inverse(self, y: int) -> int:
        """Undo :meth:`forward`."""
        self._check(y)
        half = self._half
        lo_mask = (1 << half) - 1
        left, right = y >> half, y & lo_mask
        for key in reversed(self._keys):
            left, right = right ^ round_function(left, key, half), left
        return (left << half) | right

    def forward_array(self, x) -> np.ndarray:
        """Vectorised :meth:`forward` over an array of values (returns uint64)."""
        x = np.asarray(x, dtype=np.uint64)
        if x.size and int(x.max()) >> self._width:
            raise ValueError(f"values do not fit {self._width} bits")
        half = np.uint64(self._half)
        mask = np.uint64((1 << self._half) - 1)
        left, right = x >> half, x & mask
        for key in self._keys:
            left, right = right, left ^ _round_function_array(right, key, self._half)
        return (left << half) | right

    def inverse_array(self, y) -> np.ndarray:
        """Vectorised :meth:`inverse` (returns uint64)."""
        y = np.asarray(y, dtype=np.uint64)
        if y.size and int(y.max()) >> self._width:
            raise ValueError(f"values do not fit {self._width} bits")
        half = np.uint64(self._half)
        mask = np.uint64((1 << self._half) - 1)
        left, right = y >> half, y & mask
        for key in reversed(self._keys):
            left, right = right ^ _round_function_array(left, key, self._half), left
        return (left << half) | right
