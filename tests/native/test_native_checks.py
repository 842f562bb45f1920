"""The native backend's control and error paths: build cache and build failures, the
watchdog, the AXI protocol checks, waveforms, and misuse of the transport's calls."""

import asyncio
import random
import re

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hotline_hw.device_config import HotlineConfig
from hotline_hw.verilog import emit, emit_for_verilator
from sw_driver.driver import HotlineDriver
from sw_driver.native import AxiProtocolError, NativeBuildError, NativeTransport
from sw_driver.native import build as native_build_module
from sw_driver.native.protocol_checks import burst_violation, handshake_violation
from sw_driver.transport import TransportTimeout
from sw_driver.wire import StreamBeat
from tb import driver_scenarios as sc


# -- build cache -------------------------------------------------------------------------------

def test_build_key_follows_verilog_flags_and_harness(native_build):
    verilog = native_build_module.verilog_for(sc.SMALL_CONFIG)
    key = native_build_module.build_key(verilog, sc.SMALL_CONFIG)
    assert key == native_build.key
    assert native_build_module.build_key(verilog + "// edited\n", sc.SMALL_CONFIG) != key
    assert native_build_module.build_key(verilog, sc.SMALL_CONFIG, waves=True) != key
    again = native_build_module.build(sc.SMALL_CONFIG)
    assert (again.library, again.compiled) == (native_build.library, False)


def test_rtl_build_is_the_rtl_file():
    text = native_build_module.verilog_for(HotlineConfig())
    assert text == (native_build_module.REPO_ROOT / "rtl" / "hotline_top.v").read_text()


class _TwoMemories(wiring.Component):
    """One memory initialised to zero, one with nonzero words."""
    addr: In(2)
    zero_data: Out(8)
    init_data: Out(8)

    def elaborate(self, platform):
        m = Module()
        m.submodules.zeros = zeros = Memory(shape=8, depth=4, init=[])
        m.submodules.words = words = Memory(shape=8, depth=4, init=[0, 5, 0, 7])
        for memory, out in ((zeros, self.zero_data), (words, self.init_data)):
            port = memory.read_port()
            m.d.comb += [port.addr.eq(self.addr), out.eq(port.data)]
        return m


def test_generated_verilog_drops_only_all_zero_memory_init():
    text = emit_for_verilator(_TwoMemories(), "two_memories")
    assert re.search(r"reg \[7:0\] zeros \[3:0\];", text)
    assert not re.search(r"zeros\[\d\] =", text), "the all-zero memory keeps no initial block"
    for index, word in enumerate(("00", "05", "00", "07")):
        assert f"words[{index}] = 8'h{word};" in text
    # Apart from the dropped block (4 words, begin, end), the same module as emit()'s.
    full = emit(_TwoMemories(), "two_memories").splitlines()
    start = full.index("  reg [7:0] zeros [3:0];") + 1
    assert full[start].strip() == "initial begin" and full[start + 5].strip() == "end"
    assert text.splitlines() == full[:start] + full[start + 6:]


def test_generated_top_has_no_zero_memory_init():
    """The small build's memories (table sets, sample buffer, FIFOs) start at zero in
    Verilator without an initial block; the rtl/ build keeps its blocks."""
    memory = re.compile(r"^  reg \[\d+:0\] \S+ \[\d+:0\];\n(  initial begin\n)?", re.MULTILINE)
    small = memory.findall(native_build_module.verilog_for(sc.SMALL_CONFIG))
    assert len(small) >= 3 and not any(small)
    assert all(memory.findall(native_build_module.verilog_for(HotlineConfig())))


def test_build_failure_names_the_compiler_output(tmp_path):
    with pytest.raises(NativeBuildError, match=r"compiler output: .*build\.log") as caught:
        native_build_module.build(sc.SMALL_CONFIG, verilog="module hotline_top(; endmodule\n",
                                  root=tmp_path)
    log = caught.value.log
    assert log.exists() and "hotline_top.v" in log.read_text()
    assert not list(tmp_path.glob("*/libhotline_native.so")), "a failed build is not cached"


def test_missing_compiler_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(native_build_module.shutil, "which", lambda name: None)
    with pytest.raises(NativeBuildError, match="C\\+\\+ compiler"):
        native_build_module.build(sc.SMALL_CONFIG, verilog="// never compiled\n",
                                  root=tmp_path)


# -- watchdog ------------------------------------------------------------------------------

