"""Embedding rows split the Hotline way: a hot table on the training device, cold rows in host
memory behind a :class:`~sw_driver.dlrm.cold_rows.ColdRowPort`.

Where a row lives
-----------------
Before :meth:`HotlineEmbeddings.freeze` (the learning phase) every row is in host memory and
every lookup is cold. ``freeze`` switches the popularity table to ``RUN`` and *moves* the rows of
its hot set (the keys of its valid entries) to the device: each is gathered through the port and
stored in :attr:`HotlineEmbeddings.hot` at the row of its table **slot**, the index the
popularity table answers a hit with. From then on a row's value is in exactly one place: a hot
key's in ``hot[slot]``, a cold key's in the host memory image. With ``poison=True`` (default) the
host copies of the hot rows are overwritten with NaN through the port and the unused slots of
``hot`` hold NaN, so serving a row from the wrong place cannot go unnoticed (a gathered NaN
raises, a NaN slot poisons the loss).

Serving a micro-batch
---------------------
A lookup that hit (after the freeze) reads ``hot[slot]``; the others are *cold*: the distinct
cold keys of a step are gathered once (:meth:`gather_cold`) into a leaf tensor on the device,
the micro-batches index into it (:meth:`embed`), and after the backward pass
:meth:`update_cold` applies the SGD step to those rows and writes every one of them back through
the port, grouped by table. The hot table is a ``torch.nn.Parameter`` read with
``F.embedding(..., sparse=True)``, so the optimizer updates exactly the hot rows used, on the
device.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from hotline_hw.model.fast_table import slot_keys
from hotline_hw.model.popularity_table import HotSetOverflowError, Mode, PopularityTable

from .cold_rows import ColdRowPort, HostEmbeddingMemory
from .model import DLRMConfig

__all__ = ["ColdRows", "HotlineEmbeddings", "StaleRowError", "pack_keys", "unpack_keys"]

_ROW_BITS = 40


def pack_keys(tables: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``(table, row)`` as one int64 per key (sorting them sorts by table, then row)."""
    return (np.asarray(tables, dtype=np.int64) << _ROW_BITS) | np.asarray(rows, dtype=np.int64)


