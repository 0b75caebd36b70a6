"""Energy gap of two-layer ReLU nets against the hidden width m.

Freeman & Bruna 2017 (arXiv:1611.01540), Thm 2.4 / Cor. 2.5: for H = W_2 relu(W_1 x) any two
points of Omega(lambda) are joined inside Omega(max(lambda, eps)) with eps -> 0 as m grows; the
lecture quotes eps ~ m^(-1/n) for inputs in R^n. Measured here (docs/claims.rst, section 3):

    eps_emp(m) = max_t L(path(t)) - max(L(theta_A), L(theta_B)),

for pairs of minima theta_A, theta_B trained from independent starts (batched Adam, then
L-BFGS: :func:`sublevel.checks.verdicts.spurious.descend`) and joined by several path finders (by default the
straight segment, Dynamic String Sampling and AutoNEB; :mod:`sublevel.checks.paths`), keeping the path
with the lowest maximum. Path maxima are certified (exact segment maxima), so each eps_emp is a
certified *upper* bound on the true minimax gap of that pair; the fitted log-log
slope of the mean gap against m is an estimate. Path finders cannot show that a lower path does
not exist, so this confirms the trend; it cannot refute the theorem.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from sublevel.checks.paths import get_finder
from sublevel.checks.verdicts.spurious import DescentSettings, descend
from sublevel.constructions.datasets import Dataset
from sublevel.theory.errors import InputError
from sublevel.theory.networks import Architecture


@dataclass(frozen=True)
class EnergyGapSettings:
    """Widths m, pairs of minima per width, descent budget, path finders with their options, seed."""

    widths: tuple[int, ...] = (2, 4, 8, 16, 32, 64)
    pairs: int = 5
    descent: DescentSettings = DescentSettings(adam_steps=400, lbfgs_iterations=300)
    finders: tuple[tuple[str, tuple[tuple[str, object], ...]], ...] = (
        ("linear", ()),
        ("dss", (("steps", 150), ("max_rounds", 5))),
        ("autoneb", (("pivots", 7), ("cycles", 4), ("steps", 150))),
    )
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.widths or min(self.widths) < 1:
            raise InputError(f"widths must be >= 1, got {list(self.widths)}")
        if self.pairs < 1:
            raise InputError(f"pairs must be >= 1, got {self.pairs}")


@dataclass(frozen=True)
class GapRow:
    """One pair: endpoint losses, the best certified path maximum, gap, and that path's finder and shape."""

    width: int
    pair: int
    loss_a: float
    loss_b: float
    path_max: float
    gap: float
    finder: str
    beads: int
    normalised_length: float


@dataclass(frozen=True)
class EnergyGapResult:
    """All pairs, the mean gap per width and the fitted slope of log(mean gap) on log m."""

    input_dim: int
    rows: tuple[GapRow, ...]
    mean_gaps: tuple[float, ...]
    widths: tuple[int, ...]
    slope: float | None
    settings: dict
    slope_interval: tuple[float, float] | None = None

    @property
    def reference_slope(self) -> float:
        return -1.0 / self.input_dim

    def to_json(self) -> dict:
        return {"input_dim": self.input_dim, "widths": list(self.widths), "mean_gaps": list(self.mean_gaps),
                "slope": self.slope, "reference_slope": self.reference_slope,
                "slope_interval_95": None if self.slope_interval is None else list(self.slope_interval),
                "slope_status": "estimated (least-squares fit of certified per-pair upper bounds)",
                "gap_status": "certified upper bound per pair (exact segment maxima)",
                "rows": [asdict(r) for r in self.rows], "settings": self.settings}

    def describe(self) -> str:
        gaps = ", ".join(f"m={m}: {g:.3g}" for m, g in zip(self.widths, self.mean_gaps))
        slope = "undefined" if self.slope is None else f"{self.slope:.3f}"
        interval = ("" if self.slope_interval is None else
                    f", 95% bootstrap interval [{self.slope_interval[0]:.3f}, {self.slope_interval[1]:.3f}] over "
                    f"pairs resampled within each width")
        return (f"mean eps_emp (certified upper bounds) {gaps}; fitted slope {slope} (estimated{interval}) "
                f"vs -1/n = {self.reference_slope:.3f}")


