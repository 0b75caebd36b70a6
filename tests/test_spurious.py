"""checks.spurious on functions whose critical points are known, and on G2.

Tilted double well f(t) = (t_0^2 - 1)^2 + 0.3 t_0 + t_1^2: a global minimum near t_0 = -1, a
spurious one near t_0 = +1, a saddle-like maximum in t_0 between them. A ReLU kink
f = -relu(-t_0) + t_1^2 has zero autograd gradient and Hessian >= 0 at 0 but a descent
direction, which only the probes can see.
"""
from __future__ import annotations

import pytest
import torch
from scipy.optimize import brentq

from sublevel.checks.verdicts.spurious import DescentSettings, ProbeSettings, examine, search
from sublevel.constructions.registry import construct


def well(theta: torch.Tensor) -> torch.Tensor:
    return (theta[:, 0] ** 2 - 1) ** 2 + 0.3 * theta[:, 0] + theta[:, 1] ** 2


def kink(theta: torch.Tensor) -> torch.Tensor:
    return -torch.relu(-theta[:, 0]) + theta[:, 1] ** 2


def critical(sign: float) -> torch.Tensor:
    root = brentq(lambda t: 4 * t * (t * t - 1) + 0.3, sign * 0.5, sign * 1.5)
    return torch.tensor([root, 0.0], dtype=torch.float64)


def test_double_well_minima_and_maximum():
    low, high = critical(-1.0), critical(1.0)
    best = float(well(low[None]))
    assert not examine(well, low, best).spurious and examine(well, low, best).local_minimum
    evidence = examine(well, high, best)
    assert evidence.spurious and evidence.critical and evidence.curvature > 0
    middle = torch.tensor([brentq(lambda t: 4 * t * (t * t - 1) + 0.3, -0.5, 0.5), 0.0], dtype=torch.float64)
    assert examine(well, middle, best).descent_found
    assert not examine(well, torch.tensor([0.5, 0.5], dtype=torch.float64), best).critical


def test_lanczos_agrees_with_exact_hessian():
    point = critical(1.0)
    exact = examine(well, point, 0.0)
    lanczos = examine(well, point, 0.0, ProbeSettings(hessian_max_params=0))
    assert "Lanczos" in lanczos.curvature_method
    assert lanczos.curvature == pytest.approx(exact.curvature, rel=1e-6)


def test_probes_see_descent_at_a_kink():
    evidence = examine(kink, torch.zeros(2, dtype=torch.float64), -1.0)
    assert evidence.critical and evidence.curvature >= 0
    assert evidence.descent_found and not evidence.local_minimum


def test_search_on_g2_finds_the_spurious_valley_and_is_deterministic():
    data = construct("one-neuron", a=2.0)
    problem = data.problem(data.default_architecture())
    starts = problem.architecture.init(12, generator=torch.Generator().manual_seed(0))
    settings = DescentSettings(adam_steps=100, lbfgs_iterations=200)
    first = search(problem.loss, starts, 0.5, settings)
    assert first.distinct_spurious_losses() == [pytest.approx(2.0)]
    assert first.to_json() == search(problem.loss, starts, 0.5, settings).to_json()
