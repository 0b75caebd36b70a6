"""Runner of the quadratic width-threshold claims (:mod:`sublevel.theory.quadratic_claims`).

``quadratic-threshold``: on the instance's data and width, random starts descend and every end
point is examined (:func:`sublevel.checks.experiments.quadratic_sweep.search_width`). Claims about
minima are refuted by a verified spurious local minimum; claims about valleys by a candidate
spurious valley (a spurious minimum with no certified path found to the best minimum at its
level, :func:`sublevel.checks.experiments.quadratic_sweep.valley_checks`). Otherwise: supported on the
starts tried. The row's
``applies`` says whether p >= T(n, N), which the claim's structural check cannot know (it does
not see N). Searches are cached: several claims share their must-fail instance.
"""
from __future__ import annotations

import functools

from sublevel.checks.experiments.quadratic_sweep import quadratic_problem, search_width, valley_checks
from sublevel.checks.verdicts.spurious import SpuriousSearch
from sublevel.checks.verdicts.verify import Row, runner
from sublevel.constructions.registry import construct
from sublevel.theory.claims import Claim, Instance, Verdict
from sublevel.theory.quadratic_claims import THRESHOLDS

STARTS = 10
"""Random starts per instance."""


@functools.lru_cache(maxsize=16)
def _search(family: str, params: tuple, width: int, kappa: float, fixed_output: bool) -> SpuriousSearch:
    dataset = construct(family, **dict(params))
    return search_width(dataset.x, dataset.y, width, STARTS, kappa, fixed_output, seed=dict(params).get("seed", 0))


@functools.lru_cache(maxsize=16)
def _valleys(family: str, params: tuple, width: int, kappa: float) -> tuple:
    dataset = construct(family, **dict(params))
    problem = quadratic_problem(dataset.x, dataset.y, width, kappa)
    return tuple(valley_checks(problem, _search(family, params, width, kappa, False)))


@runner("quadratic-threshold")
def run_quadratic_threshold(claim: Claim, instance: Instance) -> Row:
    threshold = THRESHOLDS[claim.id]
    arch = instance.architecture()
    n, hidden = arch.widths[0], arch.widths[1:-1]
    width = hidden[0] if len(hidden) == 1 else hidden
    samples = instance.params["samples"]
    required = threshold.widths(n, samples, len(hidden))
    below = instance.expect is not None
    result = _search(instance.family, tuple(sorted(instance.params.items())), width, instance.kappa,
                     threshold.fixed_output and not below)
    setting = "fixed output weights +-1" if threshold.fixed_output and not below else "trainable output weights"
    shown = "-".join(map(str, hidden))
    observed = (f"p = {shown} (T = {threshold.formula} = {'-'.join(map(str, required))}), {setting}, "
                f"kappa = {instance.kappa:g}: "
                f"{result.summary()}")
    evidence = result.to_json()
    if threshold.about == "valleys" and not (threshold.fixed_output and not below):
        valleys = _valleys(instance.family, tuple(sorted(instance.params.items())), width, instance.kappa)
        verdict = Verdict.REFUTED if any(not v.joined for v in valleys) else Verdict.SUPPORTED
        observed += "".join(f"; {v.describe()}" for v in valleys)
        evidence["valleys"] = [v.__dict__ for v in valleys]
    else:
        verdict = Verdict.REFUTED if result.spurious else Verdict.SUPPORTED
    if verdict is Verdict.SUPPORTED:
        starts = len(result.evidence)
        observed += (f"; strength: 0 of {starts} starts ended in a spurious minimum, so a spurious basin reached "
                     f"by more than {1 - 0.05 ** (1 / starts):.0%} of random starts would have been seen (95%)")
    return Row.of(claim, instance, observed, verdict, evidence,
                  applies=claim.applies(arch, instance.kappa) and all(p >= t for p, t in zip(hidden, required)))
