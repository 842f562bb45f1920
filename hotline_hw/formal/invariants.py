"""Counting invariants and block invariants, added to a :class:`~.harness.Harness` by a proof.

Each function has the ``extra(m, dut, harness)`` form (or returns one). Counters are 8 bits:
wide enough for the proofs' depths (``make formal`` runs at most a few tens of cycles).
"""

from __future__ import annotations

from amaranth.hdl import Assert, Assume, Cat, Mux, Signal, signed

from ..lookup_stream import HostOp
from ..model.popularity_table import Mode
from .rules import past, popcount, transfer_counter

__all__ = ["feistel_count", "passthrough_count", "bounded_count", "combine", "unpacker_count",
           "pipeline_count",
           "burst_boundary", "row_address_contract", "row_reader_invariants",
           "row_writer_invariants", "table_count", "run_never_writes",
           "clear_invalidates", "force_learn", "clear_skips_last_set", "patched"]

BOUNDARY_BITS = 12          # AXI: no burst crosses a 4 KiB boundary


def _channel(harness, name: str):
    for channel in harness.channels:
        if channel.name == name or channel.name.split(".")[0] == name:
            return channel
    raise KeyError(name)


def _difference(m, a, b, *, name: str) -> Signal:
    diff = Signal(signed(9), name=name)
    m.d.comb += diff.eq(a - b)
    return diff


def feistel_count(m, dut, harness):
    """The hash pipeline: 0 <= in - out <= ``rounds`` (one value per stage at most), and
    everything taken comes out once ``o`` has been ready for ``rounds`` cycles with nothing
    offered: no value dropped or sent twice."""
    pipeline_count("i", "o", stages=dut.rounds)(m, dut, harness)


def passthrough_count(source: str, sink: str):
    """A combinational block: a beat is taken on ``source`` exactly when one is sent on
    ``sink`` (one for one, every cycle)."""
    def extra(m, dut, harness):
        a, b = _channel(harness, source), _channel(harness, sink)
        m.d.comb += Assert(a.transfer == b.transfer, f"{sink}: in == out")
    return extra


def unpacker_count(m, dut, harness):
    """Requests out vs valid lanes of the beats taken: never more requests than lanes taken, at
    most two beats' lanes and two requests held (the input and output skid buffers), and after
    enough cycles with ``o`` ready and nothing offered, exactly as many (nothing dropped,
    nothing sent twice)."""
    lanes = Cat(lane.valid for lane in dut.i.payload.lanes)
    most = 2 * len(lanes) + 2
    taken = transfer_counter(m, dut.i.valid & dut.i.ready, name="lanes_taken",
                             step=popcount(lanes))
    sent = transfer_counter(m, dut.o.valid & dut.o.ready, name="requests_sent")
    held = _difference(m, taken, sent, name="held")
    m.d.comb += [Assert(held >= 0, "o: requests <= valid lanes taken"),
                 Assert(held <= most, f"o: lanes taken - requests <= {most}")]
    quiet_cycles = most + 2
    quiet = Signal(range(quiet_cycles + 1))
    with m.If(dut.o.ready & ~dut.i.valid):
        with m.If(quiet != quiet_cycles):
            m.d.sync += quiet.eq(quiet + 1)
    with m.Else():
        m.d.sync += quiet.eq(0)
    with m.If(quiet == quiet_cycles):
        m.d.comb += Assert(held == 0, "o: requests == valid lanes taken")


