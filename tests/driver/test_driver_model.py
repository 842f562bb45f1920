"""The driver on the golden-model backend: the scenarios of ``tb/driver_scenarios.py`` (the
same code runs on the RTL in ``tb/test_hotline_top.py``), plus wire-format and API checks."""

import asyncio

import pytest

from hotline_hw.model.popularity_table import HotSetOverflowError
from sw_driver import HotlineDriver, ModelDevice, SyncHotlineDriver, TableLayout
from sw_driver.wire import WireFormat
from tb import driver_scenarios as sc


def _driver():
    return HotlineDriver(ModelDevice(sc.SMALL_CONFIG, memory_size=1 << 20))


def test_registers(pyrng):
    asyncio.run(sc.registers_round_trip(_driver()))


@pytest.mark.parametrize("split", [False, True])
def test_learn_then_run_kaggle(pyrng, split):
    samples, sizes = sc.kaggle_tables(460)
    out = asyncio.run(sc.learn_then_run(_driver(), samples, sizes, dim=5, learn=300,
                                        batch_size=8, working_set=4, split=split, rng=pyrng))
    assert out["counters"]["samples_in"] == 460
    assert max(out["popular"]) > 0, "some samples must be popular after learning"


def test_learn_then_run_movielens(pyrng):
    samples, sizes = sc.movielens_tables(400)
    out = asyncio.run(sc.learn_then_run(_driver(), samples, sizes, dim=16, learn=100,
                                        batch_size=10, working_set=3, split=False, rng=pyrng))
    assert out["counters"]["micro_batches"] > 0


@pytest.mark.parametrize("split", [False, True])
def test_stale_skip_kaggle(pyrng, split):
    samples, sizes = sc.kaggle_tables(460)
    out = asyncio.run(sc.stale_skip(_driver(), samples, sizes, dim=5, learn=300, batch_size=8,
                                    working_set=4, split=split, alpha=12, rng=pyrng))
    print(f"skipped {len(out['skipped'])} of 160 run samples")


def test_hot_set_round_trip(pyrng):
    keys = sorted({(pyrng.randrange(26), pyrng.randrange(1000)) for _ in range(60)})
    asyncio.run(sc.hot_set_round_trip(_driver(), keys))


def test_hot_set_larger_than_the_table_raises():
    keys = [(0, r) for r in range(sc.SMALL_CONFIG.geometry.entries + 1)]
    with pytest.raises(HotSetOverflowError):
        asyncio.run(_driver().load_hot_set(keys))


def test_write_back_then_gather(pyrng):
    _, sizes = sc.kaggle_tables(1)
    asyncio.run(sc.write_back_then_gather(_driver(), sizes, dim=7, rng=pyrng))


def test_bad_requests_raise(pyrng):
    _, sizes = sc.kaggle_tables(1)
    asyncio.run(sc.bad_requests_raise(_driver(), sizes, dim=4, rng=pyrng))


def test_axi_errors_raise(pyrng):
    _, sizes = sc.kaggle_tables(1)
    driver = _driver()
    device = driver.transport
    asyncio.run(sc.axi_errors_raise(driver, sizes, dim=4, rng=pyrng, inject=device.inject_error,
                                    clear=device.clear_injected_errors))


def test_transient_injected_error_fails_only_its_accesses(pyrng):
    _, sizes = sc.kaggle_tables(1)
    driver = _driver()
    layouts = sc.lay_out(sizes, 4, pyrng)
    asyncio.run(driver.configure_tables(layouts, 4))
    asyncio.run(driver.configure(batch_size=4, working_set=1, split=True))
    driver.transport.inject_error(layouts[0].base, 4, times=2)
    samples = [(n, [(0, 0)]) for n in range(4)]
    with pytest.raises(Exception, match="gather_bus"):
        asyncio.run(driver.submit(samples, learn=True))
    assert asyncio.run(driver.read("ROWS_GATHERED")) == 4
    asyncio.run(driver.clear_errors())
    result = asyncio.run(driver.submit(samples, learn=True))      # the fault is used up
    assert all(not row.error for row in result.rows)


def test_sync_wrapper_and_validation(pyrng):
    driver = SyncHotlineDriver(ModelDevice(sc.SMALL_CONFIG, memory_size=1 << 16))
    assert driver.identify()["params0"]["lanes"] == 4
    with pytest.raises(ValueError, match="stride"):
        driver.configure_tables([TableLayout(0, 8, 10)], dim=4)
    with pytest.raises(ValueError, match="batch_size"):
        driver.configure(batch_size=0)
    driver.close()


def test_wire_round_trips(pyrng):
    wire = WireFormat(sc.SMALL_CONFIG)
    keys = [(pyrng.randrange(26), pyrng.randrange(1 << 20)) for _ in range(26)]
    beats = wire.encode_sample(12345, keys, flush=True)
    assert len(beats) == 7 and beats[-1].tlast and not any(b.tlast for b in beats[:-1])
    lanes = [(b.tdata >> (32 * k)) & 0xFFFFFFFF for b in beats for k in range(4)]
    decoded = [((w >> 20) & 31, w & ((1 << 20) - 1)) for w in lanes if w >> 31]
    assert decoded == keys
    data = bytes(pyrng.randrange(256) for _ in range(20))
    table, row, back = wire.decode_write_back(wire.encode_write_back(3, 77, data), dim=5)
    assert (table, row, back) == (3, 77, data)
    with pytest.raises(ValueError, match="does not fit"):
        wire.encode_sample(1, [(0, 1 << 20)])
