"""What is known of a component count N_lambda: proven bounds and an estimate, in one record.

Every count the package reports, whatever computed it, is a :class:`Bracket`: ``lower``
(proven: N_lambda >= lower), ``sampled`` (an estimate, e.g. the components of a certified graph
over sampled points) and ``upper`` (proven, or None). Its status says which of them are proven:
``exact`` only when the proven bounds meet. Claims are judged on brackets
(:meth:`sublevel.theory.claims.Claim.judge`), so a verdict can only be as strong as its bounds.
"""
from __future__ import annotations

from dataclasses import dataclass

from sublevel.theory.errors import Contradiction


def count_status(lower: int, upper: int | None) -> str:
    """``exact`` (proven bounds meet), ``bounded`` (both proven, apart), ``lower bound`` (no
    upper bound, lower >= 1) or ``estimate`` (nothing proven)."""
    if upper is not None:
        return "exact" if upper == lower else "bounded"
    return "lower bound" if lower >= 1 else "estimate"


def check_bounds(level: float, lower: int, upper: int | None, *others: int) -> None:
    """Raise :class:`Contradiction` on a negative count or ``lower > upper``."""
    if min((lower,) + others + (() if upper is None else (upper,))) < 0:
        raise Contradiction(f"level {level:.17g}: negative count (lower {lower}, upper {upper}, others {others})")
    if upper is not None and lower > upper:
        raise Contradiction(f"level {level:.17g}: proven lower bound {lower} exceeds proven upper bound {upper}")


@dataclass(frozen=True)
class Bracket:
    """What is known of N_level, the number of components of Omega(level).

    Attributes
    ----------
    level : float
    lower : int
        Rigorous: N_level >= lower.
    sampled : int
        Components of the certified graph over the sampled points below the level: an estimate.
    upper : int or None
        Rigorous: N_level <= upper; None when nothing proves an upper bound.
    points : int
        Sampled points proven to lie in Omega(level).

    Raises
    ------
    Contradiction
        On a negative count or ``lower > upper``.
    """

    level: float
    lower: int
    sampled: int
    upper: int | None
    points: int

    def __post_init__(self) -> None:
        check_bounds(self.level, self.lower, self.upper, self.sampled, self.points)

    @property
    def status(self) -> str:
        """``exact``, ``bounded``, ``lower bound`` or ``estimate`` (:func:`count_status`)."""
        return count_status(self.lower, self.upper)

    @property
    def exact(self) -> bool:
        return self.status == "exact"

    @property
    def open(self) -> bool:
        """Whether more work could still tighten it: not exact, and the graph has components
        that no proof has shown to be distinct."""
        return not self.exact and self.sampled > self.lower

    @property
    def best(self) -> int:
        """The best single number: the exact count, else ``sampled`` moved into [lower, upper]."""
        estimate = max(self.sampled, self.lower)
        return estimate if self.upper is None else min(estimate, self.upper)

    def describe(self) -> str:
        if self.exact:
            return f"{self.lower} (exact)"
        if self.status == "bounded":
            return f"{self.lower} to {self.upper} (bounded; sampled {self.sampled})"
        if self.status == "lower bound":
            return f">= {self.lower} (lower bound; sampled {self.sampled}, no upper bound proven)"
        if self.points == 0:
            return "unknown (estimate: no sampled point proven inside, nothing proven)"
        return f"~{self.sampled} (estimate from sampled points; nothing proven)"

    def to_json(self) -> dict:
        return {"level": self.level, "lower": self.lower, "sampled": self.sampled, "upper": self.upper,
                "status": self.status, "points": self.points, "components": self.best}
