"""Test seeds: derived from the test id, overridable with ``$HOTLINE_SEED``, always printed."""

from __future__ import annotations

import os
import zlib

__all__ = ["seed_for"]


def seed_for(test_id: str) -> int:
    """The seed of a test: ``$HOTLINE_SEED`` if set, else a 31-bit CRC of the test id."""
    override = os.environ.get("HOTLINE_SEED", "").strip()
    if override:
        return int(override, 0)
    return zlib.crc32(test_id.encode()) & 0x7FFF_FFFF
