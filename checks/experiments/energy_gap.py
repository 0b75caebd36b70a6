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

Permutation barriers are excluded: before every search the pair is put in canonical form
(:func:`sublevel.checks.counting.symmetries.canonicalise`: balanced rescaling of every unit, a
path of constant loss, then B's hidden units matched to A's by weight matching), so two minima
that differ only by the order or the scale split of their units are searched as the same
minimum. The straight line between the minima *as trained* is certified too and kept beside
each gap (``raw_linear_gap``): the permutation barrier, reported apart; being a path between
the same two minima it also competes for the gap.

Each gap is the certified upper bound of a path's maximum minus rigorous lower bounds of its
end points' losses (:func:`~sublevel.checks.certify.segments.loss_lower_bounds`), so it bounds
that pair's minimax gap from above, for the pair as stored: the canonical forms are float64
points, each a rounding away from the rescaling orbit of its trained minimum.

Setting: square loss with no penalty and unconstrained rows, which is not the theorem's (a
penalty kappa ||W_2||_1 and rows of W_1 of norm at most 1; the registered claim states kappa =
0 among its hypotheses); each pair's gap is measured above its own higher minimum, not above a
common level per width.

Uncertainty (:func:`cluster_bootstrap_slope`): data sets drawn with several seeds are the
clusters; the 95% interval of the slope resamples data seeds, then pairs within each.
:func:`energy_gap_study` runs inputs x seeds x widths as resumable units (one JSON file per
unit in a cache directory, written atomically).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from sublevel.checks.certify.segments import loss_lower_bounds
from sublevel.checks.counting.symmetries import canonicalise
from sublevel.checks.experiments.units import run_units, settings_tag
from sublevel.checks.paths import get_finder
from sublevel.checks.verdicts.spurious import DescentSettings, descend
from sublevel.constructions.datasets import Dataset
from sublevel.theory.errors import Contradiction, InputError
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
    align: bool | str = "balanced"

    def doubled(self) -> "EnergyGapSettings":
        """The same settings with every finder's step budget doubled (the budget check)."""
        finders = tuple((name, tuple((k, 2 * v if k == "steps" else v) for k, v in options))
                        for name, options in self.finders)
        return EnergyGapSettings(self.widths, self.pairs, self.descent, finders, self.seed, self.align)

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
    raw_linear_gap: float = float("nan")
    data_seed: int = 0


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
                "permutation_barriers": list(self.permutation_barriers),
                "slope_status": "estimated (least-squares fit of certified per-pair upper bounds)",
                "gap_status": "certified upper bound per pair (exact segment maxima)",
                "rows": [asdict(r) for r in self.rows], "settings": self.settings}

    @property
    def permutation_barriers(self) -> tuple[float, ...]:
        """Mean certified straight-line gap per width between the minima as trained (before
        alignment): what the gaps would include if permutations were not factored out."""
        return tuple(float(np.nanmean([r.raw_linear_gap for r in self.rows if r.width == m])) for m in self.widths)

    def describe(self) -> str:
        gaps = ", ".join(f"m={m}: {g:.3g}" for m, g in zip(self.widths, self.mean_gaps))
        raw = ", ".join(f"{g:.3g}" for g in self.permutation_barriers)
        aligned = "hidden units aligned before every search" if self.settings.get("align") else "not aligned"
        slope = "undefined" if self.slope is None else f"{self.slope:.3f}"
        interval = ("" if self.slope_interval is None else
                    f", 95% bootstrap interval [{self.slope_interval[0]:.3f}, {self.slope_interval[1]:.3f}] over "
                    f"data seeds and pairs resampled within each width")
        return (f"mean eps_emp (certified upper bounds, {aligned}) {gaps}; fitted slope {slope} "
                f"(estimated{interval}) vs -1/n = {self.reference_slope:.3f}; straight lines between the minima as "
                f"trained: mean gaps {raw} (permutation barriers included)")


def fit_slope(widths: list[int], gaps: list[float]) -> float | None:
    """Least-squares slope of log gap on log m over the widths with a positive gap (None if < 2)."""
    pairs = [(math.log(m), math.log(g)) for m, g in zip(widths, gaps) if g > 0]
    if len(pairs) < 2:
        return None
    x, y = np.array(pairs).T
    return float(np.polyfit(x, y, 1)[0])


