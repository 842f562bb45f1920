"""cocotb regression of ``HotlineTop`` through the host driver: co-simulation against the
golden-model backend.

Each test runs a scenario of :mod:`tb.driver_scenarios` three times with the same seed: on the
RTL (:class:`sw_driver.cocotb_transport.CocotbTransport`: AXI4-Lite registers, AXI4-Stream
ports, host memory in :class:`tb.axi_memory.HostMemory` with latency, reordering and stalls),
on :class:`sw_driver.model_device.ModelDevice`, and on the same RTL under the native harness
(:class:`sw_driver.native.NativeTransport`, same host-memory knobs, in this process); the
scenario checks each result and the three traces (every micro-batch beat, every gathered row,
the counters) must be identical.
"""

from __future__ import annotations

import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout

from hotline_hw import register_map as rmap
from hotline_hw.axi import AxiResp
from hotline_hw.lookup_stream import HostOp
from sw_driver.driver import HotlineDriver
from sw_driver.model_device import ModelDevice
from tb import driver_scenarios as sc
from tb.axi_memory import HostMemory
from tb.runner import run_cocotb

CONFIG = sc.SMALL_CONFIG


async def _rtl_driver(dut, **memory_kwargs) -> HotlineDriver:
    from sw_driver.cocotb_transport import CocotbTransport

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    memory_kwargs.setdefault("read_latency", 20)
    # Its own rng: the scenario's must stay in step with the model run's.
    memory = HostMemory.from_prefix(dut, "m_axi", size=1 << 20,
                                    rng=random.Random(cocotb.RANDOM_SEED + 1), reorder=True,
                                    stall_probability=0.1, **memory_kwargs)
    transport = CocotbTransport(dut, CONFIG, memory)
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    return HotlineDriver(transport)


def _model_driver() -> HotlineDriver:
    return HotlineDriver(ModelDevice(CONFIG, memory_size=1 << 20))


def _native_driver() -> HotlineDriver:
    """The third backend: the same build under the C++ harness (built once, cached)."""
    from sw_driver.native import NativeTransport

    return HotlineDriver(NativeTransport(CONFIG, memory_size=1 << 20, read_latency=20,
                                         reorder=True, stall_probability=0.1,
                                         seed=cocotb.RANDOM_SEED + 1))


def _seeded() -> tuple[random.Random, random.Random]:
    seed = cocotb.RANDOM_SEED
    return random.Random(seed), random.Random(seed)


def _same(rtl: dict, model: dict, what: str) -> None:
    if rtl != model:
        raise AssertionError(f"{what}: RTL and model differ at "
                             f"{sc.first_difference(rtl, model)}")


@cocotb.test()
async def registers(dut):
    """Identification, configuration round trip, SLVERR on a read-only register; the per-table
    registers (a memory cleared after reset) written right after reset, byte strobes, the
    first address past the last table unmapped."""
    rtl = await _rtl_driver(dut)
    axil = rtl.transport.axil
    last = CONFIG.num_tables - 1
    rows = rmap.table_register_address("TABLE_ROWS", last)
    base_lo = rmap.table_register_address("TABLE_BASE_LO", 0)
    await axil.write(rows, (0x89ABCDEF).to_bytes(4, "little"))      # waits for the clearing
    await axil.write(base_lo + 1, b"\x55")                           # byte 1 only
    assert await rtl.transport.read_register(rows) == 0x89ABCDEF
    assert await rtl.transport.read_register(base_lo) == 0x5500
    assert await rtl.transport.read_register(
        rmap.table_register_address("TABLE_STRIDE", last)) == 0
    end = rmap.table_register_address("TABLE_BASE_LO", CONFIG.num_tables)
    response = await axil.read(end, 4)
    assert response.resp == AxiResp.SLVERR and response.data == bytes(4)
    response = await axil.write(end, (1).to_bytes(4, "little"))
    assert response.resp == AxiResp.SLVERR
    for address in (rows, base_lo):
        await axil.write(address, bytes(4))
    got = await sc.registers_round_trip(rtl)
    _same(got, await sc.registers_round_trip(_model_driver()), "registers")
    _same(await sc.registers_round_trip(_native_driver()), got, "registers (native)")
    # Byte strobes, unmapped addresses.
    await axil.write(0x028, b"\x34\x12\x00\x00")
    await axil.write(0x029, b"\x56")             # byte 1 only
    assert await rtl.read("BATCH_SIZE") == 0x5634
    response = await axil.read(0x3F0, 4)
    assert response.resp == AxiResp.SLVERR and response.data == bytes(4)
    assert (await rtl.read_fields("VERSION"))["minor"] == rmap.VERSION[1]


