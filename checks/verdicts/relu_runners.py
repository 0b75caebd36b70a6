"""Runners of the ReLU claims (:mod:`sublevel.theory.relu_claims`) for ``sublevel verify``.

Each runner observes, then judges what it observed:

- ``disconnection``: component brackets at levels below / above rho* (lower bound from the
  determinant separator, :mod:`sublevel.checks.counting.components`) and the best certified path between theta_A
  and theta_B (straight segment and AutoNEB). Refuted by a certified path below a level; proven
  when the certified lower bound is >= 2 at every level; inconclusive otherwise.
- ``spurious-minima``: :func:`sublevel.checks.verdicts.spurious.examine` at a named point (supported when it passes,
  refuted when it fails: not critical, a descent direction, or not above the best known point),
  or :func:`sublevel.checks.verdicts.spurious.search` on the Safran-Shamir population loss (supported when a spurious
  minimum is found, inconclusive otherwise).
- ``kernel-inequality``: Prop 2.3 on random Gaussian (exact) and empirical distributions.
- ``energy-gap``: the energy-gap experiment (trend and literal bound), or a certified barrier
  (determinant floor) against the literal bound m^(-1/n).
"""
from __future__ import annotations

import functools

import numpy as np
import torch

from sublevel.checks.counting.datasets import count_dataset
from sublevel.checks.experiments.energy_gap import EnergyGapResult, EnergyGapSettings, energy_gap
from sublevel.checks.verdicts.kernel_inequality import (bounds_empirical, bounds_gaussian, planar_pair,
                                                         tightest_lower_bound)
from sublevel.checks.paths import get_finder
from sublevel.checks.counting.sampling import SampleSettings
from sublevel.checks.certify.segments import segment_maxima
from sublevel.checks.verdicts.spurious import ProbeSettings, examine, search
from sublevel.checks.verdicts.verify import Row, runner
from sublevel.constructions.registry import construct
from sublevel.constructions.safran_shamir import orthonormal_teacher, population_loss
from sublevel.theory.claims import Claim, Instance, Verdict
from sublevel.theory.errors import Contradiction

DISCONNECTION_SAMPLING = SampleSettings(starts=32, steps=200)
"""Sampling budget of the disconnection brackets (2-2-1 nets: cheap)."""

KERNEL_TOLERANCE = 1e-12
"""Absolute slack allowed in Prop 2.3's inequalities (float64 rounding of sums of O(1) terms)."""


@runner("disconnection")
def run_disconnection(claim: Claim, instance: Instance) -> Row:
    """Levels as fractions of the proven barrier rho*: below it, proven when the count's lower
    bounds are >= 2; refuted when a certified path (straight segment or AutoNEB) stays below a
    level; a certified path below rho* itself is a contradiction."""
    dataset = construct(instance.family, **instance.params)
    arch = instance.architecture()
    problem = dataset.problem(arch)
    points = dataset.points()
    a, b = (torch.as_tensor(points[name]) for name in ("theta_A", "theta_B"))
    rho = dataset.metadata.get("rho_star", {}).get("sample", {}).get("lower")  # proven
    segment = float(segment_maxima(problem, a[None], b[None]).upper[0])
    if rho is None:
        return Row.of(claim, instance, "no determinant certificate for this construction", Verdict.INCONCLUSIVE, {})
    levels = [f * rho for f in instance.options["floor_fractions"]]  # from the proven barrier, never the path
    count = count_dataset(dataset, arch, levels, 0.0, DISCONNECTION_SAMPLING)
    path = get_finder("autoneb", seed=0)(problem, a, b, level=max(levels))
    best = min(segment, path.maximum)
    if best < rho:  # both rigorous: a certified path maximum is >= the true one >= rho*
        raise Contradiction(f"a certified theta_A-theta_B path has maximum {best:.12g}, below the proven barrier "
                            f"rho* = {rho:.12g}")
    connected = [level for level in levels if best <= level]
    if connected:
        verdict = Verdict.REFUTED
    elif all(bracket.lower >= 2 for bracket in count.brackets):
        verdict = Verdict.PROVEN  # proven lower bounds: the determinant separator's floor
    else:
        verdict = Verdict.INCONCLUSIVE
    rho_text = f"{rho:.6g} (proven lower bound of the sample loss on the separator, exact rational arithmetic)"
    observed = ("; ".join(f"lambda={bk.level:.4g}: {bk.describe()}" for bk in count.brackets)
                + f"; best theta_A-theta_B path max {best:.6g} (certified; straight {segment:.6g}, autoneb "
                  f"{path.maximum:.6g}); rho* = {rho_text}")
    evidence = {"levels": levels, "brackets": count.to_json(), "segment_max": segment, "path": path.to_json(),
                "rho_star": dataset.metadata.get("rho_star")}
    return Row.of(claim, instance, observed, verdict, evidence)


