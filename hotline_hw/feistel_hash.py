"""Feistel-network hash in gateware: the key hash of the popularity table's lookup lanes.

Two forms: :func:`feistel_network` (every round combinational, for checks off the critical path)
and :func:`feistel_pipeline` (one register stage per round: one adder and three gate levels
between registers, the form every lookup path uses), plus :class:`FeistelHash`, the pipelined
network as a stream component.
"""

from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .model.feistel import FeistelHash as FeistelHashModel

__all__ = ["FeistelHash", "feistel_network", "feistel_pipeline", "delay_line"]


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


def _feistel_round(m: Module, left: Value, right: Value, key: int, name: str):
    mixed = Signal(len(right), name=f"{name}_mixed")
    m.d.comb += mixed.eq(left ^ _round_function(m, right, key, f"{name}_t"))
    return right, mixed


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
        left, right = _feistel_round(m, left, right, key, f"{name}_r{index}")
    hashed = Signal(model.width, name=name)
    m.d.comb += hashed.eq(Cat(right, left))
    return hashed


def delay_line(m: Module, value: Value, stages: int, *, enable: Value,
               name: str) -> list[Signal]:
    """``stages`` registers in series after ``value``, all loading when ``enable`` is high.

    Returns the registers, first to last (the last one holds ``value`` of ``stages`` enabled
    cycles ago). ``stages`` 0 returns ``[value]``.
    """
    registers = [value]
    for index in range(stages):
        register = Signal(value.shape(), name=f"{name}_s{index + 1}")
        with m.If(enable):
            m.d.sync += register.eq(registers[-1])
        registers.append(register)
    return registers[1:] if stages else registers


def feistel_pipeline(m: Module, value: Value, model: FeistelHashModel, *, enable: Value,
                     name: str = "feistel") -> Signal:
    """Add a pipelined Feistel network equal to ``model.forward`` to ``m``: one register stage
    per round, every stage loading when ``enable`` is high (a pipeline that stalls as a whole).

    Returns the last stage's register, the hash of ``value`` from ``model.rounds`` enabled
    cycles ago. Depth between registers: one ``half``-bit adder plus three levels of XOR/AND.
    Carry a value's companions along with :func:`delay_line` and the same ``enable``.
    """
    if len(value) != model.width:
        raise ValueError(f"value is {len(value)} bits wide, the hash takes {model.width}")
    half = model.half
    left, right = value[half:], value[:half]
    for index, key in enumerate(model.keys):
        next_left, next_right = _feistel_round(m, left, right, key, f"{name}_r{index}")
        left = Signal(half, name=f"{name}_s{index + 1}_left")
        right = Signal(half, name=f"{name}_s{index + 1}_right")
        with m.If(enable):
            m.d.sync += [left.eq(next_left), right.eq(next_right)]
    hashed = Signal(model.width, name=name)
    m.d.comb += hashed.eq(Cat(right, left))
    return hashed


class FeistelHash(wiring.Component):
    """Stream component hashing each value with a Feistel network (a bijection).

    Computes ``hotline_hw.model.feistel.FeistelHash(width, rounds, keys).forward`` on every
    payload, as a pipeline of one stage per round.

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

    Latency ``rounds`` cycles; throughput 1 value per cycle. Between registers: one
    ``width // 2``-bit adder and three levels of XOR/AND. The stages move together:
    ``i.ready`` is high whenever the last stage is empty or being emptied (``~o.valid |
    o.ready``), so backpressure on ``o`` stalls ``i`` in the same cycle and nothing is dropped
    or duplicated; at most ``rounds`` values are held.
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
        shift = Signal()
        m.d.comb += [shift.eq(~self.o.valid | self.o.ready), self.i.ready.eq(shift)]
        hashed = feistel_pipeline(m, self.i.payload.value, self._model, enable=shift)
        valid = delay_line(m, self.i.valid, self.rounds, enable=shift, name="valid")
        value = delay_line(m, self.i.payload.value, self.rounds, enable=shift, name="value")
        m.d.comb += [
            self.o.valid.eq(valid[-1]),
            self.o.payload.value.eq(value[-1]),
            self.o.payload.hash.eq(hashed),
        ]
        return m