async def _learn_then_run(dut, samples, sizes, what: str, **kwargs) -> dict:
    """``sc.learn_then_run`` on the RTL and on the model (same seeds): the RTL's outcome,
    checked equal to the model's."""
    rng_rtl, rng_model = _seeded()
    rtl = await sc.learn_then_run(await _rtl_driver(dut), samples, sizes,
                                  rng=rng_rtl, **kwargs)
    model = await sc.learn_then_run(_model_driver(), samples, sizes, rng=rng_model, **kwargs)
    _same(rtl, model, what)
    native = await sc.learn_then_run(_native_driver(), samples, sizes, rng=_seeded()[0],
                                     **kwargs)
    _same(native, rtl, f"{what} (native)")
    return rtl


@cocotb.test()
async def cosim_kaggle_reformed(dut):
    """Kaggle-shaped traffic, learn then REFORMED working sets: RTL == model."""
    samples, sizes = sc.kaggle_tables(460)
    rtl = await _learn_then_run(dut, samples, sizes, "kaggle", dim=5, learn=300, batch_size=8,
                                working_set=4, split=False)
    dut._log.info("popular fraction per working set %s", rtl["popular"])
    assert max(rtl["popular"]) > 0


@cocotb.test()
async def cosim_movielens_split(dut):
    """MovieLens-100K, learn then SPLIT (exact-training) micro-batches: RTL == model."""
    samples, sizes = sc.movielens_tables(300)
    await _learn_then_run(dut, samples, sizes, "movielens", dim=16, learn=150, batch_size=10,
                          working_set=1, split=True)


@cocotb.test()
async def cosim_stale_skip(dut):
    """Slipstream's stale bits: learn, mark keys stale, REFORMED working sets with ALPHA, clear
    the bits halfway: the SKIPPED micro-batches (and everything else) RTL == model == native,
    beat for beat."""
    samples, sizes = sc.kaggle_tables(360)
    kwargs = dict(dim=5, learn=200, batch_size=8, working_set=4, split=False, alpha=12)
    rng_rtl, rng_model = _seeded()
    rtl = await sc.stale_skip(await _rtl_driver(dut), samples, sizes, rng=rng_rtl, **kwargs)
    _same(rtl, await sc.stale_skip(_model_driver(), samples, sizes, rng=rng_model, **kwargs),
          "stale skip")
    _same(await sc.stale_skip(_native_driver(), samples, sizes, rng=_seeded()[0], **kwargs),
          rtl, "stale skip (native)")
    dut._log.info("skipped samples %d", len(rtl["skipped"]))


@cocotb.test()
async def hot_set_and_write_back(dut):
    """Load a software hot set and read it back; write rows back and gather them."""
    rng_rtl, rng_model = _seeded()
    keys = sorted({(rng_rtl.randrange(26), rng_rtl.randrange(1000)) for _ in range(40)})
    rtl_driver, native_driver = await _rtl_driver(dut), _native_driver()
    rtl = await sc.hot_set_round_trip(rtl_driver, keys)
    _same(rtl, await sc.hot_set_round_trip(_model_driver(), keys), "hot set")
    _same(await sc.hot_set_round_trip(native_driver, keys), rtl, "hot set (native)")
    _, sizes = sc.kaggle_tables(1)
    rng_rtl, rng_model = _seeded()
    rtl = await sc.write_back_then_gather(rtl_driver, sizes, dim=7, rng=rng_rtl)
    model = await sc.write_back_then_gather(_model_driver(), sizes, dim=7, rng=rng_model)
    _same(rtl, model, "write-back")
    native = await sc.write_back_then_gather(native_driver, sizes, dim=7, rng=_seeded()[0])
    _same(native, rtl, "write-back (native)")


