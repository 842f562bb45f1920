"""The proofs of ``make formal``: per block, small parameters, a depth, the invariants beyond
the stream rules, and the broken copies each proof must fail on.

Every proof asserts the stream rules on all of its block's output channels under any input
behaviour that follows them (:mod:`~hotline_hw.formal.harness`). Counting invariants (nothing
dropped, nothing duplicated) and block invariants are in :mod:`~hotline_hw.formal.invariants`.
A proof's ``broken`` copies are (name, injected bug, message of the property that must fail):
``tests/formal`` runs them and checks that the proof fails *on that property*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from amaranth.hdl import Signal

from . import invariants as inv
from .harness import Harness, broken

__all__ = ["Proof", "PROOFS", "proof"]

DEPTH = 20


@dataclass
class Proof:
    """``name`` (``block.property``), ``make``: a new DUT, ``harness``: its harness options,
    ``extra``: its invariants, ``broken``: ``[(name, inject(m, dut), failing message)]``,
    ``quick``: part of the subset ``make test`` runs."""
    name: str
    make: Callable
    extra: Callable | None = None
    harness: dict = field(default_factory=dict)
    broken: list = field(default_factory=list)
    depth: int = DEPTH
    quick: bool = False

    @property
    def block(self) -> str:
        return self.name.split(".")[0]

    def build(self, bug: str | None = None) -> Harness:
        """The harness, around a broken copy named ``bug`` if given."""
        dut = self.make()
        if bug is not None:
            inject = {name: fn for name, fn, _msg in self.broken}[bug]
            dut = broken(dut, inject)
        return Harness(dut, extra=self.extra, **self.harness)


# -- small instances -------------------------------------------------------------------------------

def _feistel():
    from ..feistel_hash import FeistelHash
    return FeistelHash(width=8)


def _lookup_input():
    from ..lookup_input import LookupInput
    return LookupInput(lanes=2, table_in_bits=2, row_in_bits=3, sample_bits=2)


def _mb_layout():
    from ..micro_batch_stream import micro_batch_layout
    return micro_batch_layout(lanes=2, table_in_bits=1, row_in_bits=2, slot_bits=2,
                              sample_bits=2, size_bits=3, index_bits=2, beat_bits=1)


def _micro_batch_output():
    from ..micro_batch_output import MicroBatchOutput
    return MicroBatchOutput(_mb_layout())


def _cold_row_unpacker():
    from ..cold_row_unpacker import ColdRowUnpacker
    return ColdRowUnpacker(lanes=3, table_in_bits=1, row_in_bits=2, size_bits=2, beat_bits=1)


def _row_address():
    from ..row_address import RowAddress
    return RowAddress(num_tables=2, table_in_bits=1, row_in_bits=3, addr_bits=14,
                      stride_bits=4, bus_bytes=8, max_dim=4)


_GATHER = dict(data_bits=64, addr_bits=14, id_bits=1, max_dim=4, table_in_bits=1,
               row_in_bits=2)


def _row_reader():
    from ..row_reader import RowReader
    return RowReader(reads_in_flight=2, tag_bits=3, counter_bits=4, **_GATHER)


def _row_writer():
    from ..row_writer import RowWriter
    return RowWriter(writes_in_flight=2, counter_bits=4, **_GATHER)


def _gather_engine():
    from ..gather_engine import GatherEngine
    return GatherEngine(num_tables=2, reads_in_flight=2, writes_in_flight=2, stride_bits=4,
                        tag_bits=3, counter_bits=4, **_GATHER)


def _geometry():
    from ..model.popularity_table import TableGeometry
    return TableGeometry(table_bits=1, row_bits=3, set_bits=2, ways=2)


def _sets_probe():
    """The popularity table's set memory: (submodule, word shape, address bits)."""
    from amaranth.lib import data

    from ..lookup_stream import entry_layout
    g = _geometry()
    return ("sets", data.ArrayLayout(entry_layout(g), g.ways), g.set_bits)


def _popularity_table():
    from ..popularity_table import PopularityTable
    return PopularityTable(geometry=_geometry(), lanes=2, table_in_bits=1, row_in_bits=3,
                           meta_bits=1, counter_bits=3)


def _banked_popularity_table():
    from ..banked_popularity_table import BankedPopularityTable
    return BankedPopularityTable(geometry=_geometry(), lanes=2, banks=2, depth=2,
                                 table_in_bits=1, row_in_bits=3, meta_bits=1, counter_bits=3)


