"""Driver scenarios shared by both backends: the same code drives the golden-model device
(``tests/driver``) and the RTL under cocotb (``tb/test_hotline_top.py``), which also runs each
scenario on a :class:`~sw_driver.model_device.ModelDevice` and requires identical traces.

Each scenario takes a :class:`~sw_driver.driver.HotlineDriver` and checks what must hold on any
correct backend (every sample back exactly once, popular micro-batches all hot, every gathered
row equal to host memory, errors raised as :class:`~sw_driver.driver.HotlineError`), and
returns a *trace*: what the device returned, to compare across backends.
"""

from __future__ import annotations

import random

import numpy as np

from hotline_hw.device_config import HotlineConfig
from hotline_hw.model import TableGeometry
from hotline_hw.model.gather import GatherError
from sw_driver.driver import (HotlineDriver, HotlineError, KeyRangeError, StaleMarkError,
                              TableLayout, WorkingSetResult)

__all__ = ["SMALL_CONFIG", "kaggle_tables", "movielens_tables", "lay_out",
           "learn_then_run", "hot_set_round_trip", "write_back_then_gather",
           "bad_requests_raise", "registers_round_trip", "trace", "stale_skip"]

#: A build small enough to simulate quickly: 512-entry table, 64 held samples, 64-bit bus.
SMALL_CONFIG = HotlineConfig(
    geometry=TableGeometry(table_bits=5, row_bits=20, set_bits=7), lanes=4, table_in_bits=5,
    row_in_bits=20, sample_bits=20, max_lookups=28, capacity=64, size_bits=8,
    working_set_bits=3, num_tables=26, data_bits=64, addr_bits=32, id_bits=4,
    reads_in_flight=8, writes_in_flight=4, max_dim=16)


#: Status entries that depend on timing, which the golden model does not have.
TIMING_DEPENDENT = ("cycles", "status", "input_stalls", "write_pending")


def kaggle_tables(samples: int, seed: int = 3):
    """Kaggle-shaped synthetic samples (tables scaled by 3e-5) and the table sizes."""
    from sw_driver.data import SyntheticCriteo, scaled_table_sizes

    sparse = SyntheticCriteo(100_000, scale=3e-5, seed=seed).generate_sparse(samples)
    keys = [[(t, int(r)) for t, r in enumerate(row)] for row in sparse.tolist()]
    return keys, list(scaled_table_sizes(3e-5))


def movielens_tables(samples: int, start: int = 20_000):
    from sw_driver.data import MovieLens100K

    data = MovieLens100K()
    sparse = data.block.sparse[start:start + samples]
    keys = [[(t, int(r)) for t, r in enumerate(row)] for row in sparse.tolist()]
    return keys, list(data.table_sizes)


def lay_out(sizes, dim: int, rng: random.Random, base: int = 0x1000) -> list[TableLayout]:
    """Tables one after another, strides of a row plus 0-3 words, random gaps."""
    layouts, cursor = [], base
    for rows in sizes:
        stride = 4 * dim + 4 * rng.randrange(4)
        cursor += 4 * rng.randrange(16)
        layouts.append(TableLayout(cursor, stride, rows))
        cursor += rows * stride
    return layouts


def random_tables(driver: HotlineDriver, sizes, dim: int, rng: random.Random):
    """Lay the tables out (:func:`lay_out`) and fill host memory with random bytes; returns
    ``(memory, layouts)``. The driver is not configured."""
    memory = driver.transport.memory
    layouts = lay_out(sizes, dim, rng)
    end = layouts[-1].base + layouts[-1].rows * layouts[-1].stride
    memory.write(0, rng.randbytes(end + 64))
    return memory, layouts


def trace(result: WorkingSetResult) -> dict:
    """A backend-independent record of a result: every micro-batch beat and every row."""
    return {"micro_batches": [(mb.descriptor, mb.records) for mb in result.micro_batches],
            "rows": [(r.tag, r.table, r.row, int(r.error), r.data) for r in result.rows]}


