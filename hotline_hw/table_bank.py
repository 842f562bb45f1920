"""One bank of the banked popularity table: a single-copy set memory and its SRRIP update."""

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .lookup_stream import HostOp, entry_layout
from .model.popularity_table import RRPV_BITS, RRPV_HIT, RRPV_INSERT, RRPV_MAX, TableGeometry

__all__ = ["TableBank", "bank_lookup_layout", "bank_result_layout", "bank_host_layout",
           "srrip_set_update"]


def _index_bits(count: int) -> int:
    return max(1, (count - 1).bit_length())


def _any(bits):
    result = Const(0)
    for bit in bits:
        result = result | bit
    return result


def bank_lookup_layout(*, index_bits: int, tag_bits: int) -> data.StructLayout:
    """A lookup issued to a bank: ``{index, tag, learn, repeat}``.

    ``index`` is the set's row in the bank, ``learn`` selects the SRRIP update, ``repeat``
    (LEARN) says that the lookup stands for several lookups of the same key with no other key
    of its set between them: the key's entry ends at RRPV 0 (hit by the repeats).
    """
    return data.StructLayout({"index": index_bits, "tag": tag_bits, "learn": 1, "repeat": 1})


def bank_result_layout(*, ways: int) -> data.StructLayout:
    """A bank's answer to a lookup: ``{hit, way}`` (``way`` of the hit, or of the inserted key
    in LEARN; 0 on a RUN miss)."""
    return data.StructLayout({"hit": 1, "way": _index_bits(ways)})


def bank_host_layout(geometry: TableGeometry, *, index_bits: int) -> data.StructLayout:
    """A host access to one set word of a bank: ``{op, index, way, entry}`` (:class:`HostOp`;
    ``CLEAR`` zeroes the whole word)."""
    return data.StructLayout({"op": 2, "index": index_bits, "way": _index_bits(geometry.ways),
                              "entry": entry_layout(geometry)})


def srrip_set_update(m: Module, word, tag, *, ways: int, repeat, name: str = "srrip"):
    """The LEARN read-modify-write of one set word, equal to the model's ``_lookup_hashed``.

    Returns ``(hit, way, new_word)``: whether ``tag`` is in the set, the way that holds it
    afterwards (the hit way, else the victim: the first invalid way, else the first way at RRPV
    3 after ageing every way by ``3 - max(RRPV)``), and the updated word (hit: that way at RRPV
    0; miss: the key inserted at RRPV 2, the others aged). ``repeat`` (1 bit) applies a second
    lookup of the same key at once: the key's way ends at RRPV 0.
    """
    way_bits = _index_bits(ways)
    matches = [word[w].valid & (word[w].tag == tag) for w in range(ways)]
    hit = _any(matches)
    hit_way = Signal(way_bits, name=f"{name}_hit_way")
    invalid_way = Signal(way_bits, name=f"{name}_invalid_way")
    aged_way = Signal(way_bits, name=f"{name}_aged_way")
    has_invalid = _any([~word[w].valid for w in range(ways)])
    max_rrpv = Const(0, RRPV_BITS)
    for w in range(ways):
        running = Signal(RRPV_BITS, name=f"{name}_max_rrpv_{w}")
        m.d.comb += running.eq(Mux(word[w].rrpv > max_rrpv, word[w].rrpv, max_rrpv))
        max_rrpv = running
    for target, bits in ((hit_way, matches), (invalid_way, [~word[w].valid for w in range(ways)]),
                         (aged_way, [word[w].rrpv == max_rrpv for w in range(ways)])):
        index = Const(0, way_bits)
        for position in reversed(range(ways)):
            index = Mux(bits[position], position, index)
        m.d.comb += target.eq(index)
    victim = Signal(way_bits, name=f"{name}_victim")
    age = Signal(RRPV_BITS, name=f"{name}_age")
    m.d.comb += [victim.eq(Mux(has_invalid, invalid_way, aged_way)),
                 age.eq(Mux(has_invalid, 0, RRPV_MAX - max_rrpv))]
    way = Signal(way_bits, name=f"{name}_way")
    m.d.comb += way.eq(Mux(hit, hit_way, victim))
    new_word = Signal.like(word, name=f"{name}_word")
    for w in range(ways):
        with m.If(hit):
            m.d.comb += new_word[w].eq(word[w])
            with m.If(hit_way == w):
                m.d.comb += new_word[w].rrpv.eq(RRPV_HIT)
        with m.Elif(victim == w):
            m.d.comb += [new_word[w].valid.eq(1), new_word[w].tag.eq(tag),
                         new_word[w].rrpv.eq(Mux(repeat, RRPV_HIT, RRPV_INSERT))]
        with m.Else():
            m.d.comb += [new_word[w].eq(word[w]), new_word[w].rrpv.eq(word[w].rrpv + age)]
    return hit, way, new_word