def test_nothing_coming_times_out_and_the_transport_carries_on(native):
    transport = native(timeout_cycles=500)
    before = transport.cycle
    with pytest.raises(TransportTimeout, match=r"m_axis_micro_batches packet.*500 cycles "
                                               r"\(cycle \d+\)"):
        asyncio.run(transport.recv_micro_batch())
    assert 500 <= transport.cycle - before <= 510
    with pytest.raises(TransportTimeout, match="m_axis_rows"):
        asyncio.run(transport.recv_row())
    assert asyncio.run(HotlineDriver(transport).read("ID")) != 0     # still usable


def test_stuck_host_memory_times_out_naming_what_is_outstanding(native, pyrng):
    """Host memory never answers a read: the gathered row never comes; the call raises
    instead of hanging."""
    transport = native(timeout_cycles=2000, stall_probability={"r": 1.0})
    driver = HotlineDriver(transport)
    _, sizes = sc.kaggle_tables(1)
    _, layouts = sc.random_tables(driver, sizes, 4, pyrng)
    asyncio.run(driver.configure_tables(layouts, 4))
    asyncio.run(driver.configure(batch_size=2, working_set=1, split=True))
    with pytest.raises(TransportTimeout, match=r"m_axis_rows packet.*[1-9]\d* reads "
                                               r"and 0 writes outstanding"):
        asyncio.run(driver.submit([(0, [(0, 1)]), (1, [(0, 2)])], learn=True))


# -- protocol checks ---------------------------------------------------------------------------

def test_handshake_rules(native_build):
    library = native_build.library
    legal = handshake_violation(library, [1, 1, 1, 0, 1], [0, 0, 1, 0, 1],
                                [[5], [5], [5], [9], [7]])
    assert legal is None
    dropped = handshake_violation(library, [1, 0, 1], [0, 0, 1], [[5], [5], [5]])
    assert dropped[0] == 1 and "valid dropped before ready" in dropped[1]
    changed = handshake_violation(library, [1, 1, 1], [0, 0, 1], [[5, 1], [5, 1], [5, 2]])
    assert changed[0] == 2 and "payload changed while stalled" in changed[1]


@pytest.mark.parametrize("burst, rule", [
    ((0x1000, 3, 4, 1), None),
    ((0x1FF0, 1, 4, 1), "must not cross a 4 KiB boundary"),
    ((0x1008, 0, 4, 1), "aligned to the bus width"),
    ((0x1000, 0, 2, 1), "full bus width"),
    ((0x1000, 0, 4, 0), "only INCR"),
    ((0x1000, 0, 4, 2), "only INCR"),
])
def test_burst_rules(native_build, burst, rule):
    found = burst_violation(native_build.library, *burst, bus_bytes=16)
    if rule is None:
        assert found is None
    else:
        assert rule in found and "cycle" in found


@pytest.fixture(scope="module")
def mutant_verilog():
    """The tests' top with FIXED read bursts. Built with tracing: this one build serves the
    protocol test and the waveform tests (register accesses and idle cycles issue no AR)."""
    verilog = native_build_module.verilog_for(sc.SMALL_CONFIG)
    mutant = verilog.replace("assign m_axi__arburst = 2'h1;", "assign m_axi__arburst = 2'h0;")
    assert mutant != verilog
    return mutant


def test_a_broken_rule_in_the_rtl_raises_naming_port_rule_and_cycle(mutant_verilog, pyrng):
    """A mutant of the top issuing FIXED read bursts: the first AR raises AxiProtocolError,
    and the transport refuses every later call (the device is no longer trusted)."""
    transport = NativeTransport(sc.SMALL_CONFIG, memory_size=1 << 20, verilog=mutant_verilog,
                                waves=True)
    driver = HotlineDriver(transport)
    _, sizes = sc.kaggle_tables(1)
    _, layouts = sc.random_tables(driver, sizes, 4, pyrng)
    asyncio.run(driver.configure_tables(layouts, 4))
    asyncio.run(driver.configure(batch_size=1, working_set=1, split=True))
    with pytest.raises(AxiProtocolError,
                       match=r"m_axi AR: only INCR bursts \(AxBURST=0.*cycle \d+"):
        asyncio.run(driver.submit([(0, [(0, 1)])], learn=True))
    with pytest.raises(AxiProtocolError):
        asyncio.run(driver.read("ID"))
    transport.close()


# -- waveforms -------------------------------------------------------------------------------

def test_waves_window(tmp_path, mutant_verilog):
    transport = NativeTransport(sc.SMALL_CONFIG, memory_size=4096, waves=True,
                                verilog=mutant_verilog)
    start = transport.cycle + 2
    path = transport.record_waves(tmp_path / "window.fst", start, start + 40)
    driver = HotlineDriver(transport)
    assert asyncio.run(driver.read("ID")) != 0              # inside the window
    transport.run(60)
    assert transport.cycle > start + 40
    size = path.stat().st_size
    assert size > 100
    transport.run(100)                             # after the window: nothing more recorded
    assert path.stat().st_size == size
    transport.close()