def unpack_keys(keys: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack_keys`: int64 ``[n, 2]`` of ``(table, row)``."""
    keys = np.asarray(keys, dtype=np.int64)
    return np.stack([keys >> _ROW_BITS, keys & ((1 << _ROW_BITS) - 1)], axis=1)


class StaleRowError(RuntimeError):
    """A gathered cold row holds the NaN left in place of a row that moved to the device."""


@dataclass
class ColdRows:
    """The distinct cold rows of one step, on the device.

    ``keys`` are the packed keys (sorted); ``values`` a leaf ``[n, dim]`` tensor that requires a
    gradient, row ``i`` the value of key ``keys[i]`` as gathered.
    """
    keys: np.ndarray
    values: torch.Tensor

    def __len__(self) -> int:
        return len(self.keys)

    def index_of(self, keys: np.ndarray) -> np.ndarray:
        """Row in :attr:`values` of each of ``keys`` (every one must be present)."""
        index = np.searchsorted(self.keys, keys)
        if len(keys) and (index.max(initial=0) >= len(self.keys)
                          or not np.array_equal(self.keys[index], keys)):
            raise KeyError("a cold key was not gathered for this step")
        return index


class HotlineEmbeddings:
    """Hot rows on the device, cold rows in host memory (see the module docstring).

    Parameters
    ----------
    config : DLRMConfig
        Table sizes and ``dim``.
    memory : HostEmbeddingMemory
        The host image; holds every row until :meth:`freeze`, the cold rows after it.
    port : ColdRowPort
        Moves rows between the image and the device.
    table : PopularityTable
        The popularity table; :meth:`freeze` switches it to ``RUN``.
    device : torch.device
    poison : bool
        Overwrite moved rows' host copies and unused hot slots with NaN (see above).
    fast : bool
        Read the hot set with :func:`~hotline_hw.model.fast_table.slot_keys` (default) or
        slot by slot with the golden ``key_of_slot`` (same keys, proven equal).

    Attributes
    ----------
    hot : torch.nn.Parameter
        ``[table.geometry.entries, dim]`` on ``device``; row ``slot`` holds the hot key of that
        slot (meaningful only after :meth:`freeze`).
    frozen : bool
        Whether the hot set is on the device.
    hot_tables, hot_rows, hot_slots : numpy.ndarray
        The hot keys and their slots (empty before the freeze).
    rows_gathered, rows_written_back : int
        Cold rows moved through the port by steps (the freeze's moves not included).
    """

    def __init__(self, config: DLRMConfig, memory: HostEmbeddingMemory, port: ColdRowPort,
                 table: PopularityTable, device: torch.device | str, *, poison: bool = True,
                 fast: bool = True):
        if memory.table_sizes != config.table_sizes or memory.dim != config.dim:
            raise ValueError("the host memory image does not match the model's tables")
        self.config = config
        self.memory = memory
        self.port = port
        self.table = table
        self.device = torch.device(device)
        self.poison = poison
        self.fast = fast
        entries = table.geometry.entries
        #: torch dtype of the rows: the host image's (float32, or float64 for verification)
        self.dtype = torch.float64 if memory.dtype.itemsize == 8 else torch.float32
        fill = float("nan") if poison else 0.0
        self.hot = torch.nn.Parameter(
            torch.full((entries, config.dim), fill, dtype=self.dtype, device=self.device))
        self.frozen = False
        self.hot_tables = self.hot_rows = self.hot_slots = np.zeros(0, dtype=np.int64)
        self.rows_gathered = 0
        self.rows_written_back = 0

    # -- the hot set ---------------------------------------------------------------------------

    def load_hot_set(self, keys: Iterable[tuple[int, int]]) -> None:
        """Place a software-chosen hot set in the popularity table (instead of learning one).

        Raises :class:`HotSetOverflowError` if it does not fit the table (more keys than
        entries, or more than ``ways`` in some set), naming the sizes.
        """
        if self.frozen:
            raise RuntimeError("the hot set is already on the device")
        keys = [(int(t), int(r)) for t, r in keys]
        geometry = self.table.geometry
        if len(keys) > geometry.entries:
            raise HotSetOverflowError(
                f"hot set of {len(keys)} rows is larger than the popularity table "
                f"({geometry.entries} entries = {geometry.sets} sets x {geometry.ways} ways)")
        for t, r in keys:
            if not 0 <= t < self.config.n_tables or not 0 <= r < self.config.table_sizes[t]:
                raise IndexError(f"hot set key (table={t}, row={r}) is outside the tables")
        try:
            self.table.load_hot_set(keys)
        except HotSetOverflowError as error:
            raise HotSetOverflowError(f"{error} (hot set of {len(keys)} rows)") from error

    def freeze(self) -> int:
        """Freeze the hot set: table to ``RUN``, hot rows moved to the device. Returns their
        number. (:meth:`freeze_table` then :meth:`move_hot_rows`.)"""
        count = self.freeze_table()
        self.move_hot_rows()
        return count

    def freeze_table(self) -> int:
        """The freeze's table side: table to ``RUN``, the hot keys and slots read, ``frozen``
        set (lookups are classified hot from now on). Returns the number of hot keys."""
        if self.frozen:
            raise RuntimeError("the hot set is already frozen")
        self.table.mode = Mode.RUN
        if self.fast:
            slots, tables, rows = slot_keys(self.table)
        else:
            slots, tables, rows = [], [], []
            for slot in range(self.table.geometry.entries):
                key = self.table.key_of_slot(slot)
                if key is not None:
                    slots.append(slot)
                    tables.append(key[0])
                    rows.append(key[1])
        self.hot_slots = np.asarray(slots, dtype=np.int64)
        self.hot_tables = np.asarray(tables, dtype=np.int64)
        self.hot_rows = np.asarray(rows, dtype=np.int64)
        bad = (self.hot_tables >= self.config.n_tables) | (
            self.hot_rows >= np.asarray(self.config.table_sizes)[
                np.minimum(self.hot_tables, self.config.n_tables - 1)])
        if bad.any():
            i = int(np.argmax(bad))
            raise IndexError(f"the popularity table holds (table={tables[i]}, row={rows[i]}), "
                             f"outside the embedding tables")
        self.frozen = True
        return len(slots)

    def move_hot_rows(self) -> None:
        """The freeze's data side (after :meth:`freeze_table`, before any hot lookup is
        served): the hot rows gathered into ``hot`` at their slots, their host copies poisoned."""
        if len(self.hot_slots):
            requests = np.stack([self.hot_tables, self.hot_rows], axis=1)
            values = self.port.gather(requests)
            with torch.no_grad():
                self.hot[torch.from_numpy(self.hot_slots).to(self.device)] = \
                    torch.from_numpy(values).to(self.device)
            if self.poison:
                nan = np.full((1, self.config.dim), np.nan, dtype=self.memory.dtype)
                for t in np.unique(self.hot_tables).tolist():
                    mine = self.hot_tables == t
                    self.port.write_back(t, self.hot_rows[mine],
                                         np.repeat(nan, int(mine.sum()), axis=0))

    # -- serving -------------------------------------------------------------------------------

    def gather_cold(self, keys: np.ndarray, *, requires_grad: bool = True) -> ColdRows:
        """Gather the distinct packed ``keys`` (sorted, unique) through the port."""
        keys = np.asarray(keys, dtype=np.int64)
        return self.cold_rows_from(keys, self.read_cold(keys), requires_grad=requires_grad)

    def read_cold(self, keys: np.ndarray) -> np.ndarray:
        """The host values ``[n, dim]`` of the packed ``keys`` through the port (not checked:
        :meth:`cold_rows_from` checks them)."""
        keys = np.asarray(keys, dtype=np.int64)
        if not len(keys):
            return np.zeros((0, self.config.dim), dtype=self.memory.dtype)
        values = np.asarray(self.port.gather(unpack_keys(keys)), dtype=self.memory.dtype)
        if values.shape != (len(keys), self.config.dim):
            raise RuntimeError(f"the port returned shape {values.shape} for {len(keys)} "
                               f"rows of dim {self.config.dim}")
        return values

    def cold_rows_from(self, keys: np.ndarray, values: np.ndarray, *,
                       requires_grad: bool = True) -> ColdRows:
        """The step's :class:`ColdRows` from gathered ``values``: a stale (NaN) row raises
        :class:`StaleRowError`; on a CUDA device the rows are staged in pinned memory and
        copied without blocking."""
        if len(keys):
            stale = np.isnan(values).any(axis=1)
            if stale.any():
                i = int(np.argmax(stale))
                t, r = unpack_keys(keys[i:i + 1])[0]
                raise StaleRowError(f"gathered table {t} row {r} from host memory, but it holds "
                                    f"NaN: the row is hot and lives on the device")
            self.rows_gathered += len(keys)
        tensor = torch.from_numpy(values)
        if self.device.type == "cuda":
            tensor = tensor.pin_memory().to(self.device, non_blocking=True)
        else:
            tensor = tensor.to(self.device)
        return ColdRows(keys, tensor.requires_grad_(requires_grad))

    def embed(self, sparse: np.ndarray, hot: np.ndarray, slots: np.ndarray,
              cold: ColdRows, cold_index: np.ndarray | None = None) -> torch.Tensor:
        """Embeddings ``[n, T, dim]`` of ``n`` samples.

        ``sparse``, ``hot`` and ``slots`` are ``[n, T]``: the row looked up, whether it is served
        from the hot table (only possible once frozen) and its slot. Cold lookups are read from
        ``cold``, which must hold their keys; ``cold_index`` (optional) is already each cold
        lookup's row in ``cold`` (row-major order), as :meth:`ColdRows.index_of` finds it.
        """
        n, t = sparse.shape
        hot = np.asarray(hot, dtype=bool)
        if hot.any() and not self.frozen:
            raise RuntimeError("hot lookups before the hot set is on the device")
        flat_hot = hot.ravel()
        hot_pos = np.flatnonzero(flat_hot)
        cold_pos = np.flatnonzero(~flat_hot)
        tables = np.broadcast_to(np.arange(t, dtype=np.int64), (n, t)).ravel()
        if cold_index is None:
            cold_index = cold.index_of(pack_keys(tables[cold_pos], sparse.ravel()[cold_pos]))
        elif len(cold_index) != len(cold_pos):
            raise ValueError(f"{len(cold_index)} cold indices for {len(cold_pos)} cold lookups")
        parts = []
        if len(hot_pos):
            hot_slots = torch.from_numpy(slots.ravel()[hot_pos]).to(self.device)
            parts.append(F.embedding(hot_slots, self.hot, sparse=True))
        if len(cold_pos):
            parts.append(cold.values[torch.from_numpy(cold_index).to(self.device)])
        if len(parts) == 1:
            # All hot (every popular micro-batch) or all cold: already in row-major order. The
            # reorder below would be an identity gather whose backward scatters into zeros
            # (same values, 8x the time at B = 1024: 1.37 ms vs 0.18 ms forward + backward).
            return parts[0].view(n, t, self.config.dim)
        parts = torch.cat(parts)
        order = np.empty(n * t, dtype=np.int64)
        order[hot_pos] = np.arange(len(hot_pos))
        order[cold_pos] = len(hot_pos) + np.arange(len(cold_pos))
        return parts[torch.from_numpy(order).to(self.device)].view(n, t, self.config.dim)

    def update_cold(self, cold: ColdRows, lr: float, *, queue=None) -> int:
        """SGD on the gathered rows (``value - lr * grad``, as ``torch.optim.SGD``) and write
        every one of them back through the port, one call per table (one in all where the
        port has ``write_back_many(requests, values)``), or hand them to ``queue``
        (:class:`~sw_driver.dlrm.overlap.WriteBackQueue`) to be written asynchronously.
        Returns rows written (or queued)."""
        if not len(cold):
            return 0
        with torch.no_grad():
            values = cold.values.detach()
            if cold.values.grad is not None:
                values = values.add(cold.values.grad, alpha=-lr)
            host = values.cpu().numpy()
        requests = unpack_keys(cold.keys)
        if queue is not None:
            queue.submit(cold.keys, requests, host)
            self.rows_written_back += len(requests)
            return len(requests)
        self.write_rows(requests, host)
        self.rows_written_back += len(requests)
        return len(requests)

    def write_rows(self, requests: np.ndarray, host: np.ndarray) -> None:
        """Write rows ``(table, row)`` (grouped by table, tables ascending) through the port."""
        if hasattr(self.port, "write_back_many"):        # every table in one call
            self.port.write_back_many(requests, host)
            return
        tables, starts = np.unique(requests[:, 0], return_index=True)
        ends = np.append(starts[1:], len(requests))
        for t, a, b in zip(tables.tolist(), starts.tolist(), ends.tolist()):
            self.port.write_back(t, requests[a:b, 1], host[a:b])

    # -- views ---------------------------------------------------------------------------------

    def assembled_tables(self) -> list[np.ndarray]:
        """Every table as ``[rows, dim]`` (the image's dtype): the host image with the hot rows
        (from the device) in place. Host-side read, not through the port."""
        tables = [self.memory.table_view(t).copy() for t in range(self.config.n_tables)]
        if self.frozen and len(self.hot_slots):
            hot = self.hot.detach()[torch.from_numpy(self.hot_slots).to(self.device)].cpu().numpy()
            for t in np.unique(self.hot_tables).tolist():
                mine = self.hot_tables == t
                tables[t][self.hot_rows[mine]] = hot[mine]
        return tables

    def is_hot(self, table: int, row: int) -> bool:
        """Whether ``(table, row)`` lives on the device."""
        return bool(np.any((self.hot_tables == table) & (self.hot_rows == row)))