class TableBank(wiring.Component):
    """One bank of sets of the banked popularity table (one memory copy, one lookup a cycle).

    Holds ``sets`` set words (``ways`` entries of valid, RRPV, tag) in a ``lib.memory.Memory``
    with one synchronous read port (transparent for the write port) and one write port: a
    simple dual-port block RAM, never replicated.

    Parameters
    ----------
    geometry : TableGeometry
        The table's geometry (ways, tag width; ways a power of two).
    sets : int
        Set words in this bank (at least 2).

    Members
    -------
    lookup : ``In(stream.Signature(bank_lookup_layout(...), always_ready=True))``
        One lookup a cycle: its set word is read in the cycle it is valid.
    result : ``Out(stream.Signature(bank_result_layout(...), always_ready=True))``
        Valid exactly one cycle after each lookup, never held: the taker must register it.
        In the same cycle a LEARN lookup writes its updated word back, so a lookup of the same
        set in that cycle reads the new word (read-during-write transparency): back-to-back
        lookups of one set are sequential.
    host : ``In(stream.Signature(bank_host_layout(...), always_ready=True))``
        READ / WRITE one entry, or CLEAR one set word. Must not be valid in a cycle in which
        ``lookup`` is valid.
    host_entry : ``Out(stream.Signature(entry_layout(geometry), always_ready=True))``
        Valid one cycle after each host access: the entry read (READ) or written (WRITE), 0
        (CLEAR); the write takes effect in that cycle.

    Latency 1 cycle, throughput one lookup or host access per cycle, no backpressure.
    """

    def __init__(self, *, geometry: TableGeometry, sets: int):
        if not isinstance(geometry, TableGeometry):
            raise TypeError(f"geometry must be a TableGeometry, not {geometry!r}")
        if not isinstance(sets, int) or isinstance(sets, bool):
            raise TypeError(f"sets must be an int, not {sets!r}")
        if sets < 2:
            raise ValueError(f"sets must be at least 2, not {sets}")
        self._geometry = geometry
        self._sets = sets
        index_bits = _index_bits(sets)
        super().__init__({
            "lookup": In(stream.Signature(
                bank_lookup_layout(index_bits=index_bits, tag_bits=geometry.tag_bits),
                always_ready=True)),
            "result": Out(stream.Signature(bank_result_layout(ways=geometry.ways),
                                           always_ready=True)),
            "host": In(stream.Signature(bank_host_layout(geometry, index_bits=index_bits),
                                        always_ready=True)),
            "host_entry": Out(stream.Signature(entry_layout(geometry), always_ready=True)),
        })

    geometry = property(lambda self: self._geometry)
    sets = property(lambda self: self._sets)

    def elaborate(self, platform):
        m = Module()
        g = self._geometry
        set_word = data.ArrayLayout(entry_layout(g), g.ways)
        m.submodules.memory = memory = Memory(shape=set_word, depth=self._sets, init=[])
        write = memory.write_port()
        read = memory.read_port(transparent_for=(write,))

        m.d.comb += [
            read.en.eq(1),
            read.addr.eq(Mux(self.host.valid, self.host.payload.index,
                             self.lookup.payload.index)),
        ]

        # Stage R: the read word is compared and updated in the cycle after the access.
        r_lookup = Signal(self.lookup.payload.shape())
        r_host = Signal(self.host.payload.shape())
        r_lookup_valid = Signal()
        r_host_valid = Signal()
        m.d.sync += [r_lookup_valid.eq(self.lookup.valid), r_host_valid.eq(self.host.valid),
                     r_lookup.eq(self.lookup.payload), r_host.eq(self.host.payload)]

        word = read.data
        hit, way, learn_word = srrip_set_update(m, word, r_lookup.tag, ways=g.ways,
                                                repeat=r_lookup.repeat)
        m.d.comb += [
            self.result.valid.eq(r_lookup_valid),
            self.result.payload.hit.eq(hit),
            self.result.payload.way.eq(Mux(hit | r_lookup.learn, way, 0)),
        ]

        host_word = Signal(set_word)
        m.d.comb += host_word.eq(word)
        with m.If(r_host.op == HostOp.WRITE):
            m.d.comb += host_word[r_host.way].eq(r_host.entry)
        with m.If(r_host.op == HostOp.CLEAR):
            m.d.comb += host_word.eq(0)
        m.d.comb += [
            self.host_entry.valid.eq(r_host_valid),
            self.host_entry.payload.eq(Mux(r_host.op == HostOp.CLEAR, 0,
                                           host_word[r_host.way])),
        ]

        m.d.comb += [
            write.addr.eq(Mux(r_host_valid, r_host.index, r_lookup.index)),
            write.data.eq(Mux(r_host_valid, host_word, learn_word)),
            write.en.eq((r_lookup_valid & r_lookup.learn)
                        | (r_host_valid & (r_host.op != HostOp.READ))),
        ]
        return m