def fit_slope(widths: list[int], gaps: list[float]) -> float | None:
    """Least-squares slope of log gap on log m over the widths with a positive gap (None if < 2)."""
    pairs = [(math.log(m), math.log(g)) for m, g in zip(widths, gaps) if g > 0]
    if len(pairs) < 2:
        return None
    x, y = np.array(pairs).T
    return float(np.polyfit(x, y, 1)[0])


def bootstrap_slope_interval(widths: list[int], gaps_per_width: list[list[float]], seed: int = 0,
                             resamples: int = 2000, level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of :func:`fit_slope`: the pairs of each width are resampled
    with replacement (pairs are independent draws of two minima), the mean gaps refitted.
    None when fewer than two widths have a positive gap or a width has a single pair."""
    if fit_slope(widths, [float(np.mean(g)) for g in gaps_per_width]) is None or min(map(len, gaps_per_width)) < 2:
        return None
    rng = np.random.default_rng(seed)
    slopes = []
    for _ in range(resamples):
        means = [float(np.mean(rng.choice(g, size=len(g)))) for g in gaps_per_width]
        value = fit_slope(widths, means)
        if value is not None:
            slopes.append(value)
    low, high = np.quantile(slopes, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def energy_gap(dataset: Dataset, settings: EnergyGapSettings = EnergyGapSettings(), progress=None) -> EnergyGapResult:
    """Measure eps_emp(m) on ``dataset`` for every width of ``settings`` (see the module docstring).

    ``progress`` is an optional callable taking one line of text per width. Deterministic given
    ``settings.seed``.
    """
    if dataset.y.shape[1] != 1:
        raise InputError(f"the energy gap is defined for scalar outputs, the data have {dataset.y.shape[1]}")
    n = dataset.x.shape[1]
    finders = [(name, get_finder(name, **dict(options), **({"seed": settings.seed} if name != "linear" else {})))
               for name, options in settings.finders]
    rows, means = [], []
    for width in settings.widths:
        architecture = Architecture((n, width, 1), "relu", bias=False)
        problem = dataset.problem(architecture)
        generator = torch.Generator().manual_seed(settings.seed * 1000 + width)
        minima = descend(problem.loss, architecture.init(2 * settings.pairs, generator=generator), settings.descent)
        starts, ends = minima[: settings.pairs], minima[settings.pairs:]
        losses_a, losses_b = problem.loss(starts), problem.loss(ends)
        found = [[(path, name) for path in finder.batch(problem, starts, ends)] for name, finder in finders]
        gaps = []
        for index in range(settings.pairs):
            path, name = min((paths[index] for paths in found), key=lambda item: item[0].maximum)
            floor = max(float(losses_a[index]), float(losses_b[index]))
            gap = max(0.0, path.maximum - floor)
            gaps.append(gap)
            rows.append(GapRow(width, index, float(losses_a[index]), float(losses_b[index]), path.maximum, gap,
                               name, path.num_segments + 1, path.normalised_length))
        means.append(float(np.mean(gaps)))
        if progress is not None:
            progress(f"m = {width}: mean eps_emp = {means[-1]:.4g} (certified upper bounds over {settings.pairs} pairs)")
    record = {"widths": list(settings.widths), "pairs": settings.pairs, "descent": asdict(settings.descent),
              "finders": {name: dict(options) for name, options in settings.finders}, "seed": settings.seed,
              "data": dataset.metadata}
    per_width = [[r.gap for r in rows if r.width == width] for width in settings.widths]
    return EnergyGapResult(n, tuple(rows), tuple(means), tuple(settings.widths),
                           fit_slope(list(settings.widths), means), record,
                           bootstrap_slope_interval(list(settings.widths), per_width, settings.seed))
