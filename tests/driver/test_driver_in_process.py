"""The driver's in-process path over ``ModelDevice`` (``sw_driver/model_device_fast.py``) equals
the beat-level wire path: the driver scenarios run on both, and every micro-batch beat, gathered
row, cold lookup and counter must be the same."""

import asyncio
import random

import pytest

from sw_driver import HotlineDriver, ModelDevice
from tb import driver_scenarios as sc


class CountingDevice(ModelDevice):
    """Counts the working sets the in-process path took (not ``None``)."""

    in_process = 0

    def submit_in_process(self, samples):
        done = super().submit_in_process(samples)
        self.in_process += done is not None
        return done


def _pair():
    fast = HotlineDriver(CountingDevice(sc.SMALL_CONFIG, memory_size=1 << 20))
    wire = HotlineDriver(CountingDevice(sc.SMALL_CONFIG, memory_size=1 << 20, fast=False))
    return fast, wire


def _both(seed, scenario, *args, **kwargs):
    fast, wire = _pair()
    got = asyncio.run(scenario(fast, *args, rng=random.Random(seed), **kwargs))
    want = asyncio.run(scenario(wire, *args, rng=random.Random(seed), **kwargs))
    assert wire.transport.in_process == 0
    return fast, got, want


@pytest.mark.parametrize("split", [False, True], ids=["reformed", "split"])
@pytest.mark.parametrize("data", ["kaggle", "movielens"])
def test_learn_then_run_equals_the_wire_path(seed, split, data):
    samples, sizes = sc.kaggle_tables(460) if data == "kaggle" else sc.movielens_tables(300)
    fast, got, want = _both(seed, sc.learn_then_run, samples, sizes, dim=5, learn=150,
                            batch_size=8, working_set=3, split=split)
    assert sc.first_difference(want, got) is None, sc.first_difference(want, got)
    assert fast.transport.in_process > 2              # learning and run working sets
    # the packets also compare equal as objects, and their samples() agree
    assert want["traces"] == got["traces"]


@pytest.mark.parametrize("split", [False, True], ids=["reformed", "split"])
def test_stale_skip_equals_the_wire_path(seed, split):
    samples, sizes = sc.kaggle_tables(400)
    fast, got, want = _both(seed, sc.stale_skip, samples, sizes, dim=5, learn=200,
                            batch_size=8, working_set=3, split=split, alpha=12)
    assert sc.first_difference(want, got) is None, sc.first_difference(want, got)
    assert fast.transport.in_process > 2 and want["skipped"]


def test_write_back_then_gather_equals_the_wire_path(seed):
    _, sizes = sc.kaggle_tables(1)
    fast, got, want = _both(seed, sc.write_back_then_gather, sizes, dim=7)
    assert got == want and fast.transport.in_process == 1


def test_errors_take_the_wire_path(seed):
    _, sizes = sc.kaggle_tables(1)
    fast, wire = _pair()
    for driver in (fast, wire):
        asyncio.run(sc.bad_requests_raise(driver, sizes, dim=4, rng=random.Random(seed)))
    assert fast.transport.in_process == wire.transport.in_process == 0
    fast, wire = _pair()
    results = []
    for driver in (fast, wire):
        device = driver.transport
        results.append(asyncio.run(sc.axi_errors_raise(
            driver, sizes, dim=4, rng=random.Random(seed), inject=device.inject_error,
            clear=device.clear_injected_errors)))
    assert results[0] == results[1]


def test_conflicts_count_as_the_device(rng):
    from hotline_hw.model.popularity_table import beat_set_conflicts
    from sw_driver.model_device_fast import _conflicts

    for lookups, lanes in ((26, 4), (5, 2), (3, 4), (8, 8)):
        sets = rng.integers(0, 3, (50, lookups))          # few sets: many repeats per beat
        want = sum(beat_set_conflicts(row[k:k + lanes].tolist(), [True] * len(row[k:k + lanes]))
                   for row in sets for k in range(0, lookups, lanes))
        assert _conflicts(sets, lanes) == want


@pytest.mark.parametrize("bad", [(0, 1.5), (0, "3"), (0, 1, 2), (0, 1 << 70)],
                         ids=["float", "str", "triple", "huge"])
def test_malformed_keys_fail_as_on_the_wire_path(bad):
    errors = []
    for driver in _pair():
        samples = [(0, [(0, 1), (1, 2)]), (1, [(0, 3), bad])]
        with pytest.raises(Exception) as caught:
            asyncio.run(driver.submit(samples, learn=True))
        errors.append(type(caught.value))
        assert driver.transport.in_process == 0
    assert errors[0] is errors[1]


class ArrayCountingDevice(CountingDevice):
    """Also counts the working sets given to the array entry point and taken by it."""

    arrays_in = arrays_taken = 0

    def submit_arrays_in_process(self, ids, keys):
        done = super().submit_arrays_in_process(ids, keys)
        self.arrays_in += 1
        self.arrays_taken += done is not None
        return done


