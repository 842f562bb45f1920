"""Testbench of the micro-batch scheduler: bus models, golden-model scoreboard, invariants, traffic.

:class:`MicroBatchSchedulerTB` wraps one ``MicroBatchScheduler`` DUT built by
:func:`make_component` from a JSON-able parameter dict (:func:`make_params`; the same dict reaches
the cocotb side through :func:`tb.runner.tb_params`). House pattern driver -> monitor -> model ->
scoreboard:

* **Driver.** :meth:`MicroBatchSchedulerTB.send` turns samples ``(sample_id, [Lookup, ...])``
  into input beats of ``lanes`` lookups (``first`` / ``last`` frame a sample, ``meta`` =
  ``{sample, flush}``, ``flush`` on the last sample of the call) queued on a
  :class:`tb.streams.StreamSource`. Lanes past the end of a sample are invalid and carry random
  garbage, which the DUT must store and emit as zeros.
* **Monitor -> model.** A :class:`tb.streams.StreamMonitor` on the input records every beat the
  DUT takes; complete samples go, in that order, to the golden model
  (:class:`hotline_hw.model.scheduler.MicroBatchScheduler`), and the micro-batches it returns
  become expected ``o`` and ``cold`` beats (:func:`expected_beats`).
* **Scoreboard.** Two coroutines take every ``o`` and ``cold`` beat from
  :class:`tb.streams.StreamSink` s (idle / backpressure generators on each:
  :meth:`set_idle`, :meth:`set_backpressure`) and compare it, whole payload, with the next
  expected beat; the first mismatch is raised by :meth:`drain` with the stream, beat index,
  differing fields, expected and got beats and the seed. Stream rules are checked on both
  outputs every cycle: once ``valid`` is up and the beat not taken, ``valid`` stays and the
  payload holds.
* **Invariants.** :meth:`check_invariants` re-derives from the *observed* output alone (not from
  the model) what any correct schedule must satisfy: every input sample exactly once, arrival
  order kept within each class, micro-batch sizes and kinds, descriptor framing, working sets as
  contiguous runs of the input, the ``cold`` stream equal to the cold lanes of ``o``.
  :meth:`check_counters` compares the status counters with the model's.

Expected payloads are exact: a descriptor beat has every record field zero; a record beat carries
its micro-batch's ``step`` and zero in ``kind`` / ``size`` / ``working_set`` / ``index``
(what the RTL does; ``micro_batch_stream`` only defines the descriptor's copy of those fields);
record lanes that are not valid are all zero.

:func:`classify_sparse` produces realistic lookups: a sparse array runs through the popularity
table model, LEARN on a prefix, then RUN, which gives each lookup its hit flag and slot.
"""

from __future__ import annotations

import os
import random
from collections import Counter, deque
from typing import NamedTuple, Sequence

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hotline_hw.lookup_stream import lookup_response_layout
from hotline_hw.micro_batch_stream import cold_request_layout, micro_batch_layout
from hotline_hw.model import Mode, PopularityTable, TableGeometry
from hotline_hw.model.micro_batch_beats import (ColdBeat, ColdLane, Lane, OutBeat, beat_diff,
                                               expected_beats)
from hotline_hw.model.scheduler import (Lookup, MicroBatchKind, MicroBatchScheduler,
                                        ScheduleMode)

from .streams import (StreamMonitor, StreamSink, StreamSource, StructCodec, bind_stream,
                      duty_cycle_pause, random_pause)
from .undriven import assert_inputs_driven

__all__ = ["CLOCK_NS", "COUNTERS", "Lane", "OutBeat", "ColdLane", "ColdBeat", "expected_beats",
           "make_params", "make_component", "classify_sparse", "random_samples",
           "MicroBatchSchedulerTB", "FlowStats", "FlowWatch"]

CLOCK_NS = 10
#: Status counters the model also keeps (``stalls`` and ``framing_error`` are checked apart).
COUNTERS = ("samples_in", "popular", "non_popular", "skipped", "micro_batches",
            "early_closes")


# -- beats -----------------------------------------------------------------------------------------

# -- parameters ------------------------------------------------------------------------------------

