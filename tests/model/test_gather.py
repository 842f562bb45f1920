"""Golden model of the gather engine: addresses, 4 KiB burst splitting, realignment, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline_hw.model.gather import BOUNDARY, Burst, GatherError, GatherModel


def memory_with_pattern(size=1 << 16):
    return (np.arange(size) * 7 % 251).astype(np.uint8)


def test_address_and_rejection():
    g = GatherModel(num_tables=4, bus_bytes=16, dim=4)
    g.configure(1, base=0x1000, stride=20, rows=10)
    assert g.address(1, 0) == 0x1000 and g.address(1, 9) == 0x1000 + 9 * 20
    assert g.address(1, 10) is None            # out of range
    assert g.address(0, 0) is None             # not configured
    assert g.address(4, 0) is None             # no such table
    with pytest.raises(ValueError, match="stride"):
        g.configure(2, base=0, stride=12, rows=1)
    with pytest.raises(ValueError, match="multiples of 4"):
        g.configure(2, base=2, stride=16, rows=1)
    with pytest.raises(ValueError, match="does not fit"):
        g.configure(2, base=(1 << 48) - 16, stride=16, rows=2)


def test_bursts_by_hand():
    g = GatherModel(num_tables=1, bus_bytes=16, dim=16)          # 64-byte rows
    assert g.bursts(0x100) == [Burst(0x100, 4)]                   # aligned: 4 beats
    assert g.bursts(0x104) == [Burst(0x100, 5)]                   # unaligned: one more beat
    # Crossing 4 KiB: split at the boundary.
    assert g.bursts(0xFE4) == [Burst(0xFE0, 2), Burst(0x1000, 3)]
    big = GatherModel(num_tables=1, bus_bytes=8, dim=1024)        # 4 KiB rows, 8-byte bus
    assert big.bursts(0x2000) == [Burst(0x2000, 256), Burst(0x2800, 256)]


def test_gather_realigns_and_pads():
    mem = memory_with_pattern()
    g = GatherModel(num_tables=2, bus_bytes=16, dim=5)            # 20-byte rows: 2 beats
    g.configure(0, base=0x104, stride=24, rows=3)
    responses = g.gather([(0, 2), (0, 3), (1, 0), (0, 0)], mem)
    assert [r.tag for r in responses] == [0, 1, 2, 3]
    row2 = responses[0]
    assert row2.error == GatherError.NONE and len(row2.beats) == 2
    assert row2.data == bytes(mem[0x104 + 48:0x104 + 68]) + bytes(12)
    assert responses[1].error == GatherError.RANGE and responses[1].beats == (bytes(16),)
    assert responses[2].error == GatherError.RANGE
    assert responses[3].data[:20] == bytes(mem[0x104:0x118])


def test_bus_error_zeroes_and_flags():
    mem = memory_with_pattern()
    g = GatherModel(num_tables=1, bus_bytes=8, dim=4)
    g.configure(0, base=0x200, stride=16, rows=4)
    ok, bad = g.gather([(0, 0), (0, 1)], mem, bus_errors={0x218})
    assert ok.error == GatherError.NONE
    assert bad.error == GatherError.BUS and bad.data == bytes(16)


def test_write_back():
    mem = np.zeros(1 << 12, dtype=np.uint8)
    g = GatherModel(num_tables=1, bus_bytes=32, dim=3)
    g.configure(0, base=0x10, stride=12, rows=2)
    assert g.write_back(0, 1, bytes(range(1, 13)), mem) == GatherError.NONE
    assert bytes(mem[0x1C:0x28]) == bytes(range(1, 13))
    assert not mem[:0x1C].any() and not mem[0x28:].any()          # nothing outside the row
    assert g.write_back(0, 2, bytes(12), mem) == GatherError.RANGE
    with pytest.raises(ValueError, match="12 bytes"):
        g.write_back(0, 0, bytes(8), mem)


@settings(max_examples=300)
@given(bus=st.sampled_from([8, 16, 32, 64]), dim=st.integers(1, 700),
       address=st.integers(0, 1 << 20).map(lambda a: a * 4))
def test_bursts_cover_the_row_exactly(bus, dim, address):
    g = GatherModel(num_tables=1, bus_bytes=bus, dim=dim)
    bursts = g.bursts(address)
    start, end = bursts[0].address, bursts[-1].address + bursts[-1].beats * bus
    assert start == address - address % bus
    assert end >= address + 4 * dim > end - bus
    for a, b in zip(bursts, bursts[1:]):
        assert a.address + a.beats * bus == b.address            # contiguous, in order
    for burst in bursts:
        assert burst.address % bus == 0 and 1 <= burst.beats <= 256
        last = burst.address + burst.beats * bus - 1
        assert burst.address // BOUNDARY == last // BOUNDARY     # never crosses 4 KiB
