"""Row address generation: ``(table, row)`` -> byte address in host memory, or a rejection."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .gather_stream import (gather_request_layout, row_address_layout,
                            table_parameter_read_signature)
from .params import require_ids_fit, require_positive_ints, require_power_of_two

__all__ = ["RowAddress", "max_row_beats", "beat_count_bits"]

_PIECE = 16     # row * stride in products of 16-bit pieces (each fits an 18 x 18 DSP multiplier)
_CHUNK = 16     # the address sum in carry-select pieces of 16 bits


def max_row_beats(bus_bytes: int, max_dim: int) -> int:
    """Most bus beats a row of up to ``max_dim`` fp32 values spans: a row starts at a multiple
    of 4 bytes, so ``ceil((bus_bytes - 4 + 4 * max_dim) / bus_bytes)``."""
    return -(-(bus_bytes - 4 + 4 * max_dim) // bus_bytes)


def beat_count_bits(bus_bytes: int, max_dim: int) -> int:
    """Width of a row's beat count (holds :func:`max_row_beats`)."""
    return max_row_beats(bus_bytes, max_dim).bit_length()


class RowAddress(wiring.Component):
    """Address of a row (:meth:`hotline_hw.model.gather.GatherModel.address`) and its extent.

    For a request ``{table, row}``: if ``table < num_tables``, ``row < rows`` of the table and
    ``1 <= dim <= max_dim``, the output is ``address = base + row * stride`` (modulo
    ``2**addr_bits``) and ``beats``, the number of ``bus_bytes``-wide bus beats from the address
    rounded down to the bus width to its end ``address + 4 * dim`` rounded up. Otherwise the
    request is rejected: ``error = 1``, ``address = beats = 0``. ``table`` / ``row`` are echoed.

    Parameters
    ----------
    num_tables, table_in_bits, row_in_bits : int
        Table register sets; widths of the request's ``table`` and ``row``.
    addr_bits, stride_bits : int
        Widths of ``base`` (and of the address) and of ``stride``.
    bus_bytes : int
        Bus width in bytes (a power of two, >= 4).
    max_dim : int
        Largest ``dim`` (fp32 values per row).

    Members
    -------
    i : ``In(stream.Signature(gather_request_layout(...)))``
    o : ``Out(stream.Signature(row_address_layout(...)))``
    table_params : ``Out(table_parameter_read_signature(...))``
        A synchronous read port of the table parameters
        (:class:`hotline_hw.table_parameters.TableParameters`): read with the request's table
        as the request enters stage 1, so that the parameters are a register in stage 1.
    dim : ``In(range(max_dim + 1))``
        The table parameters and ``dim`` must be stable while a request is in the pipeline.

    Latency and throughput
    ----------------------
    A three-stage pipeline (the table's parameters read and the table and ``dim`` checks; the partial
    products of ``row * stride``, one 16 x 16 multiply each, a DSP block on FPGAs, beside the
    row's range check; their sum ``+ base`` and the beat count): a request's result is valid
    3 cycles after it is taken, one request per cycle.
    The stages move together: ``i.ready`` is low exactly while ``o`` holds a result that is not
    taken.
    """

    def __init__(self, *, num_tables: int, table_in_bits: int, row_in_bits: int,
                 addr_bits: int, stride_bits: int, bus_bytes: int, max_dim: int):
        require_positive_ints(num_tables=num_tables, table_in_bits=table_in_bits,
                              row_in_bits=row_in_bits, addr_bits=addr_bits,
                              stride_bits=stride_bits, max_dim=max_dim)
        require_power_of_two(bus_bytes=bus_bytes)
        if bus_bytes < 4:
            raise ValueError(f"bus_bytes must be at least 4, not {bus_bytes}")
        require_ids_fit(num_tables=num_tables, table_in_bits=table_in_bits)
        self._num_tables = num_tables
        self._table_in_bits = table_in_bits
        self._row_in_bits = row_in_bits
        self._addr_bits = addr_bits
        self._stride_bits = stride_bits
        self._bus_bytes = bus_bytes
        self._max_dim = max_dim
        self._beat_count_bits = beat_count_bits(bus_bytes, max_dim)
        super().__init__({
            "i": In(stream.Signature(gather_request_layout(
                table_in_bits=table_in_bits, row_in_bits=row_in_bits))),
            "o": Out(stream.Signature(row_address_layout(
                addr_bits=addr_bits, beat_count_bits=self._beat_count_bits,
                table_in_bits=table_in_bits, row_in_bits=row_in_bits))),
            "table_params": Out(table_parameter_read_signature(
                table_in_bits=table_in_bits, addr_bits=addr_bits, stride_bits=stride_bits,
                row_in_bits=row_in_bits)),
            "dim": In(range(max_dim + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        shift = (self._bus_bytes - 1).bit_length()
        req_layout = gather_request_layout(table_in_bits=self._table_in_bits,
                                           row_in_bits=self._row_in_bits)

        advance = ~self.o.valid | self.o.ready
        m.d.comb += self.i.ready.eq(advance)

        # Stage 1: the table's parameters (read as the request enters), check the request.
        s1_valid = Signal()
        s1_req = Signal(req_layout)
        s1_regs = self.table_params.data
        s1_ok = Signal()                        # the table and dim are valid (the row: stage 2)
        # Stage 2: the partial products of row * stride (16-bit pieces of each), registered
        # straight out of the multipliers; summed with the base in stage 3.
        pieces = [(i, j) for i in range(0, self._row_in_bits, _PIECE)
                  for j in range(0, self._stride_bits, _PIECE) if i + j < self._addr_bits]
        s2_valid = Signal()
        s2_req = Signal(req_layout)
        s2_base = Signal(self._addr_bits)
        s2_products = [Signal(2 * _PIECE, name=f"s2_product_{i}_{j}") for i, j in pieces]
        s2_ok = Signal()

        req = self.i.payload
        m.d.comb += [self.table_params.table.eq(req.table), self.table_params.en.eq(advance)]
        dim_ok = (self.dim != 0) & (self.dim <= self._max_dim)
        table_ok = req.table < self._num_tables
        # The row's range check comes after the parameters' register (stage 2, beside the
        # multiplies): the memory read and the comparison are not in series.
        s2_ok_now = s1_ok & (s1_req.row < s1_regs.rows)

        # Bytes from the start of the row's first beat to the end of its last, less the offset
        # in the first beat: beats = (offset + span) >> shift.
        # A register: ``dim`` is stable while a request is in the pipeline.
        row_span = Signal(range(4 * self._max_dim + self._bus_bytes))
        m.d.sync += row_span.eq(self.dim * 4 + self._bus_bytes - 1)
        # base + the partial products: carry-save adders (one LUT level each) down to two
        # operands, then a carry-select add: 16-bit pieces, each summed for both carries in,
        # in parallel. No carry chain longer than 16 bits (24-bit pieces, one choice after the
        # chain, gave ECP5 2-4 % more but xc7 depth 11: six CARRY4s).
        width = self._addr_bits
        # Partial products whose bit ranges do not overlap are one operand (their OR): with
        # the default widths, five operands become four (two carry-save levels, not three).
        spans = [(s2_base, 0, width)] + [
            (product, i + j, min(width, i + j + 2 * _PIECE))
            for product, (i, j) in zip(s2_products, pieces)]
        packed = []                             # [(terms, [(lo, hi), ...])]
        for value, lo, hi in spans:
            for group in packed:
                if all(hi <= g_lo or g_hi <= lo for g_lo, g_hi in group[1]):
                    group[0].append((value, lo))
                    group[1].append((lo, hi))
                    break
            else:
                packed.append(([(value, lo)], [(lo, hi)]))
        terms = []
        for group, _ in packed:
            operand = Const(0, width)
            for value, lo in group:
                operand = operand | (value << lo)[:width]
            terms.append(operand[:width])
        level = 0
        while len(terms) > 2:
            x, y, z = terms[:3]
            total = Signal(width, name=f"csa{level}_sum")
            carry = Signal(width, name=f"csa{level}_carry")
            m.d.comb += [total.eq(x ^ y ^ z), carry.eq(((x & y) | (x & z) | (y & z)) << 1)]
            terms = terms[3:] + [total, carry]
            level += 1
        x, y = (terms + [Const(0, width)])[:2]
        address = Signal(width)
        carry_in = Const(0)
        pieces_out = []
        for lo in range(0, width, _CHUNK):
            hi = min(width, lo + _CHUNK)
            plain = Signal(hi - lo + 1, name=f"sum_{lo}")
            m.d.comb += plain.eq(x[lo:hi] + y[lo:hi])
            if lo == 0:
                pieces_out.append(plain[:hi - lo])
                carry_in = plain[hi - lo]
                continue
            plus_one = Signal(hi - lo + 1, name=f"sum_{lo}_plus_one")
            m.d.comb += plus_one.eq(x[lo:hi] + y[lo:hi] + 1)
            chosen = Signal(hi - lo + 1, name=f"sum_{lo}_chosen")
            m.d.comb += chosen.eq(Mux(carry_in, plus_one, plain))
            pieces_out.append(chosen[:hi - lo])
            carry_in = chosen[hi - lo]
        m.d.comb += address.eq(Cat(*pieces_out))
        first_beat = address[:shift]           # byte offset of the row within its first beat
        beats = Signal(self._beat_count_bits + 1)
        m.d.comb += beats.eq((first_beat + row_span) >> shift)

        with m.If(advance):
            m.d.sync += [
                s1_valid.eq(self.i.valid), s1_req.eq(req),
                s1_ok.eq(table_ok & dim_ok),
                s2_valid.eq(s1_valid), s2_req.eq(s1_req), s2_base.eq(s1_regs.base),
                *(product.eq(s1_req.row[i:i + _PIECE] * s1_regs.stride[j:j + _PIECE])
                  for product, (i, j) in zip(s2_products, pieces)),
                s2_ok.eq(s2_ok_now),
                self.o.valid.eq(s2_valid),
                self.o.payload.table.eq(s2_req.table),
                self.o.payload.row.eq(s2_req.row),
                self.o.payload.error.eq(~s2_ok),
                self.o.payload.address.eq(Mux(s2_ok, address, 0)),
                self.o.payload.beats.eq(Mux(s2_ok, beats, 0)),
            ]
        return m
