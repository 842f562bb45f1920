"""Parameter checks shared by the components' constructors."""

from __future__ import annotations

__all__ = ["require_positive_ints", "require_power_of_two", "require_ids_fit"]


def require_positive_ints(**params) -> None:
    """Raise ``ValueError`` naming the first parameter that is not an int >= 1."""
    for name, value in params.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, not {value!r}")


def require_power_of_two(**params) -> None:
    """Raise ``ValueError`` naming the first parameter that is not a power of two."""
    require_positive_ints(**params)
    for name, value in params.items():
        if value & (value - 1):
            raise ValueError(f"{name} must be a power of two, not {value}")


def require_ids_fit(*, num_tables: int, table_in_bits: int) -> None:
    """Raise ``ValueError`` if ``num_tables`` table ids do not fit ``table_in_bits`` bits."""
    if num_tables > 1 << table_in_bits:
        raise ValueError(f"{num_tables} tables do not fit table_in_bits={table_in_bits}")
