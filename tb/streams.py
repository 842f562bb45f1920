"""Bus models for Amaranth ``lib.stream`` ports, struct payload packing, pause generators.

An Amaranth stream member ``i`` appears in Verilog as ``i__valid``, ``i__ready`` and
``i__payload`` (the struct flattened, first field in the least significant bits).
:class:`StreamSource` / :class:`StreamSink` are cocotbext-axi's generic stream models bound to
that naming; :class:`StructCodec` turns payload integers into dicts of fields and back.
"""

from __future__ import annotations

import itertools
import random
from typing import Iterator, Mapping

from cocotbext.axi.stream import define_stream

__all__ = ["StreamBus", "StreamSource", "StreamSink", "StreamMonitor", "StreamTransaction",
           "StructCodec", "bind_stream", "random_pause", "duty_cycle_pause"]

StreamBus, StreamTransaction, StreamSource, StreamSink, StreamMonitor = define_stream(
    "AmaranthStream", signals=["payload", "valid", "ready"])


def bind_stream(model_cls, dut, name: str, clock, reset=None):
    """A ``model_cls`` (StreamSource/Sink/Monitor) on the DUT's stream member ``name``."""
    bus = StreamBus.from_prefix(dut, name, bus_separator="__")
    return model_cls(bus, clock, reset)


class StructCodec:
    """Packs and unpacks a flattened Amaranth ``StructLayout``.

    Parameters
    ----------
    fields : mapping of str to int
        Field name -> width, in declaration order (first field at bit 0).
    """

    def __init__(self, fields: Mapping[str, int]):
        self.fields = dict(fields)
        self.offsets = {}
        offset = 0
        for name, width in self.fields.items():
            self.offsets[name] = offset
            offset += width
        self.width = offset

    @classmethod
    def from_layout(cls, layout) -> "StructCodec":
        """Codec of an ``amaranth.lib.data.StructLayout`` (nested fields stay packed ints)."""
        fields = sorted(((field.offset, name, field.width) for name, field in layout),
                        key=lambda item: item[0])
        return cls({name: width for _, name, width in fields})

    def pack(self, **values: int) -> int:
        word = 0
        for name, value in values.items():
            if name not in self.fields:
                raise KeyError(f"no field {name!r}; fields: {', '.join(self.fields)}")
            width = self.fields[name]
            value = int(value)
            if not 0 <= value < (1 << width):
                raise ValueError(f"field {name}={value} does not fit {width} bits")
            word |= value << self.offsets[name]
        return word

    def unpack(self, word) -> dict[str, int]:
        word = int(word)
        return {name: (word >> self.offsets[name]) & ((1 << width) - 1)
                for name, width in self.fields.items()}


def random_pause(rng: random.Random, probability: float) -> Iterator[bool]:
    """Pause generator: each cycle paused with ``probability`` (reproducible from ``rng``)."""
    while True:
        yield rng.random() < probability


def duty_cycle_pause(pattern=(0, 0, 1)) -> Iterator[bool]:
    """Pause generator repeating ``pattern`` (1 = paused), e.g. verilog-axi's ``[1, 1, 0]``."""
    return itertools.cycle(bool(p) for p in pattern)