@pytest.mark.parametrize("form", ["int64", "int32", "uint64", "torch"])
def test_array_samples_equal_the_wire_path(seed, form):
    """``submit`` of an ``(N, F, 2)`` array (numbered by the driver's counter) on the in-process
    path gives what the same samples as lists of pairs give on the beat-level wire path:
    micro-batches, rows, cold lookups, counters; learning and run working sets."""
    import numpy as np
    import torch

    samples, sizes = sc.kaggle_tables(300)
    array = np.array(samples, dtype=np.int64)                  # (300, 26, 2): (table, row)
    convert = {"int64": lambda a: a, "int32": lambda a: a.astype(np.int32),
               "uint64": lambda a: a.astype(np.uint64), "torch": torch.from_numpy}[form]
    results = []
    fast_device = ArrayCountingDevice(sc.SMALL_CONFIG, memory_size=1 << 20)
    for device in (fast_device,
                   CountingDevice(sc.SMALL_CONFIG, memory_size=1 << 20, fast=False)):
        driver = HotlineDriver(device)

        async def run(driver=driver, device=device):
            _, layouts = sc.random_tables(driver, sizes, 5, random.Random(seed))
            await driver.configure_tables(layouts, 5)
            await driver.configure(batch_size=8, working_set=3, lookups=array.shape[1])
            await driver.clear_table()
            traces = []
            for start, stop, learn in ((0, 100, True), (100, 124, False), (124, 300, False)):
                part = array[start:stop]
                given = convert(part) if device.fast else [
                    [(t, r) for t, r in sample] for sample in part.tolist()]
                traces.append(sc.trace(await driver.submit(given, learn=learn)))
            return traces, await driver.status()
        results.append(asyncio.run(run()))
    (fast_traces, fast_status), (wire_traces, wire_status) = results
    assert sc.first_difference(wire_traces, fast_traces) is None, \
        sc.first_difference(wire_traces, fast_traces)
    timing = sc.TIMING_DEPENDENT
    assert {k: v for k, v in fast_status.items() if k not in timing} == \
        {k: v for k, v in wire_status.items() if k not in timing}
    assert fast_device.arrays_taken == fast_device.arrays_in == 3   # every one as arrays


def test_array_samples_fall_back_to_the_wire_path():
    """Where the in-process path does not apply (a row outside its table: a lookup error),
    the array goes the general way with the same sample numbering and the error is raised."""
    import numpy as np

    from sw_driver import HotlineError

    _, sizes = sc.kaggle_tables(1)
    device = ArrayCountingDevice(sc.SMALL_CONFIG, memory_size=1 << 20)
    driver = HotlineDriver(device)

    async def run():
        _, layouts = sc.random_tables(driver, sizes, 4, random.Random(1))
        await driver.configure_tables(layouts, 4)
        await driver.configure(batch_size=4, working_set=1, lookups=len(sizes))
        await driver.clear_table()
        bad = np.zeros((3, len(sizes), 2), np.int64)
        bad[:, :, 0] = np.arange(len(sizes))
        bad[1, 2, 1] = sizes[2]                                  # one past table 2's rows
        with pytest.raises(HotlineError):
            await driver.submit(bad, learn=True)
    asyncio.run(run())
    assert device.arrays_in == 1 and device.arrays_taken == 0


class SlowHostDevice(ModelDevice):
    """Answers a host command only after ``delay`` further reads of ``HOST_DONE`` (a CLEAR
    sweeping a large table); ``delay=None`` never answers."""

    delay: int | None = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from hotline_hw import register_map as rmap
        self._done_address = rmap.register("HOST_DONE").address
        self._cmd_address = rmap.register("HOST_CMD").address
        self._hold = self._held = None

    async def write_register(self, address, value):
        if address == self._cmd_address:
            self._held = await super().read_register(self._done_address)
            self._hold = self.delay
        await super().write_register(address, value)

    async def read_register(self, address):
        if address == self._done_address and self._held is not None:
            if self._hold is None:
                return self._held
            if self._hold > 0:
                self._hold -= 1
                return self._held
            self._held = None
        return await super().read_register(address)


def test_host_command_poll_budget_grows_with_the_table():
    """A CLEAR of a table of S sets takes S cycles: the driver waits 10,000 + S polls for any
    host command before raising ``HotlineError``, and still raises on one that never ends."""
    import dataclasses

    from sw_driver import HotlineError

    config = dataclasses.replace(sc.SMALL_CONFIG, geometry=dataclasses.replace(
        sc.SMALL_CONFIG.geometry, set_bits=14))
    device = SlowHostDevice(config, memory_size=1 << 20)
    driver = HotlineDriver(device)
    assert driver.host_polls() == 10_000 + (1 << 14)
    device.delay = 10_000 + (1 << 13)                 # beyond a fixed 10,000, within budget
    asyncio.run(driver.clear_table())
    device.delay = None                                # never completes
    with pytest.raises(HotlineError, match="did not complete"):
        asyncio.run(driver.clear_table())
