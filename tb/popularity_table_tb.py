"""Testbench of the popularity table: bus models, golden-model scoreboard and traffic helpers.

:class:`PopularityTableTB` wraps one ``PopularityTable`` DUT built by :func:`make_component`
from a JSON-able parameter dict (:func:`make_params`; the same dict reaches the cocotb side
through :func:`tb.runner.tb_params`). It follows the house pattern driver -> model ->
scoreboard:

* **Drivers.** ``req`` and ``host_cmd`` are driven by :class:`tb.streams.StreamSource` s,
  ``resp`` and ``host_resp`` taken by :class:`tb.streams.StreamSink` s; :meth:`set_idle` and
  :meth:`set_backpressure` attach idle / backpressure generators (a probability, a 0/1 pattern
  or any iterator of bools).
* **Model.** :meth:`PopularityTableTB.send` feeds every beat, as it is queued on ``req``, to the
  golden model (:class:`hotline_hw.model.PopularityTable`) in stream order: lane 0 .. P-1 of a
  beat, beats in order, which is the model's sequential specification. The mode is a property of
  a phase and is changed only when the DUT is idle (:meth:`set_mode` drains first), so the
  model sees the mode the DUT uses for every beat. Invalid lanes carry random garbage in
  ``table`` / ``row``: the DUT must ignore it (and echo it).
* **Scoreboard.** A coroutine compares every ``resp`` beat, in order, field by field with the
  expected beat (lane ``valid`` / ``hit`` / ``error`` / ``slot`` / ``table`` / ``row`` and the
  beat's ``first`` / ``last`` / ``meta``); the echoed request fields also prove the DUT received
  what was sent. A mismatch raises (from :meth:`drain`) with the beat index, lane, field, the
  request and the seed. Host responses are checked by :meth:`host`; :meth:`compare_dump` reads the
  whole table through the host port and compares it entry by entry with the model;
  :meth:`check_counters` compares the status counters (``conflicts`` from
  :func:`hotline_hw.model.beat_set_conflicts` per sent beat).
* **Stream rules.** Optionally (``protocol_checks``) a checker watches ``resp`` and ``host_resp``:
  once ``valid`` is up and not taken, ``valid`` stays and the payload holds.

Timing: the clock period is :data:`CLOCK_NS`; :meth:`run_timed` gives exact cycle counts from
simulation time.
"""

from __future__ import annotations

import logging
import math
import os
import random
from collections import deque
from typing import Callable, Iterable, NamedTuple, Sequence

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Event, RisingEdge, SimTimeoutError, with_timeout
from cocotb.utils import get_sim_time

from hotline_hw.lookup_stream import (HostOp, entry_layout, host_command_layout,
                                      host_response_layout,
                                      lookup_request_layout, lookup_response_layout)
from hotline_hw.model import Entry, Mode, TableGeometry, beat_set_conflicts
from hotline_hw.model import PopularityTable as Model

from .streams import (StreamSink, StreamSource, StructCodec, bind_stream, duty_cycle_pause,
                      random_pause)
from .undriven import assert_inputs_driven

__all__ = ["CLOCK_NS", "COUNTERS", "Beat", "Expected", "PopularityTableTB", "ResponseStats",
           "make_params", "make_component", "geometry_from_params", "beats_from_keys",
           "beats_from_sparse", "lane_cycles", "learn_bubbles"]

CLOCK_NS = 10
COUNTERS = ("lookups", "hits", "errors", "conflicts", "error_sticky")
LANE_FIELDS = ("valid", "hit", "error", "slot", "table", "row", "stale")


# -- parameters ------------------------------------------------------------------------------------

def make_params(*, table_bits: int, row_bits: int, set_bits: int, ways: int = 4, rounds: int = 4,
                round_keys: Sequence[int] | None = None, lanes: int = 4,
                table_in_bits: int | None = None, row_in_bits: int | None = None,
                meta_bits: int = 16, counter_bits: int = 32, **extra) -> dict:
    """The JSON-able parameter dict of one DUT configuration (plus any ``extra`` entries).

    ``table_in_bits`` / ``row_in_bits`` default to one bit more than the key widths, so that
    out-of-range requests can be driven.
    """
    params = {
        "geometry": {"table_bits": table_bits, "row_bits": row_bits, "set_bits": set_bits,
                     "ways": ways, "rounds": rounds,
                     "round_keys": None if round_keys is None else [int(k) for k in round_keys]},
        "lanes": lanes,
        "table_in_bits": table_in_bits if table_in_bits is not None else max(1, table_bits) + 1,
        "row_in_bits": row_in_bits if row_in_bits is not None else max(1, row_bits) + 1,
        "meta_bits": meta_bits,
        "counter_bits": counter_bits,
    }
    params.update(extra)
    return params


