"""Build configuration of the whole accelerator, shared by the RTL top and the host driver.

Pure Python (no Amaranth): :class:`HotlineConfig` holds ``HotlineTop``'s parameters and
derives every width the wire formats need, so the driver's backends and the RTL agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .model.popularity_table import TableGeometry

__all__ = ["HotlineConfig"]


@dataclass(frozen=True)
class HotlineConfig:
    """Parameters of ``HotlineTop`` (see its docstring); defaults are the ``rtl/`` build."""
    geometry: TableGeometry = field(default_factory=TableGeometry)
    lanes: int = 4
    table_in_bits: int = 5
    row_in_bits: int = 24
    sample_bits: int = 32
    max_lookups: int = 32
    capacity: int = 4096
    size_bits: int = 16
    working_set_bits: int = 4
    num_tables: int = 26
    data_bits: int = 128
    addr_bits: int = 48
    id_bits: int = 6
    reads_in_flight: int = 64
    writes_in_flight: int = 16
    max_dim: int = 64

    def top_kwargs(self) -> dict:
        """Keyword arguments of ``HotlineTop``."""
        out = asdict(self)
        out["geometry"] = self.geometry
        return out

    @property
    def bus_bytes(self) -> int:
        return self.data_bits // 8

    @property
    def beats_per_sample(self) -> int:
        return -(-self.max_lookups // self.lanes)

    @property
    def beat_bits(self) -> int:
        return max(1, (self.beats_per_sample - 1).bit_length())

    @property
    def slot_bits(self) -> int:
        return self.geometry.slot_bits

    @property
    def tag_bits(self) -> int:
        return 32

    @property
    def row_user_bits(self) -> int:
        """``m_axis_rows.tuser``: ``{tag[32], table, row, error[2]}``."""
        return self.tag_bits + self.table_in_bits + self.row_in_bits + 2

    @property
    def write_back_user_bits(self) -> int:
        """``s_axis_write_back.tuser``: ``{table, row}``."""
        return self.table_in_bits + self.row_in_bits
