"""ReLU constructions: stated losses at named points, the determinant floor rho*, bad options.

rho* is checked three ways: against a brute-force angle grid (it is the infimum, so never above
the grid and close to it), against random points of the rank-one set {det W_1 = 0} (a floor
must be below all of them), and against every path finder and sampler (no certified path
between theta_A and theta_B may stay below rho* - tol).
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from sublevel.cli import main
from sublevel.checks.counting.datasets import count_dataset
from sublevel.checks.paths import get_finder
from sublevel.checks.counting.sampling import SampleSettings
from sublevel.constructions.arccos_kernel import relu_kernel, two_layer_population_loss
from sublevel.constructions.rank_one_floor import (exact_sample_floor, population_floor, population_rank_one_loss,
                                                   sample_floor, sample_rank_one_loss)
from sublevel.constructions.registry import construct
from sublevel.constructions.safran_shamir import orthonormal_teacher, population_loss
from sublevel.theory.networks import Architecture

TOL = 1e-9


@pytest.fixture(scope="module")
def permutation():
    data = construct("relu-permutation", samples=128, seed=1)
    return data, data.problem(data.default_architecture())


def small_sample(seed: int, samples: int, outputs: int):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples, 2))
    w = rng.standard_normal((2, 2))
    a = rng.standard_normal((outputs, 2))
    return x, np.maximum(x @ w.T, 0) @ a.T + 0.1 * rng.standard_normal((samples, outputs))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), samples=st.integers(1, 12), outputs=st.integers(1, 2))
def test_sample_floor_equals_brute_force_grid(seed, samples, outputs):
    x, y = small_sample(seed, samples, outputs)
    floor = sample_floor(x, y)
    grid = sample_rank_one_loss(x, y, np.linspace(-math.pi / 2, math.pi / 2, 200_001)).min()
    assert floor.value <= grid + 1e-12
    assert grid - floor.value <= 1e-4 * (1 + np.square(y).mean())


def exact_rank_one_loss(x, y, u) -> Fraction:
    """rho*(u) in exact rational arithmetic for a rational direction u (any length)."""
    xs = [(Fraction(a), Fraction(b)) for a, b in x]
    ys = [[Fraction(v) for v in row] for row in y.reshape(len(x), -1)]
    total = sum(v * v for row in ys for v in row)
    explained = Fraction(0)
    for sign in (1, -1):
        z = [sign * (u[0] * a + u[1] * b) for a, b in xs]
        side = [i for i, v in enumerate(z) if v > 0]
        energy = sum(z[i] ** 2 for i in side)
        if energy:
            explained += sum(sum(ys[i][k] * z[i] for i in side) ** 2 for k in range(len(ys[0]))) / energy
    return (total - explained) / len(xs)


@st.composite
def awkward_samples(draw):
    """Small 2-D data sets with what breaks a floor computation: points on one line through the
    origin, points with x_2 = 0, repeated points, the origin itself, a side of one point, and
    inputs and labels at scales from 1e-3 to 1e3."""
    seed = draw(st.integers(0, 10_000))
    samples = draw(st.integers(1, 10))
    outputs = draw(st.integers(1, 2))
    x, y = small_sample(seed, samples, outputs)
    rng = np.random.default_rng(seed)
    if draw(st.booleans()):
        x = np.vstack([x, 2.5 * x[:1], -0.5 * x[:1]])
        y = np.vstack([y, rng.standard_normal((2, outputs))])
    if draw(st.booleans()):
        x = np.vstack([x, [[1.5, 0.0], [-0.25, 0.0], [0.0, 0.0]]])
        y = np.vstack([y, rng.standard_normal((3, outputs))])
    if draw(st.booleans()):
        x, y = np.vstack([x, x[-1:]]), np.vstack([y, y[-1:] + 1.0])
    scale_x, scale_y = (10.0 ** draw(st.integers(-3, 3)) for _ in range(2))
    return x * scale_x, y * scale_y


@settings(max_examples=30, deadline=None)
@given(data=awkward_samples(), directions=st.lists(st.fractions(-50, 50), min_size=5, max_size=10))
def test_exact_floor_brackets_the_loss_at_every_direction(data, directions):
    """lower <= rho*(u) computed exactly at rational directions u = (1, t), at u = (0, 1) and
    (up to float64 rounding) on a dense angle grid; upper - lower <= 1e-12 of the label
    energy; and the float64 Floor is the exact bracket rounded outwards."""
    x, y = data
    exact = exact_sample_floor(x, y)
    energy = Fraction(float(np.square(y).sum(axis=1).mean()))
    assert 0 <= exact.lower <= exact.upper <= exact.lower + energy / 10 ** 12
    for u in [(Fraction(1), t) for t in directions] + [(Fraction(0), Fraction(1))]:
        assert exact.lower <= exact_rank_one_loss(x, y, u)
    grid = sample_rank_one_loss(x, y, np.linspace(-math.pi / 2, math.pi / 2, 20_001)).min()
    assert float(exact.lower) <= grid + 1e-12 * float(energy)
    floor = sample_floor(x, y)
    assert Fraction(floor.lower) <= exact.lower and exact.upper <= Fraction(floor.value)


def test_exact_floor_sees_the_sweep_between_nearly_collinear_points():
    """Three inputs on one line through the origin up to float64 rounding: between their two
    breakpoints (1e-8 apart in t) a side's best fit turns through a quadrant and explains all of
    its labels. The float64 search over the same candidates reported rho* = 3.3e-4 there; the
    exact infimum is 0 (to 1e-15), and the loss at the reported direction says so."""
    x = np.array([[0.12573022, -0.13210486], [0.31432555, -0.33026216], [-0.06286511, 0.06605243]])
    y = np.array([[0.0165546], [0.12573022], [-0.13210486]])
    exact = exact_sample_floor(x, y)
    assert exact.lower == 0 and exact.upper < 1e-15
    assert exact_rank_one_loss(x, y, (Fraction(1), exact.t)) < Fraction(1, 10 ** 14)
    assert sample_rank_one_loss(x, y, np.linspace(-math.pi / 2, math.pi / 2, 200_001)).min() > 3e-4


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_floor_is_below_every_rank_one_network(seed):
    x, y = small_sample(seed, 10, 1)
    floor = sample_floor(x, y).value
    rng = np.random.default_rng(seed + 1)
    arch = Architecture((2, 2, 1), "relu", bias=False)
    phi = rng.uniform(0, 2 * math.pi, 200)
    u = np.stack([np.cos(phi), np.sin(phi)], 1)
    rows = u[:, None, :] * rng.standard_normal((200, 2, 1)) * 3
    theta = arch.flatten([torch.as_tensor(rows), torch.as_tensor(rng.standard_normal((200, 1, 2)) * 3)])
    losses = ((arch.forward(theta, torch.as_tensor(x)) - torch.as_tensor(y)) ** 2).mean(dim=(1, 2))
    assert float(losses.min()) >= floor - TOL


def test_arc_cosine_kernel_matches_monte_carlo():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    x = torch.randn(400_000, 4, generator=gen, dtype=torch.float64)
    feats = torch.relu(x @ w.T)
    assert torch.allclose(relu_kernel(w, w), feats.T @ feats / len(x), atol=0.02)
    assert float(relu_kernel(w[:1], -w[:1])) == pytest.approx(0.0, abs=1e-12)


def test_population_floor_is_certified_and_matches_kernel():
    w = np.array([[1.0, 0.0], [-0.5, math.sqrt(3) / 2]])
    a = np.ones((1, 2))
    floor = population_floor(w, a)
    assert floor.lower <= floor.value
    fine = population_rank_one_loss(w, a, np.linspace(0, math.pi, 400_001)).min()
    assert floor.lower <= fine + 1e-12 and floor.value <= fine + 1e-9
    # E[y^2] from the kernel equals the rank-one loss with zero weights' limit: rho* <= E[y^2]
    energy = float(two_layer_population_loss(torch.zeros(1, 2, dtype=torch.float64), torch.zeros(1, dtype=torch.float64),
                                              torch.as_tensor(w), torch.ones(2, dtype=torch.float64)))
    assert floor.value <= energy


def test_relu_permutation_points_and_certificate(permutation):
    data, problem = permutation
    points = data.points()
    a, b = torch.as_tensor(points["theta_A"]), torch.as_tensor(points["theta_B"])
    assert float(problem.loss(a)) == pytest.approx(0.0, abs=1e-25)
    assert float(problem.loss(b)) == pytest.approx(0.0, abs=1e-25)
    w_a = problem.architecture.layers(a[None])[0].weight[0]
    w_b = problem.architecture.layers(b[None])[0].weight[0]
    assert torch.linalg.det(w_a) * torch.linalg.det(w_b) < 0
    rho = data.metadata["rho_star"]
    assert rho["separator_floor_is_for"] == "sample"
    floor = data.metadata["separators"][0]["floor"]
    assert floor == rho["sample"]["lower"]  # the proven bound itself, no margin taken
    assert 0 < floor <= rho["sample"]["value"] and floor == pytest.approx(rho["sample"]["value"], rel=1e-12)
    assert rho["population"]["loss"] == "population"


def _no_crossing(data, problem, budget: int) -> None:
    points = data.points()
    a, b = torch.as_tensor(points["theta_A"]), torch.as_tensor(points["theta_B"])
    rho = data.metadata["rho_star"]["sample"]["lower"]
    finders = (("linear", {}), ("dss", {"steps": budget, "max_rounds": 2, "max_beads": 9}),
               ("autoneb", {"steps": budget, "cycles": 1, "max_beads": 9}))
    for name, options in finders:
        path = get_finder(name, **options)(problem, a, b, level=0.9 * rho)
        assert path.maximum >= rho, name  # certified maximum vs proven floor: no tolerance
    count = count_dataset(data, problem.architecture, [0.5 * rho, 0.95 * rho], 0.0,
                          SampleSettings(starts=8, steps=budget))
    assert all(bracket.lower == 2 for bracket in count.brackets)


def test_no_path_or_sample_crosses_below_rho_star(permutation):
    _no_crossing(*permutation, budget=20)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_path_crosses_below_rho_star_longer_searches(seed):
    data = construct("relu-permutation", samples=128, seed=seed)
    _no_crossing(data, data.problem(data.default_architecture()), budget=150)


def test_bias_or_other_widths_get_no_certificate():
    assert "separators" not in construct("relu-permutation", arch="2-2-1", bias=1, samples=16).metadata
    data = construct("relu-permutation", arch="3-4-2-1", samples=16)
    assert "certificate" in data.metadata
    problem = data.problem(data.default_architecture())
    assert all(float(problem.loss(torch.as_tensor(p))) < 1e-25 for p in data.points().values())


def test_venturi_losses_and_local_minimum():
    data = construct("venturi", n=4, p=2, alpha=1.0, beta=2.0, samples=40_000, seed=0)
    losses = data.metadata["point_losses"]
    assert losses["theta_bad"] == pytest.approx(1.0, abs=0.05)       # beta^2 / 4
    assert losses["theta_good"] == pytest.approx(0.25, abs=0.02)     # alpha^2 / 4
    small = construct("venturi", n=4, p=2, alpha=1.0, beta=2.0, samples=300, seed=1)
    problem = small.problem(small.default_architecture())
    bad = torch.as_tensor(small.points()["theta_bad"])
    gen = torch.Generator().manual_seed(0)
    for radius in (1e-3, 1e-2, 1e-1):
        moved = bad + radius * torch.randn(200, bad.numel(), generator=gen, dtype=torch.float64)
        assert float(problem.loss(moved).min()) >= small.metadata["point_losses"]["theta_bad"] - 1e-12


def test_teacher_mixture_losses():
    data = construct("teacher-mixture", pi=0.7, samples=64, seed=3)
    problem = data.problem(data.default_architecture())
    for name, value in data.metadata["point_losses"].items():
        assert float(problem.loss(torch.as_tensor(data.points()[name]))) == pytest.approx(value, rel=1e-12)
    pure = construct("teacher-mixture", pi=1.0, samples=32, seed=3)
    assert pure.metadata["point_losses"]["theta_1"] == 0.0


def test_safran_shamir_population_loss():
    teacher = orthonormal_teacher(6, 2)
    assert torch.allclose(teacher @ teacher.T, torch.eye(6, dtype=torch.float64), atol=1e-12)
    assert float(population_loss(teacher, teacher)) == pytest.approx(0.0, abs=1e-12)
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(6, 6, generator=gen, dtype=torch.float64)
    x = torch.randn(300_000, 6, generator=gen, dtype=torch.float64)
    sample = ((torch.relu(x @ w.T).sum(1) - torch.relu(x @ teacher.T).sum(1)) ** 2).mean()
    assert float(population_loss(w, teacher)) == pytest.approx(float(sample), rel=0.02)


@pytest.mark.parametrize("family", ["relu-permutation", "teacher-mixture", "venturi", "safran-shamir"])
def test_families_are_deterministic(family):
    small = {"samples": 16}
    one, two = construct(family, **small), construct(family, **small)
    assert np.array_equal(one.x, two.x) and np.array_equal(one.y, two.y) and one.metadata == two.metadata


@pytest.mark.parametrize("argv", [
    ["relu-permutation", "--arch", "2-1-1"],
    ["relu-permutation", "--scale", "0"],
    ["teacher-mixture", "--pi", "1.5"],
    ["teacher-mixture", "--pi", "-0.1"],
    ["venturi", "--n", "2"],
    ["venturi", "--n", "4", "--p", "4"],
    ["venturi", "--alpha", "3", "--beta", "2"],
    ["safran-shamir", "--k", "5"],
])
def test_bad_options_exit_2_with_one_line(argv, tmp_path, capsys):
    out = tmp_path / "d.npz"
    assert main(["construct", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error" in err
    assert not out.exists()


def test_construct_help_documents_options(capsys):
    for family in ("relu-permutation", "teacher-mixture", "venturi", "safran-shamir"):
        try:
            code = main(["construct", family, "--help"])
        except SystemExit as stop:
            code = stop.code
        assert code in (0, None)
        text = capsys.readouterr().out
        assert "--seed" in text and "--samples" in text