def geometry_from_params(params: dict) -> TableGeometry:
    geometry = dict(params["geometry"])
    if geometry.get("round_keys") is not None:
        geometry["round_keys"] = tuple(geometry["round_keys"])
    return TableGeometry(**geometry)


def make_component(params: dict):
    """The RTL component of a parameter dict (imports Amaranth lazily): a ``PopularityTable``,
    or a ``BankedPopularityTable`` if the dict has ``banks`` (and ``depth``)."""
    if "banks" in params:
        from hotline_hw.banked_popularity_table import BankedPopularityTable

        return BankedPopularityTable(
            geometry=geometry_from_params(params), lanes=params["lanes"],
            banks=params["banks"], depth=params["depth"],
            table_in_bits=params["table_in_bits"], row_in_bits=params["row_in_bits"],
            meta_bits=params["meta_bits"], counter_bits=params["counter_bits"])

    from hotline_hw.popularity_table import PopularityTable

    return PopularityTable(geometry=geometry_from_params(params), lanes=params["lanes"],
                           table_in_bits=params["table_in_bits"],
                           row_in_bits=params["row_in_bits"], meta_bits=params["meta_bits"],
                           counter_bits=params["counter_bits"])


# -- beats -----------------------------------------------------------------------------------------

class Beat(NamedTuple):
    """One request beat: ``keys[i]`` is lane ``i``'s ``(table, row)``, or ``None`` (invalid).

    Fewer keys than lanes leave the remaining lanes invalid. ``sample`` is the index of the sample
    the beat belongs to, for statistics (-1: none).
    """
    keys: tuple
    first: bool = True
    last: bool = True
    meta: int = 0
    sample: int = -1


class Expected(NamedTuple):
    """A sent beat and the response the model predicts for it."""
    index: int              # position in the response stream since the TB started
    beat: Beat
    mode: Mode
    response: tuple         # (lanes: tuple of (valid, hit, error, slot, table, row), first,
                            #  last, meta)


def beats_from_keys(keys: Iterable, lanes: int, *, meta_start: int = 0) -> list[Beat]:
    """Chunk a flat sequence of keys (or ``None``) into beats of ``lanes`` lanes, one sample per
    beat (``first`` = ``last`` = 1, ``meta`` = running index)."""
    keys = list(keys)
    return [Beat(tuple(keys[i:i + lanes]), True, True, meta_start + n, meta_start + n)
            for n, i in enumerate(range(0, len(keys), lanes))]


def beats_from_sparse(sparse, lanes: int, *, first_sample: int = 0,
                      table_ids: Sequence[int] | None = None) -> list[Beat]:
    """Beats of the samples in ``sparse`` ([N, T] row ids; table ``t`` = column ``t``).

    Each sample becomes ``ceil(T / lanes)`` beats, lanes beyond ``T`` invalid; ``first`` is set on
    its first beat, ``last`` on its last, ``meta`` is the sample's index plus ``first_sample``
    (the TB masks it to ``meta_bits``) and ``sample`` its row in ``sparse``. ``table_ids``
    renames the columns (default ``0 .. T-1``).
    """
    sparse = np.asarray(sparse, dtype=np.int64)
    if sparse.ndim != 2:
        raise ValueError(f"sparse must be 2-D (samples, tables), not shape {sparse.shape}")
    n, t = sparse.shape
    tables = list(range(t)) if table_ids is None else [int(x) for x in table_ids]
    if len(tables) != t:
        raise ValueError(f"{len(tables)} table ids for {t} columns")
    per_sample = max(1, math.ceil(t / lanes))
    beats = []
    for index, row in enumerate(sparse.tolist()):
        keys = list(zip(tables, row))
        for b in range(per_sample):
            beats.append(Beat(tuple(keys[b * lanes:(b + 1) * lanes]), b == 0,
                              b == per_sample - 1, first_sample + index, index))
    return beats


def lane_cycles(beats: Iterable[Beat]) -> int:
    """Cycles a LEARN-mode DUT needs to inject ``beats``: one per valid lane, one per empty beat
    (bubbles not included: :func:`learn_bubbles`)."""
    return sum(max(1, sum(key is not None for key in beat.keys)) for beat in beats)


