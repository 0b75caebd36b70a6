"""Levels lambda of sublevel sets Omega(lambda) = {theta : L(theta) <= lambda}: one validator.

A square loss (with a ridge >= 0) is never negative, so a level must be a finite number >= 0
(below 0 every sublevel set is empty); functions that can be negative (the test functions of
certified boxes) allow negative levels.
"""
from __future__ import annotations

import math
from typing import Iterable

from sublevel.theory.errors import InputError


def check_levels(levels: Iterable, where: str = "levels", nonnegative: bool = True) -> list[float]:
    """The levels as a list of floats, in the given order.

    Raises
    ------
    InputError
        If the list is empty or an entry is not a number (booleans and numeric strings
        included), not finite, or negative when ``nonnegative``.
    """
    if isinstance(levels, (str, bytes)) or not hasattr(levels, "__iter__"):
        if levels is None:
            raise InputError(f"{where}: no levels given (a list of numbers is needed)")
        levels = [levels]  # one level
    values = list(levels)
    if not values:
        raise InputError(f"{where}: the level list is empty")
    out = []
    for level in values:
        if isinstance(level, bool) or not isinstance(level, (int, float)) and not hasattr(level, "__float__"):
            raise InputError(f"{where}: level {level!r} is not a number")
        value = float(level)
        if not math.isfinite(value) or (nonnegative and value < 0):
            raise InputError(f"{where}: levels must be finite{' and >= 0 (a square loss is never negative)' if nonnegative else ''}"
                             f", got {level!r}")
        out.append(value)
    return out


def parse_levels(text: str) -> list[float]:
    """``"0.5,1.5"`` -> [0.5, 1.5], sorted; the command line's form of :func:`check_levels`."""
    parts = [part.strip() for part in str(text).split(",") if part.strip()]
    values = []
    for part in parts:
        try:
            values.append(float(part))
        except ValueError:
            raise InputError(f"level {part!r} is not a number") from None
    return sorted(check_levels(values))
