"""Type predicates the configs and input checks share: integers and finite reals, never bools
(``True`` is an ``int`` to Python, but ``epochs=True`` is a mistake)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["is_int", "is_real"]


def is_int(value: Any, minimum: int | None = None) -> bool:
    """``value`` is a Python or NumPy integer (not a bool), and ``>= minimum`` if given."""
    if not isinstance(value, int | np.integer) or isinstance(value, bool):
        return False
    return minimum is None or value >= minimum


def is_real(value: Any) -> bool:
    """``value`` is a finite Python or NumPy real number (not a bool)."""
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )
