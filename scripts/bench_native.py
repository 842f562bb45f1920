"""``make bench`` part ``native_speed``: simulated cycles per second of the native backend
(``sw_driver.native``) against the cocotb backend and against Verilator's own loop, all on the
same build, in one run.

Traffic: Criteo Kaggle shape (``SyntheticCriteo``, tables scaled by ``scripts.bench.TOP_SCALE``),
a learning phase of ``learn`` samples, then one working set of ``W * B`` samples (W = 4,
B = 1024), rows of 16 fp32, host memory ``TOP_LATENCY`` cycles away, in order, no stalls:
the cocotb backend's ``sim_speed`` case, so the rates compare. Figures, prefix
``native_speed.``:

* ``idle_loop.cycles_per_second``: Verilator's loop on the native library (clock toggles and
  ``eval()``, idle inputs, outputs ready): the ceiling;
* ``native.cycles_per_second``: the native transport moving whole transactions (lookup beats
  sent as one array, each micro-batch packet received as an array, the gathered rows in one
  call);
* ``native_driver.cycles_per_second``: the same traffic through ``HotlineDriver.submit``
  (Python encoding each sample and decoding each beat), checked equal to the golden-model
  backend;
* ``cocotb.cycles_per_second``: the cocotb backend's driver submits (``tb.bench_hotline_top``);
* ratios ``native_over_idle_loop``, ``native_over_cocotb``, ``native_driver_over_cocotb``,
  ``cocotb_over_idle_loop``.

Every rate is simulated cycles / wall seconds of this machine (shared cores): compare only the
ratios of one run. ``quick=True`` (the test) runs a tiny traffic on the tests' small build.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["bench_native_speed", "encode_lookups", "cold_lanes"]


def encode_lookups(wire, sparse: np.ndarray, first_id: int, *, flush_last: bool = True):
    """Lookup beats of ``sparse`` ([N, F] rows, table = column) as arrays for
    ``NativeTransport.send_arrays``: ``(data words, tuser, tlast)``; the same beats as
    ``WireFormat.encode_sample`` per sample (lane = 32-bit word: valid, table, row)."""
    c = wire.config
    n, f = sparse.shape
    lanes = c.lanes
    beats = -(-f // lanes)
    lane = (np.asarray(sparse, np.uint64) | (np.arange(f, dtype=np.uint64) << c.row_in_bits)
            | np.uint64(1 << 31)).astype(np.uint32)
    padded = np.zeros((n, beats * lanes), np.uint32)
    padded[:, :f] = lane
    data = padded.reshape(n * beats, lanes)
    tuser = np.repeat(np.arange(first_id, first_id + n, dtype=np.uint64), beats)
    if flush_last:
        tuser[-beats:] |= np.uint64(1 << c.sample_bits)
    tlast = np.tile(np.arange(beats) == beats - 1, n).astype(np.uint8)
    return data, tuser, tlast


def cold_lanes(wire, packet: np.ndarray) -> tuple[int, int]:
    """``(samples, cold lookups)`` of a micro-batch packet (``(beats, words)`` array)."""
    codec, lane_codec = wire.micro_batch, wire.micro_batch_lane

    def bits(offset: int, width: int, rows: np.ndarray) -> np.ndarray:
        word, shift = divmod(offset, 32)
        value = rows[:, word].astype(np.uint64) >> np.uint64(shift)
        if shift + width > 32:
            value |= rows[:, word + 1].astype(np.uint64) << np.uint64(32 - shift)
        return value & np.uint64((1 << width) - 1)

    size = int(bits(codec.offsets["size"], codec.fields["size"], packet[:1])[0])
    records = packet[1:]
    cold = 0
    for k in range(wire.config.lanes):
        base = codec.offsets["lanes"] + k * lane_codec.width
        valid = bits(base + lane_codec.offsets["valid"], 1, records)
        hot = bits(base + lane_codec.offsets["hot"], 1, records)
        cold += int(np.count_nonzero(valid & ~hot & np.uint64(1)))
    return size, cold


def _configure(transport, layouts, dim: int, batch_size: int, working_set: int,
               lookups: int):
    """A configured ``SyncHotlineDriver`` on ``transport`` (empty table, cleared counters)."""
    from sw_driver.driver import SyncHotlineDriver

    driver = SyncHotlineDriver(transport)
    driver.identify()
    driver.configure_tables(layouts, dim)
    driver.configure(batch_size=batch_size, working_set=working_set, lookups=lookups)
    driver.clear_table()
    driver.clear_counters()
    return driver


def _transport_phase(transport, wire, sparse, first_id: int, learn: bool) -> dict:
    """One submit at the transport level; returns cycles, seconds, packets, rows."""
    from hotline_hw import register_map as rmap
    from sw_driver.native.library import PORT_LOOKUPS, PORT_MICRO_BATCHES, PORT_ROWS

    control = rmap.register("CONTROL")
    address = control.address
    fields = control.unpack(transport._register(False, address))
    fields["learn"] = int(learn)
    transport._register(True, address, control.pack(**fields))
    data, tuser, tlast = encode_lookups(wire, sparse, first_id)
    cycles, started = transport.cycle, time.perf_counter()
    transport.send_arrays(PORT_LOOKUPS, data, tuser, tlast)
    samples = cold = packets = 0
    while samples < len(sparse):
        packet, _ = transport.recv_arrays(PORT_MICRO_BATCHES)
        size, lanes = cold_lanes(wire, packet)
        samples += size
        cold += lanes
        packets += 1
    rows, _, _ = transport.recv_packets(PORT_ROWS, cold)
    return {"cycles": transport.cycle - cycles, "seconds": time.perf_counter() - started,
            "micro_batches": packets, "rows": cold}


def bench_native_speed(*, learn: int = 1024, batch_size: int = 1024, working_set: int = 4,
                       idle_cycles: int = 2_000_000, seed: int = 0, quick: bool = False,
                       cocotb: bool = True) -> tuple[dict, dict, dict]:
    """The part's ``(figures, goals, config)`` (see the module docstring)."""
    from hotline_hw.device_config import HotlineConfig
    from scripts.bench_top import (TOP_LATENCY, TOP_SCALE, kaggle_sparse, run_hotline_top,
                                   speed_case)
    from sw_driver.driver import SyncHotlineDriver
    from sw_driver.model_device import ModelDevice
    from sw_driver.native import NativeTransport
    from sw_driver.wire import WireFormat
    from tb.cosim_hotline import layouts_for
    from tb.driver_scenarios import SMALL_CONFIG, trace

    config = SMALL_CONFIG if quick else HotlineConfig()
    scale = 3e-5 if quick else TOP_SCALE
    dim = 16
    latency = 20 if quick else TOP_LATENCY
    size = batch_size * working_set
    sparse, sizes = kaggle_sparse(learn + size, scale, seed)
    layouts = layouts_for(sizes, dim)
    memory_size = layouts[-1].base + layouts[-1].rows * layouts[-1].stride + 4096
    contents = np.random.default_rng(seed).integers(0, 256, memory_size, np.uint8)
    wire = WireFormat(config)
    knobs = dict(memory_size=memory_size, read_latency=latency, seed=seed)

    def transport():
        made = NativeTransport(config, **knobs)
        made.memory.array[:] = contents
        return made, _configure(made, layouts, dim, batch_size, working_set, sparse.shape[1])

    started = time.perf_counter()
    built = NativeTransport(config, memory_size=4096).build
    build_seconds = time.perf_counter() - started

    # The ceiling: Verilator's own loop on the same library.
    with NativeTransport(config, memory_size=4096) as idle:
        idle.idle_loop(1000)                                       # warm up
        started = time.perf_counter()
        idle.idle_loop(idle_cycles)
        idle_rate = idle_cycles / (time.perf_counter() - started)

    # Whole transactions across the boundary.
    native, _ = transport()
    with native:
        phases = [_transport_phase(native, wire, sparse[:learn], 0, True),
                  _transport_phase(native, wire, sparse[learn:], learn, False)]
    native_rate = sum(p["cycles"] for p in phases) / sum(p["seconds"] for p in phases)

    # Through the driver, checked against the golden model.
    samples = [(n, [(t, int(r)) for t, r in enumerate(row)]) for n, row in
               enumerate(sparse.tolist())]
    through, driver = transport()
    with through:
        model_device = ModelDevice(config, memory_size=memory_size)
        model_device.memory.array[:] = contents
        model = SyncHotlineDriver(model_device)
        model.configure_tables(layouts, dim)
        model.configure(batch_size=batch_size, working_set=working_set,
                        lookups=sparse.shape[1])
        model.clear_table()
        cycles = seconds = 0.0
        for part, learning in ((samples[:learn], True), (samples[learn:], False)):
            c0, t0 = through.cycle, time.perf_counter()
            got = driver.submit(part, learn=learning)
            seconds += time.perf_counter() - t0
            cycles += through.cycle - c0
            want = model.submit(part, learn=learning)
            if trace(got) != trace(want):
                raise RuntimeError("native backend differs from the golden model")
        rows = len(got.rows)
    driver_rate = cycles / seconds
    if [p["rows"] for p in phases][-1] != rows:
        raise RuntimeError(f"transport-level run gathered {phases[-1]['rows']} rows, the "
                           f"driver run {rows}")

    cocotb_rate, cocotb_note = None, "not run (cocotb=False)"
    if cocotb:
        case = speed_case(learn, batch_size, seed)
        report = run_hotline_top(cases=[case], sparse=sparse, sizes=sizes, config=config,
                                 test_id="bench_native_speed_cocotb")["speed"]
        cocotb_rate = (sum(p["sim_cycles"] for p in report["phases"])
                       / sum(p["wall_seconds"] for p in report["phases"]))
        cocotb_note = "tb.bench_hotline_top speed case: driver submits, same traffic"

    def ratio(a, b):
        return None if a is None or b is None else round(a / b, 4)

    prefix = "native_speed."
    figures = {
        f"{prefix}idle_loop.cycles_per_second": round(idle_rate),
        f"{prefix}native.cycles_per_second": round(native_rate),
        f"{prefix}native_driver.cycles_per_second": round(driver_rate),
        f"{prefix}cocotb.cycles_per_second": None if cocotb_rate is None else round(cocotb_rate),
        f"{prefix}native_over_idle_loop": ratio(native_rate, idle_rate),
        f"{prefix}native_over_cocotb": ratio(native_rate, cocotb_rate),
        f"{prefix}native_driver_over_cocotb": ratio(driver_rate, cocotb_rate),
        f"{prefix}cocotb_over_idle_loop": ratio(cocotb_rate, idle_rate),
        f"{prefix}native.simulated_cycles": int(sum(p["cycles"] for p in phases)),
    }
    goals = {f"{prefix}native_over_idle_loop": ">= 0.5 (issue 20)",
             f"{prefix}native_over_cocotb": ">= 100 (issue 20)",
             f"{prefix}native.cycles_per_second":
                 "wall clock of this machine (shared cores): compare only the ratios"}
    cfg = {"native_speed": {
        "build": "rtl/hotline_top.v" if not quick else "tests' SMALL_CONFIG",
        "library": str(built.library), "build_seconds": round(build_seconds, 1),
        "traffic": f"SyntheticCriteo Kaggle shape, scale {scale}, seed {seed}: {learn} "
                   f"learning samples, one working set of W={working_set} x B={batch_size}",
        "dim": dim, "read_latency": latency, "idle_cycles": idle_cycles,
        "phases": phases, "cocotb": cocotb_note}}
    return figures, goals, cfg
