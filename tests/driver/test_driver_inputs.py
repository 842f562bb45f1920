"""The host API with the index types a user has at hand, and bad arguments on purpose.

* A hypothesis property over integer dtypes (numpy, torch), presentations (scalars, arrays per
  sample or per batch, typed sample ids) and values: the device's answer equals the answer to
  the same samples as plain Python ints (the RTL side: ``tb/test_driver_inputs.py``).
* Floats, bools, strings, negative values: a named ``TypeError`` / ``ValueError`` at the call,
  nothing sent to the device.
* Every configuration entry point: ranges named, the missing call named, ``TableLayout``
  checked against the transport's host memory, ``batch_size`` above the buffer refused.
"""

import asyncio

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, seed as hypothesis_seed, settings
from hypothesis import strategies as st

from sw_driver import HotlineDriver, ModelDevice, SyncHotlineDriver, TableLayout
from tb import driver_scenarios as sc
from tb import index_inputs as ii

CONFIG = sc.SMALL_CONFIG


def _driver() -> HotlineDriver:
    return HotlineDriver(ModelDevice(CONFIG, memory_size=1 << 16))


def _trace(samples, learn=True) -> dict:
    return asyncio.run(ii.submit_trace(_driver(), samples, learn=learn))


def test_every_integer_type_encodes_as_plain_ints(seed):
    @hypothesis_seed(seed)
    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(ii.cases(), st.booleans())
    def prop(case, learn):
        dtype, form, samples = case
        plain = _trace(ii.plain_numbering(samples, dtype, form), learn)
        typed = _trace(ii.present(samples, dtype, form), learn)
        assert typed == plain, (dtype, form, samples)
        assert plain["samples_in"] == len(samples)
    prop()


def test_large_unsigned_and_wide_values_are_not_truncated():
    # The reported corruption: uint32 / uint64 / int64 scalars shifted at their fixed width.
    samples = [[(3, 999), (2, 299), (1, 199)]] * 5
    plain = _trace(samples)
    for dtype in ("uint32", "uint64", "int64", "int32", "int16"):
        assert _trace(ii.present(samples, dtype, "scalars")) == plain, dtype
    assert _trace(torch.tensor(samples, dtype=torch.int64)) == plain
    assert _trace([torch.tensor(k, dtype=torch.int32) for k in samples]) == plain


@pytest.mark.parametrize("bad, error, words", [
    ([[(0, 1.0), (1, 2), (2, 3)]], TypeError, "row must be an integer, not a float"),
    ([[(0, np.float32(1)), (1, 2), (2, 3)]], TypeError, "not a float32"),
    ([[(True, 1), (1, 2), (2, 3)]], TypeError, "not a bool"),
    ([[(np.bool_(True), 1), (1, 2), (2, 3)]], TypeError, "not a bool"),
    ([[("0", 1), (1, 2), (2, 3)]], TypeError, "not a str"),
    ([[(0, -1), (1, 2), (2, 3)]], ValueError, "must not be negative"),
    ([[(np.int8(-1), 1), (1, 2), (2, 3)]], ValueError, "must not be negative"),
    (np.array([[[0, 1], [1, -2], [2, 3]]]), ValueError, "row must not be negative"),
    (np.zeros((1, 3, 2), dtype=np.float64), TypeError, "dtype float64"),
    (torch.zeros((1, 3, 2)), TypeError, "dtype float32"),
    (torch.zeros((1, 3, 2), dtype=torch.bool), TypeError, "dtype bool"),
    ([torch.tensor([[0, 1], [1, 2], [2, -3]])], ValueError, "must not be negative"),
    ([torch.tensor([0.0, 1.0, 2.0])], TypeError, "not an array of dtype float32"),
    ([(np.float64(4), [(0, 1), (1, 2), (2, 3)])], ValueError, "a key is a (table, row) pair"),
    ([(-4, [(0, 1), (1, 2), (2, 3)])], ValueError, "sample id must not be negative"),
    ("abc", TypeError, "samples must be a sequence"),
    ([[(0, 1), (1, 2)]], ValueError, "2 lookups; configure(lookups=3) requires 3"),
])
def test_bad_indices_raise_at_the_call_and_send_nothing(bad, error, words):
    driver = _driver()
    with pytest.raises(error) as info:
        asyncio.run(ii.submit_trace(driver, bad, learn=True))
    assert words in str(info.value), str(info.value)
    assert asyncio.run(driver.read("SAMPLES_IN")) == 0, "nothing may reach the device"


def _configured(sync: SyncHotlineDriver) -> SyncHotlineDriver:
    sync.configure_tables(ii.layouts(), dim=ii.DIM)
    sync.configure(batch_size=4, working_set=2)
    return sync


