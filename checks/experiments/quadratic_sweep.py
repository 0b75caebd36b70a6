"""Spurious local minima of one-hidden-layer quadratic nets against the width p.

H(x) = sum_{j <= p} a_j (w_j.x)^2 = x^T M x, M = sum_j a_j w_j w_j^T (docs/claims.rst, section 4). The
loss is convex in M, and every symmetric M is reachable once p >= n (trainable a) or once there
are n units of each sign (fixed a): then the global minimum is the least-squares fit over
symmetric matrices, computed exactly (``numpy.linalg.lstsq`` on the n(n+1)/2 features
x_i x_j), and "spurious" is judged against a certified value. Below that width the reference is
the lowest loss found (estimated).

For fixed data (n, N) and each width p, random starts descend to local minima
(:func:`sublevel.checks.verdicts.spurious.search`) and every end point is examined. The sweep records how many are
verified spurious local minima and the smallest width from which none was found, next to every
threshold of :mod:`sublevel.theory.quadratic_claims`.

A spurious local minimum need not lie in a spurious *valley*: a non-strict minimum can be
joined to a global one at its own level along a plateau. :func:`valley_checks` asks a path
finder (AutoNEB, certified segment maxima) for a path from one representative of each distinct
spurious loss L_s to the best end point inside Omega(L_s + delta), delta = ``VALLEY_SLACK``
(L_s - best): a path found certifies that the two share a component at that level (not a
valley there); no path found leaves a *candidate* spurious valley (evidence, not a certificate:
there is no separator for quadratic nets).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from sublevel.checks.verdicts.spurious import DescentSettings, ProbeSettings, SpuriousSearch, search
from sublevel.theory.errors import InputError
from sublevel.theory.networks import Architecture
from sublevel.theory.problems import Problem

SWEEP_DESCENT = DescentSettings(adam_steps=300, lbfgs_iterations=600)
"""Descent budget per width (batched over the starts)."""

VALLEY_SLACK = 0.05
"""A spurious minimum at L_s is tested for a path inside Omega(L_s + VALLEY_SLACK (L_s - best))."""

MAX_VALLEY_CHECKS = 3
"""At most this many distinct spurious losses per width get a path search (lowest first)."""


def convex_minimum(x: np.ndarray, y: np.ndarray) -> float:
    """min over symmetric M of (1/N) sum (x^T M x - y)^2, exactly (least squares)."""
    n = x.shape[1]
    rows, cols = np.triu_indices(n)
    features = x[:, rows] * x[:, cols] * np.where(rows == cols, 1.0, 2.0)
    coef, *_ = np.linalg.lstsq(features, y[:, 0], rcond=None)
    return float(np.mean((features @ coef - y[:, 0]) ** 2))


def output_signs(width: int) -> torch.Tensor:
    """Fixed output weights: +1 for the first ceil(p/2) units, -1 for the rest."""
    signs = -torch.ones(width, dtype=torch.float64)
    signs[: (width + 1) // 2] = 1.0
    return signs


def quadratic_problem(x: np.ndarray, y: np.ndarray, width: int | tuple[int, ...], kappa: float = 0.0) -> Problem:
    """The n-p-1 quadratic net without bias on data (x, y); a tuple of widths gives a deeper
    net n-p_1-...-p_k-1."""
    widths = (width,) if isinstance(width, int) else tuple(width)
    return Problem(Architecture((x.shape[1], *widths, 1), "quadratic", bias=False), torch.as_tensor(x),
                   torch.as_tensor(y), kappa)


def search_width(x: np.ndarray, y: np.ndarray, width: int, starts: int, kappa: float = 0.0,
                 fixed_output: bool = False, seed: int = 0,
                 descent: DescentSettings = SWEEP_DESCENT) -> SpuriousSearch:
    """Descend from ``starts`` random points of the n-p-1 quadratic net (n-p_1-...-p_k-1 for a
    tuple of widths) and examine the end points.

    The reference minimum is certified (convex least squares) when kappa = 0 and every
    symmetric M is reachable at this width; otherwise it is the lowest loss found. With
    ``fixed_output`` the end points hold the first-layer weights only.
    """
    widths = (width,) if isinstance(width, int) else tuple(width)
    if min(widths) < 1 or starts < 1:
        raise InputError(f"widths and starts must be >= 1, got {width} and {starts}")
    if fixed_output and len(widths) > 1:
        raise InputError("fixed output weights are defined for one hidden layer only")
    n = x.shape[1]
    problem = quadratic_problem(x, y, widths, kappa)
    arch = problem.architecture
    init = arch.init(starts, generator=torch.Generator().manual_seed(seed * 7919 + widths[0]))
    if fixed_output:
        signs = output_signs(width)
        loss_fn = lambda w: problem.loss(torch.cat([w, signs.expand(w.shape[0], -1)], dim=1))  # noqa: E731
        init = init[:, : width * n]
        reachable = int((signs > 0).sum()) >= n and int((signs < 0).sum()) >= n
    else:
        loss_fn = problem.loss
        reachable = len(widths) == 1 and width >= n  # deeper nets: the reference is the best end point
    certified = convex_minimum(x, y) if kappa == 0 and reachable else None
    return search(loss_fn, init, certified, descent, ProbeSettings(seed=seed))


@dataclass(frozen=True)
class ValleyCheck:
    """Path search from a spurious minimum at ``loss`` to the best end point at ``level``."""

    loss: float
    level: float
    path_max: float
    joined: bool

    def describe(self) -> str:
        if self.joined:
            return f"L_s = {self.loss:.4g}: joined to the best minimum below {self.level:.4g} (certified path, not a valley)"
        return (f"L_s = {self.loss:.4g}: no path found below {self.level:.4g} (best path max {self.path_max:.4g}): "
                f"candidate spurious valley (not certified)")


def valley_checks(problem: Problem, result: SpuriousSearch, seed: int = 0) -> list[ValleyCheck]:
    """Path searches from one representative of each distinct spurious loss (see module docstring)."""
    from sublevel.checks.paths import get_finder

    losses = problem.loss(result.ends)
    best = result.ends[int(losses.argmin())]
    finder = get_finder("autoneb", seed=seed)
    checks = []
    for value in result.distinct_spurious_losses()[:MAX_VALLEY_CHECKS]:
        index = min(range(len(result.evidence)), key=lambda i: abs(result.evidence[i].loss - value)
                    if result.evidence[i].spurious else float("inf"))
        level = value + VALLEY_SLACK * (value - float(losses.min()))
        path = finder(problem, result.ends[index], best, level=level)
        checks.append(ValleyCheck(value, level, path.maximum, path.inside(level)))
    return checks


@dataclass(frozen=True)
class WidthRow:
    """What the sweep saw at one (N, p)."""

    samples: int
    width: int
    starts: int
    local_minima: int
    spurious: int
    spurious_losses: tuple[float, ...]
    valley_candidates: int
    best_known: float
    best_certified: bool
    valleys: tuple[ValleyCheck, ...]


@dataclass(frozen=True)
class QuadraticSweep:
    """Rows for every (N, p), the thresholds T(n, N) and the smallest width with no spurious minimum."""

    inputs: int
    rows: tuple[WidthRow, ...]
    thresholds: dict[int, dict[str, float]]
    settings: dict

    def clean_from(self, samples: int, valleys: bool = False) -> int | None:
        """Smallest tested p such that no spurious minimum (with ``valleys``: no candidate
        spurious valley) was found at p or any larger tested width."""
        rows = sorted((r for r in self.rows if r.samples == samples), key=lambda r: r.width)
        clean = None
        for row in reversed(rows):
            if (row.valley_candidates if valleys else row.spurious):
                break
            clean = row.width
        return clean

    def to_json(self) -> dict:
        return {"inputs": self.inputs, "rows": [asdict(r) for r in self.rows],
                "thresholds": {str(k): v for k, v in self.thresholds.items()},
                "clean_from": {str(n): self.clean_from(n) for n in self.thresholds},
                "valley_free_from": {str(n): self.clean_from(n, valleys=True) for n in self.thresholds},
                "status": "spurious counts are observations from random starts (a minimum not found may exist); "
                          "best_known is certified when best_certified is true, else the lowest loss found; "
                          "a joined valley check is a certified path, a candidate valley is not certified",
                "settings": self.settings}


def threshold_values(inputs: int, samples: int) -> dict[str, float]:
    """T(n, N) of every trainable-output quadratic threshold claim (smallest allowed width)."""
    from sublevel.theory.claims import all_claims
    from sublevel.theory.quadratic_claims import THRESHOLDS

    all_claims()
    return {claim_id: float(t.width(inputs, samples)) for claim_id, t in THRESHOLDS.items()}


def quadratic_sweep(inputs: int = 4, samples: tuple[int, ...] = (10, 30), widths: tuple[int, ...] = tuple(range(1, 11)),
                    starts: int = 20, seed: int = 0, progress=None) -> QuadraticSweep:
    """Sweep p over ``widths`` for Gaussian data (x, y ~ N(0, 1)) with N in ``samples``.

    Deterministic given ``seed`` (numpy PCG64 for data, torch generators for starts).
    """
    if inputs < 1 or not samples or min(samples) < 1 or not widths or min(widths) < 1 or starts < 1:
        raise InputError("inputs, samples, widths and starts must all be >= 1")
    rows = []
    for n_samples in samples:
        rng = np.random.default_rng(seed)
        x, y = rng.standard_normal((n_samples, inputs)), rng.standard_normal((n_samples, 1))
        for width in widths:
            result = search_width(x, y, width, starts, seed=seed)
            valleys = tuple(valley_checks(quadratic_problem(x, y, width), result, seed))
            rows.append(WidthRow(n_samples, width, starts, sum(e.local_minimum for e in result.evidence),
                                 len(result.spurious), tuple(result.distinct_spurious_losses()),
                                 sum(not v.joined for v in valleys), result.best_known, result.best_certified, valleys))
            if progress is not None:
                progress(f"N = {n_samples}, p = {width}: {result.summary()}"
                         + "".join(f"; {v.describe()}" for v in valleys))
    settings = {"inputs": inputs, "samples": list(samples), "widths": list(widths), "starts": starts, "seed": seed,
                "descent": asdict(SWEEP_DESCENT), "data": "x ~ N(0, I_n), y ~ N(0, 1)"}
    return QuadraticSweep(inputs, tuple(rows), {n: threshold_values(inputs, n) for n in samples}, settings)


def quadratic_study(inputs: tuple[int, ...] = (3, 4, 5), samples: tuple[int, ...] = (6, 10, 30),
                    seeds: tuple[int, ...] = (0, 1, 2, 3, 4), starts: int = 100,
                    widths: dict[int, tuple[int, ...]] | None = None, cache_dir: str | None = None,
                    progress: bool = True) -> dict:
    """:func:`quadratic_sweep` over input dimensions, sample counts and data seeds, with intervals.

    One unit per (n, N, seed, p): Gaussian data drawn with ``seed`` (as in
    :func:`quadratic_sweep`), ``starts`` descents, every end point examined, valley checks on
    up to three distinct spurious losses. Units are cached as JSON in ``cache_dir`` (written
    atomically, so a kill loses at most the unit in progress). Widths default to
    1 .. n(n+1)/2 + 1 (Venturi et al.'s data-independent bound, and one above).

    Per (n, N) and width: the fraction of starts ending at a verified spurious local minimum,
    pooled over seeds, with a 95% two-stage bootstrap interval (seeds resampled, then each
    drawn seed's count redrawn as Binomial(starts, its fraction)); two observed edges, the
    smallest width from which no seed found a spurious minimum (``edge``), or a candidate
    spurious valley (``valley_edge``), at any larger tested width; and every published
    threshold T(n, N) classified by :func:`_status` against the edge of what it is about
    (minima or valleys). Observations from random starts: a spurious minimum not found may
    exist, so every status is evidence, not proof.
    """
    from sublevel.checks.experiments.units import run_units, settings_tag

    if not inputs or min(inputs) < 1 or not samples or min(samples) < 1 or not seeds or starts < 1:
        raise InputError("inputs, samples and starts must be >= 1 and at least one seed given")
    widths = widths or {n: tuple(range(1, n * (n + 1) // 2 + 2)) for n in inputs}
    units = [(n, m, s, p) for n in inputs for m in samples for s in seeds for p in widths[n]]
    def compute(unit) -> dict:
        n, m, s, p = unit
        rng = np.random.default_rng(s)
        x, y = rng.standard_normal((m, n)), rng.standard_normal((m, 1))
        result = search_width(x, y, p, starts, seed=s)
        valleys = valley_checks(quadratic_problem(x, y, p), result, s)
        return {"starts": starts, "spurious": len(result.spurious),
                "local_minima": sum(e.local_minimum for e in result.evidence),
                "spurious_losses": result.distinct_spurious_losses(), "best_known": result.best_known,
                "best_certified": result.best_certified, "valley_candidates": sum(not v.joined for v in valleys)}

    done = run_units(units, compute, lambda u: f"n{u[0]}_N{u[1]}_seed{u[2]}_p{u[3]}", cache_dir,
                     "quad_" + settings_tag(starts, asdict(SWEEP_DESCENT), VALLEY_SLACK, MAX_VALLEY_CHECKS),
                     "quadratic study (n, N, seed, p)", progress,
                     lambda u, r: f"n={u[0]} N={u[1]} seed={u[2]} p={u[3]}: {r['spurious']}/{starts} spurious")
    panels = []
    for n in inputs:
        for m in samples:
            rows = []
            for p in widths[n]:
                counts = np.array([done[(n, m, s, p)]["spurious"] for s in seeds])
                rows.append({"width": p, "spurious": counts.tolist(), "starts": starts,
                             "fraction": float(counts.sum() / (starts * len(seeds))),
                             "interval_95": _fraction_interval(counts, starts),
                             "best_certified": all(done[(n, m, s, p)]["best_certified"] for s in seeds),
                             "valley_candidates": int(sum(done[(n, m, s, p)]["valley_candidates"] for s in seeds))})
            edge = _edge(rows, "spurious")
            valley_edge = _edge(rows, "valley_candidates")
            thresholds = threshold_values(n, m)
            verdicts = {claim: _status(claim, value, rows, edge, valley_edge) for claim, value in thresholds.items()}
            panels.append({"inputs": n, "samples": m, "rows": rows, "edge": edge, "valley_edge": valley_edge,
                           "thresholds": thresholds, "threshold_status": verdicts})
    return {"panels": panels, "seeds": list(seeds), "starts": starts, "descent": asdict(SWEEP_DESCENT),
            "data": "x ~ N(0, I_n), y ~ N(0, 1), one draw per seed",
            "status": "fractions are observations from random starts; intervals are 95% two-stage bootstrap over "
                      "data seeds; an edge is where no spurious minimum was seen, not a proof that none exists"}


def _fraction_interval(counts: np.ndarray, starts: int, resamples: int = 4000, seed: int = 0) -> list[float]:
    """95% two-stage bootstrap interval of the pooled fraction: seeds with replacement, then each
    drawn seed's count as Binomial(starts, its observed fraction)."""
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, len(counts), (resamples, len(counts)))
    redrawn = rng.binomial(starts, counts[drawn] / starts)
    fractions = redrawn.sum(1) / (starts * len(counts))
    low, high = np.quantile(fractions, [0.025, 0.975])
    return [float(low), float(high)]


def _edge(rows: list[dict], key: str) -> int | None:
    """Smallest tested width from which no seed saw ``key`` at that or any larger width."""
    edge = None
    for row in reversed(rows):
        if (sum(row[key]) if isinstance(row[key], list) else row[key]):
            break
        edge = row["width"]
    return edge


def _status(claim: str, value: float, rows: list[dict], edge: int | None, valley_edge: int | None) -> str:
    """How threshold T = ``value`` of ``claim`` fares on the study's instances (trainable output
    weights, no weight decay, one hidden layer).

    ``outside its hypotheses`` when the claim assumes fixed output weights or weight decay;
    ``untested`` when T lies beyond the widths swept. Otherwise, judged by what the claim is
    about (spurious minima, or spurious valleys): ``spurious minimum at or above it`` (an end
    point that passed every test of :mod:`sublevel.checks.verdicts.spurious` at a width >= T:
    evidence against the claim inside its hypotheses, not a proof) or ``candidate valley at or
    above it`` (such a minimum from which the path finder found no certified path at its level:
    weaker evidence still, a finder's failure looks the same); else ``tight`` (T equals the edge:
    something was seen at T - 1) or ``loose`` (T above the edge). Nothing seen from T on makes the
    edge at most T, so these are all cases; all of them are observations from random starts.
    """
    from sublevel.theory.quadratic_claims import THRESHOLDS

    threshold = THRESHOLDS[claim]
    if threshold.fixed_output or threshold.weight_decay:
        return "outside its hypotheses"
    if value > max(r["width"] for r in rows):
        return "untested"
    minima = threshold.about == "minima"
    key, own_edge = ("spurious", edge) if minima else ("valley_candidates", valley_edge)
    seen = any((sum(r[key]) if isinstance(r[key], list) else r[key]) for r in rows if r["width"] >= value)
    if seen:
        return "spurious minimum at or above it" if minima else "candidate valley at or above it"
    return "tight" if value == own_edge else "loose"