@runner("spurious-minima")
def run_spurious_minima(claim: Claim, instance: Instance) -> Row:
    if instance.options.get("search") == "population":
        return _population_search(claim, instance)
    dataset = construct(instance.family, **instance.params)
    problem = dataset.problem(instance.architecture())
    name = instance.options["point"]
    known = [float(v) for v in dataset.metadata.get("point_losses", {}).values()]
    floor = dataset.metadata.get("loss_floor")
    best = min(known + ([float(floor)] if floor is not None else []))
    evidence = examine(problem.loss, torch.as_tensor(dataset.points()[name]), best, ProbeSettings())
    verdict = Verdict.SUPPORTED if evidence.spurious else Verdict.REFUTED
    source = "certified loss floor" if floor is not None and best == floor else "loss of a named point"
    return Row.of(claim, instance, f"{name}: {evidence.describe()} [best known = {source}]", verdict, evidence.to_json())


def _population_search(claim: Claim, instance: Instance) -> Row:
    k, seed = instance.params["k"], instance.params.get("seed", 0)
    teacher = orthonormal_teacher(k, seed)
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randn(instance.options["starts"], k * k, generator=generator, dtype=torch.float64) / k ** 0.5
    result = search(lambda w: population_loss(w.reshape(-1, k, k), teacher), starts, global_minimum=0.0)
    verdict = Verdict.SUPPORTED if result.spurious else Verdict.INCONCLUSIVE
    return Row.of(claim, instance, f"k={k}, exact population loss: {result.summary()}", verdict, result.to_json())