@cocotb.test()
async def errors_end_to_end(dut):
    """Out-of-range rows, a write-back to an unconfigured table, AXI errors on a gather and on
    a write-back: RTL == model."""
    rng_rtl, rng_model = _seeded()
    _, sizes = sc.kaggle_tables(1)
    driver = await _rtl_driver(dut)
    model_driver = _model_driver()           # one per backend throughout: tags carry on
    rtl = errors = await sc.bad_requests_raise(driver, sizes, dim=4, rng=rng_rtl)
    _same(rtl, await sc.bad_requests_raise(model_driver, sizes, dim=4, rng=rng_model),
          "errors")
    memory = driver.transport.memory

    def inject(address, length, *, read, write):
        memory.inject_error(address, length, AxiResp.SLVERR, read=read, write=write)

    rng_rtl, rng_model = _seeded()
    rtl = await sc.axi_errors_raise(driver, sizes, dim=4, rng=rng_rtl, inject=inject,
                                    clear=memory.clear_errors)
    device = model_driver.transport
    _same(rtl, await sc.axi_errors_raise(model_driver, sizes, dim=4, rng=rng_model,
                                         inject=device.inject_error,
                                         clear=device.clear_injected_errors), "AXI errors")
    memory.check(idle=True)
    native_driver = _native_driver()
    native = native_driver.transport
    _same(await sc.bad_requests_raise(native_driver, sizes, dim=4, rng=_seeded()[0]), errors,
          "errors (native)")
    _same(await sc.axi_errors_raise(native_driver, sizes, dim=4, rng=_seeded()[0],
                                    inject=native.inject_error,
                                    clear=native.clear_injected_errors), rtl,
          "AXI errors (native)")
    native.memory.check(idle=True)


@cocotb.test()
async def register_clears_and_write_backpressure(dut):
    """``ERRORS.host_overrun``: clear after reset, set by a ``HOST_CMD`` written while one is
    pending (during a ``CLEAR`` of every set; the second command is ignored), still set when
    the ``CLEAR`` is done, cleared by ``COMMAND.clear_errors``. Then writes issued back to back
    with W lagging AW and the B channel stalled at random: each lands and is answered ``OKAY``
    (a write taken before its data, or while a response waits, would store garbage or lose a
    response)."""
    rtl = await _rtl_driver(dut)
    axil = rtl.transport.axil
    rng = random.Random(cocotb.RANDOM_SEED)
    op = rmap.register("HOST_CMD").field("op")
    overrun = 1 << rmap.ERROR_BITS["host_overrun"][0]

    async def write(address: int, value: int) -> None:
        response = await axil.write(address, value.to_bytes(4, "little"))
        assert response.resp == AxiResp.OKAY, (hex(address), response)

    host_cmd = rmap.register("HOST_CMD").address
    assert await rtl.read("ERRORS") & overrun == 0
    await write(host_cmd, HostOp.CLEAR << op.lsb)
    await write(host_cmd, HostOp.READ << op.lsb)          # while the CLEAR runs: ignored
    assert await rtl.read("ERRORS") & overrun
    for _ in range(100):
        if not (await rtl.read_fields("STATUS"))["host_pending"]:
            break
    else:
        raise AssertionError("the CLEAR never finished")
    assert await rtl.read("ERRORS") & overrun, "host_overrun is not sticky"
    assert await rtl.read("HOST_DONE") == 1, "the ignored command ran"
    clear_errors = rmap.register("COMMAND").field("clear_errors")
    await write(rmap.register("COMMAND").address, 1 << clear_errors.lsb)
    assert await rtl.read("ERRORS") & overrun == 0, "clear_errors left host_overrun set"

    # W lags AW at random (a write must wait for both) and B is refused at random.
    axil.write_if.w_channel.set_pause_generator(iter(lambda: rng.random() < 0.5, None))
    axil.write_if.b_channel.set_pause_generator(iter(lambda: rng.random() < 0.6, None))
    names = [name for name in rmap.TABLE_REGISTERS]
    writes = {rmap.table_register_address(rng.choice(names), t): rng.getrandbits(32)
              for t in rng.sample(range(CONFIG.num_tables), 12)}
    tasks = [cocotb.start_soon(write(address, value)) for address, value in writes.items()]
    for task in tasks:
        await with_timeout(task, 200, "us")
    axil.write_if.w_channel.clear_pause_generator()
    axil.write_if.b_channel.clear_pause_generator()
    for address, value in writes.items():
        got = await axil.read(address, 4)
        assert int.from_bytes(got.data, "little") == value, hex(address)


def test_hotline_top(request):
    from hotline_hw.hotline_top import HotlineTop

    run_cocotb(test_id=request.node.nodeid, component=HotlineTop(**CONFIG.top_kwargs()),
               toplevel="hotline_top", test_module="tb.test_hotline_top", params={})
