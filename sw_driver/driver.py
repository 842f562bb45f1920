"""Host driver of the Hotline accelerator (async, over any :class:`~sw_driver.transport.
Transport`), and a synchronous wrapper.

Typical use (golden-model backend; the cocotb backend is used the same way inside a
simulation)::

    from sw_driver import HotlineDriver, ModelDevice, TableLayout

    driver = HotlineDriver(ModelDevice())
    await driver.identify()
    await driver.configure_tables([TableLayout(base, stride, rows) for ...], dim=16)
    await driver.configure(batch_size=1024, working_set=4)
    learned = await driver.submit(first_5_percent, learn=True)    # learn the hot set
    result = await driver.submit(working_set_samples)             # micro-batches + cold rows
    await driver.write_back(updated_rows)
    await driver.wait_writes()

Errors the hardware reports (``ERRORS``) surface as :class:`HotlineError` with the bits and
the first failing request decoded.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from hotline_hw import register_map as rmap
from hotline_hw.model.gather import GatherError
from hotline_hw.model.keys import KeyRangeError
from hotline_hw.model.popularity_table import HotSetOverflowError, PopularityTable
from hotline_hw.model.scheduler import ALPHA_MAX, MicroBatchKind

from .indices import as_index, as_keys, as_sample_array, as_samples
from .transport import Transport
from .wire import GatheredRow, MicroBatchPacket, WireFormat

__all__ = ["HotlineDriver", "SyncHotlineDriver", "HotlineError", "TableLayout",
           "WorkingSetResult", "HotSetOverflowError", "StaleMarkError", "KeyRangeError"]

#: ``HOST_CMD`` op codes (:class:`hotline_hw.lookup_stream.HostOp`; no Amaranth import here).
_READ, _WRITE, _CLEAR, _MARK_STALE, _CLEAR_STALE = range(5)


class HotlineError(RuntimeError):
    """An error the accelerator reported; ``errors`` names the ``ERRORS`` bits that are set,
    ``details`` the first failing request of the gather and write-back sides."""

    def __init__(self, message: str, errors: Sequence[str] = (), details: dict | None = None):
        super().__init__(message)
        self.errors = tuple(errors)
        self.details = dict(details or {})


class StaleMarkError(RuntimeError):
    """:meth:`HotlineDriver.mark_stale` called while learning: stale bits belong to the frozen
    hot set of the run phase (a learning table may evict a marked key's entry)."""


@dataclass(frozen=True)
class TableLayout:
    """Where an embedding table lies in host memory: ``base`` byte address, ``stride`` bytes
    from row to row, ``rows`` rows (0: unconfigured). Any integer type is accepted and stored
    as a Python int; negative values and non-integers raise at construction. The driver checks
    the layout against the build and the transport's host memory in
    :meth:`HotlineDriver.configure_tables`."""
    base: int
    stride: int
    rows: int

    def __post_init__(self):
        for name in ("base", "stride", "rows"):
            object.__setattr__(self, name, as_index(getattr(self, name), f"TableLayout.{name}"))


@dataclass
class WorkingSetResult:
    """What the accelerator returned for a submitted set of samples.

    ``micro_batches`` in emission order; ``rows`` the gathered cold rows in the order of the
    micro-batches' cold lookups (``cold_lookups`` lists, for each, the micro-batch index,
    the sample's position in it and the lookup index in the sample).
    """
    micro_batches: list[MicroBatchPacket] = field(default_factory=list)
    rows: list[GatheredRow] = field(default_factory=list)
    cold_lookups: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def samples(self) -> int:
        return sum(mb.size for mb in self.micro_batches)

    def skipped_ids(self) -> list[int]:
        """Ids of the skipped samples (``SKIPPED`` micro-batches: Slipstream's stale inputs,
        not to be trained), in emission order."""
        return [sample_id for mb in self.micro_batches if mb.kind == MicroBatchKind.SKIPPED
                for sample_id, _ in mb.samples()]

    def trained_ids(self) -> list[int]:
        """Ids of the samples of every other micro-batch (to be trained), in emission order."""
        return [sample_id for mb in self.micro_batches if mb.kind != MicroBatchKind.SKIPPED
                for sample_id, _ in mb.samples()]

    def popular_fraction(self) -> float:
        """Share of the samples that left in popular micro-batches (served by the GPU alone)."""
        popular = sum(mb.size for mb in self.micro_batches if mb.kind == 0)
        return popular / max(1, self.samples)

    def popular_sample_fraction(self) -> float:
        """Share of the samples whose every lookup is hot (popular samples; in REFORMED mode
        those beyond a multiple of B leave in mixed micro-batches)."""
        popular = sum(all(lane.hot for lane in lanes)
                      for mb in self.micro_batches for _, lanes in mb.samples())
        return popular / max(1, self.samples)


class HotlineDriver:
    """Async driver of one accelerator (see the module docstring)."""

    def __init__(self, transport: Transport):
        self.transport = transport
        self.config = transport.config
        self.wire = WireFormat(self.config)
        self.dim = 1
        self.learning = True
        self.lookups = 0
        self._next_sample = 0
        self._configured = False           # configure() called
        self._tables_configured = False    # configure_tables() called

    # -- registers ------------------------------------------------------------------------

    async def read(self, name: str) -> int:
        return await self.transport.read_register(rmap.register(name).address)

    async def write(self, name: str, value: int) -> None:
        await self.transport.write_register(rmap.register(name).address, value)

    async def read_fields(self, name: str) -> dict[str, int]:
        return rmap.register(name).unpack(await self.read(name))

    async def identify(self) -> dict:
        """Check the device is a Hotline accelerator built as ``config`` says; returns the
        decoded ``VERSION`` and ``PARAMS*`` registers."""
        ident = await self.read("ID")
        if ident != rmap.ID_VALUE:
            raise HotlineError(f"ID register reads {ident:#010x}, not {rmap.ID_VALUE:#010x}: "
                               f"not a Hotline accelerator")
        info = {"version": await self.read_fields("VERSION")}
        c = self.config
        expected = rmap.constant_values(c.geometry, dict(
            lanes=c.lanes, max_lookups=c.max_lookups, num_tables=c.num_tables,
            bus_bytes=c.bus_bytes, max_dim=c.max_dim, reads_in_flight=c.reads_in_flight,
            capacity=c.capacity))
        for name in ("PARAMS0", "PARAMS1", "PARAMS2", "PARAMS3"):
            got = await self.read(name)
            if got != expected[name]:
                raise HotlineError(f"{name} reads {rmap.register(name).unpack(got)}; the "
                                   f"driver's configuration expects "
                                   f"{rmap.register(name).unpack(expected[name])}")
            info[name.lower()] = rmap.register(name).unpack(got)
        return info

    async def status(self) -> dict:
        """Activity, errors and counters, decoded."""
        out = {"status": await self.read_fields("STATUS"),
               "errors": [name for name, bit in _error_bits(await self.read("ERRORS"))]}
        for name in rmap.COUNTERS:
            out[name.lower()] = await self.read(name)
        out["write_pending"] = await self.read("WRITE_PENDING")
        return out

    async def check_errors(self) -> None:
        """Raise :class:`HotlineError` if ``ERRORS`` has any bit set."""
        errors = await self.read("ERRORS")
        if not errors:
            return
        names = [name for name, _ in _error_bits(errors)]
        details = {}
        if {"gather_range", "gather_bus"} & set(names):
            table = await self.read_fields("GATHER_ERROR_TABLE")
            details["gather"] = {"tag": await self.read("GATHER_ERROR_TAG"),
                                 "code": GatherError(table["code"]).name,
                                 "table": table["table"],
                                 "row": await self.read("GATHER_ERROR_ROW")}
        if {"write_range", "write_bus", "write_framing"} & set(names):
            table = await self.read_fields("WRITE_ERROR_TABLE")
            details["write"] = {"code": table["code"], "table": table["table"],
                                "row": await self.read("WRITE_ERROR_ROW")}
        meanings = "; ".join(f"{name}: {rmap.ERROR_BITS[name][1]}" for name in names)
        raise HotlineError(f"accelerator reports errors: {meanings}; first failing requests "
                           f"{details}", names, details)

    async def clear_errors(self) -> None:
        await self.write("COMMAND", rmap.register("COMMAND").pack(clear_errors=1))

    async def clear_counters(self) -> None:
        await self.write("COMMAND", rmap.register("COMMAND").pack(clear_counters=1))

    # -- configuration ----------------------------------------------------------------------

    async def configure(self, *, batch_size: int, working_set: int = 4, split: bool = False,
                        lookups: int = 0, capacity_limit: int | None = None,
                        alpha: int = 0) -> None:
        """Scheduler configuration (call while idle): ``B``, ``W``, SPLIT (exact training) or
        REFORMED, ``F`` (lookups per sample; 0 = no framing check) and the held-sample limit
        (default ``W * B``, or ``B`` in SPLIT mode; both backends hold at most the build's
        ``capacity`` samples whatever the limit). ``batch_size`` is at most ``capacity`` (the
        scheduler's buffer). With ``lookups`` set, :meth:`submit` refuses samples of another
        length. ``alpha`` (``ALPHA``, 0 .. 255): a would-be popular sample with at least
        ``alpha`` stale lookups (:meth:`mark_stale`) is skipped; 0 (default) disables it.
        Skipped samples do not count towards ``W * B`` but are held until their working set
        closes, so with ``alpha`` the default held-sample limit is the whole buffer."""
        alpha = _int_in_range(alpha, "alpha", 0, ALPHA_MAX, " (0: no skipping)")
        c = self.config
        batch_size = _int_in_range(batch_size, "batch_size", 1,
                                   min((1 << c.size_bits) - 1, c.capacity),
                                   f" (the scheduler's buffer holds {c.capacity} samples)"
                                   if c.capacity < (1 << c.size_bits) - 1 else "")
        working_set = _int_in_range(working_set, "working_set", 1,
                                    (1 << c.working_set_bits) - 1)
        lookups = _int_in_range(lookups, "lookups (F)", 0, c.max_lookups, " (0: any)")
        split = _bool_arg(split, "split")
        if capacity_limit is not None:
            capacity_limit = as_index(capacity_limit, "capacity_limit")
        limit = capacity_limit if capacity_limit is not None else (
            c.capacity if alpha else batch_size if split else batch_size * working_set)
        if limit < batch_size:
            raise ValueError(f"capacity_limit ({limit}) must be at least batch_size")
        await self.write("BATCH_SIZE", batch_size)
        await self.write("WORKING_SET", working_set)
        await self.write("LOOKUPS", lookups)
        await self.write("CAPACITY_LIMIT", limit)
        await self.write("ALPHA", alpha)
        await self._write_control(split=split)
        self.lookups = lookups
        self._configured = True

    async def _write_control(self, *, split: bool | None = None, learn: bool | None = None):
        fields = await self.read_fields("CONTROL")
        if split is not None:
            fields["split"] = int(split)
        if learn is not None:
            fields["learn"] = int(learn)
            self.learning = bool(learn)
        await self.write("CONTROL", rmap.register("CONTROL").pack(**fields))

    async def set_learning(self, learn: bool) -> None:
        """Learning phase on (table LEARN, every lookup cold) or off (RUN, read-only table)."""
        await self._write_control(learn=_bool_arg(learn, "learn"))

    async def configure_tables(self, layouts: Sequence[TableLayout], dim: int) -> None:
        """Embedding tables in host memory (tables past ``layouts`` are unconfigured) and
        ``dim`` values per row; checks the layouts against the build."""
        c = self.config
        layouts = list(layouts)
        if len(layouts) > c.num_tables:
            raise ValueError(f"{len(layouts)} tables; the accelerator has {c.num_tables}")
        dim = _int_in_range(dim, "dim", 1, c.max_dim)
        memory_size = _memory_size(self.transport.memory)
        for t, layout in enumerate(layouts):
            if not isinstance(layout, TableLayout):
                raise TypeError(f"table {t}: layouts must be TableLayout(base, stride, rows), "
                                f"not {type(layout).__name__}")
            if layout.base % 4 or layout.stride % 4:
                raise ValueError(f"table {t}: base and stride must be multiples of 4")
            if layout.rows and layout.stride < 4 * dim:
                raise ValueError(f"table {t}: stride {layout.stride} < row size {4 * dim}")
            if layout.rows > (1 << c.row_in_bits):
                raise ValueError(f"table {t}: {layout.rows} rows exceed {c.row_in_bits}-bit ids")
            end = layout.base + max(0, layout.rows - 1) * layout.stride + 4 * dim
            if end > (1 << c.addr_bits):
                raise ValueError(f"table {t} ends beyond {c.addr_bits}-bit addresses")
            if layout.rows and memory_size is not None and end > memory_size:
                raise ValueError(f"table {t} ({layout}) ends at byte {end:#x}, beyond the "
                                 f"transport's host memory ({memory_size:#x} bytes)")
        await self.write("DIM", dim)
        self.dim = dim
        self._tables_configured = True
        for t in range(c.num_tables):
            layout = layouts[t] if t < len(layouts) else TableLayout(0, 0, 0)
            for name, value in rmap.table_register_values(layout.base, layout.stride,
                                                          layout.rows).items():
                await self.transport.write_register(rmap.table_register_address(name, t),
                                                    value)

    # -- hot set ------------------------------------------------------------------------------

    def host_polls(self) -> int:
        """Reads of ``HOST_DONE`` before a host command counts as hung: 10,000 plus one per
        set of the table (a ``CLEAR`` takes a cycle per set)."""
        return 10_000 + self.config.geometry.sets

    async def _host(self, op: int, slot: int = 0, *, flags: bool = False) -> dict:
        done = await self.read("HOST_DONE")
        await self.write("HOST_CMD", rmap.register("HOST_CMD").pack(op=op, slot=slot))
        # CLEAR and CLEAR_STALE sweep one set per cycle and every poll takes at least a cycle,
        # so the budget grows with the table (a fixed 10,000 polls failed at 32K sets).
        for _ in range(self.host_polls()):
            if await self.read("HOST_DONE") != done:
                result = await self.read_fields("HOST_RESULT")
                if flags:
                    result.update(await self.read_fields("HOST_FLAGS"))
                return result
        raise HotlineError(f"host command {op} on slot {slot} did not complete")

    # -- stale bits (Slipstream) ------------------------------------------------------------

    async def mark_stale(self, keys) -> list[bool]:
        """Set the stale bit of the popularity-table entry holding each ``(table, row)`` key
        (``HOST_KEY`` + ``HOST_CMD`` MARK_STALE, one command per key; the device must be
        idle). Returns, per key, whether it was in the table (a key that is not is ignored).
        In the run phase a sample that would be popular and has at least ``alpha`` stale
        lookups (:meth:`configure`) then leaves in a ``SKIPPED`` micro-batch.

        Raises :class:`StaleMarkError` while learning, ``TypeError`` / ``ValueError`` for keys
        that are not integer pairs (:mod:`sw_driver.indices`) and :class:`KeyRangeError` for a
        key beyond the build's key widths, all before anything is sent."""
        if self.learning:
            raise StaleMarkError("mark_stale() needs the run phase (set_learning(False) or "
                                 "submit(..., learn=False) first): a learning table may evict "
                                 "a marked entry")
        keys = as_keys(keys, "mark_stale keys")
        layout = self.config.geometry.key_layout
        for table, row in keys:
            if not layout.in_range(table, row):
                raise KeyRangeError(f"mark_stale key ({table}, {row}) is beyond the key widths "
                                    f"(table_bits={layout.table_bits}, "
                                    f"row_bits={layout.row_bits})")
        found = []
        for table, row in keys:
            await self.write("HOST_KEY", layout.pack(table, row))
            found.append(bool((await self._host(_MARK_STALE, flags=True))["hit"]))
        return found

    async def set_alpha(self, alpha: int) -> None:
        """``ALPHA`` alone (as :meth:`configure`'s ``alpha``; the device must be idle). The
        held-sample limit is left as it is."""
        await self.write("ALPHA", _int_in_range(alpha, "alpha", 0, ALPHA_MAX,
                                                " (0: no skipping)"))

    async def clear_stale(self) -> None:
        """Clear every popularity-table entry's stale bit (``HOST_CMD`` CLEAR_STALE; one cycle
        per set on the RTL). Allowed in either phase."""
        await self._host(_CLEAR_STALE)

    async def read_stale_slots(self) -> list[int]:
        """Slots whose stale bit is set (one host READ per entry)."""
        out = []
        for slot in range(self.config.geometry.entries):
            if (await self._host(_READ, slot, flags=True))["stale"]:
                out.append(slot)
        return out

    async def clear_table(self) -> None:
        """Invalidate every popularity-table entry (before learning from scratch: the table's
        memory is not cleared by reset)."""
        await self._host(2)

    async def load_hot_set(self, keys: Iterable[tuple[int, int]]) -> list[int]:
        """Replace the popularity table's contents with ``keys`` (a hot set computed in
        software); returns their slots. Raises :class:`HotSetOverflowError` if a set cannot
        hold its keys (the table is left cleared)."""
        model = PopularityTable(self.config.geometry)
        slots = model.load_hot_set(keys)                 # placement, or HotSetOverflowError
        await self._host(2)                              # CLEAR
        for slot in slots:
            entry = model.read_entry(slot)
            await self.write("HOST_ENTRY", rmap.register("HOST_ENTRY").pack(
                valid=1, rrpv=entry.rrpv, tag=entry.tag))
            result = await self._host(1, slot)
            if not result["valid"] or result["tag"] != entry.tag:
                raise HotlineError(f"host WRITE of slot {slot} read back {result}")
        return slots

    async def read_hot_set(self) -> list[tuple[int, int]]:
        """The keys held in the popularity table (slot order). One host read per entry."""
        return [key for _, key in await self.read_hot_slots()]

    async def read_hot_slots(self, table: PopularityTable | None = None) \
            -> list[tuple[int, tuple[int, int]]]:
        """``(slot, key)`` of every valid popularity-table entry, in slot order (one host read
        per entry). With ``table`` (a golden model of the same geometry), its entries are
        overwritten with the device's, valid and invalid: a mirror of the device's table."""
        model = table if table is not None else PopularityTable(self.config.geometry)
        if model.geometry != self.config.geometry:
            raise ValueError(f"the mirror's geometry {model.geometry} is not the device's "
                             f"{self.config.geometry}")
        out = []
        for slot in range(self.config.geometry.entries):
            entry = await self._host(0, slot)
            model.write_entry(slot, bool(entry["valid"]), entry["rrpv"], entry["tag"])
            if entry["valid"]:
                out.append((slot, model.key_of_slot(slot)))
        return out

    # -- working sets -----------------------------------------------------------------------

    async def submit(self, samples: Sequence, *, learn: bool | None = None) \
            -> WorkingSetResult:
        """Send ``samples`` (each ``(sample_id, [(table, row), ...])`` or just the list of
        keys, numbered from a running counter) and collect the micro-batches covering them
        and their gathered cold rows. ``learn`` switches the learning phase first (the device
        must be idle). The last sample carries ``flush``: it closes its working set, so every
        sample comes back. Raises :class:`HotlineError` on any reported error.

        Indices (sample ids, tables, rows) may be Python ints, numpy integer scalars or arrays
        (a sample's keys as an ``(F, 2)`` array, or all samples as ``(N, F, 2)``) or torch
        integer tensors on any device; anything else, or a negative value, raises
        ``TypeError`` / ``ValueError`` before anything is sent (see :mod:`sw_driver.indices`)."""
        self._require("submit", configure=True)
        if learn is not None:
            learn = _bool_arg(learn, "learn")
        array = as_sample_array(samples)
        if array is not None and len(array) and hasattr(self.transport,
                                                        "submit_arrays_in_process"):
            done = await self._submit_array(array, learn)
            if done is not None:
                return done
            samples = array                   # the general path below, numbered alike
        normalised = as_samples(samples)
        if self.lookups:
            for n, (sample_id, keys) in enumerate(normalised):
                if len(keys) != self.lookups:
                    raise ValueError(f"sample {n}: {len(keys)} lookups; configure(lookups="
                                     f"{self.lookups}) requires {self.lookups} per sample")
        if learn is not None and learn != self.learning:
            await self.set_learning(learn)
        numbered = []
        for sample_id, keys in normalised:
            if sample_id is None:
                sample_id = self._next_sample
                self._next_sample = (self._next_sample + 1) % (1 << self.config.sample_bits)
            numbered.append((sample_id, keys))
        in_process = getattr(self.transport, "submit_in_process", None)
        done = in_process(numbered) if in_process is not None else None
        if done is not None:              # an in-process backend, equal to the wire path
            result = WorkingSetResult(*done)
            await self.check_errors()
            return result
        for n, (sample_id, keys) in enumerate(numbered):
            await self.transport.send_lookups(self.wire.encode_sample(
                sample_id, keys, flush=n == len(numbered) - 1))
        result = WorkingSetResult()
        while result.samples < len(numbered):
            packet = self.wire.decode_micro_batch(await self.transport.recv_micro_batch())
            index = len(result.micro_batches)
            result.micro_batches.append(packet)
            for position, (_, lanes) in enumerate(packet.samples()):
                for lookup, lane in enumerate(lanes):
                    if not lane.hot:
                        result.cold_lookups.append((index, position, lookup))
        for _ in result.cold_lookups:
            tdata, tuser = await self.transport.recv_row()
            result.rows.append(self.wire.decode_row(tdata, tuser, self.dim))
        await self.check_errors()
        return result

    async def _submit_array(self, array: np.ndarray, learn: bool | None) \
            -> WorkingSetResult | None:
        """:meth:`submit` of an ``(N, F, 2)`` integer array on an in-process backend: checked
        and numbered as arrays; ``None`` (sample numbering untouched) where the backend's fast
        path does not apply, and the general path then sends the same samples."""
        n, lookups = array.shape[:2]
        if self.lookups and lookups != self.lookups:
            raise ValueError(f"sample 0: {lookups} lookups; configure(lookups="
                             f"{self.lookups}) requires {self.lookups} per sample")
        if learn is not None and learn != self.learning:
            await self.set_learning(learn)
        modulus = 1 << self.config.sample_bits
        ids = (self._next_sample + np.arange(n, dtype=np.int64)) % modulus
        done = self.transport.submit_arrays_in_process(ids, array)
        if done is None:
            return None
        self._next_sample = (self._next_sample + n) % modulus
        result = WorkingSetResult(*done)
        await self.check_errors()
        return result

    # -- write-back -------------------------------------------------------------------------

    async def write_back(self, rows: Iterable[tuple[int, int, np.ndarray]]) -> int:
        """Queue updated rows ``(table, row, values)`` (``dim`` float32 values each) for the
        write-back engine; returns how many. Use :meth:`wait_writes` to know they are in.
        ``table`` and ``row`` take the integer types :meth:`submit` takes."""
        self._require("write_back", configure=False)
        count = 0
        for n, entry in enumerate(rows):
            try:
                table, row, values = entry
            except (TypeError, ValueError):
                raise ValueError(f"write-back entry {n} must be (table, row, values), not "
                                 f"{type(entry).__name__}") from None
            table = as_index(table, f"write-back entry {n}: table")
            row = as_index(row, f"write-back entry {n}: row")
            if isinstance(values, str) or np.asarray(values).dtype.kind not in "iuf":
                raise TypeError(f"write-back ({table}, {row}): values must be {self.dim} "
                                f"numbers (float32), not {type(values).__name__}")
            data = np.asarray(values, dtype="<f4").tobytes()
            if len(data) != 4 * self.dim:
                raise ValueError(f"row ({table}, {row}) has {len(data) // 4} values, dim is "
                                 f"{self.dim}")
            await self.transport.send_write_back(self.wire.encode_write_back(table, row, data))
            count += 1
        return count

    def _require(self, call: str, *, configure: bool) -> None:
        """Name the configuration call missing before ``call``."""
        missing = []
        if not self._tables_configured:
            missing.append("configure_tables(layouts, dim)")
        if configure and not self._configured:
            missing.append("configure(batch_size=...)")
        if missing:
            raise RuntimeError(f"{call}() needs {' and '.join(missing)} first")

    async def wait_writes(self, polls: int = 100_000) -> None:
        """Wait until every queued write-back row is acknowledged; raise on write errors."""
        await self.transport.idle()
        write_busy = rmap.register("STATUS").field("write_busy").lsb
        for _ in range(polls):
            if not (await self.read("STATUS")) >> write_busy & 1 \
                    and not await self.read("WRITE_PENDING"):
                await self.check_errors()
                return
        raise HotlineError("write-back did not complete")


def _int_in_range(value, name: str, low: int, high: int, note: str = "") -> int:
    number = as_index(value, name) if not (isinstance(value, int) and value < 0) else value
    if not low <= number <= high:
        raise ValueError(f"{name} must be from {low} to {high}{note} (got {number})")
    return number


def _bool_arg(value, name: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, not {type(value).__name__} {value!r}")


def _memory_size(memory) -> int | None:
    """Bytes of the transport's host memory, where it says (``size`` or a numpy ``array``)."""
    size = getattr(memory, "size", None)
    if isinstance(size, int):
        return size
    array = getattr(memory, "array", None)
    return int(array.size) if isinstance(array, np.ndarray) else None


def _error_bits(word: int):
    for name, (bit, _) in rmap.ERROR_BITS.items():
        if word >> bit & 1:
            yield name, bit


class SyncHotlineDriver:
    """Blocking wrapper of :class:`HotlineDriver` for code outside an event loop (golden-model
    backend, scripts). Every coroutine method is available as a plain method."""

    def __init__(self, transport: Transport):
        self.driver = HotlineDriver(transport)
        self._loop = asyncio.new_event_loop()

    def __getattr__(self, name):
        attr = getattr(self.driver, name)
        if not asyncio.iscoroutinefunction(attr):
            return attr

        def call(*args, **kwargs):
            return self._loop.run_until_complete(attr(*args, **kwargs))
        call.__doc__ = attr.__doc__
        return call

    def close(self) -> None:
        self._loop.close()
