"""Packing of flattened Amaranth struct payloads to and from Python ints (pure Python).

Used by the testbenches and by the host driver, which see the RTL's stream payloads and
AXI4-Stream ``tdata`` / ``tuser`` as integers.
"""

from __future__ import annotations

from typing import Mapping

__all__ = ["StructCodec"]


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