@pytest.mark.parametrize("call, error, words", [
    (lambda d: d.configure(batch_size=0), ValueError, "batch_size must be from 1 to 64"),
    (lambda d: d.configure(batch_size=65), ValueError, "buffer holds 64 samples"),
    (lambda d: d.configure(batch_size=4.0), TypeError, "batch_size must be an integer"),
    (lambda d: d.configure(batch_size="4"), TypeError, "batch_size must be an integer"),
    (lambda d: d.configure(batch_size=4, working_set=8), ValueError,
     "working_set must be from 1 to 7"),
    (lambda d: d.configure(batch_size=4, lookups=29), ValueError, "from 0 to 28"),
    (lambda d: d.configure(batch_size=4, split="no"), TypeError, "split must be True or False"),
    (lambda d: d.set_learning("no"), TypeError, "learn must be True or False"),
    (lambda d: d.configure_tables(ii.layouts(), dim=0), ValueError, "dim must be from 1 to 16"),
    (lambda d: d.configure_tables([(0, 16, 4)], dim=4), TypeError, "must be TableLayout"),
    (lambda d: d.configure_tables([TableLayout(0xFF00, 16, 100)], dim=4), ValueError,
     "beyond the transport's host memory (0x10000 bytes)"),
    (lambda d: d.submit([[(0, 1)]]), RuntimeError,
     "submit() needs configure_tables(layouts, dim) and configure(batch_size=...) first"),
    (lambda d: d.write_back([(0, 1, np.zeros(4))]), RuntimeError,
     "write_back() needs configure_tables(layouts, dim) first"),
])
def test_configuration_errors_are_named(call, error, words):
    with pytest.raises(error) as info:
        call(SyncHotlineDriver(ModelDevice(CONFIG, memory_size=1 << 16)))
    assert words in str(info.value), str(info.value)


def test_submit_needs_configure_after_tables():
    sync = SyncHotlineDriver(ModelDevice(CONFIG, memory_size=1 << 16))
    sync.configure_tables(ii.layouts(), dim=ii.DIM)
    with pytest.raises(RuntimeError, match=r"needs configure\(batch_size=\.\.\.\) first"):
        sync.submit([[(0, 1)]])


@pytest.mark.parametrize("call, error, words", [
    (lambda d: d.submit([[(0, 1)]], learn="no"), TypeError, "learn must be True or False"),
    (lambda d: d.write_back([(0, -1, np.zeros(4))]), ValueError, "row must not be negative"),
    (lambda d: d.write_back([(0, 1, "abcd")]), TypeError, "values must be 4 numbers"),
    (lambda d: d.write_back([(0, 1, np.zeros(3))]), ValueError, "3 values, dim is 4"),
    (lambda d: d.write_back([(0, 1)]), ValueError, "must be (table, row, values)"),
])
def test_call_errors_are_named(call, error, words):
    sync = _configured(SyncHotlineDriver(ModelDevice(CONFIG, memory_size=1 << 16)))
    with pytest.raises(error) as info:
        call(sync)
    assert words in str(info.value), str(info.value)
    assert sync.read("SAMPLES_IN") == 0 and sync.read("ROWS_WRITTEN_IN") == 0


def test_write_back_takes_numpy_and_torch_indices():
    sync = _configured(SyncHotlineDriver(ModelDevice(CONFIG, memory_size=1 << 16)))
    values = np.arange(4, dtype=np.float32)
    sync.write_back([(np.uint64(3), torch.tensor(999), values)])
    sync.wait_writes()
    layout = ii.layouts()[3]
    got = sync.transport.memory.read(layout.base + 999 * layout.stride, 16)
    assert np.frombuffer(got, "<f4").tolist() == values.tolist()


@pytest.mark.parametrize("fields, error, words", [
    ((-16, 16, 10), ValueError, "TableLayout.base must not be negative"),
    ((0, 16, -1), ValueError, "TableLayout.rows must not be negative"),
    ((0, 16.0, 1), TypeError, "TableLayout.stride must be an integer"),
])
def test_table_layout_is_validated(fields, error, words):
    with pytest.raises(error, match=words):
        TableLayout(*fields)


def test_table_layout_takes_numpy_integers():
    layout = TableLayout(np.uint64(256), np.int32(16), torch.tensor(10))
    assert (layout.base, layout.stride, layout.rows) == (256, 16, 10)
    assert all(type(v) is int for v in (layout.base, layout.stride, layout.rows))


def test_batch_size_up_to_the_buffer_is_accepted():
    sync = SyncHotlineDriver(ModelDevice(CONFIG, memory_size=1 << 16))
    sync.configure(batch_size=CONFIG.capacity, working_set=1)
    assert sync.read("BATCH_SIZE") == CONFIG.capacity
