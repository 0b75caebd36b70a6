"""Verdicts from paired measurements: a bootstrap interval of the mean paired difference.

For claims about trained models ("A has lower error than B") each seed (or data set) gives one
pair (A, B) trained under the same conditions; d_i = error(B) - error(A) is positive where the
claim holds. The percentile bootstrap of the mean of d (Efron & Tibshirani 1993, ch. 13) gives a
95% interval; the verdict reads it: above 0 supported, below 0 refuted (evidence on this instance
at 95%, not a certificate), otherwise inconclusive. With fewer than 3 pairs or all d_i equal to 0
there is no interval and the verdict is inconclusive.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from sublevel.theory.claims import Verdict


@dataclass(frozen=True)
class PairedComparison:
    """The mean paired difference, its 95% bootstrap interval and how many pairs favour the claim."""

    differences: tuple[float, ...]
    mean: float
    low: float | None
    high: float | None

    @classmethod
    def of(cls, differences: Sequence[float], seed: int = 0, resamples: int = 4000,
           level: float = 0.95) -> "PairedComparison":
        d = np.asarray(differences, dtype=np.float64)
        if d.size < 3 or not np.any(d):
            return cls(tuple(d.tolist()), float(d.mean()) if d.size else 0.0, None, None)
        rng = np.random.default_rng(seed)
        means = rng.choice(d, size=(resamples, d.size)).mean(axis=1)
        low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
        return cls(tuple(d.tolist()), float(d.mean()), float(low), float(high))

    @property
    def verdict(self) -> Verdict:
        if self.low is None:
            return Verdict.INCONCLUSIVE
        if self.low > 0:
            return Verdict.SUPPORTED
        if self.high < 0:
            return Verdict.REFUTED
        return Verdict.INCONCLUSIVE

    def describe(self, unit: str = "") -> str:
        favour = sum(value > 0 for value in self.differences)
        interval = ("no interval (fewer than 3 pairs or no difference)" if self.low is None else
                    f"95% paired bootstrap interval [{self.low:.3g}, {self.high:.3g}]{unit}")
        return (f"mean paired difference {self.mean:.3g}{unit}, {interval}; {favour} of {len(self.differences)} "
                f"pairs favour the claim")

    def to_json(self) -> dict:
        return {"differences": list(self.differences), "mean": self.mean, "interval_95": [self.low, self.high],
                "verdict": self.verdict.value}
