"""Certified segment maxima (checks/segments.py) against dense sampling and hand cases.

Every bound is checked where it can fail: ``upper`` must dominate a dense sample of the loss
on the segment, ``lower`` must be the loss actually attained at ``argmax``, and for one hidden
layer the exact maximum must agree with a fine grid refined by a bounded scalar optimiser.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from scipy.optimize import minimize_scalar

from checks.segments import SegmentBound, path_maximum, segment_maxima
from theory.errors import InputError
from theory.networks import Architecture
from theory.problems import Problem

DENSE = 2001
SLACK = 1e-12


def random_problem(seed: int, widths: tuple[int, ...], activation: str, bias: bool,
                   kappa: float, samples: int = 6) -> Problem:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, widths[0], generator=gen, dtype=torch.float64)
    y = torch.randn(samples, widths[-1], generator=gen, dtype=torch.float64)
    return Problem(Architecture(widths, activation, bias), x, y, kappa)


def random_segments(problem: Problem, seed: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed + 1)
    arch = problem.architecture
    return arch.init(count, scale=1.5, generator=gen), arch.init(count, scale=1.5, generator=gen)


def dense_losses(problem: Problem, start: torch.Tensor, end: torch.Tensor, points: int = DENSE):
    t = torch.linspace(0, 1, points, dtype=torch.float64)
    theta = start[:, None, :] + t[None, :, None] * (end - start)[:, None, :]
    return t, problem.loss(theta.reshape(-1, start.shape[1])).reshape(start.shape[0], points)


def assert_bracket(problem: Problem, start, end, bound: SegmentBound) -> torch.Tensor:
    """upper dominates the dense sample; lower is the loss attained at argmax."""
    _, values = dense_losses(problem, start, end)
    sampled = values.max(dim=1).values
    assert (sampled <= bound.upper + SLACK * sampled.abs().clamp(min=1)).all()
    attained = problem.loss(start + bound.argmax[:, None] * (end - start))
    torch.testing.assert_close(bound.lower, attained, rtol=1e-14, atol=0)
    assert ((bound.argmax >= 0) & (bound.argmax <= 1)).all()
    assert (bound.lower <= bound.upper).all()
    return sampled


def refined_maximum(problem: Problem, start: torch.Tensor, end: torch.Tensor) -> float:
    """Grid maximum of one segment polished by a bounded scalar search around the best point."""
    t, values = dense_losses(problem, start[None], end[None], points=4001)
    best = int(values[0].argmax())
    centre = float(t[best])
    lo, hi = float(t[max(best - 1, 0)]) - centre, float(t[min(best + 1, len(t) - 1)]) - centre

    # Search the offset u = t - centre: scipy's bounded Brent stops at sqrt(eps) |u| + xatol,
    # which would leave a 1e-8 error in t (and in value at a ReLU kink) in the variable t.
    def negative(u: float) -> float:
        return -float(problem.loss(start + (centre + u) * (end - start)))

    res = minimize_scalar(negative, bounds=(lo, hi), method="bounded", options={"xatol": 1e-13})
    return max(float(values[0, best]), -res.fun)


one_hidden = st.fixed_dictionaries({
    "seed": st.integers(0, 10_000),
    "activation": st.sampled_from(["linear", "relu", "quadratic"]),
    "bias": st.booleans(),
    "n0": st.integers(1, 3),
    "n1": st.integers(1, 5),
    "nl": st.integers(1, 3),
    "kappa": st.sampled_from([0.0, 0.05]),
})


@settings(max_examples=40, deadline=None)
@given(one_hidden)
def test_one_hidden_layer_is_exact(case):
    problem = random_problem(case["seed"], (case["n0"], case["n1"], case["nl"]), case["activation"],
                             case["bias"], case["kappa"])
    start, end = random_segments(problem, case["seed"], 3)
    bound = segment_maxima(problem, start, end)
    assert bound.exact
    assert_bracket(problem, start, end, bound)
    for i in range(start.shape[0]):
        reference = refined_maximum(problem, start[i], end[i])
        assert abs(float(bound.lower[i]) - reference) <= 1e-9 * max(1.0, abs(reference))
        assert float(bound.upper[i] - bound.lower[i]) <= 1e-9 * max(1.0, abs(reference))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), bias=st.booleans(), n0=st.integers(1, 3), nl=st.integers(1, 3),
       kappa=st.sampled_from([0.0, 0.1]))
def test_no_hidden_layer_is_exact(seed, bias, n0, nl, kappa):
    problem = random_problem(seed, (n0, nl), "relu", bias, kappa)
    start, end = random_segments(problem, seed, 3)
    bound = segment_maxima(problem, start, end)
    assert bound.exact
    assert_bracket(problem, start, end, bound)
    # The loss is a convex quadratic in t, so its maximum sits at an end point.
    ends = torch.maximum(problem.loss(start), problem.loss(end))
    torch.testing.assert_close(bound.lower, ends, rtol=1e-12, atol=1e-12)


def g2_problem(a: float = 2.0) -> Problem:
    """THEORY.md G2: H = v relu(w x), data (1, 1) and (-1, a)."""
    x = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    y = torch.tensor([[1.0], [a]], dtype=torch.float64)
    return Problem(Architecture((1, 1, 1), "relu", bias=False), x, y)


def test_g2_segment_crosses_the_ridge_w_equals_zero():
    """THEORY.md G2 with a = 2: on w = 0 the loss is (1 + a^2)/2 = 2.5, higher than both ends."""
    problem = g2_problem()
    start, end = torch.tensor([1.0, 1.0]), torch.tensor([-1.0, 2.0])
    bound = segment_maxima(problem, start, end)
    assert bound.exact and bound.upper.shape == ()
    assert float(bound.lower) >= 2.5
    assert float(problem.loss(start)) < 2.5 and float(problem.loss(end)) < 2.5


def test_endpoints_only_is_not_an_upper_bound():
    """The must-fail sanity check: taking the larger end value as the segment maximum is wrong
    on the G2 segment, and the dense check used above detects it."""
    problem = g2_problem()
    start = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    end = torch.tensor([[-1.0, 2.0]], dtype=torch.float64)
    endpoints_only = torch.maximum(problem.loss(start), problem.loss(end))
    wrong = SegmentBound(endpoints_only, endpoints_only, torch.zeros(1, dtype=torch.float64), True)
    with pytest.raises(AssertionError):
        assert_bracket(problem, start, end, wrong)
    assert_bracket(problem, start, end, segment_maxima(problem, start, end))


def test_batched_equals_one_at_a_time():
    problem = random_problem(3, (2, 4, 2), "relu", True, 0.01, samples=9)
    start, end = random_segments(problem, 3, 6)
    batched = segment_maxima(problem, start, end)
    for i in range(start.shape[0]):
        single = segment_maxima(problem, start[i], end[i])
        torch.testing.assert_close(single.lower, batched.lower[i], rtol=1e-13, atol=1e-13)
        torch.testing.assert_close(single.argmax, batched.argmax[i], rtol=0, atol=1e-12)
        torch.testing.assert_close(single.upper, batched.upper[i], rtol=1e-13, atol=1e-13)


def test_path_maximum_matches_segments():
    problem = random_problem(5, (2, 3, 1), "relu", True, 0.0)
    beads = problem.architecture.init(5, generator=torch.Generator().manual_seed(5))
    path = path_maximum(problem, beads)
    direct = segment_maxima(problem, beads[:-1], beads[1:])
    assert path.upper.shape == (4,)
    torch.testing.assert_close(path.upper, direct.upper)
    torch.testing.assert_close(path.lower, direct.lower)


def test_float32_problem_is_certified_in_float64():
    problem = random_problem(7, (2, 3, 1), "relu", True, 0.0).to(dtype=torch.float32)
    start, end = random_segments(problem.to(dtype=torch.float64), 7, 2)
    bound = segment_maxima(problem, start, end)
    assert bound.upper.dtype == torch.float64
    assert_bracket(problem.to(dtype=torch.float64), start, end, bound)


def test_bad_inputs_raise_input_error():
    problem = random_problem(0, (2, 3, 1), "relu", True, 0.0)
    p = problem.num_params
    with pytest.raises(InputError):
        segment_maxima(problem, torch.zeros(2, p), torch.zeros(3, p))
    with pytest.raises(InputError):
        segment_maxima(problem, torch.zeros(2, p + 1), torch.zeros(2, p + 1))
    with pytest.raises(InputError):
        segment_maxima(problem, torch.full((p,), np.nan), torch.zeros(p))
    with pytest.raises(InputError):
        path_maximum(problem, torch.zeros(1, p))
    tanh = Problem(Architecture((2, 3, 1), torch.tanh), problem.x, problem.y)
    with pytest.raises(InputError, match="cannot certify"):
        segment_maxima(tanh, torch.zeros(p), torch.ones(p))
