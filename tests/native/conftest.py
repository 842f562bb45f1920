"""The native backend's tests build ``HotlineTop`` in ``SMALL_CONFIG`` once (about a minute
the first time, then cached under ``sim_build/native``); every test makes its own transport."""

import pytest

from sw_driver.native import NativeTransport
from tb import driver_scenarios as sc

#: The cocotb regression's host memory (tb/test_hotline_top.py): latency, reordering, stalls.
COSIM_MEMORY = dict(read_latency=20, reorder=True, stall_probability=0.1)


@pytest.fixture(scope="session")
def native_build():
    """Build (or find) the library once per session."""
    return NativeTransport(sc.SMALL_CONFIG, memory_size=4096).build


@pytest.fixture
def native(native_build, seed):
    """A transport factory: ``native(**knobs)``, seeded from the test's seed."""
    made = []

    def make(**knobs):
        knobs.setdefault("memory_size", 1 << 20)
        knobs.setdefault("seed", seed)
        transport = NativeTransport(sc.SMALL_CONFIG, **knobs)
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.close()
