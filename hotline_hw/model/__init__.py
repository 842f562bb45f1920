"""Golden model of the Hotline accelerator: the specification the RTL is checked against.

Pure Python and numpy; this package never imports Amaranth, so the host driver can use it
without the hardware toolchain.
"""

from .feistel import FeistelHash, default_round_keys
from .keys import KeyLayout, KeyRangeError
from .oracle import OracleProfiler, hit_fraction, popular_fraction
from .popularity_table import (RRPV_INSERT, RRPV_MAX, Entry, HotSetOverflowError, LookupResult,
                               Mode, PopularityTable, TableGeometry, beat_set_conflicts,
                               classify_hits)

__all__ = [
    "FeistelHash", "default_round_keys", "KeyLayout", "KeyRangeError", "OracleProfiler",
    "hit_fraction", "popular_fraction", "RRPV_INSERT", "RRPV_MAX", "Entry", "HotSetOverflowError",
    "LookupResult", "Mode", "PopularityTable", "TableGeometry", "beat_set_conflicts",
    "classify_hits",
]
