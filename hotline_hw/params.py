"""Parameter checks shared by the components' constructors."""

from __future__ import annotations

__all__ = ["require_positive_ints", "require_power_of_two"]


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
