"""Feistel-network hash in gateware: the key hash of the popularity table's lookup lanes."""

from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .model.feistel import FeistelHash as FeistelHashModel

__all__ = ["FeistelHash", "feistel_network"]


def _rotl(value: Value, amount: int) -> Value:
    width = len(value)
    amount %= width
    if amount == 0:
        return value
    return Cat(value[width - amount:], value[:width - amount])


def _round_function(m: Module, x: Value, key: int, name: str) -> Value:
    # Must match hotline_hw.model.feistel.round_function bit for bit. `t` is a named signal:
    # Amaranth expressions are trees, and reusing the expression four times would copy it.
    t = Signal(len(x), name=name)
    m.d.comb += t.eq(x + key)
    return _rotl(t, 1) ^ (_rotl(t, 2) & _rotl(t, 5)) ^ _rotl(t, 7) ^ x


def feistel_network(m: Module, value: Value, model: FeistelHashModel, *,
                    name: str = "feistel") -> Signal:
    """Add a combinational Feistel network equal to ``model.forward`` to ``m``.

    Returns the signal carrying the hash of ``value`` (``len(value) == model.width``). Depth:
    ``model.rounds`` times one ``half``-bit adder plus three levels of XOR/AND.
    """
    if len(value) != model.width:
        raise ValueError(f"value is {len(value)} bits wide, the hash takes {model.width}")
    half = model.half
    left, right = value[half:], value[:half]
    for index, key in enumerate(model.keys):
        mixed = Signal(half, name=f"{name}_r{index}")
        m.d.comb += mixed.eq(left ^ _round_function(m, right, key, f"{name}_t{index}"))
        left, right = right, mixed
    hashed = Signal(model.width, name=name)
    m.d.comb += hashed.eq(Cat(right, left))
    return hashed


class FeistelHash(wiring.Component):
    """Stream component hashing each value with a Feistel network (a bijection).

    Computes ``hotline_hw.model.feistel.FeistelHash(width, rounds, keys).forward`` on every
    payload, as a one-stage pipeline.

    Parameters
    ----------
    width : int
        Bits hashed; even, 2 to 62.
    rounds : int
        Feistel rounds (default 4).
    keys : sequence of int, optional
        Round keys (``width // 2`` bits each); the model's documented defaults if omitted.

    Members
    -------
    i : ``In(stream.Signature(StructLayout({"value": width})))``
        Values to hash.
    o : ``Out(stream.Signature(StructLayout({"value": width, "hash": width})))``
        Each input value with its hash, in input order.

    Latency 1 cycle; throughput 1 value per cycle. ``i.ready`` is high whenever the output
    register is empty or being emptied (``~o.valid | o.ready``), so backpressure on ``o`` stalls
    ``i`` in the same cycle and nothing is dropped or duplicated.
    """

    def __init__(self, *, width: int, rounds: int = 4, keys=None):
        # The model validates the parameters, with the same messages.
        self._model = FeistelHashModel(width, rounds, keys)
        in_layout = data.StructLayout({"value": width})
        out_layout = data.StructLayout({"value": width, "hash": width})
        super().__init__({
            "i": In(stream.Signature(in_layout)),
            "o": Out(stream.Signature(out_layout)),
        })

    @property
    def width(self) -> int:
        return self._model.width

    @property
    def rounds(self) -> int:
        return self._model.rounds

    @property
    def keys(self) -> tuple[int, ...]:
        return self._model.keys

    def elaborate(self, platform):
        m = Module()
        hashed = feistel_network(m, self.i.payload.value, self._model)
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        with m.If(self.i.ready):
            m.d.sync += [
                self.o.valid.eq(self.i.valid),
                self.o.payload.value.eq(self.i.payload.value),
                self.o.payload.hash.eq(hashed),
            ]
        return m
