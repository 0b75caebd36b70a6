"""The CCNN convex program and its solvers (Zhang, Liang & Wainwright 2017, arXiv:1609.01000)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sublevel.checks.ccnn.agreement import compare, planted_instance
from sublevel.checks.ccnn.nuclear import (NuclearProblem, nuclear_norm, project_l1_ball, project_nuclear_ball,
                                 solve_fista, solve_sgd)
from sublevel.theory.errors import InputError

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
radii = st.floats(0.01, 20)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(1, 12), elements=finite), radii)
def test_l1_projection_is_the_euclidean_projection(v, radius):
    w = project_l1_ball(torch.from_numpy(v), radius).numpy()
    assert np.abs(w).sum() <= radius * (1 + 1e-12) + 1e-12
    if np.abs(v).sum() <= radius:
        np.testing.assert_array_equal(w, v)
        return
    # KKT of min ||w - v||^2 / 2 s.t. ||w||_1 <= R: w = sign(v) max(|v| - theta, 0), theta > 0,
    # and the constraint is active.
    theta = np.max(np.abs(v) - np.abs(w))
    np.testing.assert_allclose(np.abs(w), np.maximum(np.abs(v) - theta, 0), atol=1e-9)
    assert np.all(np.sign(w) * np.sign(v) >= 0)
    assert np.abs(w).sum() == pytest.approx(radius, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.data(), radii)
def test_nuclear_projection_in_ball_idempotent_and_optimal(rows, cols, data, radius):
    m = data.draw(arrays(np.float64, (rows, cols), elements=finite))
    a = torch.from_numpy(m)
    p = project_nuclear_ball(a, radius)
    assert nuclear_norm(p) <= radius * (1 + 1e-9) + 1e-12
    torch.testing.assert_close(project_nuclear_ball(p, radius), p, atol=1e-9, rtol=1e-9)
    # Variational inequality of a Euclidean projection onto a convex set C:
    # <M - P(M), B - P(M)> <= 0 for every B in C; test B = extreme points R u v^T and random
    # feasible points.
    rng = np.random.default_rng(rows * 7 + cols)
    residual = m - p.numpy()
    for _ in range(20):
        u, v = rng.standard_normal(rows), rng.standard_normal(cols)
        b = radius * np.outer(u / np.linalg.norm(u), v / np.linalg.norm(v)) * rng.uniform()
        assert np.sum(residual * (b - p.numpy())) <= 1e-7 * (1 + np.abs(m).sum())


def test_nuclear_projection_matches_cvxpy():
    import cvxpy as cp

    rng = np.random.default_rng(3)
    for shape, radius in (((4, 3), 1.0), ((5, 6), 2.5), ((3, 3), 0.2)):
        m = rng.standard_normal(shape)
        x = cp.Variable(shape)
        cp.Problem(cp.Minimize(cp.sum_squares(x - m)), [cp.normNuc(x) <= radius]).solve(solver="CLARABEL")
        np.testing.assert_allclose(project_nuclear_ball(torch.from_numpy(m), radius).numpy(), x.value, atol=1e-5)


@pytest.mark.parametrize("instance", [(40, 4, 6, 3, 1.0), (60, 4, 8, 3, 3.0)])
def test_fista_reaches_the_cvxpy_optimum(instance):
    row = compare(*instance)
    assert row["relative_difference"] < 1e-4
    assert row["max_nuclear_norm"] <= instance[-1] * (1 + 1e-9)


@pytest.mark.slow
def test_fista_reaches_the_cvxpy_optimum_larger():
    row = compare(100, 9, 10, 4, 5.0)
    assert row["relative_difference"] < 1e-4


def _problem(radius=3.0, seed=0):
    z, y = planted_instance(80, 4, 8, 3, seed)
    return NuclearProblem.from_features(torch.from_numpy(z), y, 3, radius)


def test_gradient_matches_autograd():
    problem = _problem()
    a = torch.randn(problem.zeros().shape, dtype=torch.float64) * 0.1
    _, g = problem.value_and_grad(a, batch_size=17)
    a.requires_grad_(True)
    z = problem.batch(np.arange(problem.n_samples))
    logits = problem.scores(z, a)
    y = torch.as_tensor(problem.labels)
    torch.nn.functional.cross_entropy(logits, y).backward()
    torch.testing.assert_close(g, a.grad)


def test_every_sgd_iterate_is_in_the_ball():
    problem = _problem(radius=2.0)
    result = solve_sgd(problem, epochs=5, batch_size=8, learning_rate=5.0, dtype=torch.float64)
    assert result.max_nuclear_norm <= 2.0 * (1 + 1e-9)
    assert nuclear_norm(result.a) <= 2.0 * (1 + 1e-9)


def test_different_starts_and_seeds_reach_the_same_objective():
    problem = _problem()
    reference = solve_fista(problem).objective
    generator = torch.Generator().manual_seed(1)
    for _ in range(3):
        start = project_nuclear_ball(torch.randn(problem.zeros().shape, generator=generator, dtype=torch.float64), 3.0)
        assert solve_fista(problem, a0=start).objective == pytest.approx(reference, rel=1e-6)
    # SGD with eta ~ 1/sqrt(epoch) approaches the optimum slowly: every seed ends within 1 %,
    # and the seeds within 0.5 % of each other.
    sgd = [solve_sgd(problem, epochs=30, batch_size=16, learning_rate=3.0, seed=s, dtype=torch.float64).objective
           for s in (0, 1, 2)]
    assert min(sgd) >= reference * (1 - 1e-9)
    assert max(sgd) - reference < 0.01 * reference
    assert max(sgd) - min(sgd) < 0.005 * reference


def test_tiny_radius_gives_chance_accuracy():
    problem = _problem(radius=1e-8)
    result = solve_fista(problem)
    # With ||A||_* -> 0 every score tends to 0: the loss tends to log K and the prediction carries
    # no information (argmax of equal scores is class 0 for every input).
    assert result.objective == pytest.approx(np.log(3), rel=1e-6)
    scores = problem.scores(problem.batch(np.arange(problem.n_samples)), result.a)
    assert float(scores.abs().max()) < 1e-6


@pytest.mark.parametrize("radius", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_radius_is_an_input_error(radius):
    with pytest.raises(InputError, match="radius"):
        _problem(radius=radius)
    with pytest.raises(ValueError):
        project_nuclear_ball(torch.eye(2), radius)


def test_labels_outside_range_are_an_input_error():
    z, _ = planted_instance(10, 2, 3, 3)
    with pytest.raises(InputError, match="0..2"):
        NuclearProblem.from_features(torch.from_numpy(z), np.arange(10) % 4, 3, 1.0)


def test_l1_projection_with_radius_below_float_resolution():
    v = torch.tensor([1e3, 1.0, -2.0], dtype=torch.float32)
    w = project_l1_ball(v, 1e-9)
    assert float(w.abs().sum()) <= 1e-9 * (1 + 1e-6)
