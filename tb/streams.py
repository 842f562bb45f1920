"""Bus models for Amaranth ``lib.stream`` ports, struct payload packing, pause generators.

An Amaranth stream member ``i`` appears in Verilog as ``i__valid``, ``i__ready`` and
``i__payload`` (the struct flattened, first field in the least significant bits).
:class:`StreamSource` / :class:`StreamSink` are cocotbext-axi's generic stream models bound to
that naming; :class:`StructCodec` turns payload integers into dicts of fields and back.
"""

from __future__ import annotations

import itertools
import random
from typing import Iterator

from cocotbext.axi.stream import define_stream

from hotline_hw.codec import StructCodec

__all__ = ["StreamBus", "StreamSource", "StreamSink", "StreamMonitor", "StreamTransaction",
           "StructCodec", "bind_stream", "random_pause", "duty_cycle_pause"]

StreamBus, StreamTransaction, StreamSource, StreamSink, StreamMonitor = define_stream(
    "AmaranthStream", signals=["payload", "valid", "ready"])


def bind_stream(model_cls, dut, name: str, clock, reset=None):
    """A ``model_cls`` (StreamSource/Sink/Monitor) on the DUT's stream member ``name``."""
    bus = StreamBus.from_prefix(dut, name, bus_separator="__")
    return model_cls(bus, clock, reset)


def random_pause(rng: random.Random, probability: float) -> Iterator[bool]:
    """Pause generator: each cycle paused with ``probability`` (reproducible from ``rng``)."""
    while True:
        yield rng.random() < probability


def duty_cycle_pause(pattern=(0, 0, 1)) -> Iterator[bool]:
    """Pause generator repeating ``pattern`` (1 = paused), e.g. verilog-axi's ``[1, 1, 0]``."""
    return itertools.cycle(bool(p) for p in pattern)