def learn_bubbles(beats: Iterable[Beat], geometry) -> int:
    """Bubbles a LEARN-mode DUT inserts while injecting ``beats`` back to back: one wherever a
    lookup lane follows a lookup lane of the same set (lanes in lane order, beat after beat; a
    beat with no valid lane is an op of its own that writes nothing). Out-of-range keys hash
    as the RTL hashes them, their bits above the geometry's widths dropped."""
    hash_model = geometry.make_hash()
    table_mask, row_mask = (1 << geometry.table_bits) - 1, (1 << geometry.row_bits) - 1
    bubbles, previous = 0, None
    for beat in beats:
        keys = [key for key in beat.keys if key is not None]
        if not keys:
            previous = None
        for table, row in keys:
            key = ((table & table_mask) << geometry.row_bits) | (row & row_mask)
            set_index = hash_model.forward(key) & (geometry.sets - 1)
            bubbles += set_index == previous
            previous = set_index
    return bubbles


class ResponseStats:
    """Per-sample statistics from the RTL's responses (pass as ``on_response``).

    A sample is popular iff every one of its valid lookups hits.
    """

    def __init__(self, samples: int):
        self.popular = np.ones(samples, dtype=bool)
        self.seen = np.zeros(samples, dtype=bool)
        self.lookups = 0
        self.hits = 0
        self.errors = 0

    def __call__(self, expected: Expected, got: tuple) -> None:
        sample = expected.beat.sample
        for valid, hit, error, *_ in got[0]:
            if valid:
                self.lookups += 1
                self.hits += hit
                self.errors += error
                if sample >= 0 and not hit:
                    self.popular[sample] = False
        if sample >= 0:
            self.seen[sample] = True

    @property
    def popular_fraction(self) -> float:
        return float(self.popular[self.seen].mean()) if self.seen.any() else 0.0

    @property
    def hit_fraction(self) -> float:
        return self.hits / self.lookups if self.lookups else 0.0


def _struct_codecs(layout) -> tuple[StructCodec, StructCodec, int]:
    """(top-level codec, lane codec, lane width) of a lookup request / response layout."""
    array = dict(layout)["lanes"].shape
    lane = StructCodec.from_layout(array.elem_shape)
    return StructCodec.from_layout(layout), lane, lane.width


# -- the testbench ---------------------------------------------------------------------------------

