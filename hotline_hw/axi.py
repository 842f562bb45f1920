"""AMBA AXI4 interface signatures (ARM IHI 0022), seen from the manager (master) side.

Signal names are the specification's (``araddr``, ``rvalid``, ...): a member ``m_axi`` of a
component flattens to Verilog ports ``m_axi__araddr`` and so on, which cocotbext-axi binds with
``AxiBus.from_prefix(dut, "m_axi", bus_separator="__")``. ``Out`` members are driven by the
manager; ``flip()`` gives the subordinate's view.

Only the signals this project drives are present: no ``*user``, ``*region`` or ``*qos``;
the manager drives ``AxLOCK`` / ``AxCACHE`` / ``AxPROT`` (constants in practice).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["BOUNDARY_BITS", "MAX_BURST", "AXCACHE", "AXPROT", "burst_beats", "PagedBurstAddress",
           "check_manager_params", "AXI4Signature", "AXI4ReadSignature", "AXI4WriteSignature", "connect_half",
           "AXI4LiteSignature", "AXI4StreamSignature", "bytes_for",
           "AxiResp", "AxiBurst", "axsize_for"]


BOUNDARY_BITS = 12          #: AXI: a burst must not cross a 4 KiB boundary
MAX_BURST = 256             #: AXI4 INCR bursts: at most 256 beats
AXCACHE = 0b0011            #: AxCACHE of our managers: normal non-cacheable bufferable
AXPROT = 0b010              #: AxPROT of our managers: unprivileged, non-secure, data


def check_manager_params(*, data_bits: int, addr_bits: int) -> None:
    """Raise ``ValueError`` unless ``data_bits`` is a power of two from 64 to 1024 and
    ``addr_bits`` covers a 4 KiB page (what the gather engine's managers support)."""
    if not (64 <= data_bits <= 1024 and data_bits & (data_bits - 1) == 0):
        raise ValueError(f"data_bits must be a power of two from 64 to 1024, not {data_bits}")
    if addr_bits < BOUNDARY_BITS:
        raise ValueError(f"addr_bits must be at least {BOUNDARY_BITS}, not {addr_bits}")


def burst_beats(m, address, left, *, bus_bytes: int) -> Signal:
    """Beats of the next INCR burst from ``address`` (aligned to the bus width) with ``left``
    beats still to transfer: ``min(left, beats to the next 4 KiB boundary, 256)``
    (combinational, added to module ``m``)."""
    shift = (bus_bytes - 1).bit_length()
    to_boundary = Signal(range((1 << BOUNDARY_BITS) // bus_bytes + 1))
    m.d.comb += to_boundary.eq(((1 << BOUNDARY_BITS) - address[:BOUNDARY_BITS]) >> shift)
    limit = Signal(range(MAX_BURST + 1))
    m.d.comb += limit.eq(Mux(to_boundary > MAX_BURST, MAX_BURST, to_boundary))
    beats = Signal(range(MAX_BURST + 1))
    m.d.comb += beats.eq(Mux(left < limit, left, limit))
    return beats


class PagedBurstAddress:
    """A manager's next burst address, kept as a 4 KiB page and a beat offset in it.

    Advancing by a burst adds its beats to the offset only (a burst never crosses a page:
    :func:`burst_beats`), not to the whole address: no carry chain as wide as the address. The
    page after the current one, ``page + 1``, is a register computed in the background; a burst
    that ends a page sets ``crossed``, and the address reads that register from then on (a
    further page end moves it into ``page``).

    Contract: :meth:`load` an address aligned to the bus, then :meth:`advance` by each burst
    issued (sync statements; at most one of the two a cycle). After an advance that ends a
    page, no burst may be issued in the next cycle (the row reader and writer plan their next
    burst in that cycle); a burst may be issued in the cycle after a load.

    Attributes
    ----------
    low : ``Value``
        The address's low :data:`BOUNDARY_BITS` bits (what :func:`burst_beats` needs).
    address : ``Value``
        The full address (the upper part through one 2-way choice).
    """

    def __init__(self, m, *, addr_bits: int, bus_bytes: int, name: str):
        self._shift = (bus_bytes - 1).bit_length()
        self._offset_bits = BOUNDARY_BITS - self._shift
        self.offset = Signal(self._offset_bits, name=f"{name}_offset")
        self.page = Signal(addr_bits - BOUNDARY_BITS, name=f"{name}_page")
        self.page_next = Signal(addr_bits - BOUNDARY_BITS, name=f"{name}_page_next")
        self.crossed = Signal(name=f"{name}_crossed")
        m.d.sync += self.page_next.eq(self.page + 1)
        self.low = Cat(Const(0, self._shift), self.offset)
        self.address = Cat(self.low, Mux(self.crossed, self.page_next, self.page))

    def load(self, address) -> list:
        """Statements (sync) loading ``address`` (its bits below the bus width are ignored)."""
        return [self.offset.eq(address[self._shift:BOUNDARY_BITS]),
                self.page.eq(address[BOUNDARY_BITS:]), self.crossed.eq(0)]

    def advance(self, beats) -> list:
        """Statements (sync) moving the address on by a burst of ``beats`` beats."""
        total = self.offset + beats
        ends_page = total[self._offset_bits:] != 0
        return [self.offset.eq(total[:self._offset_bits]),
                self.crossed.eq(self.crossed | ends_page),
                self.page.eq(Mux(ends_page & self.crossed, self.page_next, self.page))]


class AxiResp:
    """``xRESP`` codes."""
    OKAY = 0
    EXOKAY = 1
    SLVERR = 2
    DECERR = 3


class AxiBurst:
    """``AxBURST`` codes."""
    FIXED = 0
    INCR = 1
    WRAP = 2


def axsize_for(data_bits: int) -> int:
    """``AxSIZE`` of full-width beats on a ``data_bits`` bus."""
    return (data_bits // 8).bit_length() - 1


def _check(addr_bits, data_bits, id_bits):
    if data_bits < 32 or data_bits > 1024 or data_bits & (data_bits - 1):
        raise ValueError(f"data_bits must be a power of two from 32 to 1024, not {data_bits}")
    if not 1 <= addr_bits <= 64:
        raise ValueError(f"addr_bits must be from 1 to 64, not {addr_bits}")
    if id_bits < 1:
        raise ValueError(f"id_bits must be at least 1, not {id_bits}")


def _write_members(addr_bits, data_bits, id_bits):
    return {
        # write address
        "awid": Out(id_bits), "awaddr": Out(addr_bits), "awlen": Out(8), "awsize": Out(3),
        "awburst": Out(2), "awlock": Out(1), "awcache": Out(4), "awprot": Out(3),
        "awvalid": Out(1), "awready": In(1),
        # write data
        "wdata": Out(data_bits), "wstrb": Out(data_bits // 8), "wlast": Out(1),
        "wvalid": Out(1), "wready": In(1),
        # write response
        "bid": In(id_bits), "bresp": In(2), "bvalid": In(1), "bready": Out(1),
    }


def _read_members(addr_bits, data_bits, id_bits):
    return {
        # read address
        "arid": Out(id_bits), "araddr": Out(addr_bits), "arlen": Out(8), "arsize": Out(3),
        "arburst": Out(2), "arlock": Out(1), "arcache": Out(4), "arprot": Out(3),
        "arvalid": Out(1), "arready": In(1),
        # read data
        "rid": In(id_bits), "rdata": In(data_bits), "rresp": In(2), "rlast": In(1),
        "rvalid": In(1), "rready": Out(1),
    }


class _AXI4SignatureBase(wiring.Signature):
    _channels = ()

    def __init__(self, *, addr_bits: int, data_bits: int, id_bits: int):
        _check(addr_bits, data_bits, id_bits)
        self.addr_bits, self.data_bits, self.id_bits = addr_bits, data_bits, id_bits
        members = {}
        for channels in self._channels:
            members.update(channels(addr_bits, data_bits, id_bits))
        super().__init__(members)

    def __eq__(self, other):
        return (type(other) is type(self) and self.addr_bits == other.addr_bits
                and self.data_bits == other.data_bits and self.id_bits == other.id_bits)

    def __repr__(self):
        return (f"{type(self).__name__}(addr_bits={self.addr_bits}, "
                f"data_bits={self.data_bits}, id_bits={self.id_bits})")


class AXI4Signature(_AXI4SignatureBase):
    """Full AXI4 manager interface: AW, W, B, AR and R channels.

    Parameters
    ----------
    addr_bits : int
        ``AxADDR`` width (1 to 64).
    data_bits : int
        ``xDATA`` width: 32 to 1024, a power of two.
    id_bits : int
        ``AxID`` / ``xID`` width (>= 1).
    """
    _channels = (_write_members, _read_members)


class AXI4ReadSignature(_AXI4SignatureBase):
    """The read half of :class:`AXI4Signature` (AR and R), same member names."""
    _channels = (_read_members,)


class AXI4WriteSignature(_AXI4SignatureBase):
    """The write half of :class:`AXI4Signature` (AW, W and B), same member names."""
    _channels = (_write_members,)


def connect_half(m, manager, half) -> None:
    """Connect ``half`` (an :class:`AXI4ReadSignature` or :class:`AXI4WriteSignature`
    interface of a sub-block) to the same-named members of ``manager`` (an
    :class:`AXI4Signature` interface of the enclosing component): pure wiring."""
    for name, member in half.signature.members.items():
        if member.flow == wiring.Out:
            m.d.comb += getattr(manager, name).eq(getattr(half, name))
        else:
            m.d.comb += getattr(half, name).eq(getattr(manager, name))


class AXI4LiteSignature(wiring.Signature):
    """AXI4-Lite manager interface (32-bit data), specification names.

    A register file takes ``In(AXI4LiteSignature(...))``; cocotbext-axi binds it with
    ``AxiLiteBus.from_prefix(dut, "s_axil", bus_separator="__")``.
    """

    def __init__(self, *, addr_bits: int):
        if not 1 <= addr_bits <= 64:
            raise ValueError(f"addr_bits must be from 1 to 64, not {addr_bits}")
        self.addr_bits = addr_bits
        super().__init__({
            "awaddr": Out(addr_bits), "awprot": Out(3), "awvalid": Out(1), "awready": In(1),
            "wdata": Out(32), "wstrb": Out(4), "wvalid": Out(1), "wready": In(1),
            "bresp": In(2), "bvalid": In(1), "bready": Out(1),
            "araddr": Out(addr_bits), "arprot": Out(3), "arvalid": Out(1), "arready": In(1),
            "rdata": In(32), "rresp": In(2), "rvalid": In(1), "rready": Out(1),
        })

    def __eq__(self, other):
        return isinstance(other, AXI4LiteSignature) and self.addr_bits == other.addr_bits

    def __repr__(self):
        return f"AXI4LiteSignature(addr_bits={self.addr_bits})"


class AXI4StreamSignature(wiring.Signature):
    """AXI4-Stream transmitter interface: ``tdata``, ``tuser`` (omitted when 0 bits),
    ``tlast``, ``tvalid``, ``tready``. ``data_bits`` must be a multiple of 8 (AXI4-Stream
    data is bytes); cocotbext-axi binds it with ``AxiStreamBus.from_prefix(dut, name,
    bus_separator="__")``.
    """

    def __init__(self, *, data_bits: int, user_bits: int = 0):
        if data_bits < 8 or data_bits % 8:
            raise ValueError(f"data_bits must be a positive multiple of 8, not {data_bits}")
        if user_bits < 0:
            raise ValueError(f"user_bits must be >= 0, not {user_bits}")
        self.data_bits, self.user_bits = data_bits, user_bits
        members = {"tdata": Out(data_bits), "tlast": Out(1), "tvalid": Out(1),
                   "tready": In(1)}
        if user_bits:
            members["tuser"] = Out(user_bits)
        super().__init__(members)

    def __eq__(self, other):
        return (isinstance(other, AXI4StreamSignature) and self.data_bits == other.data_bits
                and self.user_bits == other.user_bits)

    def __repr__(self):
        return f"AXI4StreamSignature(data_bits={self.data_bits}, user_bits={self.user_bits})"


def bytes_for(bits: int) -> int:
    """``bits`` rounded up to whole bytes, in bits (AXI4-Stream ``tdata`` widths)."""
    return -(-bits // 8) * 8