def gap_rows(dataset: Dataset, width: int, settings: EnergyGapSettings, data_seed: int = 0) -> list[GapRow]:
    """The pairs of one width: trained minima, canonical forms, certified paths, gaps."""
    if dataset.y.shape[1] != 1:
        raise InputError(f"the energy gap is defined for scalar outputs, the data have {dataset.y.shape[1]}")
    n = dataset.x.shape[1]
    finders = [(name, get_finder(name, **dict(options), **({"seed": settings.seed} if name != "linear" else {})))
               for name, options in settings.finders]
    architecture = Architecture((n, width, 1), "relu", bias=False)
    problem = dataset.problem(architecture)
    generator = torch.Generator().manual_seed(settings.seed * 1000 + width)
    minima = descend(problem.loss, architecture.init(2 * settings.pairs, generator=generator), settings.descent)
    starts, ends = minima[: settings.pairs], minima[settings.pairs:]
    raw_starts, raw_ends = starts, ends
    raw = get_finder("linear").batch(problem, starts, ends)  # the pairs as trained: permutation barriers included
    if settings.align:
        # balanced rescaling (equal incoming and outgoing norms per unit) moves each minimum along
        # its rescaling orbit, a path of constant loss, to its point of smallest norm; unit-norm
        # rows (the theorem's constraint) were tried and distorted the scale the finders see
        aligned_starts = canonicalise(architecture, starts, rescale_units="balanced")
        ends = torch.stack([canonicalise(architecture, end, reference=start, rescale_units="balanced")
                            for start, end in zip(aligned_starts, ends)])
        before = problem.loss(torch.cat([raw_starts, raw_ends]))
        after = problem.loss(torch.cat([aligned_starts, ends]))
        if not torch.allclose(after, before, rtol=1e-9, atol=1e-12 * float(before.abs().max())):
            raise Contradiction("canonical forms changed the loss of a minimum (a symmetry rule is wrong)")
        starts = aligned_starts
    losses_a, losses_b = problem.loss(starts), problem.loss(ends)
    # the gaps subtract rigorous lower bounds of the end points' losses (the floor), so each is a
    # certified upper bound: path maximum (certified from above) minus the higher end (from below)
    floor = torch.maximum(loss_lower_bounds(problem, starts), loss_lower_bounds(problem, ends))
    raw_floor = torch.maximum(loss_lower_bounds(problem, raw_starts), loss_lower_bounds(problem, raw_ends))
    found = [[(path, name) for path in finder.batch(problem, starts, ends)] for name, finder in finders]
    rows = []
    for index in range(settings.pairs):
        best, name = min((paths[index] for paths in found), key=lambda item: item[0].maximum)
        gap = best.maximum - float(floor[index])
        raw_gap = raw[index].maximum - float(raw_floor[index])
        if raw_gap < gap:  # the minima as trained are joined by the raw straight line too: both are
            # certified paths between A and B modulo symmetry, so the gap is the lower of the two
            best, name, gap = raw[index], "linear (as trained)", raw_gap
        rows.append(GapRow(width, index, float(losses_a[index]), float(losses_b[index]), best.maximum, max(0.0, gap),
                           name, best.num_segments + 1, best.normalised_length, max(0.0, raw_gap), data_seed))
    return rows


def energy_gap(dataset: Dataset, settings: EnergyGapSettings = EnergyGapSettings(), progress=None) -> EnergyGapResult:
    """Measure eps_emp(m) on ``dataset`` for every width of ``settings`` (see the module docstring).

    ``progress`` is an optional callable taking one line of text per width. Deterministic given
    ``settings.seed``.
    """
    rows = []
    for width in settings.widths:
        rows += gap_rows(dataset, width, settings)
        if progress is not None:
            mean = float(np.mean([r.gap for r in rows if r.width == width]))
            progress(f"m = {width}: mean eps_emp = {mean:.4g} (certified upper bounds over {settings.pairs} pairs)")
    return summarise(dataset.x.shape[1], rows, settings, {"data": dataset.metadata})


def summarise(n: int, rows: list[GapRow], settings: EnergyGapSettings, extra: dict) -> EnergyGapResult:
    """Mean gap per width, fitted slope and its cluster-bootstrap interval (clusters: data seeds)."""
    widths = sorted({r.width for r in rows})
    seeds = sorted({r.data_seed for r in rows})
    per_seed = [[[r.gap for r in rows if r.width == m and r.data_seed == s] for m in widths] for s in seeds]
    means = [float(np.mean([r.gap for r in rows if r.width == m])) for m in widths]
    record = {"widths": widths, "pairs": settings.pairs, "descent": asdict(settings.descent),
              "finders": {name: dict(options) for name, options in settings.finders}, "seed": settings.seed,
              "align": settings.align, "data_seeds": seeds, **extra}
    return EnergyGapResult(n, tuple(rows), tuple(means), tuple(widths), fit_slope(widths, means), record,
                           cluster_bootstrap_slope(widths, per_seed, settings.seed))


