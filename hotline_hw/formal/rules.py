"""Stream rules as formal properties: assumed on a block's inputs, asserted on its outputs.

Amaranth 0.5 has ``Assert`` / ``Assume`` but no ``Past`` / ``Stable``: every property that looks
at the previous cycle keeps its own register here (``past``). The harness holds reset low and
starts from the registers' initial values, so "the previous cycle" of cycle 0 is all zeros and
no rule applies to it.

A *channel* is one valid / ready handshake with its payload: a ``stream.Interface``
(``valid``, ``ready``, ``payload``), an AXI4 channel (``arvalid``, ``arready``, ``araddr``, ...)
or an AXI4-Stream (``tvalid``, ``tready``, ``tdata``, ...). The rules, for every channel:

* once ``valid`` is high and the transfer has not happened (``ready`` low), ``valid`` stays high
  in the next cycle (nothing is withdrawn);
* and the payload in that next cycle equals the stalled one (nothing changes while stalled).
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Assert, Assume, Cat, Module, Signal, Value
from amaranth.lib import wiring

__all__ = ["Channel", "channels", "past", "stream_rules", "transfer_counter", "popcount"]

#: AXI4 / AXI4-Stream channel prefixes: ``<p>valid``, ``<p>ready`` and the other ``<p>*``.
AXI_PREFIXES = ("aw", "w", "b", "ar", "r", "t")


@dataclass
class Channel:
    """One handshake: ``name`` (its path, e.g. ``m_axi.ar``), ``valid``, ``ready``, ``payload``
    (a ``Value``, possibly zero bits wide) and ``output``: driven by the block (its rules are
    asserted) or by its environment (assumed)."""
    name: str
    valid: Value
    ready: Value
    payload: Value
    output: bool

    @property
    def transfer(self) -> Value:
        return self.valid & self.ready


def _flows(component: wiring.Component) -> dict[int, bool]:
    """``id`` of each port value -> True where the component drives it."""
    out = {}
    for _path, member, value in component.signature.flatten(component):
        out[id(value)] = member.flow == wiring.Out
    return out


def channels(component: wiring.Component) -> list[Channel]:
    """Every handshake among ``component``'s ports, in signature order."""
    flows = _flows(component)
    found = []
    for name, member in component.signature.members.items():
        if not member.is_signature:
            continue
        names = list(member.signature.members.keys())
        if {"valid", "ready", "payload"} <= set(names):
            interfaces = getattr(component, name)
            labels = [name]
            if member.dimensions:           # an array of streams (one dimension here)
                labels = [f"{name}[{k}]" for k in range(len(interfaces))]
            else:
                interfaces = [interfaces]
            for label, interface in zip(labels, interfaces):
                found.append(Channel(label, interface.valid, Value.cast(interface.ready),
                                     Value.cast(interface.payload),
                                     flows[id(interface.valid)]))
            continue
        interface = getattr(component, name)
        for prefix in AXI_PREFIXES:
            if f"{prefix}valid" not in names:
                continue
            payload = [getattr(interface, n) for n in names
                       if n.startswith(prefix) and n not in (f"{prefix}valid", f"{prefix}ready")]
            found.append(Channel(f"{name}.{prefix}", getattr(interface, f"{prefix}valid"),
                                 Value.cast(getattr(interface, f"{prefix}ready")),
                                 Cat(*payload), flows[id(getattr(interface, f"{prefix}valid"))]))
    return found


def past(m: Module, value, *, name: str) -> Signal:
    """A register holding ``value`` of the previous cycle (0 in cycle 0)."""
    value = Value.cast(value)
    reg = Signal(len(value), name=name)
    m.d.sync += reg.eq(value)
    return reg


def stream_rules(m: Module, channel: Channel, *, check=None) -> None:
    """Add the rules of ``channel`` to ``m``: asserted if the block drives the channel, assumed
    if its environment does (``check`` overrides)."""
    check = check or (Assert if channel.output else Assume)
    tag = channel.name.replace(".", "_")
    was_valid = past(m, channel.valid, name=f"{tag}_past_valid")
    was_ready = past(m, channel.ready, name=f"{tag}_past_ready")
    was_payload = past(m, channel.payload, name=f"{tag}_past_payload")
    with m.If(was_valid & ~was_ready):
        m.d.comb += [
            check(channel.valid, f"{channel.name}: valid withdrawn while stalled"),
            check(channel.payload == was_payload,
                  f"{channel.name}: payload changed while stalled"),
        ]


def transfer_counter(m: Module, event, *, name: str, bits: int = 8, step=1) -> Signal:
    """Counts ``event`` (adding ``step`` each time) since cycle 0; ``bits`` wide enough for the
    proof's depth."""
    count = Signal(bits, name=name)
    with m.If(event):
        m.d.sync += count.eq(count + step)
    return count


def popcount(value) -> Value:
    """Number of set bits of ``value``."""
    value = Value.cast(value)
    total = Value.cast(0)
    for bit in value:
        total = total + bit
    return total