def pipeline_count(source: str, sink: str, *, stages: int):
    """A pipeline of ``stages`` registers: 0 <= in - out <= ``stages``, and after ``stages``
    cycles with ``sink`` ready and nothing offered, in == out (everything came out)."""
    def extra(m, dut, harness):
        a, b = _channel(harness, source), _channel(harness, sink)
        taken = transfer_counter(m, a.transfer, name="taken")
        sent = transfer_counter(m, b.transfer, name="sent")
        held = _difference(m, taken, sent, name="held")
        m.d.comb += [Assert(held >= 0, f"{sink}: out <= in"),
                     Assert(held <= stages, f"{sink}: in - out <= {stages}")]
        quiet = Signal(range(stages + 1))
        with m.If(b.ready & ~a.valid):
            with m.If(quiet != stages):
                m.d.sync += quiet.eq(quiet + 1)
        with m.Else():
            m.d.sync += quiet.eq(0)
        with m.If(quiet == stages):
            m.d.comb += Assert(held == 0, f"{sink}: drained after {stages} quiet cycles")
    return extra


def bounded_count(source: str, sink: str, *, most: int, frames: bool = False):
    """Nothing created or duplicated: 0 <= taken - sent <= ``most`` (beats; with ``frames``,
    ``sink`` beats with ``last`` set, i.e. rows)."""
    def extra(m, dut, harness):
        a, b = _channel(harness, source), _channel(harness, sink)
        done = b.transfer & (getattr(dut, sink).payload.last if frames else 1)
        taken = transfer_counter(m, a.transfer, name=f"{source}_taken")
        sent = transfer_counter(m, done, name=f"{sink}_sent")
        held = _difference(m, taken, sent, name=f"{sink}_held")
        m.d.comb += [Assert(held >= 0, f"{sink}: out <= in"),
                     Assert(held <= most, f"{sink}: in - out <= {most}")]
    return extra


def combine(*extras):
    """Several ``extra`` callbacks as one."""
    def extra(m, dut, harness):
        for e in extras:
            e(m, dut, harness)
    return extra


def burst_boundary(port: str, prefixes: tuple[str, ...]):
    """Every burst offered on AXI channels ``prefixes`` of ``port`` stays within one 4 KiB page
    (its last beat's address is on the page of its first)."""
    def extra(m, dut, harness):
        axi = getattr(dut, port)
        for p in prefixes:
            addr, length = getattr(axi, f"{p}addr"), getattr(axi, f"{p}len")
            size = getattr(axi, f"{p}size")
            last = Signal(len(addr) + 1, name=f"{p}_last_beat")
            m.d.comb += last.eq(addr + (length << size))
            m.d.comb += Assert(~getattr(axi, f"{p}valid")
                               | (addr[BOUNDARY_BITS:] == last[BOUNDARY_BITS:]),
                               f"{port}.{p}: burst within 4 KiB")
    return extra