def make_params(*, lanes: int, max_lookups: int, capacity: int, table_in_bits: int = 5,
                row_in_bits: int = 20, slot_bits: int = 10, sample_bits: int = 20,
                size_bits: int = 8, working_set_bits: int = 3, counter_bits: int = 32,
                **extra) -> dict:
    """The JSON-able parameter dict of one DUT configuration (plus any ``extra`` entries)."""
    params = dict(lanes=lanes, max_lookups=max_lookups, capacity=capacity,
                  table_in_bits=table_in_bits, row_in_bits=row_in_bits, slot_bits=slot_bits,
                  sample_bits=sample_bits, size_bits=size_bits,
                  working_set_bits=working_set_bits, counter_bits=counter_bits)
    params.update(extra)
    return params


_RTL_PARAMS = ("lanes", "table_in_bits", "row_in_bits", "slot_bits", "sample_bits", "max_lookups",
               "capacity", "size_bits", "working_set_bits", "counter_bits")


def make_component(params: dict):
    """The ``MicroBatchScheduler`` RTL component of a parameter dict."""
    from hotline_hw.micro_batch_scheduler import MicroBatchScheduler as RTL

    return RTL(**{name: params[name] for name in _RTL_PARAMS})


# -- traffic ---------------------------------------------------------------------------------------

def classify_sparse(sparse, geometry: TableGeometry, *, learn: int, run: int | None = None,
                    first_id: int = 0):
    """Lookups of a sparse array ([N, T] row ids, table = column) as the popularity table answers.

    The table model LEARNs on the first ``learn`` samples, then RUNs on the next ``run`` (all
    the rest by default). Returns ``(learn_samples, run_samples, table)``: lists of
    ``(sample_id, [Lookup])`` with ``sample_id = first_id + row index`` and the table model.
    """
    sparse = np.asarray(sparse, dtype=np.int64)
    run = sparse.shape[0] - learn if run is None else run
    table = PopularityTable(geometry, Mode.LEARN)
    phases = []
    for mode, start, count in ((Mode.LEARN, 0, learn), (Mode.RUN, learn, run)):
        table.mode = mode
        block = sparse[start:start + count]
        n, t = block.shape
        tables = np.broadcast_to(np.arange(t, dtype=np.int64), (n, t))
        hit, slot, error = table.lookup_many(tables, block)
        hit, slot, error = (a.reshape(n, t).tolist() for a in (hit, slot, error))
        rows = block.tolist()
        phases.append([(first_id + start + i,
                        [Lookup(c, rows[i][c], bool(hit[i][c]), int(slot[i][c]),
                                bool(error[i][c])) for c in range(t)])
                       for i in range(n)])
    return phases[0], phases[1], table


def random_samples(rng: random.Random, count: int, *, lookups: int | Sequence[int],
                   hit_rate: float, popular_rate: float = 0.0, first_id: int = 0,
                   table_bits: int = 5, row_bits: int = 8, slot_bits: int = 8,
                   stale_rate: float = 0.0) -> list:
    """Synthetic samples ``(sample_id, [Lookup])``.

    ``lookups`` is F, or a ``(low, high)`` range to draw F per sample from. Each lookup hits
    with ``hit_rate``; a sample is made all-hit (popular) with ``popular_rate`` on top. A miss is
    now and then out of range (``error``), as the table reports it. A hit is stale with
    ``stale_rate`` (no random draw when it is 0: the other draws are unchanged).
    """
    out = []
    for n in range(count):
        f = lookups if isinstance(lookups, int) else rng.randint(*lookups)
        all_hit = rng.random() < popular_rate
        sample = []
        for t in range(f):
            hit = all_hit or rng.random() < hit_rate
            sample.append(Lookup(rng.getrandbits(table_bits), rng.getrandbits(row_bits), hit,
                                 rng.getrandbits(slot_bits) if hit else 0,
                                 error=not hit and rng.random() < 0.05,
                                 stale=hit and stale_rate > 0 and rng.random() < stale_rate))
        out.append((first_id + n, sample))
    return out


# -- testbench -------------------------------------------------------------------------------------

