"""Bytes moved between host memory and the training device, counted where they move.

:class:`HostDeviceTraffic` is a small counter shared by the trainers that keep embedding rows in
host memory; :class:`CountingPort` wraps any :class:`~sw_driver.dlrm.cold_rows.ColdRowPort` and
adds every row it gathers (host -> device) or writes back (device -> host) to the counter, under
the port's current *category*. The figures are counts of what went through the port (the bytes
of the arrays handed over), not a model of it.

Categories (the trainers set them with :meth:`CountingPort.tagged`):

* ``cold_gather`` / ``cold_write_back``: rows a step reads from host memory and writes back
  (the defaults of ``gather`` and ``write_back``);
* ``hot_load``: hot rows moved to the device once, before they are used there (Hotline's
  freeze, FAE's first load of its hot table);
* ``sync_to_host`` / ``sync_to_device``: FAE's hot-row synchronisation at a hot/cold swap.

A trainer whose tables live on the device (:class:`~sw_driver.dlrm.trainer.BaselineTrainer`)
moves no embedding rows and reports an empty counter.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .cold_rows import ColdRowPort

__all__ = ["CATEGORIES", "CountingPort", "HostDeviceTraffic"]

#: Every category, with its direction.
CATEGORIES = {"cold_gather": "h2d", "cold_write_back": "d2h", "hot_load": "h2d",
              "sync_to_host": "d2h", "sync_to_device": "h2d"}


class HostDeviceTraffic:
    """Rows, bytes and transfer calls per category (see the module docstring)."""

    def __init__(self) -> None:
        self.rows = dict.fromkeys(CATEGORIES, 0)
        self.bytes = dict.fromkeys(CATEGORIES, 0)
        self.calls = dict.fromkeys(CATEGORIES, 0)

    def add(self, category: str, rows: int, nbytes: int) -> None:
        """Count one transfer of ``rows`` rows, ``nbytes`` bytes."""
        if category not in CATEGORIES:
            raise ValueError(f"unknown traffic category {category!r} (known: {list(CATEGORIES)})")
        if rows < 0 or nbytes < 0:
            raise ValueError(f"negative traffic: {rows} rows, {nbytes} bytes")
        self.rows[category] += int(rows)
        self.bytes[category] += int(nbytes)
        self.calls[category] += 1

    def total_bytes(self, direction: str | None = None) -> int:
        """All bytes, or those of one direction (``"h2d"`` or ``"d2h"``)."""
        return sum(b for c, b in self.bytes.items()
                   if direction is None or CATEGORIES[c] == direction)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": dict(self.rows), "bytes": dict(self.bytes), "calls": dict(self.calls),
                "h2d_bytes": self.total_bytes("h2d"), "d2h_bytes": self.total_bytes("d2h"),
                "total_bytes": self.total_bytes()}


class CountingPort:
    """A :class:`ColdRowPort` that counts what the wrapped port moves (see module docstring).

    Parameters
    ----------
    port : ColdRowPort
        Does the moving.
    traffic : HostDeviceTraffic
        Where the counts go (shared between ports / trainers if wanted).
    """

    def __init__(self, port: ColdRowPort, traffic: HostDeviceTraffic):
        self.port = port
        self.traffic = traffic
        self._tag: str | None = None

    @contextmanager
    def tagged(self, category: str) -> Iterator[None]:
        """Count every transfer inside the ``with`` block as ``category``."""
        if category not in CATEGORIES:
            raise ValueError(f"unknown traffic category {category!r}")
        outer, self._tag = self._tag, category
        try:
            yield
        finally:
            self._tag = outer

    def gather(self, requests: np.ndarray) -> np.ndarray:
        values = np.asarray(self.port.gather(requests))
        self.traffic.add(self._tag or "cold_gather", len(values), values.nbytes)
        return values

    def write_back(self, table: int, rows: np.ndarray, values: np.ndarray) -> None:
        self.port.write_back(table, rows, values)
        values = np.asarray(values)
        self.traffic.add(self._tag or "cold_write_back", len(values), values.nbytes)

    def write_back_many(self, requests: np.ndarray, values: np.ndarray) -> None:
        """Rows of several tables at once (``requests`` rows are ``(table, row)``), as the fast
        host path writes them; counted like :meth:`write_back`."""
        requests, values = np.asarray(requests), np.asarray(values)
        if hasattr(self.port, "write_back_many"):
            self.port.write_back_many(requests, values)
        else:
            for table in np.unique(requests[:, 0]):
                chosen = requests[:, 0] == table
                self.port.write_back(int(table), requests[chosen, 1], values[chosen])
        self.traffic.add(self._tag or "cold_write_back", len(values), values.nbytes)

    def __getattr__(self, name: str):
        # The wrapped port's own counters (gather_calls, ...) stay visible.
        if name == "port":
            raise AttributeError(name)
        return getattr(self.port, name)