def first_difference(a, b, path: str = "") -> str | None:
    """Where two traces first differ (``None`` if equal), values abridged."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a:
            found = first_difference(a[key], b.get(key), f"{path}.{key}")
            if found:
                return found
        return None if a.keys() == b.keys() else f"{path}: keys {sorted(a)} != {sorted(b)}"
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) \
            and not hasattr(a, "_fields"):
        for n, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, f"{path}[{n}]")
            if found:
                return found
        return None if len(a) == len(b) else f"{path}: lengths RTL {len(a)} != model {len(b)}"
    return None if a == b else f"{path}: RTL {a!r:.400} != model {b!r:.400}"


def _check_result(result: WorkingSetResult, sample_ids, memory, layouts, dim, learning):
    got = [sid for mb in result.micro_batches for sid, _ in mb.samples()]
    assert sorted(got) == sorted(sample_ids), "every sample must come back exactly once"
    for mb in result.micro_batches:
        for _, lanes in mb.samples():
            if mb.kind == 0:
                assert all(lane.hot for lane in lanes), "a popular micro-batch is all hot"
            if learning:
                assert not any(lane.hot for lane in lanes), "nothing is hot while learning"
    assert len(result.rows) == len(result.cold_lookups)
    for (index, position, lookup), row in zip(result.cold_lookups, result.rows):
        lane = result.micro_batches[index].samples()[position][1][lookup]
        assert (row.table, row.row) == (lane.table, lane.row), "rows follow the cold lookups"
        assert row.error == GatherError.NONE
        layout = layouts[row.table]
        assert row.data == memory.read(layout.base + row.row * layout.stride, 4 * dim)


async def registers_round_trip(driver: HotlineDriver) -> dict:
    info = await driver.identify()
    await driver.configure(batch_size=7, working_set=3, split=True, lookups=5)
    fields = {name: await driver.read(name) for name in
              ("BATCH_SIZE", "WORKING_SET", "LOOKUPS", "CAPACITY_LIMIT", "CONTROL")}
    assert fields == {"BATCH_SIZE": 7, "WORKING_SET": 3, "LOOKUPS": 5, "CAPACITY_LIMIT": 7,
                      "CONTROL": 0b11}, fields
    try:
        await driver.write("ID", 0)
    except OSError:
        pass
    else:
        raise AssertionError("a write to a read-only register must fail")
    assert await driver.read("ID") != 0
    return {"identify": info, "fields": fields}


async def learn_then_run(driver: HotlineDriver, samples, sizes, *, dim: int, learn: int,
                         batch_size: int, working_set: int, split: bool,
                         rng: random.Random) -> dict:
    """Lay out the tables in host memory, learn on ``learn`` samples, run the rest in working
    sets of ``working_set * batch_size``; checks every result; returns the traces."""
    memory, layouts = random_tables(driver, sizes, dim, rng)
    await driver.configure_tables(layouts, dim)
    await driver.configure(batch_size=batch_size, working_set=working_set, split=split,
                           lookups=len(samples[0]))
    await driver.clear_table()
    traces, popular = [], []
    numbered = list(enumerate(samples))
    learned = await driver.submit(numbered[:learn], learn=True)
    _check_result(learned, range(learn), memory, layouts, dim, True)
    traces.append(trace(learned))
    size = batch_size * (1 if split else working_set)
    for start in range(learn, len(samples), size):
        part = numbered[start:start + size]
        result = await driver.submit(part, learn=False)
        _check_result(result, [sid for sid, _ in part], memory, layouts, dim, False)
        traces.append(trace(result))
        popular.append(result.popular_fraction())
    status = await driver.status()
    assert status["samples_in"] == len(samples) and not status["errors"], status
    return {"traces": traces, "popular": popular,
            "counters": {k: v for k, v in status.items() if k not in TIMING_DEPENDENT}}


async def stale_skip(driver: HotlineDriver, samples, sizes, *, dim: int, learn: int,
                     batch_size: int, working_set: int, split: bool, alpha: int,
                     rng: random.Random) -> dict:
    """Slipstream's stale bits: learn, mark a random share of the run samples' keys stale
    (``mark_stale``), run working sets with ``alpha``; ``clear_stale`` halfway, run the rest.
    Checks misuse raises (marking while learning, a key beyond the key widths), every sample
    back exactly once, skipped samples carry ids only and at least ``alpha`` marked keys, a
    trained all-hot sample fewer, nothing skipped after the clear; returns the traces."""
    memory, layouts = random_tables(driver, sizes, dim, rng)
    await driver.configure_tables(layouts, dim)
    await driver.configure(batch_size=batch_size, working_set=working_set, split=split,
                           lookups=len(samples[0]), alpha=alpha)
    await driver.clear_table()
    await driver.set_learning(True)
    try:
        await driver.mark_stale([(0, 0)])
    except StaleMarkError:
        pass
    else:
        raise AssertionError("mark_stale while learning must raise StaleMarkError")
    numbered = list(enumerate(samples))
    learned = await driver.submit(numbered[:learn], learn=True)
    assert not learned.skipped_ids(), "nothing is skipped while learning"
    await driver.set_learning(False)
    c = driver.config
    try:
        await driver.mark_stale([(1 << c.geometry.table_bits, 0)])
    except KeyRangeError:
        pass
    else:
        raise AssertionError("a key beyond the key widths must raise KeyRangeError")
    keys = sorted({key for _, sample in numbered[learn:] for key in sample})
    chosen = [key for key in keys if rng.random() < 0.8]
    found = await driver.mark_stale(chosen)
    stale = {key for key, hit in zip(chosen, found) if hit}
    assert stale, "some marked keys must be in the table"
    traces, skipped = [trace(learned)], []
    size = batch_size * (1 if split else working_set)
    middle = learn + (len(samples) - learn) // 2 // size * size
    for start in range(learn, len(samples), size):
        if start == middle:
            await driver.clear_stale()
        part = numbered[start:start + size]
        result = await driver.submit(part, learn=False)
        _check_result(result, [sid for sid, _ in part], memory, layouts, dim, False)
        keys_of = dict(part)
        for mb in result.micro_batches:
            for sid, lanes in mb.samples():
                marked = sum(key in stale for key in keys_of[sid])
                if mb.kind == 3:
                    assert not lanes and marked >= alpha and start < middle, \
                        f"sample {sid} skipped with {marked} stale keys"
                elif all(lane.hot for lane in lanes):
                    assert marked < alpha or start >= middle, \
                        f"sample {sid}: all hot, {marked} stale keys, not skipped"
        skipped += result.skipped_ids()
        assert sorted(result.skipped_ids() + result.trained_ids()) == [s for s, _ in part]
        traces.append(trace(result))
    status = await driver.status()
    assert status["skipped"] == len(skipped) > 0, (status["skipped"], len(skipped))
    assert status["samples_in"] == status["popular"] + status["non_popular"] + len(skipped)
    return {"traces": traces, "found": found, "skipped": skipped,
            "counters": {k: v for k, v in status.items() if k not in TIMING_DEPENDENT}}


async def hot_set_round_trip(driver: HotlineDriver, keys) -> dict:
    slots = await driver.load_hot_set(keys)
    back = await driver.read_hot_set()
    assert sorted(back) == sorted(keys), "the table holds exactly the loaded keys"
    return {"slots": slots, "keys": back}


async def write_back_then_gather(driver: HotlineDriver, sizes, *, dim: int,
                                 rng: random.Random, rows: int = 30) -> dict:
    memory, layouts = random_tables(driver, sizes, dim, rng)
    await driver.configure_tables(layouts, dim)
    await driver.configure(batch_size=4, working_set=1, split=True)
    updates = {}
    for _ in range(rows):
        t = rng.randrange(len(layouts))
        r = rng.randrange(layouts[t].rows)
        updates[(t, r)] = np.array([rng.uniform(-1, 1) for _ in range(dim)], np.float32)
    await driver.write_back((t, r, v) for (t, r), v in updates.items())
    await driver.wait_writes()
    for (t, r), values in updates.items():
        layout = layouts[t]
        assert memory.read(layout.base + r * layout.stride, 4 * dim) == values.tobytes()
    # Gather them back through the accelerator (learning: every lookup is cold).
    keys = list(updates)
    samples = [(n, [keys[n]]) for n in range(len(keys))]
    result = await driver.submit(samples, learn=True)
    got = {(row.table, row.row): row.data for row in result.rows}
    assert got == {k: v.tobytes() for k, v in updates.items()}
    return {"rows": sorted(got.items())}


async def bad_requests_raise(driver: HotlineDriver, sizes, *, dim: int,
                             rng: random.Random) -> dict:
    """An index beyond a table's rows and a write-back to an unconfigured table are reported
    as HotlineError with the failing request; nothing else is lost."""
    memory, layouts = random_tables(driver, sizes, dim, rng)
    await driver.configure_tables(layouts[:-1], dim)       # the last table unconfigured
    await driver.configure(batch_size=2, working_set=1, split=True)
    await driver.clear_errors()
    big = max(range(len(layouts) - 1), key=lambda t: layouts[t].rows)
    good = [(0, [(big, 1)]), (1, [(big, 2)])]
    bad = [(2, [(big, layouts[big].rows + 3)]), (3, [(len(layouts) - 1, 0)])]
    try:
        await driver.submit(good + bad, learn=True)
    except HotlineError as error:
        assert "gather_range" in error.errors
        gather = error.details["gather"]
        assert (gather["code"], gather["table"], gather["row"]) == \
            ("RANGE", big, layouts[big].rows + 3), gather
        outcome = {"read": (error.errors, gather)}
    else:
        raise AssertionError("an out-of-range row must raise HotlineError")
    await driver.clear_errors()
    await driver.write_back([(len(layouts) - 1, 0, np.zeros(dim, np.float32))])
    try:
        await driver.wait_writes()
    except HotlineError as error:
        assert "write_range" in error.errors
        outcome["write"] = (error.errors, error.details["write"])
    else:
        raise AssertionError("a write-back to an unconfigured table must raise HotlineError")
    await driver.clear_errors()
    assert not (await driver.status())["errors"]
    return outcome


async def axi_errors_raise(driver: HotlineDriver, sizes, *, dim: int, rng: random.Random,
                           inject, clear) -> dict:
    """An AXI error response on one row's read, then on one row's write: the row comes back
    zeroed and flagged ``BUS`` (the others right), the write leaves the failing bytes; both
    raise HotlineError naming the request, and the accelerator carries on once cleared.

    ``inject(address, length, read=..., write=...)`` makes host memory answer with an error
    (``HostMemory.inject_error`` / ``ModelDevice.inject_error``), ``clear()`` stops it."""
    memory, layouts = random_tables(driver, sizes, dim, rng)
    await driver.configure_tables(layouts, dim)
    await driver.configure(batch_size=6, working_set=1, split=True)
    await driver.clear_errors()
    big = max(range(len(layouts)), key=lambda t: layouts[t].rows)
    address = [layouts[big].base + r * layouts[big].stride for r in range(6)]
    inject(address[3], 4, read=True, write=False)
    # Every row with a bus beat over those bytes fails (rows need not be beat-aligned).
    bus = driver.config.bus_bytes
    failing = [r for r in range(6)
               if address[r] // bus * bus <= address[3] < -(-(address[r] + 4 * dim) // bus) * bus]
    samples = [(n, [(big, n)]) for n in range(6)]
    try:
        await driver.submit(samples, learn=True)
    except HotlineError as error:
        assert "gather_bus" in error.errors, error.errors
        gather = error.details["gather"]
        assert (gather["code"], gather["table"], gather["row"]) == ("BUS", big, failing[0]), \
            (gather, failing)
        outcome = {"read": (error.errors, gather)}
    else:
        raise AssertionError("an AXI error response on a read must raise HotlineError")
    clear()
    await driver.clear_errors()
    result = await driver.submit(samples, learn=True)
    assert [r.error for r in result.rows] == [GatherError.NONE] * 6
    assert [r.data for r in result.rows] == [memory.read(a, 4 * dim) for a in address]
    # A write whose second word's bytes answer with an error.
    inject(address[5] + 4, 4, read=False, write=True)
    values = [np.full(dim, n + 0.5, np.float32) for n in range(6)]
    before = memory.read(address[5], 4 * dim)
    await driver.write_back((big, n, values[n]) for n in range(6))
    try:
        await driver.wait_writes()
    except HotlineError as error:
        assert "write_bus" in error.errors, error.errors
        assert (error.details["write"]["table"], error.details["write"]["row"]) == (big, 5)
        outcome["write"] = (error.errors, error.details["write"])
    else:
        raise AssertionError("an AXI error response on a write must raise HotlineError")
    clear()
    await driver.clear_errors()
    for n in range(5):
        assert memory.read(address[n], 4 * dim) == values[n].tobytes()
    after = memory.read(address[5], 4 * dim)
    assert after[4:8] == before[4:8] and after[:4] == values[5].tobytes()[:4]
    await driver.write_back([(big, 5, values[5])])           # the retry succeeds
    await driver.wait_writes()
    assert memory.read(address[5], 4 * dim) == values[5].tobytes()
    outcome["rows"] = [(r.table, r.row, r.data) for r in result.rows]
    assert not (await driver.status())["errors"]
    return outcome
