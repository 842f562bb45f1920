"""The driver's index-type property on the RTL: samples drawn by hypothesis (integer dtypes of
numpy and torch, presented as scalars, per-sample arrays, a batch array or with typed sample
ids) are submitted to ``HotlineTop`` through :class:`~sw_driver.cocotb_transport.
CocotbTransport` in that type and as plain Python ints; both results (every micro-batch beat,
every gathered row) must be identical, and equal to the golden-model device's.

The pytest side draws the cases (seeded, printed) and hands them to one cocotb run. The build
is the small configuration under Icarus (a few seconds to build) where it is installed, else
under ``$SIM``.
"""

from __future__ import annotations

import json
import random
import shutil

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from hypothesis import Phase, given, seed as hypothesis_seed, settings

from sw_driver.driver import HotlineDriver
from sw_driver.model_device import ModelDevice
from tb import driver_scenarios as sc
from tb import index_inputs as ii
from tb.axi_memory import HostMemory
from tb.runner import run_cocotb, seed_for, tb_params

CONFIG = sc.SMALL_CONFIG
CASES = 10


@cocotb.test()
async def typed_indices_equal_plain(dut):
    from sw_driver.cocotb_transport import CocotbTransport

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    memory = HostMemory.from_prefix(dut, "m_axi", size=1 << 16,
                                    rng=random.Random(cocotb.RANDOM_SEED), read_latency=4)
    transport = CocotbTransport(dut, CONFIG, memory)

    async def fresh() -> HotlineDriver:
        """The device out of reset (working-set numbers, steps and tags restart)."""
        dut.rst.value = 1
        await ClockCycles(dut.clk, 3)
        dut.rst.value = 0
        await RisingEdge(dut.clk)
        return HotlineDriver(transport)

    for n, (dtype, form, samples) in enumerate(tb_params()["cases"]):
        samples = [[tuple(key) for key in keys] for keys in samples]
        learn = n % 2 == 0
        plain = await ii.submit_trace(await fresh(),
                                      ii.plain_numbering(samples, dtype, form), learn=learn)
        typed = await ii.submit_trace(await fresh(),
                                      ii.present(samples, dtype, form), learn=learn)
        assert typed == plain, f"case {n}: {dtype} as {form} differs from plain ints: {samples}"
        model = await ii.submit_trace(HotlineDriver(ModelDevice(CONFIG, memory_size=1 << 16)),
                                      ii.plain_numbering(samples, dtype, form), learn=learn)
        assert plain == model, f"case {n}: the RTL differs from the model device: {samples}"
        dut._log.info(f"case {n}: {dtype} as {form}, {len(samples)} samples: equal")


def _draw_cases(seed: int) -> list:
    drawn = []

    @hypothesis_seed(seed)
    @settings(max_examples=CASES, database=None, phases=[Phase.generate], deadline=None)
    @given(ii.cases(max_samples=5))
    def collect(case):
        drawn.append(case)
    collect()
    return drawn


def test_driver_inputs(request):
    from hotline_hw.hotline_top import HotlineTop

    seed = seed_for(request.node.nodeid)
    cases = _draw_cases(seed)
    print(f"[hotline] {len(cases)} drawn cases (seed {seed}): "
          f"{json.dumps([c[:2] for c in cases])}")
    sim = "icarus" if shutil.which("iverilog") and shutil.which("vvp") else None
    run_cocotb(test_id=request.node.nodeid, component=HotlineTop(**CONFIG.top_kwargs()),
               toplevel="hotline_top", test_module="tb.test_driver_inputs",
               params={"cases": cases}, sim=sim)
