"""The native backend against the golden-model backend on ``tb/driver_scenarios.py``: the
scenarios the cocotb regression runs (``tb/test_hotline_top.py``, whose RTL traces equal the
model's with the same seeds), here on ``HotlineTop`` under the C++ harness. Every micro-batch
beat, gathered row, hot set, error report and counter (except the timing-dependent ones) must
be identical; the host-memory timing knobs must not change any of it."""

import asyncio
import random

import pytest

from hotline_hw.axi import AxiResp
from sw_driver.driver import HotlineDriver
from sw_driver.model_device import ModelDevice
from tb import driver_scenarios as sc

from .conftest import COSIM_MEMORY

#: Host-memory timings: the cocotb regression's, in-order with long jittered latency and
#: back-pressured outputs, and a memory that takes one read at a time with stalls everywhere.
TIMINGS = {
    "cosim": COSIM_MEMORY,
    "in_order_jitter": dict(read_latency=60, latency_jitter=40, output_stall=0.3,
                            input_gap=0.2),
    "one_read_stalls": dict(read_latency=3, max_reads=1, max_writes=1, reorder=True,
                            interleave=False, stall_probability={"ar": 0.3, "r": 0.5, "b": 0.5,
                                                                 "aw": 0.2, "w": 0.2}),
}


def _model() -> HotlineDriver:
    return HotlineDriver(ModelDevice(sc.SMALL_CONFIG, memory_size=1 << 20))


def _same(native: dict, model: dict, what: str) -> None:
    if native != model:
        raise AssertionError(f"{what}: native and model differ at "
                             f"{sc.first_difference(native, model)}")


@pytest.mark.parametrize("split", [False, True], ids=["reformed", "split"])
def test_stale_skip(native, seed, split):
    samples, sizes = sc.kaggle_tables(360)
    kwargs = dict(dim=5, learn=200, batch_size=8, working_set=4, split=split, alpha=12)
    got = asyncio.run(sc.stale_skip(HotlineDriver(native(**COSIM_MEMORY)), samples, sizes,
                                    rng=random.Random(seed), **kwargs))
    want = asyncio.run(sc.stale_skip(_model(), samples, sizes, rng=random.Random(seed),
                                     **kwargs))
    _same(got, want, "stale skip")
    assert got["skipped"]


def test_registers(native):
    driver = HotlineDriver(native(**COSIM_MEMORY))
    got = asyncio.run(sc.registers_round_trip(driver))
    _same(got, asyncio.run(sc.registers_round_trip(_model())), "registers")
    transport = driver.transport
    transport.write_register_bytes(0x028, 0x1234, 0xF)
    transport.write_register_bytes(0x028, 0x5600, 0x2)          # byte 1 only
    assert asyncio.run(driver.read("BATCH_SIZE")) == 0x5634
    with pytest.raises(OSError, match="SLVERR"):
        asyncio.run(transport.read_register(0x3F0))              # unmapped


@pytest.mark.parametrize("timing", sorted(TIMINGS))
def test_kaggle_reformed(native, seed, timing):
    samples, sizes = sc.kaggle_tables(460)
    kwargs = dict(dim=5, learn=300, batch_size=8, working_set=4, split=False)
    transport = native(**TIMINGS[timing])
    got = asyncio.run(sc.learn_then_run(HotlineDriver(transport), samples, sizes,
                                        rng=random.Random(seed), **kwargs))
    want = asyncio.run(sc.learn_then_run(_model(), samples, sizes, rng=random.Random(seed),
                                         **kwargs))
    _same(got, want, f"kaggle ({timing})")
    assert max(got["popular"]) > 0
    transport.memory.check(idle=True)


def test_movielens_split(native, seed):
    samples, sizes = sc.movielens_tables(300)
    kwargs = dict(dim=16, learn=150, batch_size=10, working_set=1, split=True)
    got = asyncio.run(sc.learn_then_run(HotlineDriver(native(**COSIM_MEMORY)), samples, sizes,
                                        rng=random.Random(seed), **kwargs))
    want = asyncio.run(sc.learn_then_run(_model(), samples, sizes, rng=random.Random(seed),
                                         **kwargs))
    _same(got, want, "movielens")


def test_hot_set_and_write_back(native, seed):
    rng = random.Random(seed)
    keys = sorted({(rng.randrange(26), rng.randrange(1000)) for _ in range(40)})
    driver = HotlineDriver(native(**COSIM_MEMORY))
    _same(asyncio.run(sc.hot_set_round_trip(driver, keys)),
          asyncio.run(sc.hot_set_round_trip(_model(), keys)), "hot set")
    _, sizes = sc.kaggle_tables(1)
    got = asyncio.run(sc.write_back_then_gather(driver, sizes, dim=7, rng=random.Random(seed)))
    want = asyncio.run(sc.write_back_then_gather(_model(), sizes, dim=7,
                                                 rng=random.Random(seed)))
    _same(got, want, "write-back")


@pytest.mark.parametrize("resp", [AxiResp.SLVERR, AxiResp.DECERR])
def test_errors_end_to_end(native, seed, resp):
    """Out-of-range rows, a write-back to an unconfigured table, AXI error responses on a
    gather and on a write-back: the same HotlineError reports and rows as the model."""
    _, sizes = sc.kaggle_tables(1)
    transport = native(**COSIM_MEMORY)
    driver, model = HotlineDriver(transport), _model()
    _same(asyncio.run(sc.bad_requests_raise(driver, sizes, dim=4, rng=random.Random(seed))),
          asyncio.run(sc.bad_requests_raise(model, sizes, dim=4, rng=random.Random(seed))),
          "errors")
    memory = transport.memory

    def inject(address, length, *, read, write):
        memory.inject_error(address, length, resp, read=read, write=write)

    got = asyncio.run(sc.axi_errors_raise(driver, sizes, dim=4, rng=random.Random(seed),
                                          inject=inject, clear=memory.clear_errors))
    device = model.transport
    want = asyncio.run(sc.axi_errors_raise(model, sizes, dim=4, rng=random.Random(seed),
                                           inject=device.inject_error,
                                           clear=device.clear_injected_errors))
    _same(got, want, "AXI errors")
    memory.check(idle=True)
    assert memory.stats()["b_responses"] == memory.stats()["aw_bursts"]