def _lookup_crossbar():
    from ..lookup_crossbar import LookupCrossbar
    return LookupCrossbar(geometry=_geometry(), lanes=2, banks=2, depth=2, table_in_bits=1,
                          row_in_bits=3, meta_bits=1)


def _skid_buffer():
    from amaranth.lib import data
    from ..skid_buffer import SkidBuffer
    return SkidBuffer(data.StructLayout({"value": 3, "last": 1}))


def _popularity_scheduler():
    from ..popularity_scheduler import PopularityScheduler
    return PopularityScheduler(geometry=_geometry(), lanes=2, table_in_bits=1, row_in_bits=3,
                               sample_bits=2, max_lookups=4, capacity=2, size_bits=3,
                               working_set_bits=1, counter_bits=3)


def _micro_batch_scheduler():
    from ..micro_batch_scheduler import MicroBatchScheduler
    return MicroBatchScheduler(lanes=2, table_in_bits=1, row_in_bits=2, slot_bits=2,
                               sample_bits=2, max_lookups=4, capacity=2, size_bits=3,
                               working_set_bits=1, counter_bits=3)


# -- bugs for the broken copies --------------------------------------------------------------------

def _change_while_stalled(channel: str, field_name: str):
    """The payload field ``field_name`` of output ``channel`` counts up while it is stalled."""
    def inject(m, dut):
        port = getattr(dut, channel)
        value = getattr(port.payload, field_name)
        with m.If(port.valid & ~port.ready):
            m.d.sync += value.eq(value + 1)
    return inject


def _stall_withdraw_comb(channel: str):
    """Output ``channel``'s (combinational) valid falls in the cycle after a stall."""
    def inject(m, dut):
        port = getattr(dut, channel)
        stalled = Signal()
        m.d.sync += stalled.eq(port.valid & ~port.ready)
        with m.If(stalled):
            m.d.comb += port.valid.eq(0)
    return inject


def _payload_follows_ready(channel: str, field_name: str):
    """Output ``channel``'s payload field reads ``ready`` (changes while stalled)."""
    def inject(m, dut):
        port = getattr(dut, channel)
        m.d.comb += getattr(port.payload, field_name).eq(port.ready)
    return inject


def _ready_always(channel: str):
    """Input ``channel``'s ready is tied high: beats are taken while the output is stalled."""
    def inject(m, dut):
        m.d.comb += getattr(dut, channel).ready.eq(1)
    return inject


_STALL_MSG = "{}: payload changed while stalled"
_WITHDRAW_MSG = "{}: valid withdrawn while stalled"


def _no_boundary_split(module: str):
    """``burst_beats`` as ``module`` (row_reader / row_writer) uses it, without the 4 KiB
    limit: a row's bursts are cut only by its length."""
    import importlib
    target = importlib.import_module(f"hotline_hw.{module}")
    return inv.patched(target, "burst_beats", lambda m, address, left, *, bus_bytes: left)


def _in_submodule(name: str, bug):
    """``bug`` applied to the block's submodule ``name`` (elaborated after the block)."""
    def inject(m, dut):
        broken(getattr(m.submodules, name), bug)
    return inject


