"""cocotb driver of the gather engine's per-table register ports (``table_write`` /
``table_read``), as the register file drives them.

:meth:`TableRegisterPorts.configure` writes every table's words, some in pieces with random
byte strobes over a random value written first (the merge must keep the other bytes), with
random idle cycles, waiting for ``ready`` (the memory is cleared after reset); then reads every
word back and checks it is what was written.
"""

from __future__ import annotations

import random
from typing import Sequence

from cocotb.triggers import RisingEdge

from hotline_hw import register_map as rmap

__all__ = ["TableRegisterPorts"]


class TableRegisterPorts:
    """``dut.<write>__*`` and ``dut.<read>__*`` ports, clocked by ``clock``."""

    def __init__(self, dut, clock, rng: random.Random, *, write: str = "table_write",
                 read: str = "table_read"):
        self.dut = dut
        self.clock = clock
        self.rng = rng
        self._w = {n: getattr(dut, f"{write}__{n}") for n in ("en", "word", "data", "strobe",
                                                              "ready")}
        self._r = {n: getattr(dut, f"{read}__{n}") for n in ("en", "word", "data")}

    def idle(self) -> None:
        """No write, no read (call before reset)."""
        for port in (self._w, self._r):
            port["en"].value = 0
            port["word"].value = 0
        self._w["data"].value = 0
        self._w["strobe"].value = 0

    async def write_word(self, word: int, value: int, strobe: int = 0xF) -> None:
        w = self._w
        w["en"].value = 1
        w["word"].value = word
        w["data"].value = value
        w["strobe"].value = strobe
        for _ in range(10_000):
            await RisingEdge(self.clock)
            if int(w["ready"].value):
                break
        else:
            raise AssertionError(f"table_write.ready stayed low writing word {word}")
        w["en"].value = 0

    async def read_word(self, word: int) -> int:
        r = self._r
        r["en"].value = 1
        r["word"].value = word
        await RisingEdge(self.clock)
        r["en"].value = 0
        await RisingEdge(self.clock)        # data was taken at the edge above; it holds
        return int(r["data"].value)

    async def configure(self, layouts: Sequence[tuple[int, int, int]], num_tables: int) -> None:
        """Tables ``0 .. num_tables - 1``: ``layouts[t] = (base, stride, rows)``, the rest
        unconfigured (all words 0); every word read back and checked."""
        written = {}
        for t in range(num_tables):
            base, stride, rows = layouts[t] if t < len(layouts) else (0, 0, 0)
            for r, value in enumerate(rmap.table_register_values(base, stride, rows).values()):
                word = 4 * t + r
                if self.rng.random() < 0.3:
                    # A random word, then the right bytes in two pieces (complementary strobes).
                    await self.write_word(word, self.rng.getrandbits(32))
                    # Each piece's data is garbage in the bytes it does not write.
                    strobe = self.rng.randrange(16)
                    mask = _mask(strobe)
                    await self.write_word(word, value ^ (self.rng.getrandbits(32) & ~mask),
                                          strobe)
                    await self.write_word(word, value ^ (self.rng.getrandbits(32) & mask),
                                          strobe ^ 0xF)
                    await self.write_word(word, value ^ 0xFFFFFFFF, 0)     # changes nothing
                else:
                    await self.write_word(word, value)
                written[word] = value
                for _ in range(self.rng.choice([0, 0, 1, 3])):
                    await RisingEdge(self.clock)
        for word in self.rng.sample(sorted(written), len(written)):
            got = await self.read_word(word)
            assert got == written[word], \
                f"table register word {word} reads {got:#x}, written {written[word]:#x}"


def _mask(strobe: int) -> int:
    return sum(0xFF << 8 * b for b in range(4) if strobe >> b & 1)
