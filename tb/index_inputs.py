"""Index inputs of every type a user has at hand, for the driver's dtype property tests.

:func:`cases` draws (with hypothesis) samples of plain Python ints and the integer type to
present them in; :func:`present` turns plain samples into that type (numpy scalars, numpy
arrays per sample or for the whole batch, torch tensors); :func:`run_plain_and_typed` submits
both forms to two fresh devices and returns the two traces, which must be equal. Shared by
``tests/driver/test_driver_inputs.py`` (model device) and ``tb/test_driver_inputs.py`` (RTL).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from sw_driver.driver import HotlineDriver, TableLayout
from tb.driver_scenarios import trace

__all__ = ["TABLE_ROWS", "DIM", "FORMS", "DTYPES", "cases", "present", "layouts",
           "submit_trace"]

#: Four small tables (rows fit every integer dtype's positive range except int8's).
TABLE_ROWS = (100, 200, 300, 1000)
DIM = 4
#: How a batch is presented: keys of numpy scalars, one array per sample, one array for the
#: batch, the same three in torch, and numbered samples with a typed sample id.
FORMS = ("scalars", "sample_arrays", "batch_array", "numbered")
DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "torch.int8", "torch.int16", "torch.int32", "torch.int64", "torch.uint8")


def _max(dtype: str) -> int:
    if dtype.startswith("torch."):
        return {"int8": 127, "int16": 32767, "int32": 2**31 - 1, "int64": 2**63 - 1,
                "uint8": 255}[dtype[6:]]
    return int(np.iinfo(dtype).max)


@st.composite
def cases(draw, max_samples: int = 6, lookups: int = 3):
    """``(dtype, form, plain samples)``: samples of ``lookups`` keys each, every index
    representable in ``dtype``."""
    dtype = draw(st.sampled_from(DTYPES))
    form = draw(st.sampled_from(FORMS))
    top = _max(dtype)
    n = draw(st.integers(1, max_samples))
    samples = []
    for _ in range(n):
        keys = []
        for _ in range(lookups):
            table = draw(st.integers(0, len(TABLE_ROWS) - 1))
            keys.append((table, draw(st.integers(0, min(TABLE_ROWS[table], top + 1) - 1))))
        samples.append(keys)
    return dtype, form, samples


def _array(values, dtype: str):
    if dtype.startswith("torch."):
        import torch
        return torch.tensor(values, dtype=getattr(torch, dtype[6:]))
    return np.asarray(values, dtype=dtype)


def present(samples: list, dtype: str, form: str, first_id: int = 0):
    """``samples`` (plain ints) in ``dtype``, presented as ``form``."""
    if form == "scalars":
        return [[(_array(t, dtype)[()], _array(r, dtype)[()]) for t, r in keys]
                for keys in samples]
    if form == "sample_arrays":
        return [_array(keys, dtype) for keys in samples]
    if form == "batch_array":
        return _array(samples, dtype)
    if form == "numbered":
        top = _max(dtype)
        return [(_array((first_id + n) % (top + 1), dtype)[()], _array(keys, dtype))
                for n, keys in enumerate(samples)]
    raise ValueError(form)


def plain_numbering(samples: list, dtype: str, form: str, first_id: int = 0) -> list:
    """``samples`` with the sample ids :func:`present` gives them (plain ints)."""
    if form != "numbered":
        return samples
    top = _max(dtype)
    return [((first_id + n) % (top + 1), keys) for n, keys in enumerate(samples)]


def layouts() -> list[TableLayout]:
    base, out = 0x100, []
    for rows in TABLE_ROWS:
        out.append(TableLayout(base, 4 * DIM, rows))
        base += rows * 4 * DIM
    return out


async def submit_trace(driver: HotlineDriver, samples, *, learn: bool) -> dict:
    """Configure ``driver`` (fresh device) for these tables, submit ``samples``; the trace
    of the result and the device's sample counter."""
    memory = driver.transport.memory
    end = layouts()[-1].base + TABLE_ROWS[-1] * 4 * DIM
    memory.write(0, bytes((n * 7 + 3) % 256 for n in range(end)))
    await driver.configure_tables(layouts(), DIM)
    await driver.configure(batch_size=4, working_set=2, lookups=3)
    await driver.clear_table()
    await driver.clear_counters()
    result = await driver.submit(samples, learn=learn)
    return {"trace": trace(result), "samples_in": await driver.read("SAMPLES_IN")}