PROOFS: list[Proof] = [
    Proof("feistel_hash.streams", _feistel, inv.feistel_count, quick=True, broken=[
        ("hash_follows_ready", _payload_follows_ready("o", "hash"), _STALL_MSG.format("o")),
        ("valid_drops_on_stall", _stall_withdraw_comb("o"), _WITHDRAW_MSG.format("o")),
        ("input_ready_high", _ready_always("i"), "o: in - out <= 4"),
    ]),
    Proof("skid_buffer.streams", _skid_buffer, inv.bounded_count("i", "o", most=2), quick=True,
          broken=[
              ("value_moves_while_stalled", _change_while_stalled("o", "value"),
               _STALL_MSG.format("o")),
              ("input_ready_high", _ready_always("i"), "o: in - out <= 2"),
          ]),
    Proof("lookup_input.streams", _lookup_input, inv.passthrough_count("s_axis", "o"),
          quick=True, broken=[
              ("first_follows_ready", _payload_follows_ready("o", "first"),
               _STALL_MSG.format("o")),
              ("valid_drops_on_stall", _stall_withdraw_comb("o"), _WITHDRAW_MSG.format("o")),
          ]),
    Proof("micro_batch_output.streams", _micro_batch_output,
          inv.passthrough_count("i", "m_axis"), broken=[
              ("tready_ignored", lambda m, dut: m.d.comb.__iadd__(dut.i.ready.eq(1)),
               "m_axis: in == out"),
          ]),
    Proof("cold_row_unpacker.streams", _cold_row_unpacker, inv.unpacker_count, quick=True,
          broken=[
              ("row_follows_ready", _payload_follows_ready("o", "row"), _STALL_MSG.format("o")),
              ("beat_taken_early", _ready_always("i"), "o: lanes taken - requests <= 8"),
          ]),
    Proof("row_address.streams", _row_address, inv.pipeline_count("i", "o", stages=3),
          broken=[
              ("address_moves_while_stalled", _change_while_stalled("o", "address"),
               _STALL_MSG.format("o")),
              ("input_ready_high", _ready_always("i"), "o: in - out <= 3"),
          ]),
    Proof("row_reader.streams", _row_reader, inv.row_reader_invariants,
          harness=dict(stable=("dim",)), broken=[
              ("bursts_cross_4k", _no_boundary_split("row_reader"), "axi.ar: burst within 4 KiB"),
              ("tag_moves_while_stalled", _change_while_stalled("o", "tag"),
               _STALL_MSG.format("o")),
          ]),
    Proof("row_writer.streams", _row_writer, inv.row_writer_invariants,
          harness=dict(stable=("dim",)), broken=[
              ("bursts_cross_4k", _no_boundary_split("row_writer"), "axi.aw: burst within 4 KiB"),
          ]),
    Proof("gather_engine.streams", _gather_engine, inv.burst_boundary("m_axi", ("ar", "aw")),
          harness=dict(stable=("dim",)), broken=[
              ("read_bursts_cross_4k",
               _in_submodule("reader", _no_boundary_split("row_reader")),
               "m_axi.ar: burst within 4 KiB"),
          ]),
    Proof("popularity_table.streams", _popularity_table, inv.table_count, broken=[
        ("hit_moves_while_stalled",
         lambda m, dut: _change_while_stalled("resp", "last")(m, dut),
         _STALL_MSG.format("resp")),
    ]),
    Proof("popularity_table.run_never_writes", _popularity_table, inv.run_never_writes,
          harness=dict(probe_writes=_sets_probe()), quick=True, broken=[
              ("run_learns", inv.force_learn, "RUN mode wrote the table"),
          ]),
    Proof("popularity_table.clear_invalidates", _popularity_table, inv.clear_invalidates,
          harness=dict(probe_writes=_sets_probe(), free={"chosen_set": _geometry().set_bits}),
          quick=True, broken=[
              ("clear_skips_last_set", inv.clear_skips_last_set,
               "CLEAR answered with a valid entry left"),
          ]),
    Proof("banked_popularity_table.streams", _banked_popularity_table,
          inv.bounded_count("req", "resp", most=8), broken=[
        ("resp_last_follows_ready", _payload_follows_ready("resp", "last"),
         _STALL_MSG.format("resp")),
    ]),
    # The crossbar's bank ports and all of TableBank's ports are always ready: the rules hold
    # there by construction, the crossbar's request / response pair is what is proved.
    Proof("lookup_crossbar.streams", _lookup_crossbar,
          inv.bounded_count("req", "resp", most=8), broken=[
        ("resp_last_follows_ready", _payload_follows_ready("resp", "last"),
         _STALL_MSG.format("resp")),
    ]),
    # Depth 24: the first cold row leaves about 22 cycles after the first beat goes in (the
    # table's pipeline, then the scheduler's planning, stages R to U and its output FIFO).
    Proof("popularity_scheduler.streams", _popularity_scheduler, depth=24, broken=[
        ("cold_row_follows_ready", _payload_follows_ready("cold", "step"),
         _STALL_MSG.format("cold")),
    ]),
    Proof("micro_batch_scheduler.streams", _micro_batch_scheduler, broken=[
        ("cold_step_follows_ready", _payload_follows_ready("cold", "step"),
         _STALL_MSG.format("cold")),
    ]),
]


def proof(name: str) -> Proof:
    """The proof called ``name``."""
    for p in PROOFS:
        if p.name == name:
            return p
    raise KeyError(f"no proof {name!r}; known: {', '.join(p.name for p in PROOFS)}")