def _random_unit_pair(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    w1 = rng.standard_normal(n)
    w1 /= np.linalg.norm(w1)
    # angles spread over (0, pi), with extra mass near 0 where the bounds are tight
    alpha = np.pi * rng.random() ** 2 * 0.999
    other = rng.standard_normal(n)
    other -= (other @ w1) * w1
    other /= np.linalg.norm(other)
    return w1, np.cos(alpha) * w1 + np.sin(alpha) * other


@runner("kernel-inequality")
def run_kernel_inequality(claim: Claim, instance: Instance) -> Row:
    """Prop 2.3 with its correction scaled by ``correction_factor`` (1 = as stated): random
    Gaussian and empirical trials, then an adversarial search for the distribution that needs the
    correction most (:func:`tightest_lower_bound`); a violation is found on an explicit
    distribution, by finite sums in float64 beyond the rounding tolerance, so it refutes."""
    rng = np.random.default_rng(instance.options.get("seed", 0))
    factor = float(instance.options.get("correction_factor", 1.0))
    violations, worst_gap, trials = [], np.inf, instance.options["trials"]
    for trial in range(trials):
        n = int(rng.integers(2, 7))
        w1, w2 = _random_unit_pair(rng, n)
        if trial % 2:
            m = rng.standard_normal((n, n))
            bounds = bounds_gaussian(m @ m.T / n + 0.1 * np.eye(n), w1, w2)
        else:
            x = rng.standard_normal((int(rng.integers(1, 50)), n)) * rng.exponential(1.0, n)
            bounds = bounds_empirical(x + rng.standard_normal(n) * rng.random(), w1, w2)
        lower = bounds.lower + (1.0 - factor) * bounds.correction
        margin = min(bounds.value - lower, bounds.upper - bounds.value)
        worst_gap = min(worst_gap, margin)
        if margin < -KERNEL_TOLERANCE:
            violations.append({"trial": trial, "n": n, "lower": lower, "value": bounds.value, "upper": bounds.upper})
    tight = tightest_lower_bound(instance.options.get("searches", 24), instance.options.get("seed", 0))
    # re-evaluated (finite sums) at the distribution the search found
    at_tightest = bounds_empirical(tight.points, *planar_pair(tight.angle, tight.points.shape[1]))
    slack = at_tightest.value - (at_tightest.upper - factor * at_tightest.correction)
    if slack < -KERNEL_TOLERANCE:
        violations.append({"adversarial": True, "angle_degrees": float(np.degrees(tight.angle)),
                           "points": tight.points.tolist(), "lower": at_tightest.upper - factor * at_tightest.correction,
                           "value": at_tightest.value})
    verdict = Verdict.REFUTED if violations else Verdict.SUPPORTED
    observed = (f"correction x {factor:g}: {len(violations)} violations in {trials} random (distribution, angle) trials "
                f"and {tight.searches} adversarial searches, closed-form float64 evaluation "
                f"(Gaussian kernel / finite sums); "
                f"tightest case found: (upper - value) / correction = {tight.ratio:.4f} at alpha = "
                f"{np.degrees(tight.angle):.1f} deg on {len(tight.points)} points, so the check refutes any "
                f"correction factor below {tight.ratio:.4f} and cannot tell factors above it apart (the stated factor "
                f"is 1)")
    return Row.of(claim, instance, observed, verdict, {"violations": violations[:20], "smallest_slack": worst_gap,
                                                       "sensitivity": tight.ratio, "correction_factor": factor})


@functools.lru_cache(maxsize=4)
def _gap_experiment(family: str, params: tuple, widths: tuple[int, ...], pairs: int) -> EnergyGapResult:
    return energy_gap(construct(family, **dict(params)), EnergyGapSettings(widths=widths, pairs=pairs))


@runner("energy-gap")
def run_energy_gap(claim: Claim, instance: Instance) -> Row:
    arch = instance.architecture()
    n = arch.widths[0]
    if instance.options.get("barrier"):
        dataset = construct(instance.family, **instance.params)
        rho = dataset.metadata["rho_star"]["sample"]["lower"]  # proven
        m = arch.widths[1]
        bound = m ** (-1.0 / n)
        verdict = Verdict.REFUTED if rho > bound else Verdict.INCONCLUSIVE
        observed = (f"L(theta_A) = L(theta_B) = 0, every path between them reaches >= rho* = {rho:.4g} (certified, "
                    f"determinant floor) vs m^(-1/n) = {bound:.4g} (m = {m}, n = {n})")
        return Row.of(claim, instance, observed, verdict, {"rho_star": rho, "bound": bound})
    result = _gap_experiment(instance.family, tuple(sorted(instance.params.items())),
                             tuple(instance.options["widths"]), instance.options["pairs"])
    if instance.options.get("literal"):
        over = [(r.width, r.gap) for r in result.rows if r.gap > r.width ** (-1.0 / n)]
        raw_over = sum(r.raw_linear_gap > r.width ** (-1.0 / n) for r in result.rows)
        verdict = Verdict.INCONCLUSIVE if over else Verdict.SUPPORTED
        observed = (f"{len(over)} of {len(result.rows)} measured gaps (certified upper bounds, each between minimum A "
                    f"and minimum B with its units rescaled and permuted to match A: the same function as B, another "
                    f"point of the same sublevel set) exceed m^(-1/n)"
                    + (f" (e.g. m={over[0][0]}: {over[0][1]:.3g}; a better path may exist)" if over else "")
                    + f"; the straight lines between the minima as trained exceed it in {raw_over} of "
                      f"{len(result.rows)} pairs (upper bounds: permutation barriers included)")
    else:
        # Gaps are upper bounds (a better path may exist), so a rising fit cannot refute; the trend
        # is supported only when the whole 95% interval of the slope lies below 0.
        falling = result.slope_interval is not None and result.slope_interval[1] < 0
        verdict = Verdict.SUPPORTED if falling else Verdict.INCONCLUSIVE
        observed = result.describe() + ("" if falling else "; the interval does not exclude a flat or rising trend")
    return Row.of(claim, instance, observed, verdict, result.to_json())