def test_waves_need_the_tracing_build(native):
    with pytest.raises(ValueError, match="no tracing"):
        native().record_waves("/tmp/never.fst", 0, 10)


# -- misuse --------------------------------------------------------------------------------

def test_misuse_raises_at_the_call(native):
    transport = native()
    with pytest.raises(ValueError, match="tlast"):
        asyncio.run(transport.send_lookups([StreamBeat(1, 0, False)]))
    with pytest.raises(ValueError, match="tuser must be constant"):
        asyncio.run(transport.send_lookups([StreamBeat(1, 0), StreamBeat(1, 1, True)]))
    with pytest.raises(ValueError, match="wider than the port"):
        asyncio.run(transport.send_write_back([StreamBeat(1 << 200, 0, True)]))
    with pytest.raises(ValueError, match="data words"):
        transport.send_arrays(0, np.zeros(3, np.uint32), np.zeros(1, np.uint64),
                              np.ones(1, np.uint8))
    with pytest.raises(ValueError, match="outside"):
        transport.memory.read((1 << 20) - 2, 4)
    with pytest.raises(ValueError, match="SLVERR"):
        transport.memory.inject_error(0, 4, resp=1)
    assert transport.queued(0) == 0, "a refused batch queues nothing"


@pytest.mark.parametrize("knobs, error", [
    (dict(read_latency=0), ValueError), (dict(max_reads=0), ValueError),
    (dict(stall_probability={"x": 0.1}), KeyError),
    (dict(stall_probability=1.5), ValueError), (dict(output_stall=1.0), ValueError),
])
def test_bad_knobs_raise(native_build, knobs, error):
    with pytest.raises(error):
        NativeTransport(sc.SMALL_CONFIG, memory_size=4096, **knobs)


def test_idle_returns_once_the_device_took_every_beat(native):
    transport = native()
    asyncio.run(transport.idle())                          # nothing queued
    wire = HotlineDriver(transport).wire
    asyncio.run(transport.send_lookups(wire.encode_sample(0, [(0, 1)])))
    assert transport.queued(0) == 1
    asyncio.run(transport.idle())
    assert transport.queued(0) == 0


def test_recv_packets_equals_one_by_one(native, pyrng):
    """Rows received in one call are the rows received one call each (two transports, same
    seed, same traffic), and waiting for more than will come times out."""
    got = []
    for batched in (False, True):
        transport = native(read_latency=5, reorder=True, stall_probability=0.2,
                           timeout_cycles=3000)
        driver = HotlineDriver(transport)
        _, sizes = sc.kaggle_tables(1)
        _, layouts = sc.random_tables(driver, sizes, 4, random.Random(1))
        asyncio.run(driver.configure_tables(layouts, 4))
        asyncio.run(driver.configure(batch_size=4, working_set=1, split=True))
        asyncio.run(driver.set_learning(True))
        beats = [b for n in range(8) for b in
                 driver.wire.encode_sample(n, [(0, n), (1, n)], flush=n == 7)]
        asyncio.run(transport.send_lookups(beats))
        if batched:
            data, counts, users = transport.recv_packets(3, 16)
            got.append((data.tolist(), counts.tolist(), users.tolist()))
            with pytest.raises(TransportTimeout, match="m_axis_rows packets"):
                transport.recv_packets(3, 1)
        else:
            rows = [transport.recv_arrays(3) for _ in range(16)]
            got.append(([w for r, _ in rows for w in r.tolist()], [len(r) for r, _ in rows],
                        [u for _, u in rows]))
    assert got[0] == got[1]


def test_write_data_before_its_address_completes(native, pyrng):
    """Host memory holds AWREADY low most cycles and takes W beats at once, so a burst's data
    arrives before its address: the burst must complete when the AW comes (each row on its own,
    no later W beat to push it along)."""
    transport = native(stall_probability={"aw": 0.95}, timeout_cycles=20_000)
    driver = HotlineDriver(transport)
    _, sizes = sc.kaggle_tables(1)
    _, layouts = sc.random_tables(driver, sizes, 16, pyrng)
    asyncio.run(driver.configure_tables(layouts, 16))
    asyncio.run(driver.configure(batch_size=1, working_set=1, split=True))
    for n in range(10):
        values = np.full(16, n + 0.25, np.float32)
        asyncio.run(driver.write_back([(2, n, values)]))
        asyncio.run(driver.wait_writes(polls=3000))          # ~6000 cycles at most
        address = layouts[2].base + n * layouts[2].stride
        assert transport.memory.read(address, 64) == values.tobytes()
    transport.memory.check(idle=True)