class FlowStats(NamedTuple):
    """Cycle counts of a run (:meth:`MicroBatchSchedulerTB.watch_flow`)."""
    in_beats: int
    in_first: int       # cycle of the first input beat taken
    in_last: int
    out_beats: int
    out_first: int
    out_last: int

    @property
    def in_cycles(self) -> int:
        return self.in_last - self.in_first + 1

    @property
    def out_cycles(self) -> int:
        return self.out_last - self.out_first + 1


def _pause_generator(rng: random.Random, spec):
    if spec is None or spec == 0:
        return None
    if isinstance(spec, (int, float)):
        return random_pause(rng, float(spec))
    if isinstance(spec, (tuple, list)):
        return duty_cycle_pause(spec)
    return spec


class MicroBatchSchedulerTB:
    """Clock, reset, bus models, golden model and scoreboard for one scheduler DUT.

    Parameters
    ----------
    dut : cocotb handle of the toplevel
    params : dict
        :func:`make_params` (from :func:`tb.runner.tb_params`).

    Attributes
    ----------
    input_name : str
        Stream member that takes the input (``i``; a subclass for a block in front of the
        scheduler names its own and overrides the input codec, encoder and decoder).
    sent, got_o, got_cold : list
        Samples driven; ``o`` and ``cold`` beats received (decoded).
    seed : int
        The regression seed (``HOTLINE_SEED`` reproduces the run).
    """

    input_name = "i"
    cold_name = "cold"      #: the stream checked against ``expect_cold`` (decoded by _decode_cold)

    def __init__(self, dut, params: dict):
        self.dut = dut
        self.params = params
        self.lanes = params["lanes"]
        self.sample_bits = params["sample_bits"]
        # cocotb seeds each test from the regression seed and the test's name: the regression
        # seed (what tb.runner sets, HOTLINE_SEED) reproduces it; the test seed drives the rng.
        self.seed = int(os.environ.get("COCOTB_RANDOM_SEED", cocotb.RANDOM_SEED))
        self.rng = random.Random(cocotb.RANDOM_SEED)
        self.log = dut._log
        self.log.info("seed %d (reproduce with HOTLINE_SEED=%d), test seed %d", self.seed,
                      self.seed, cocotb.RANDOM_SEED)
        beat_bits = max(1, (-(-params["max_lookups"] // self.lanes) - 1).bit_length())
        widths = dict(lanes=self.lanes, table_in_bits=params["table_in_bits"],
                      row_in_bits=params["row_in_bits"])
        o_layout = micro_batch_layout(slot_bits=params["slot_bits"],
                                      sample_bits=self.sample_bits, size_bits=params["size_bits"],
                                      index_bits=params["working_set_bits"] + 1,
                                      beat_bits=beat_bits, **widths)
        cold_layout = cold_request_layout(size_bits=params["size_bits"], beat_bits=beat_bits,
                                          **widths)
        self.o_codec = StructCodec.from_layout(o_layout)
        self.o_lane = StructCodec.from_layout(o_layout["lanes"].shape.elem_shape)
        self.cold_codec = StructCodec.from_layout(cold_layout)
        self.cold_lane = StructCodec.from_layout(cold_layout["lanes"].shape.elem_shape)
        self._init_input(params)

        cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
        self.source = bind_stream(StreamSource, dut, self.input_name, dut.clk, dut.rst)
        self.in_monitor = bind_stream(StreamMonitor, dut, self.input_name, dut.clk, dut.rst)
        self.o_sink = bind_stream(StreamSink, dut, "o", dut.clk, dut.rst)
        self.cold_sink = bind_stream(StreamSink, dut, self.cold_name, dut.clk, dut.rst)

        self.model: MicroBatchScheduler | None = None
        self.config: dict = {}
        self.sent: list = []            # (sample_id, lookups) in driven order
        self.flushes = 0
        self.expect_o: deque = deque()
        self.expect_cold: deque = deque()
        self.got_o: list[OutBeat] = []
        self.got_cold: list[ColdBeat] = []
        self.popular_ids: set = set()   # classification of every input sample (model's)
        self.cold_lookups = 0           # input lookups the GPU cannot serve
        self.jobs = 0                   # emitter jobs (see absorb_inputs)
        self.errors: list[str] = []
        self._partial: list = []        # lookups of the sample being received
        self._checkers = []

    # -- setup -------------------------------------------------------------------------------------

    def _init_input(self, params: dict) -> None:
        self.in_codec = StructCodec.from_layout(lookup_response_layout(
            lanes=self.lanes, table_in_bits=params["table_in_bits"],
            row_in_bits=params["row_in_bits"], slot_bits=params["slot_bits"],
            meta_bits=self.sample_bits + 1))
        self.in_lane = StructCodec({"valid": 1, "hit": 1, "error": 1,
                                    "slot": params["slot_bits"],
                                    "table": params["table_in_bits"],
                                    "row": params["row_in_bits"], "stale": 1})

    def _idle_inputs(self) -> None:
        for name in ("split", "learn", "batch_size", "working_set", "capacity_limit", "alpha",
                     "counters_clear", "errors_clear"):
            getattr(self.dut, name).value = 0

    async def reset(self) -> None:
        self._idle_inputs()
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)
        assert_inputs_driven(self.dut)
        for task in self._checkers:
            task.cancel()
        self._checkers = [
            cocotb.start_soon(self._check("o", self.o_sink, self._decode_o, self.expect_o,
                                          self.got_o)),
            cocotb.start_soon(self._check(self.cold_name, self.cold_sink, self._decode_cold,
                                          self.expect_cold, self.got_cold)),
            cocotb.start_soon(self._stream_rules("o")),
            cocotb.start_soon(self._stream_rules(self.cold_name)),
        ]

    def set_idle(self, spec) -> None:
        """Input idle generator: a probability, a 0/1 pattern (1 = idle) or an iterator."""
        self.source.set_pause_generator(_pause_generator(self.rng, spec))

    def set_backpressure(self, o=None, cold=None) -> None:
        """Backpressure generators of ``o`` and ``cold`` (as :meth:`set_idle`; None: none)."""
        self.o_sink.set_pause_generator(_pause_generator(self.rng, o))
        self.cold_sink.set_pause_generator(_pause_generator(self.rng, cold))

    def configure(self, *, batch_size: int, working_set: int, split: bool = False,
                  learn: bool = False, capacity_limit: int | None = None,
                  capacity_port: int | None = None, alpha: int = 0) -> None:
        """Set the configuration inputs and build the matching model (call while idle).

        ``capacity_limit`` defaults to the model's default capacity (``W * B``, SPLIT ``B``);
        it is clipped to the physical ``capacity`` and becomes the model's ``capacity`` and
        the value driven on the port. ``capacity_port`` drives another value on the port (the
        contract says a value above ``capacity`` acts as ``capacity``).
        """
        mode = ScheduleMode.SPLIT if split else ScheduleMode.REFORMED
        default = batch_size if split else working_set * batch_size
        limit = min(default if capacity_limit is None else capacity_limit,
                    self.params["capacity"])
        self.model = MicroBatchScheduler(batch_size=batch_size, working_set=working_set,
                                         mode=mode, learn=learn, capacity=limit, alpha=alpha)
        self.config = dict(batch_size=batch_size, working_set=working_set, split=bool(split),
                           learn=bool(learn), capacity_limit=limit, alpha=alpha,
                           capacity_port=limit if capacity_port is None else capacity_port)
        self._write_config()
        self.log.info("config %s", self.config)

    def _write_config(self) -> None:
        c = self.config
        self.dut.split.value = int(c["split"])
        self.dut.learn.value = int(c["learn"])
        self.dut.batch_size.value = c["batch_size"]
        self.dut.working_set.value = c["working_set"]
        self.dut.capacity_limit.value = c["capacity_port"]
        self.dut.alpha.value = c.get("alpha", 0)

    def set_learn(self, learn: bool) -> None:
        """Switch the learning phase (the DUT must be idle: :meth:`drain` first)."""
        assert not int(self.dut.busy.value), "learn may change only while busy is low"
        self.model.learn = bool(learn)
        self.config["learn"] = bool(learn)
        self._write_config()

    # -- driver ------------------------------------------------------------------------------------

    def _garbage_lane(self) -> int:
        word = self.rng.getrandbits(self.in_lane.width)
        return word & ~1                            # valid = 0

    def encode_sample(self, sample_id: int, lookups: Sequence, flush: bool) -> list[int]:
        """Input payloads of one sample."""
        lanes, w = self.lanes, self.in_lane.width
        beats = [lookups[i:i + lanes] for i in range(0, len(lookups), lanes)]
        meta = sample_id | (int(flush) << self.sample_bits)
        words = []
        for n, chunk in enumerate(beats):
            packed = 0
            for k in range(lanes):
                if k < len(chunk):
                    lk = chunk[k]
                    lane = self.in_lane.pack(valid=1, hit=int(lk.hit), error=int(lk.error),
                                             slot=lk.slot, table=lk.table, row=lk.row,
                                             stale=int(lk.stale))
                else:
                    lane = self._garbage_lane()
                packed |= lane << (k * w)
            words.append(self.in_codec.pack(lanes=packed, first=int(n == 0),
                                            last=int(n == len(beats) - 1), meta=meta))
        return words

    async def send(self, samples: Sequence, *, flush: bool = True) -> None:
        """Queue ``samples`` (``(sample_id, [Lookup])``) on the input; the last one carries
        ``flush`` if asked. Returns once queued (see :meth:`drain`)."""
        for n, (sample_id, lookups) in enumerate(samples):
            last = flush and n == len(samples) - 1
            for word in self.encode_sample(sample_id, lookups, last):
                await self.source.send(self.source._transaction_obj(payload=word))
            self.sent.append((sample_id, tuple(lookups)))
        self.flushes += int(flush and len(samples) > 0)

    # -- monitor -> model --------------------------------------------------------------------------

    def _decode_input(self, word: int):
        """``(lookups of the valid lanes, last, sample_id, flush)`` of one input beat."""
        fields = self.in_codec.unpack(word)
        lookups = []
        for k in range(self.lanes):
            lane = self.in_lane.unpack(fields["lanes"] >> (k * self.in_lane.width))
            if lane["valid"]:
                lookups.append(Lookup(lane["table"], lane["row"], bool(lane["hit"]),
                                      lane["slot"], bool(lane["error"]), bool(lane["stale"])))
        meta = fields["meta"]
        return (lookups, fields["last"], meta & ((1 << self.sample_bits) - 1),
                meta >> self.sample_bits)

    def absorb_inputs(self) -> None:
        """Feed the input beats the DUT has taken so far to the model; queue expectations."""
        while not self.in_monitor.empty():
            lookups, last, sample_id, flush = self._decode_input(
                int(self.in_monitor.recv_nowait().payload))
            self._partial += lookups
            if not last:
                continue
            lookups, self._partial = self._partial, []
            batches = self.model.push(sample_id, lookups)
            if self.model.classify(sample_id, lookups).popular:
                self.popular_ids.add(sample_id)
            if not self.model.classify(sample_id, lookups).skipped:
                self.cold_lookups += sum(self.model.learn or not lk.hit for lk in lookups)
            if flush:
                batches += self.model.flush()
            # The RTL queues one emitter job per sample that completes a popular micro-batch
            # or closes a working set: exactly the samples after which the model emits.
            self.jobs += bool(batches)
            out, cold = expected_beats(batches, self.lanes, self.model.learn)
            self.expect_o.extend(out)
            self.expect_cold.extend(self.cold_expectation(cold))

    def cold_expectation(self, cold: list[ColdBeat]) -> list:
        """Expected beats on :attr:`cold_name` for the model's cold beats (themselves here;
        a chain with the gather engine turns them into gathered rows)."""
        return cold

    # -- scoreboard --------------------------------------------------------------------------------

    def _decode_o(self, word: int) -> OutBeat:
        f = self.o_codec.unpack(word)
        w = self.o_lane.width
        lanes = tuple(Lane(**self.o_lane.unpack(f["lanes"] >> (k * w)))
                      for k in range(self.lanes))
        return OutBeat(**{**f, "lanes": lanes})

    def _decode_cold(self, word: int) -> ColdBeat:
        f = self.cold_codec.unpack(word)
        w = self.cold_lane.width
        lanes = tuple(ColdLane(**self.cold_lane.unpack(f["lanes"] >> (k * w)))
                      for k in range(self.lanes))
        return ColdBeat(**{**f, "lanes": lanes})

    def _fail(self, message: str) -> None:
        message = f"{message} (seed {self.seed}, config {self.config})"
        self.log.error(message)
        self.errors.append(message)

    async def _check(self, name, sink, decode, expected: deque, got: list):
        while True:
            beat = decode(int((await sink.recv()).payload))
            self.absorb_inputs()
            index = len(got)
            got.append(beat)
            if self.errors:
                continue                    # report the first mismatch only
            if not expected:
                self._fail(f"{name} beat {index}: got {beat}, expected no beat")
            else:
                want = expected.popleft()
                if beat != want:
                    self._fail(f"{name} beat {index}: {beat_diff(want, beat)}\n"
                               f"  expected {want}\n  got      {beat}")

    async def _stream_rules(self, name: str):
        """Once ``valid`` is up and the beat not taken, ``valid`` stays and the payload holds."""
        dut = self.dut
        valid, ready = getattr(dut, f"{name}__valid"), getattr(dut, f"{name}__ready")
        payload = getattr(dut, f"{name}__payload")
        held, cycle = None, 0
        while True:
            await RisingEdge(dut.clk)
            cycle += 1
            v = bool(valid.value)
            if held is not None and not self.errors:
                if not v:
                    self._fail(f"{name}: valid fell before the beat was taken (cycle {cycle})")
                elif int(payload.value) != held:
                    self._fail(f"{name}: payload changed before the beat was taken "
                               f"(cycle {cycle})")
            held = int(payload.value) if v and not ready.value else None

    def _raise_errors(self) -> None:
        if self.errors:
            raise AssertionError(self.errors[0])

    async def drain(self, timeout_cycles: int = 100_000, poll: int = 16) -> None:
        """Wait until every queued input beat is taken, every expected beat has arrived and the
        DUT is idle; raise the first scoreboard mismatch, or on a timeout with the state."""
        waited = 0
        while True:
            await ClockCycles(self.dut.clk, poll)
            waited += poll
            self.absorb_inputs()
            self._raise_errors()
            if (self.source.idle() and not self.expect_o and not self.expect_cold
                    and self.o_sink.empty() and self.cold_sink.empty()
                    and not int(self.dut.busy.value) and not self._partial):
                break
            if waited > timeout_cycles:
                raise AssertionError(
                    f"drain timed out after {waited} cycles: {len(self.expect_o)} o beats and "
                    f"{len(self.expect_cold)} cold beats still expected (next o "
                    f"{self.expect_o[0] if self.expect_o else None}), source idle "
                    f"{self.source.idle()}, {self.input_name}.ready "
                    f"{int(getattr(self.dut, self.input_name + '__ready').value)}, busy "
                    f"{int(self.dut.busy.value)}, samples_in {int(self.dut.samples_in.value)}, "
                    f"got {len(self.got_o)} o beats (seed {self.seed}, config {self.config})")
        await ClockCycles(self.dut.clk, poll)       # nothing more may come out
        self._raise_errors()
        assert self.o_sink.empty() and self.cold_sink.empty(), \
            f"beats after the DUT went idle (seed {self.seed})"

    # -- counters ----------------------------------------------------------------------------------

    def read_counters(self) -> dict:
        names = COUNTERS + ("stalls", "framing_error", "busy")
        return {name: int(getattr(self.dut, name).value) for name in names}

    def check_counters(self) -> dict:
        """Counters equal the model's; no framing error. Returns the DUT's counters."""
        got = self.read_counters()
        want = {name: getattr(self.model.counters, name) for name in COUNTERS}
        assert {n: got[n] for n in COUNTERS} == want, \
            f"counters: got {got}, model {want} (seed {self.seed}, config {self.config})"
        assert got["framing_error"] == 0, f"framing_error set (seed {self.seed})"
        return got

    # -- invariants (from the observed output only) ------------------------------------------------

    def check_invariants(self) -> dict:
        """Checks what any correct schedule of the sent samples satisfies; returns statistics
        (micro-batches per kind, working sets, cold lanes)."""
        c, lanes, seed = self.config, self.lanes, self.seed
        B, W, split = c["batch_size"], c["working_set"], c["split"]
        where = f"(seed {seed}, config {c})"
        order = {sample_id: n for n, (sample_id, _) in enumerate(self.sent)}
        lookups_of = dict(self.sent)
        assert len(order) == len(self.sent), f"the test sent a sample id twice {where}"

        # Framing: descriptor, then `size` samples of ceil(F / lanes) beats each.
        batches = []            # (descriptor, [(sample_id, [record beats])])
        for n, beat in enumerate(self.got_o):
            if beat.desc:
                assert beat.size <= B, f"o beat {n}: micro-batch of {beat.size} > B {where}"
                batches.append((beat, []))
                continue
            assert batches, f"o beat {n}: record before any descriptor {where}"
            desc, samples = batches[-1]
            assert beat.step == desc.step, f"o beat {n}: step {beat.step} in micro-batch " \
                                           f"{desc.step} {where}"
            if beat.first:
                assert beat.beat == 0, f"o beat {n}: first on beat {beat.beat} {where}"
                samples.append((beat.sample, []))
            assert samples and samples[-1][0] == beat.sample, \
                f"o beat {n}: sample {beat.sample} not framed by first {where}"
            recs = samples[-1][1]
            assert beat.beat == len(recs) and beat.position == len(samples) - 1, \
                f"o beat {n}: beat/position {beat.beat}/{beat.position} out of sequence {where}"
            recs.append(beat)
        for desc, samples in batches:
            assert desc.size == len(samples), \
                f"micro-batch {desc.step}: descriptor size {desc.size}, {len(samples)} " \
                f"samples {where}"
            for sample_id, recs in samples:
                f = len(lookups_of.get(sample_id, ()))
                assert len(recs) == -(-f // lanes) and recs[-1].last and \
                    not any(r.last for r in recs[:-1]), \
                    f"micro-batch {desc.step}: sample {sample_id} framed in {len(recs)} " \
                    f"beats for {f} lookups {where}"

        # Conservation: every input sample exactly once.
        seen = Counter(sample_id for _, samples in batches for sample_id, _ in samples)
        twice = [s for s, k in seen.items() if k > 1]
        unknown = [s for s in seen if s not in order]
        lost = [s for s in order if s not in seen]
        assert not twice and not unknown and not lost, \
            f"conservation: repeated {twice[:8]}, never sent {unknown[:8]}, lost " \
            f"{lost[:8]} {where}"

        # Classes: popular iff every lookup is hot; kinds follow content; order kept per class.
        def popular(recs):
            return all(ln.hot for r in recs for ln in r.lanes if ln.valid)

        emitted = {True: [], False: []}
        kinds = Counter()
        for desc, samples in batches:
            flags = [popular(recs) for _, recs in samples]
            if not flags:
                kind = None
            elif all(flags):
                kind = MicroBatchKind.POPULAR
            elif not any(flags):
                kind = MicroBatchKind.NON_POPULAR
            else:
                kind = MicroBatchKind.MIXED
            assert kind is None or desc.kind == kind, \
                f"micro-batch {desc.step}: kind {desc.kind}, content says {kind} {where}"
            kinds[MicroBatchKind(desc.kind).name] += 1
            for (sample_id, _), flag in zip(samples, flags):
                assert flag == (sample_id in self.popular_ids), \
                    f"sample {sample_id}: popular={flag} on the output, " \
                    f"{sample_id in self.popular_ids} at the input {where}"
                emitted[flag].append(sample_id)
        for flag, ids in emitted.items():
            arrival = sorted(ids, key=order.__getitem__)
            assert ids == arrival, \
                f"{'popular' if flag else 'non-popular'} samples out of arrival order {where}"

        # Steps, working sets, indices; working sets are contiguous runs of the input.
        sets = []
        for n, (desc, samples) in enumerate(batches):
            assert desc.step == n, f"descriptor {n} has step {desc.step} {where}"
            if sets and desc.working_set == sets[-1][0]:
                assert desc.index == len(sets[-1][1]), \
                    f"micro-batch {n}: index {desc.index} {where}"
            else:
                assert desc.working_set == len(sets) and desc.index == 0, \
                    f"micro-batch {n}: working set {desc.working_set} index {desc.index} " \
                    f"after {len(sets)} sets {where}"
                sets.append((desc.working_set, []))
            sets[-1][1].append((desc, samples))
        next_input = 0
        short_sets = 0
        for set_id, members in sets:
            ids = sorted((order[s] for _, samples in members for s, _ in samples))
            assert ids == list(range(next_input, next_input + len(ids))), \
                f"working set {set_id} is not a contiguous run of the input {where}"
            next_input += len(ids)
            sizes = [desc.size for desc, _ in members]
            if split:
                assert [desc.kind for desc, _ in members] == \
                    [MicroBatchKind.POPULAR, MicroBatchKind.NON_POPULAR], \
                    f"SPLIT mini-batch {set_id}: micro-batches {members} {where}"
                assert sum(sizes) <= B, f"SPLIT mini-batch {set_id}: sizes {sizes} {where}"
                short_sets += sum(sizes) < B
            else:
                assert len(ids) <= W * B and all(s == B for s in sizes[:-1]) and \
                    len(sizes) == -(-len(ids) // B), \
                    f"working set {set_id}: sizes {sizes} (B {B}, W {W}) {where}"
                short_sets += len(ids) < W * B
        allowed = self.flushes + (0 if split else self.model.counters.early_closes)
        assert short_sets <= allowed, \
            f"{short_sets} short working sets, {self.flushes} flushes and " \
            f"{self.model.counters.early_closes} early closes {where}"

        # The cold stream is the cold lanes of the record beats, in order.
        derived = []
        for beat in self.got_o:
            if beat.desc:
                continue
            lanes_cold = tuple(ColdLane(1, ln.table, ln.row) if ln.valid and not ln.hot
                               else ColdLane(0, 0, 0) for ln in beat.lanes)
            if any(ln.valid for ln in lanes_cold):
                derived.append(ColdBeat(beat.step, beat.position, beat.beat, lanes_cold))
        assert derived == self.got_cold, \
            f"cold stream differs from the cold lanes of o ({len(derived)} vs " \
            f"{len(self.got_cold)} beats) {where}"
        cold_lanes = sum(ln.valid for b in self.got_cold for ln in b.lanes)
        assert cold_lanes == self.cold_lookups, \
            f"{cold_lanes} cold lanes for {self.cold_lookups} lookups the GPU cannot serve " \
            f"(misses, or any lookup while learning) {where}"
        return {"micro_batches": dict(kinds), "working_sets": len(sets),
                "samples": len(self.sent), "popular": len(emitted[True]),
                "cold_lanes": cold_lanes}

    # -- throughput --------------------------------------------------------------------------------

    def watch_flow(self) -> "FlowWatch":
        """Start counting the cycles of input and ``o`` transfers (see :class:`FlowWatch`)."""
        return FlowWatch(self.dut, self.input_name)


class FlowWatch:
    """Counts clock cycles and records the cycles of input and ``o`` transfers until
    :meth:`stop` (which returns a :class:`FlowStats`). Touches signals every cycle: for
    throughput measurements, not for long runs."""

    def __init__(self, dut, input_name: str):
        self.dut = dut
        self.cycle = 0
        self.ins, self.outs = [], []
        self._valid = getattr(dut, f"{input_name}__valid")
        self._ready = getattr(dut, f"{input_name}__ready")
        self._task = cocotb.start_soon(self._count())

    async def _count(self):
        dut = self.dut
        while True:
            await RisingEdge(dut.clk)
            self.cycle += 1
            if self._valid.value and self._ready.value:
                self.ins.append(self.cycle)
            if dut.o__valid.value and dut.o__ready.value:
                self.outs.append(self.cycle)

    def stop(self) -> FlowStats:
        self._task.cancel()
        i, o = self.ins or [0], self.outs or [0]
        return FlowStats(len(self.ins), i[0], i[-1], len(self.outs), o[0], o[-1])