class PopularityTableTB:
    """Clock, reset, bus models, golden model and scoreboard for one ``PopularityTable`` DUT.

    Parameters
    ----------
    dut
        The cocotb handle of the DUT's top level.
    params : dict
        The DUT's configuration (:func:`make_params`).
    protocol_checks : bool
        Watch the stream rules on ``resp`` / ``host_resp`` (one more coroutine per cycle).
    stop_on_mismatch : bool
        Raise at the first mismatching response (tests); else count them and keep the first
        few in :attr:`mismatch_log` (co-simulation reports).

    Attributes
    ----------
    model : hotline_hw.model.PopularityTable
        The golden model, kept in step with everything sent to the DUT.
    seed : int
        The run's seed (``$COCOTB_RANDOM_SEED``, set by the runner from the test id or
        ``$HOTLINE_SEED``); :attr:`rng` starts from cocotb's per-test seed derived from it.
    conflicts : int
        Same-set conflicts of the beats sent since the counters were last cleared.
    on_response : callable or None
        Called as ``on_response(expected, got)`` for every response beat.
    """

    def __init__(self, dut, params: dict, *, protocol_checks: bool = True,
                 stop_on_mismatch: bool = True):
        self.dut = dut
        self.params = params
        self.geometry = geometry_from_params(params)
        self.lanes = params["lanes"]
        self.table_in_bits = params["table_in_bits"]
        self.row_in_bits = params["row_in_bits"]
        self.meta_bits = params["meta_bits"]
        self.counter_bits = params["counter_bits"]
        # The run's seed (what HOTLINE_SEED reproduces); cocotb derives each test's own seed
        # from it and the test's name, and the TB's random stream starts from that one.
        self.seed = int(os.environ.get("COCOTB_RANDOM_SEED", cocotb.RANDOM_SEED))
        self.rng = random.Random(cocotb.RANDOM_SEED)
        self.model = Model(self.geometry)
        self.log = dut._log

        widths = dict(lanes=self.lanes, table_in_bits=self.table_in_bits,
                      row_in_bits=self.row_in_bits, meta_bits=self.meta_bits)
        self.req_codec, self.req_lane, self.req_lane_bits = _struct_codecs(
            lookup_request_layout(**widths))
        self.resp_codec, self.resp_lane, self.resp_lane_bits = _struct_codecs(
            lookup_response_layout(slot_bits=self.geometry.slot_bits, **widths))
        self.host_codec = StructCodec.from_layout(host_command_layout(self.geometry))
        self.host_resp_codec = StructCodec.from_layout(host_response_layout(self.geometry))
        self.entry_codec = StructCodec.from_layout(entry_layout(self.geometry))
        assert tuple(self.resp_lane.fields) == LANE_FIELDS, self.resp_lane.fields

        cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
        self.req_source = bind_stream(StreamSource, dut, "req", dut.clk, dut.rst)
        self.resp_sink = bind_stream(StreamSink, dut, "resp", dut.clk, dut.rst)
        self.host_source = bind_stream(StreamSource, dut, "host_cmd", dut.clk, dut.rst)
        self.host_sink = bind_stream(StreamSink, dut, "host_resp", dut.clk, dut.rst)
        for bus_model in (self.req_source, self.resp_sink, self.host_source, self.host_sink):
            bus_model.log.setLevel(logging.WARNING)     # no "Reset (de-)asserted" per reset
        dut.mode.value = int(Mode.LEARN)
        dut.counters_clear.value = 0
        dut.errors_clear.value = 0

        self.expected: deque[Expected] = deque()
        self.sent_beats = 0
        self.received_beats = 0
        self.sent_lookups = 0
        self.conflicts = 0
        self.stop_on_mismatch = stop_on_mismatch
        self.mismatches = 0
        self.mismatch_log: list[str] = []
        self.protocol_errors: list[str] = []
        self.on_response: Callable[[Expected, tuple], None] | None = None
        self.last_response_ns: float | None = None
        self._idle_done = Event()
        self._idle_done.set()
        cocotb.start_soon(self._scoreboard())
        if protocol_checks:
            cocotb.start_soon(self._stream_rules("resp"))
            cocotb.start_soon(self._stream_rules("host_resp"))

    # -- set-up ------------------------------------------------------------------------------------

    def _pause(self, spec):
        if spec is None or spec is False or (isinstance(spec, (int, float)) and spec == 0):
            return None
        if isinstance(spec, (int, float)):
            return random_pause(random.Random(self.rng.getrandbits(32)), float(spec))
        if isinstance(spec, (tuple, list)):
            return duty_cycle_pause(spec)
        return iter(spec)

    @staticmethod
    def _set_generator(model, generator):
        model.set_pause_generator(generator)
        if generator is None:
            model.pause = False

    def set_idle(self, spec=None) -> None:
        """Idle cycles on ``req`` and ``host_cmd``: a probability, a 0/1 pattern (1 = idle), an
        iterator of bools, or ``None`` / 0 for none."""
        self._set_generator(self.req_source, self._pause(spec))
        self._set_generator(self.host_source, self._pause(spec))

    def set_backpressure(self, spec=None) -> None:
        """Backpressure on ``resp`` and ``host_resp`` (same forms as :meth:`set_idle`)."""
        self._set_generator(self.resp_sink, self._pause(spec))
        self._set_generator(self.host_sink, self._pause(spec))

    def set_pauses(self, idle=None, backpressure=None) -> None:
        self.set_idle(idle)
        self.set_backpressure(backpressure)

    async def reset(self) -> None:
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)
        assert_inputs_driven(self.dut)

    async def start(self) -> None:
        """Reset, clear the table (its memory survives reset and earlier tests) and counters."""
        self.log.info("seed %d (reproduce with HOTLINE_SEED=%d); geometry %s, lanes %d",
                      self.seed, self.seed, self.geometry, self.lanes)
        await self.reset()
        await self.host_clear()
        await self.clear_counters()

    # -- lookups -----------------------------------------------------------------------------------

    def _mask(self, bits: int) -> int:
        return (1 << bits) - 1

    def send(self, beats: Iterable[Beat]) -> None:
        """Queue ``beats`` on ``req`` and feed them to the model (returns at once; see
        :meth:`drain`)."""
        beats = list(beats)
        if not beats:
            return
        lanes, rng = self.lanes, self.rng
        t_bits, r_bits = self.table_in_bits, self.row_in_bits
        driven = []
        tables, rows = [], []
        for beat in beats:
            if len(beat.keys) > lanes:
                raise ValueError(f"beat has {len(beat.keys)} keys for {lanes} lanes: {beat}")
            lane_values = []
            for i in range(lanes):
                key = beat.keys[i] if i < len(beat.keys) else None
                if key is None:
                    lane_values.append((0, rng.getrandbits(t_bits), rng.getrandbits(r_bits)))
                    continue
                table, row = int(key[0]), int(key[1])
                if not (0 <= table < 1 << t_bits and 0 <= row < 1 << r_bits):
                    raise ValueError(f"key {key} does not fit the request fields "
                                     f"(table_in_bits={t_bits}, row_in_bits={r_bits})")
                lane_values.append((1, table, row))
                tables.append(table)
                rows.append(row)
            driven.append(lane_values)

        model = self.model
        if tables:
            tables_a = np.array(tables, dtype=np.int64)
            rows_a = np.array(rows, dtype=np.int64)
            hits, slots, errors = model.lookup_many(tables_a, rows_a)
            stales = model.stale_many(hits, slots).tolist()
            sets, _ = model.set_and_tag_array(np.where(errors, 0, tables_a),
                                              np.where(errors, 0, rows_a))
            hits, slots, errors, sets = (hits.tolist(), slots.tolist(), errors.tolist(),
                                         sets.tolist())
        meta_mask = self._mask(self.meta_bits)
        lane_bits = self.req_lane_bits
        offsets = self.req_codec.offsets
        at_valid, at_table, at_row = (self.req_lane.offsets[f] for f in ("valid", "table", "row"))
        n = 0
        for beat, lane_values in zip(beats, driven):
            response, beat_sets, usable, lanes_word = [], [], [], 0
            for i, (valid, table, row) in enumerate(lane_values):
                lane_word = valid << at_valid | table << at_table | row << at_row
                lanes_word |= lane_word << (i * lane_bits)
                if valid:
                    error = int(errors[n])
                    response.append((1, int(hits[n]), error, int(slots[n]), table, row,
                                     int(stales[n])))
                    beat_sets.append(sets[n])
                    usable.append(not error)
                    n += 1
                else:
                    response.append((0, 0, 0, 0, table, row, 0))
                    beat_sets.append(0)
                    usable.append(False)
            self.conflicts += beat_set_conflicts(beat_sets, usable)
            meta = beat.meta & meta_mask if self.meta_bits else 0
            word = lanes_word | int(beat.first) << offsets["first"] \
                | int(beat.last) << offsets["last"]
            if self.meta_bits:
                word |= meta << offsets["meta"]
            self.expected.append(Expected(
                self.sent_beats, beat, model.mode,
                (tuple(response), int(beat.first), int(beat.last), meta)))
            self.sent_beats += 1
            self.req_source.send_nowait(self.req_source._transaction_obj(payload=word))
        self.sent_lookups += n
        self._idle_done.clear()

    def _unpack_response(self, word: int) -> tuple:
        fields = self.resp_codec.unpack(word)
        lanes_word = fields["lanes"]
        width, mask = self.resp_lane_bits, self._mask(self.resp_lane_bits)
        codec = self.resp_lane
        lanes = []
        for i in range(self.lanes):
            lane = codec.unpack((lanes_word >> (i * width)) & mask)
            lanes.append(tuple(lane[f] for f in LANE_FIELDS))
        return (tuple(lanes), fields["first"], fields["last"], fields.get("meta", 0))

    def _describe(self, expected: Expected, got: tuple) -> str:
        want = expected.response
        diffs = []
        for i, (w, g) in enumerate(zip(want[0], got[0])):
            for name, wv, gv in zip(LANE_FIELDS, w, g):
                if wv != gv:
                    diffs.append(f"lane {i} {name}: expected {wv}, got {gv}")
        for name, wv, gv in zip(("first", "last", "meta"), want[1:], got[1:]):
            if wv != gv:
                diffs.append(f"{name}: expected {wv}, got {gv}")
        return (f"seed {self.seed}: response beat {expected.index} ({expected.mode.name}, "
                f"request keys {list(expected.beat.keys)}, sample {expected.beat.sample}): "
                + "; ".join(diffs)
                + f"\n  expected {want}\n  got      {got}")

    def _record_mismatch(self, message: str) -> None:
        self.mismatches += 1
        if len(self.mismatch_log) < 20:
            self.mismatch_log.append(message)
            self.log.error(message)
        if self.stop_on_mismatch:
            self._idle_done.set()       # wake drain() so that it raises now

    async def _scoreboard(self) -> None:
        while True:
            txn = await self.resp_sink.recv()
            self.last_response_ns = get_sim_time("ns")
            self.received_beats += 1
            got = self._unpack_response(int(txn.payload))
            if not self.expected:
                self._record_mismatch(f"seed {self.seed}: response beat "
                                      f"{self.received_beats - 1} with no request outstanding: "
                                      f"{got}")
                continue
            expected = self.expected.popleft()
            if got != expected.response:
                self._record_mismatch(self._describe(expected, got))
            if self.on_response is not None:
                self.on_response(expected, got)
            if not self.expected:
                self._idle_done.set()

    async def _stream_rules(self, name: str) -> None:
        dut = self.dut
        valid = getattr(dut, f"{name}__valid")
        ready = getattr(dut, f"{name}__ready")
        payload = getattr(dut, f"{name}__payload")
        held = None
        edge = RisingEdge(dut.clk)
        while True:
            await edge
            v = int(valid.value)
            if held is not None and (not v or int(payload.value) != held):
                message = (f"seed {self.seed}: {name} broke the stream rules at "
                           f"{get_sim_time('ns')} ns: valid={v}, payload "
                           f"{int(payload.value):#x} != held {held:#x} while not taken")
                self.protocol_errors.append(message)
                self.log.error(message)
            # A reset (sampled at this edge) may drop a pending word: nothing held across it.
            held = int(payload.value) if v and not int(ready.value) \
                and not int(dut.rst.value) else None

    def _raise_errors(self) -> None:
        if self.protocol_errors:
            raise AssertionError(self.protocol_errors[0])
        if self.mismatches and self.stop_on_mismatch:
            raise AssertionError(f"{self.mismatches} mismatching response beat(s); first: "
                                 f"{self.mismatch_log[0]}")

    async def drain(self, timeout_cycles: int | None = None) -> None:
        """Wait until every sent beat is answered (and checked) and ``busy`` is low.

        Raises on a mismatch, on a stream-rule violation, and if the DUT stalls (``timeout``
        defaults to a generous budget for the outstanding lookups, whatever the pauses).
        """
        if timeout_cycles is None:
            timeout_cycles = 40 * self.lanes * len(self.expected) + 4000
        if self.expected:
            try:
                await with_timeout(self._idle_done.wait(), timeout_cycles * CLOCK_NS, "ns")
            except SimTimeoutError:
                raise AssertionError(
                    f"seed {self.seed}: the DUT stalled: {len(self.expected)} of "
                    f"{self.sent_beats} response beats still missing after {timeout_cycles} "
                    f"cycles (busy={self.dut.busy.value}, req queue "
                    f"{self.req_source.count()})") from None
        self._raise_errors()
        for _ in range(64):
            if not int(self.dut.busy.value) and self.req_source.idle() \
                    and self.host_source.idle():
                break
            await RisingEdge(self.dut.clk)
        else:
            raise AssertionError(f"seed {self.seed}: busy stays high with nothing outstanding")
        self._raise_errors()

    async def run(self, beats: Iterable[Beat]) -> None:
        """:meth:`send` then :meth:`drain`."""
        self.send(beats)
        await self.drain()

    async def run_timed(self, beats: Iterable[Beat]) -> int:
        """Run ``beats`` and return the cycles from the clock edge at which they are queued
        (the first beat is driven on the next edge) to the edge at which the last response beat
        is taken: the beats' injection time plus the pipeline latency."""
        await self.drain()
        await RisingEdge(self.dut.clk)
        start = get_sim_time("ns")
        self.send(beats)
        await self.drain()
        return round((self.last_response_ns - start) / CLOCK_NS)

    async def set_mode(self, mode: Mode) -> None:
        """Change the mode of the DUT and of the model, after draining the DUT."""
        await self.drain()
        self.dut.mode.value = int(mode)
        self.model.mode = Mode(mode)
        await RisingEdge(self.dut.clk)

    # -- counters ----------------------------------------------------------------------------------

    def read_counters(self) -> dict[str, int]:
        return {name: int(getattr(self.dut, name).value) for name in COUNTERS}

    def expected_counters(self) -> dict[str, int]:
        mask = self._mask(self.counter_bits)
        model = self.model
        return {"lookups": model.lookups & mask, "hits": model.hits & mask,
                "errors": model.errors & mask, "conflicts": self.conflicts & mask,
                "error_sticky": int(model.error_sticky)}

    async def check_counters(self, label: str = "") -> dict[str, int]:
        await self.drain()
        got, want = self.read_counters(), self.expected_counters()
        if got != want:
            raise AssertionError(f"seed {self.seed}: counters {label}: RTL {got} != "
                                 f"model {want}")
        return got

    async def clear_counters(self) -> None:
        await self.drain()
        self.dut.counters_clear.value = 1
        await RisingEdge(self.dut.clk)
        self.dut.counters_clear.value = 0
        self.model.reset_counters()
        self.conflicts = 0
        await RisingEdge(self.dut.clk)

    # -- host port ---------------------------------------------------------------------------------

    def _entry_word(self, valid, rrpv, tag) -> int:
        return self.entry_codec.pack(valid=int(valid), rrpv=int(rrpv), tag=int(tag))

    def _entry_of(self, word: int) -> Entry:
        fields = self.entry_codec.unpack(word)
        return Entry(bool(fields["valid"]), fields["rrpv"], fields["tag"])

    async def host(self, commands: Sequence[tuple]) -> list[Entry]:
        """Issue host commands ``(op, slot, (valid, rrpv, tag))`` and return the entry of each
        response, checking ``op`` / ``slot`` echo, ``WRITE`` echo and ``CLEAR``'s zero entry.

        Does not drain lookups first: READs may run alongside RUN traffic. The model is not
        touched (see :meth:`host_write` / :meth:`host_clear`).
        """
        commands = list(commands)
        for op, slot, entry in commands:
            word = self.host_codec.pack(op=op, slot=slot, entry=self._entry_word(*entry))
            self.host_source.send_nowait(self.host_source._transaction_obj(payload=word))
        answers = []

        async def collect():
            for _ in commands:
                answers.append(self.host_resp_codec.unpack(
                    int((await self.host_sink.recv()).payload)))

        budget = 40 * len(commands) + 2 * self.geometry.sets + 4000
        try:
            await with_timeout(collect(), budget * CLOCK_NS, "ns")
        except SimTimeoutError:
            raise AssertionError(f"seed {self.seed}: host port stalled: {len(answers)} of "
                                 f"{len(commands)} responses after {budget} cycles") from None
        entries = []
        for index, ((op, slot, entry), got) in enumerate(zip(commands, answers)):
            want_slot = 0 if op == HostOp.CLEAR else slot
            got_entry = self._entry_of(got["entry"])
            problems = []
            if got["op"] != op:
                problems.append(f"op {got['op']} != {op}")
            if op != HostOp.CLEAR and got["slot"] != want_slot:
                problems.append(f"slot {got['slot']} != {want_slot}")
            if op == HostOp.WRITE and tuple(got_entry) != (bool(entry[0]), entry[1], entry[2]):
                problems.append(f"written entry echoed as {got_entry}, wrote {entry}")
            if op == HostOp.CLEAR and got["entry"] != 0:
                problems.append(f"CLEAR answered with entry {got_entry}")
            if problems:
                raise AssertionError(f"seed {self.seed}: host response {index} to "
                                     f"{(op, slot, entry)}: " + "; ".join(problems))
            entries.append(got_entry)
        return entries

    async def host_stale(self, commands: Sequence[tuple]) -> list[dict]:
        """Stale-bit commands ``("mark", (table, row))`` / ``("clear",)`` *without draining*:
        lookups already sent are still in the pipeline. A beat with no valid lane is sent
        first and every queued beat is let in (a host command may be injected ahead of the
        one beat in the hash register: the fence); the model applies the commands at once, in
        order, so beats sent before see the old bits and beats sent after the new ones.
        Returns the responses (checked against the model's)."""
        self.send([Beat(())])
        while not self.req_source.idle():
            await RisingEdge(self.dut.clk)
        words, want = [], []
        key_layout = self.geometry.key_layout
        for command in commands:
            if command[0] == "mark":
                table, row = command[1]
                found = self.model.mark_stale(table, row)
                entry = self.model.read_entry(found.slot) if found.hit else Entry(0, 0, 0)
                words.append(self.host_codec.pack(op=HostOp.MARK_STALE, slot=0, entry=0,
                                                  key=key_layout.pack(table, row)))
                want.append(dict(op=HostOp.MARK_STALE, slot=found.slot,
                                 entry=self._entry_word(*entry), stale=int(found.hit),
                                 hit=int(found.hit)))
            else:
                self.model.clear_stale()
                words.append(self.host_codec.pack(op=HostOp.CLEAR_STALE, slot=0, entry=0,
                                                  key=0))
                want.append(dict(op=HostOp.CLEAR_STALE, slot=0, entry=0, stale=0, hit=0))
        for word in words:
            self.host_source.send_nowait(self.host_source._transaction_obj(payload=word))
        got = []
        budget = 40 * len(words) + 2 * self.geometry.sets + 40 * len(self.expected) + 4000
        try:
            await with_timeout(self._collect_host(got, len(words)), budget * CLOCK_NS, "ns")
        except SimTimeoutError:
            raise AssertionError(f"seed {self.seed}: host port stalled on stale commands: "
                                 f"{len(got)} of {len(words)} responses") from None
        for n, (g, w) in enumerate(zip(got, want)):
            if g != w:
                raise AssertionError(f"seed {self.seed}: stale command {n} {commands[n]}: "
                                     f"RTL {g} != model {w}")
        return got

    async def _collect_host(self, out: list, count: int) -> None:
        for _ in range(count):
            out.append(self.host_resp_codec.unpack(int((await self.host_sink.recv()).payload)))

    async def stale_dump(self) -> np.ndarray:
        """Every slot's stale bit, read through the host port (READ)."""
        words = [self.host_codec.pack(op=HostOp.READ, slot=slot, entry=0, key=0)
                 for slot in range(self.geometry.entries)]
        for word in words:
            self.host_source.send_nowait(self.host_source._transaction_obj(payload=word))
        got: list = []
        await with_timeout(self._collect_host(got, len(words)),
                           (40 * len(words) + 4000) * CLOCK_NS, "ns")
        return np.array([g["stale"] for g in got], dtype=bool)

    async def host_read(self, slot: int) -> Entry:
        return (await self.host([(HostOp.READ, slot, (0, 0, 0))]))[0]

    async def host_write(self, slot: int, valid, rrpv: int, tag: int) -> None:
        """Write one entry in the DUT and the model (after draining lookups)."""
        await self.host_write_many([(slot, valid, rrpv, tag)])

    async def host_write_many(self, writes: Iterable[tuple]) -> None:
        """Write ``(slot, valid, rrpv, tag)`` entries back to back, in the DUT and the model."""
        writes = list(writes)
        await self.drain()
        for slot, valid, rrpv, tag in writes:
            self.model.write_entry(slot, bool(valid), rrpv, tag)
        await self.host([(HostOp.WRITE, slot, (int(valid), rrpv, tag))
                         for slot, valid, rrpv, tag in writes])

    async def host_clear(self) -> None:
        """CLEAR the DUT's table and the model's (after draining lookups)."""
        await self.drain()
        self.model.clear()
        await self.host([(HostOp.CLEAR, 0, (0, 0, 0))])

    async def dump(self) -> dict[str, np.ndarray]:
        """The DUT's whole table read through the host port (one READ per slot), as arrays
        ``valid`` / ``rrpv`` / ``tag`` indexed by slot, like ``model.dump()``."""
        entries = await self.host([(HostOp.READ, slot, (0, 0, 0))
                                   for slot in range(self.geometry.entries)])
        return {"valid": np.array([e.valid for e in entries], dtype=bool),
                "rrpv": np.array([e.rrpv for e in entries], dtype=np.uint8),
                "tag": np.array([e.tag for e in entries], dtype=np.uint64)}

    def dump_differences(self, rtl: dict, limit: int = 8) -> tuple[list[int], list[str]]:
        """Slots where ``rtl`` (a :meth:`dump`) differs from the model, and descriptions of the
        first ``limit``."""
        want = self.model.dump()
        differ = np.zeros(self.geometry.entries, dtype=bool)
        for name in ("valid", "rrpv", "tag"):
            differ |= np.asarray(rtl[name]) != want[name]
        slots = np.flatnonzero(differ).tolist()
        lines = [f"slot {s} (set {s // self.geometry.ways}, way {s % self.geometry.ways}): RTL "
                 f"{Entry(bool(rtl['valid'][s]), int(rtl['rrpv'][s]), int(rtl['tag'][s]))}, "
                 f"model {self.model.read_entry(s)}" for s in slots[:limit]]
        return slots, lines

    async def compare_dump(self, label: str = "") -> dict[str, np.ndarray]:
        """Drain, dump the DUT's table and compare it entry by entry with the model's."""
        await self.drain()
        rtl = await self.dump()
        slots, lines = self.dump_differences(rtl)
        if slots:
            raise AssertionError(f"seed {self.seed}: table {label}: {len(slots)} of "
                                 f"{self.geometry.entries} entries differ from the model:\n  "
                                 + "\n  ".join(lines))
        return rtl
