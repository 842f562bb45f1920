"""Helpers of the DLRM tests (a module of its own: conftest files are not for importing)."""

from __future__ import annotations

import numpy as np

from hotline_hw.model.popularity_table import TableGeometry
from sw_driver.data import SyntheticCriteo
from sw_driver.dlrm import DLRMConfig, GatherModelPort

#: Small tables (8 of them) for fast exact-equivalence and bookkeeping tests.
SMALL_TABLES = (50, 200, 30, 500, 80, 1000, 20, 300)
#: 128 sets x 4 ways = 512 entries for SMALL_TABLES' 2180 rows: learned on the first 10% of the
#: mini-batches, it makes about 28% of the samples popular.
SMALL_GEOMETRY = TableGeometry(table_bits=3, row_bits=10, set_bits=7, ways=4)


def small_config() -> DLRMConfig:
    return DLRMConfig.small(SMALL_TABLES, dim=4, hidden=16)


def small_data(n: int, seed: int) -> SyntheticCriteo:
    return SyntheticCriteo(n, table_sizes=SMALL_TABLES, seed=seed % (2**31))


class RecordingPort:
    """A :class:`GatherModelPort` that records every call it forwards, in order.

    ``events`` holds ``("gather", requests)`` and ``("write", table, rows, values)`` tuples.
    """

    def __init__(self, memory):
        self.inner = GatherModelPort(memory)
        self.dim = self.inner.dim
        self.events: list[tuple] = []

    def gather(self, requests):
        self.events.append(("gather", np.array(requests, dtype=np.int64).reshape(-1, 2)))
        return self.inner.gather(requests)

    def write_back(self, table, rows, values):
        self.events.append(("write", int(table), np.array(rows, dtype=np.int64),
                            np.array(values)))
        self.inner.write_back(table, rows, values)

    @property
    def gathers(self) -> list[np.ndarray]:
        return [e[1] for e in self.events if e[0] == "gather"]

    @property
    def writes(self) -> list[tuple]:
        return [e[1:] for e in self.events if e[0] == "write"]

    @property
    def rows_written(self) -> int:
        return sum(len(rows) for _, rows, _ in self.writes)