def row_address_contract(port: str):
    """Assume what :class:`~hotline_hw.row_address.RowAddress` guarantees on ``port``: an
    accepted row (``error`` low) spans 1 to ``max_row_beats`` beats. (A row of 0 beats would
    make a 256-beat burst: the reader and the writer rely on this contract.)"""
    def extra(m, dut, harness):
        from ..row_address import max_row_beats
        stream = getattr(dut, port)
        most = max_row_beats(len(dut.axi.rdata if hasattr(dut.axi, "rdata")
                                 else dut.axi.wdata) // 8, dut._max_dim)
        beats = stream.payload.beats
        m.d.comb += Assume(~stream.valid | stream.payload.error
                           | ((beats >= 1) & (beats <= most)), f"{port}: RowAddress contract")
    return extra


def row_writer_invariants(m, dut, harness):
    """Bursts within 4 KiB, for addresses that follow the RowAddress contract."""
    row_address_contract("address")(m, dut, harness)
    burst_boundary("axi", ("aw",))(m, dut, harness)


def row_reader_invariants(m, dut, harness):
    """Bursts within 4 KiB; rows: taken - sent == slots in use + the row leaving (on ``o``,
    or one stage before it): none lost, none returned twice."""
    row_address_contract("i")(m, dut, harness)
    burst_boundary("axi", ("ar",))(m, dut, harness)
    taken = transfer_counter(m, dut.i.valid & dut.i.ready, name="rows_taken")
    sent = transfer_counter(m, dut.o.valid & dut.o.ready & dut.o.payload.last,
                            name="rows_sent")
    leaving = _difference(m, taken - sent - dut.in_flight, dut.o.valid & dut.o.payload.last,
                          name="leaving")
    m.d.comb += Assert((leaving == 0) | (leaving == 1),
                       "o: rows in - rows out == slots in use (+1 leaving)")


def table_count(m, dut, harness):
    """Response beats never outnumber request beats, and at most the ``rounds + 7`` places in
    the pipeline (hash stages, H's two entries, read address, read data, compare, update,
    response) hold beats taken and not answered."""
    stages = dut.geometry.rounds + 7
    taken = transfer_counter(m, dut.req.valid & dut.req.ready, name="beats_taken")
    sent = transfer_counter(m, dut.resp.valid & dut.resp.ready, name="beats_sent")
    held = _difference(m, taken, sent, name="held")
    m.d.comb += [Assert(held >= 0, "resp: out <= in"),
                 Assert(held <= stages, f"resp: in - out <= {stages}")]


def run_never_writes(m, dut, harness):
    """With ``mode`` RUN from reset and no host command, the set memory is never written:
    lookups are read-only (whatever the beats, hits or misses)."""
    m.d.comb += [Assume(dut.mode == Mode.RUN), Assume(~dut.host_cmd.valid)]
    m.d.comb += Assert(~harness.write.en, "RUN mode wrote the table")


def clear_invalidates(m, dut, harness):
    """Lookups in any mode, host commands all ``CLEAR``: when a ``CLEAR`` is answered, the last
    word written to an arbitrary set (chosen by the solver, fixed), or the word being written
    to it in that cycle (the table's writes are registered), has no valid entry."""
    chosen = harness.inputs["chosen_set"]
    started = past(m, 1, name="chosen_started")
    m.d.comb += Assume(~started | (chosen == past(m, chosen, name="chosen_past")))
    m.d.comb += Assume(~dut.host_cmd.valid | (dut.host_cmd.payload.op == HostOp.CLEAR))
    valid_bits = Signal(len(harness.write.data), name="chosen_valid")   # wide enough
    word = harness.write.data
    with m.If(harness.write.en & (harness.write.addr == chosen)):
        m.d.sync += valid_bits.eq(Cat(entry.valid for entry in word))
    now = Mux(harness.write.en & (harness.write.addr == chosen),
              Cat(entry.valid for entry in word), valid_bits)
    with m.If(dut.host_resp.valid & (dut.host_resp.payload.op == HostOp.CLEAR)):
        m.d.comb += Assert(now == 0, "CLEAR answered with a valid entry left")


# -- bugs used by the broken copies ----------------------------------------------------------------

class patched:
    """A broken copy's bug that replaces ``module.attr`` by ``value`` while the block
    elaborates (e.g. a constant of the block's source)."""

    def __init__(self, module, attr: str, value):
        self.module, self.attr, self.value = module, attr, value

    def wrap(self, elaborate, platform):
        saved = getattr(self.module, self.attr)
        setattr(self.module, self.attr, self.value)
        try:
            return elaborate(platform)
        finally:
            setattr(self.module, self.attr, saved)


class _SwappedMode:
    """``Mode`` with LEARN and RUN swapped: the table learns in RUN."""
    LEARN = Mode.RUN
    RUN = Mode.LEARN


def _force_learn():
    from .. import popularity_table
    return patched(popularity_table, "Mode", _SwappedMode)


force_learn = _force_learn()


def clear_skips_last_set(m, dut):
    """The set memory drops a write that leaves the last set with no valid entry (the clear's
    write to it)."""
    port = m.submodules.sets.write_ports[0]
    last = (1 << len(port.addr)) - 1
    with m.If((port.addr == last) & ~Cat(entry.valid for entry in port.data).any()):
        m.d.comb += port.en.eq(0)
