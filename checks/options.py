"""Parsers for option values shared by several subcommands (levels, widths, devices)."""
from __future__ import annotations

import math

from theory.errors import InputError


def parse_levels(text: str) -> list[float]:
    """``"0.5,1.5"`` -> [0.5, 1.5]; rejects empty lists, negative and non-finite levels."""
    parts = [part.strip() for part in str(text).split(",") if part.strip()]
    if not parts:
        raise InputError("the level list is empty")
    levels = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise InputError(f"level {part!r} is not a number") from None
        if not math.isfinite(value) or value < 0:
            raise InputError(f"levels must be finite and >= 0 (a square loss is never negative), got {part}")
        levels.append(value)
    return sorted(levels)
