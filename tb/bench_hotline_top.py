"""End-to-end cycles per working set of the whole accelerator (``HotlineTop`` RTL), checked
against the golden-model backend (``make bench``).

Not a test: a measurement that refuses to report figures from wrong output. Each case
(``params["cases"]``, one cocotb test each, from reset) drives the top through the host driver
(:class:`~sw_driver.driver.HotlineDriver` over a :class:`TimedTransport`, a
:class:`~sw_driver.cocotb_transport.CocotbTransport` that timestamps the stream beats) and, with
the same driver calls, a :class:`~sw_driver.model_device.ModelDevice`:

1. Host memory (:class:`tb.axi_memory.HostMemory`, random bytes) holds the tables back to back
   (:func:`tb.cosim_hotline.layouts_for`); it answers every read burst ``read_latency`` cycles
   after its AR handshake, in AR order unless ``reorder``, with no stall. The output streams
   (micro-batches, rows) are always ready. The lookup stream is fed back to back: the driver
   queues a whole submit at once and the bus model presents one beat per cycle.
2. Learning phase: the first ``learn`` samples in ``LEARN`` mode (every lookup cold: gathered).
3. ``RUN``: ``isolated`` working sets of ``W * B`` samples, each submitted alone (its last sample
   carries ``flush``, the driver collects everything before the next submit), then ``streamed``
   working sets in one submit (only the very last sample flushes; the next working set's input
   overlaps the previous one's drain, as far as the sample buffer lets it).

Every micro-batch beat and gathered row of every submit must equal the model's, and so must the
counters at the end; otherwise the report names the first difference and the test fails.

Timing of a submit (exact, in clock cycles, from the bus models' timestamps): from the cycle the
first lookup beat is valid to the handshake of the last micro-batch beat or of the last row
beat, whichever is later (``cycles``); ``input_cycles`` until the last lookup beat is presented
(+1: its earliest handshake); ``last_micro_batch`` / ``last_row`` to those handshakes;
``drain_micro_batch_beats``: beats of the micro-batches that started after the last lookup beat
(what the working set's close releases). ``read_beats`` (R beats) and
``input_stalls`` come from the top's counters, read before and after (the register reads lie
outside the window). ``wall_seconds`` / ``sim_cycles``: host time and simulated cycles of the
RTL submit (driver encoding and decoding included), for the simulation speed.

Parameters (``tb_params()``): ``config`` (HotlineConfig fields, geometry as a dict), ``data``
(npz with ``sparse`` [N, F] and ``sizes``), ``report`` (each case writes
``<report>.<name>.json``) and ``cases``: list of ``{"name", "dim", "batch_size",
"working_set", "learn", "isolated", "streamed", "read_latency", "reorder", "seed"}``.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.utils import get_sim_steps, get_sim_time

from sw_driver.driver import HotlineDriver
from sw_driver.model_device import ModelDevice
from tb.cosim_hotline import CLOCK_NS, config_from, layouts_for, reset_and_configure
from tb.driver_scenarios import TIMING_DEPENDENT, first_difference, trace
from tb.runner import tb_params

CASES = {case["name"]: case for case in tb_params().get("cases", [])}


def _transport_class():
    # CocotbTransport imports cocotbext.axi: only inside a simulation.
    from sw_driver.cocotb_transport import CocotbTransport

    class TimedTransport(CocotbTransport):
        """A :class:`CocotbTransport` that records when stream beats move (sim steps)."""

        def start_window(self) -> None:
            self.first_in = self.last_in = self.last_mb = self.last_row = None
            self.mb_beats = self.row_beats = 0
            self.mb_frames: list[tuple[int, int]] = []     # (first beat time, beats)

        def _sent(self, frame) -> None:
            # Called by the source as it drives a frame's last beat (start: its first beat).
            if self.first_in is None:
                self.first_in = frame.sim_time_start
            self.last_in = frame.sim_time_end

        async def send_lookups(self, beats) -> None:
            for frame in self._frames(beats, self.lookups.byte_lanes):
                frame.tx_complete = self._sent
                await self.lookups.send(frame)

        async def recv_micro_batch(self) -> list[int]:
            frame = await self._recv(self.micro_batches, "micro-batch")
            self.last_mb = frame.sim_time_end
            words = self._words(frame, self.micro_batches.byte_lanes)
            self.mb_beats += len(words)
            self.mb_frames.append((frame.sim_time_start, len(words)))
            return words

        async def recv_row(self) -> tuple[list[int], int]:
            frame = await self._recv(self.rows, "gathered-row")
            self.last_row = frame.sim_time_end
            tuser = frame.tuser[0] if isinstance(frame.tuser, list) else frame.tuser
            words = self._words(frame, self.rows.byte_lanes)
            self.row_beats += len(words)
            return words, int(tuser or 0)

    return TimedTransport


def _numbered(sparse: np.ndarray, start: int, stop: int):
    return [(n, [(t, int(r)) for t, r in enumerate(row)])
            for n, row in zip(range(start, stop), sparse[start:stop].tolist())]


@cocotb.parametrize(name=list(CASES) or ["none"])
async def measure_working_sets(dut, name):
    p = tb_params()
    case = CASES[name]
    config = config_from(p)
    data = np.load(p["data"])
    sparse, sizes = data["sparse"], data["sizes"]
    dim, batch_size, working_set = case["dim"], case["batch_size"], case["working_set"]
    size = batch_size * working_set
    needed = case["learn"] + (case["isolated"] + case["streamed"]) * size
    if len(sparse) < needed:
        raise ValueError(f"case {name} needs {needed} samples, the data has {len(sparse)}")
    layouts = layouts_for(sizes, dim)
    memory_size = layouts[-1].base + layouts[-1].rows * layouts[-1].stride + 4096
    contents = np.random.default_rng(case["seed"]).integers(0, 256, memory_size, np.uint8)

    from tb.axi_memory import HostMemory

    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    memory = HostMemory.from_prefix(dut, "m_axi", size=memory_size,
                                    rng=random.Random(case["seed"]),
                                    read_latency=case["read_latency"], reorder=case["reorder"])
    memory.write(0, contents.tobytes())
    # A submit's first packet may come late: in LEARN mode the table takes one lookup per
    # cycle and every lookup is gathered after the close (4096 samples at B = 1024: ~210k
    # cycles to the first micro-batch). Allow twice the gather of every lookup of the largest
    # submit, serialised after its input.
    row_beats = -(-4 * dim // config.bus_bytes)
    largest = max(case["learn"], max(case["streamed"], 1) * size)
    timeout = 2 * largest * sparse.shape[1] * (1 + row_beats) + 50_000
    transport = _transport_class()(dut, config, memory, timeout_cycles=timeout)
    rtl = HotlineDriver(transport)
    model_device = ModelDevice(config, memory_size=memory_size)
    model_device.memory.write(0, contents.tobytes())
    model = HotlineDriver(model_device)
    await reset_and_configure(dut, (rtl, model), layouts, dim=dim, batch_size=batch_size,
                              working_set=working_set, lookups=sparse.shape[1])

    phases = [("learn", "learn", 0, case["learn"], True)]
    cursor = case["learn"]
    for k in range(case["isolated"]):
        phases.append((f"working set {k}", "isolated", cursor, cursor + size, False))
        cursor += size
    if case["streamed"]:
        phases.append((f"{case['streamed']} working sets streamed", "streamed", cursor,
                       cursor + case["streamed"] * size, False))

    period = get_sim_steps(CLOCK_NS, "ns")
    report = {"case": case, "lookups": int(sparse.shape[1]), "phases": [], "mismatches": []}
    for label, kind, start, stop, learn in phases:
        part = _numbered(sparse, start, stop)
        before = {k: await rtl.read(k) for k in ("READ_BEATS", "INPUT_STALLS", "CYCLES")}
        transport.start_window()
        wall, steps = time.perf_counter(), get_sim_time()
        got = await rtl.submit(part, learn=learn)
        wall, steps = time.perf_counter() - wall, get_sim_time() - steps
        after = {k: await rtl.read(k) for k in before}
        delta = {k: (after[k] - before[k]) & 0xFFFFFFFF for k in before}
        want = await model.submit(part, learn=learn)
        difference = first_difference(trace(got), trace(want))
        if difference:
            report["mismatches"].append({"phase": label, "first_difference": difference})
        t = transport
        end = max(x for x in (t.last_mb, t.last_row) if x is not None)
        phase = {
            "name": label, "kind": kind, "samples": len(part),
            "working_sets": -(-len(part) // size),
            "micro_batches": len(got.micro_batches), "micro_batch_beats": t.mb_beats,
            "cold_rows": len(got.rows), "row_beats": t.row_beats,
            "popular_samples": got.popular_sample_fraction(),
            "popular_fraction": got.popular_fraction(),
            "cycles": (end - t.first_in) // period,
            "input_cycles": (t.last_in - t.first_in) // period + 1,
            "drain_micro_batch_beats": sum(beats for first, beats in t.mb_frames
                                           if first > t.last_in),
            "last_micro_batch": (t.last_mb - t.first_in) // period,
            "last_row": (t.last_row - t.first_in) // period if t.last_row is not None else None,
            "read_beats": delta["READ_BEATS"], "input_stalls": delta["INPUT_STALLS"],
            "cycles_register": delta["CYCLES"],
            "wall_seconds": wall, "sim_cycles": steps / period,
            "identical": difference is None,
        }
        report["phases"].append(phase)
        dut._log.info("%s: %s", label, {k: v for k, v in phase.items()
                                         if k not in ("name", "kind")})
    rtl_status, model_status = await rtl.status(), await model.status()
    counters = {k: v for k, v in rtl_status.items() if k not in TIMING_DEPENDENT}
    expected = {k: v for k, v in model_status.items() if k not in TIMING_DEPENDENT}
    report["counters"] = counters
    report["counters_equal"] = counters == expected
    if not report["counters_equal"]:
        report["counters_model"] = expected
    report["passed"] = not report["mismatches"] and report["counters_equal"]
    memory.check(idle=True)
    Path(f"{p['report']}.{name}.json").write_text(json.dumps(report, indent=2))
    assert report["passed"], (f"{name}: RTL differs from the golden model: "
                              f"{report['mismatches']}, counters equal "
                              f"{report['counters_equal']}")
