"""Host memory image and the cold-row port: the gather engine's layout and golden model."""

from __future__ import annotations

import numpy as np
import pytest

from hotline_hw.model.gather import GatherError, GatherModel
from sw_driver.dlrm import ColdRowError, ColdRowPort, GatherModelPort, HostEmbeddingMemory


@pytest.mark.parametrize("stride, align, base", [(None, 64, 0), (52, 4, 12), (96, 4096, 8192)])
def test_layout_is_the_engines_registers(rng, stride, align, base):
    sizes, dim = (5, 1, 300, 17), 12
    memory = HostEmbeddingMemory(sizes, dim, stride=stride, align=align, base=base)
    row_bytes = 4 * dim
    stride = row_bytes if stride is None else stride
    previous_end = base
    for t, regs in enumerate(memory.registers):
        assert regs.base % align == 0 and regs.base >= previous_end
        assert (regs.stride, regs.rows) == (stride, sizes[t])
        previous_end = regs.base + (regs.rows - 1) * stride + row_bytes
    assert memory.size == previous_end
    tables = [rng.standard_normal((r, dim)).astype(np.float32) for r in sizes]
    memory.load_tables(tables)
    # Every row sits at base + row * stride, little-endian fp32, exactly where the model reads.
    model = GatherModel(num_tables=len(sizes), bus_bytes=16, dim=dim)
    memory.configure(model)
    for t, r in [(0, 0), (0, 4), (1, 0), (2, 299), (3, 16)]:
        address = model.address(t, r)
        assert address == memory.address(t, r)
        raw = memory.memory[address:address + row_bytes].view("<f4")
        assert np.array_equal(raw, tables[t][r])
    # Padding between rows and tables is never written.
    written = np.zeros(memory.size, dtype=bool)
    for t, regs in enumerate(memory.registers):
        for r in range(regs.rows):
            written[regs.base + r * regs.stride:regs.base + r * regs.stride + row_bytes] = True
    assert not memory.memory[~written].any()


def test_port_gathers_and_writes_back_through_the_model(rng):
    sizes, dim = (40, 7, 1000), 16
    memory = HostEmbeddingMemory(sizes, dim, stride=80, align=4, base=4)   # unaligned to the bus
    tables = [rng.standard_normal((r, dim)).astype(np.float32) for r in sizes]
    memory.load_tables(tables)
    port = GatherModelPort(memory)
    assert isinstance(port, ColdRowPort)
    requests = np.array([[2, 999], [0, 0], [2, 5], [2, 5], [1, 6]])
    out = port.gather(requests)
    assert out.dtype == np.float32 and out.shape == (5, dim)
    for i, (t, r) in enumerate(requests):
        assert np.array_equal(out[i], tables[t][r])
    values = rng.standard_normal((2, dim)).astype(np.float32)
    before = memory.memory.copy()
    port.write_back(2, np.array([5, 0]), values)
    assert np.array_equal(memory.table_view(2)[[5, 0]], values)
    changed = np.flatnonzero(before != memory.memory)
    for address in (memory.address(2, 5), memory.address(2, 0)):      # only those two rows
        changed = changed[(changed < address) | (changed >= address + 4 * dim)]
    assert changed.size == 0
    assert np.array_equal(port.gather(np.array([[2, 5]]))[0], values[0])
    assert (port.gather_calls, port.write_back_calls, port.rows_gathered, port.rows_written) == \
        (2, 1, 6, 2)


def test_port_refuses_rows_outside_the_tables():
    memory = HostEmbeddingMemory((3, 4), 2)
    port = GatherModelPort(memory)
    with pytest.raises(ColdRowError, match="gather of table 1 row 4 failed: RANGE") as info:
        port.gather(np.array([[0, 1], [1, 4]]))
    assert (info.value.table, info.value.row, info.value.error) == (1, 4, GatherError.RANGE)
    with pytest.raises(ColdRowError, match="write_back of table 0 row 3"):
        port.write_back(0, np.array([3]), np.zeros((1, 2), np.float32))
    with pytest.raises(ColdRowError, match="table 2 row 0"):
        port.gather(np.array([[2, 0]]))
    with pytest.raises(ValueError, match="shape"):
        port.write_back(0, np.array([0, 1]), np.zeros((1, 2), np.float32))


def test_float64_rows_are_twice_the_words():
    memory = HostEmbeddingMemory((3,), 4, dtype=np.float64)
    assert memory.row_bytes == 32
    memory.load_tables([np.arange(12, dtype=np.float64).reshape(3, 4) / 3])
    port = GatherModelPort(memory)
    assert port.model.dim == 8                      # fp32 words per row, as the engine counts
    out = port.gather(np.array([[0, 2]]))
    assert out.dtype == np.float64 and np.array_equal(out[0], np.arange(8, 12) / 3)


@pytest.mark.parametrize("kwargs, message", [
    (dict(stride=60), "stride"), (dict(stride=66), "stride"), (dict(align=6), "align"),
    (dict(base=32), "base"), (dict(dtype=np.float16), "dtype"),
])
def test_memory_rejects_bad_layouts(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HostEmbeddingMemory((3, 4), 16, **kwargs)