def resampled_means(gaps: list[list[list[float]]], seed: int = 0, resamples: int = 2000) -> np.ndarray:
    """(resamples, widths) pooled mean gaps of a two-stage bootstrap: ``gaps[c][w]`` holds the
    pairs' gaps of data seed (cluster) c at width w; each resample draws clusters with
    replacement, then pairs with replacement within each drawn (cluster, width), independently
    for every draw of a cluster. Vectorised over resamples."""
    rng = np.random.default_rng(seed)
    clusters, widths = len(gaps), len(gaps[0])
    drawn = rng.integers(0, clusters, (resamples, clusters))
    out = np.empty((resamples, widths))
    for w in range(widths):
        totals, counts = np.zeros(resamples), np.zeros(resamples)
        for slot in range(clusters):
            for c in range(clusters):
                values = np.asarray(gaps[c][w], dtype=float)
                picks = values[rng.integers(0, len(values), (resamples, len(values)))].sum(1)
                chosen = drawn[:, slot] == c
                totals += np.where(chosen, picks, 0.0)
                counts += np.where(chosen, len(values), 0)
        out[:, w] = totals / counts
    return out


def cluster_bootstrap_slope(widths: list[int], gaps: list[list[list[float]]], seed: int = 0, resamples: int = 2000,
                            level: float = 0.95) -> tuple[float, float] | None:
    """Percentile interval of the fitted slope, data seeds as clusters (:func:`resampled_means`,
    refitted per resample). None when the slope is undefined or a width has a single pair."""
    pooled = [[g for cluster in gaps for g in cluster[w]] for w in range(len(widths))]
    if fit_slope(widths, [float(np.mean(g)) for g in pooled]) is None or min(map(len, pooled)) < 2:
        return None
    slopes = [value for means in resampled_means(gaps, seed, resamples)
              if (value := fit_slope(widths, list(means))) is not None]
    low, high = np.quantile(slopes, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def bootstrap_slope_interval(widths: list[int], gaps_per_width: list[list[float]], seed: int = 0,
                             resamples: int = 2000, level: float = 0.95) -> tuple[float, float] | None:
    """:func:`cluster_bootstrap_slope` with one data set: pairs resampled within each width."""
    return cluster_bootstrap_slope(widths, [gaps_per_width], seed, resamples, level)


def energy_gap_study(inputs: list[int], seeds: list[int], settings: EnergyGapSettings, samples: int = 64,
                     cache_dir: str | None = None, budget_check: bool = True, progress: bool = True) -> dict:
    """The energy gap for every input dimension n in ``inputs``, on teacher data drawn with every
    seed in ``seeds`` (2-4-1 quadratic teachers, ``samples`` points each): one unit per
    (n, seed, width), each cached as JSON in ``cache_dir`` (resumed after an interruption, also
    kill -9: files are written atomically). With ``budget_check`` the first seed is run again
    with every finder's budget doubled; the doubled means per width are reported beside the
    95% interval of the means, so a gap still falling with more search is visible.

    Returns ``{"inputs": {n: EnergyGapResult.to_json() + "budget_check"}, "settings": ...}``.
    """
    from sublevel.constructions.registry import construct

    if not inputs or min(inputs) < 1 or not seeds or samples < 1:
        raise InputError("need input dimensions >= 1, at least one seed and samples >= 1")
    units = [(n, s, m, False) for n in inputs for s in seeds for m in settings.widths]
    if budget_check:
        units += [(n, seeds[0], m, True) for n in inputs for m in settings.widths]
    def compute(unit) -> dict:
        n, seed, width, double = unit
        data = construct("teacher", arch=f"{n}-4-1", activation="quadratic", samples=samples, seed=seed)
        rows = gap_rows(data, width, settings.doubled() if double else settings, data_seed=seed)
        return {"rows": [asdict(r) for r in rows]}

    results = run_units(units, compute, lambda u: f"n{u[0]}_seed{u[1]}_m{u[2]}{'_x2' if u[3] else ''}", cache_dir,
                        "gap_" + settings_tag(settings, samples), "energy gap (n, seed, m)", progress,
                        lambda u, r: f"n={u[0]} seed={u[1]} m={u[2]}: mean gap "
                                     f"{np.mean([row['gap'] for row in r['rows']]):.3g}")
    done = {unit: [GapRow(**row) for row in result["rows"]] for unit, result in results.items()}
    out = {}
    for n in inputs:
        rows = [r for (nn, _, _, double), part in done.items() if nn == n and not double for r in part]
        result = summarise(n, rows, settings, {"samples": samples, "teacher": f"{n}-4-1 quadratic"})
        report = result.to_json()
        per_seed = [[[r.gap for r in rows if r.width == m and r.data_seed == s] for m in result.widths] for s in seeds]
        report["mean_gap_interval_95"] = np.quantile(resampled_means(per_seed, settings.seed), [0.025, 0.975],
                                                     axis=0).T.tolist()
        if budget_check:
            doubled = [r for (nn, _, _, double), part in done.items() if nn == n and double for r in part]
            first = [r for r in rows if r.data_seed == seeds[0]]
            report["budget_check"] = [
                {"width": m, "mean": float(np.mean([r.gap for r in first if r.width == m])),
                 "mean_doubled_budget": float(np.mean([r.gap for r in doubled if r.width == m]))}
                for m in settings.widths]
        out[n] = report
    return {"inputs": out, "seeds": list(seeds), "samples": samples}
