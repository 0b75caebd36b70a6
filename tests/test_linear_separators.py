"""Separators of bias-free linear nets: determinant separators of square layers (the
reduced-rank floor is the least loss of a rank-deficient product, checked against direct
minimisation over such products) and hyperplane separators of width-one layers (the floor is
below every point of the zero set that a search finds); the count refutes the non-strict width
claim with them, never above the floor."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sublevel.checks.counting.datasets import count_dataset
from sublevel.checks.counting.separators import hyperplane_floor, linear_separators, output_direction, reduced_rank_floor
from sublevel.checks.counting.sampling import SampleSettings
from sublevel.constructions.datasets import Dataset
from sublevel.theory import Architecture, Problem
from sublevel.theory.strategies import matrices, scales


def rank_constrained_minimum(problem: Problem, n_out: int, n_in: int, rank: int, starts: int = 12) -> float:
    """min over B = U V^T (U: n_out x rank, V: n_in x rank) of (1/N) ||X B^T - Y||^2, by L-BFGS."""
    if rank == 0:
        return float(problem.y.square().sum() / problem.num_samples)
    best = float("inf")
    generator = torch.Generator().manual_seed(0)
    for _ in range(starts):
        u = torch.randn(n_out, rank, generator=generator, dtype=torch.float64, requires_grad=True)
        v = torch.randn(n_in, rank, generator=generator, dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.LBFGS([u, v], max_iter=400, tolerance_grad=1e-13, tolerance_change=1e-16)

        def closure():
            optimizer.zero_grad()
            value = (problem.x @ (u @ v.T).T - problem.y).square().sum() / problem.num_samples
            value.backward()
            return value

        optimizer.step(closure)
        best = min(best, float(closure().detach()))
    return best


@given(n_in=st.integers(1, 3), n_out=st.integers(1, 3), rank=st.integers(0, 2), scale=scales(),
       data=st.data())
@settings(max_examples=50, deadline=None)
def test_reduced_rank_floor_is_the_rank_constrained_minimum(n_in, n_out, rank, scale, data):
    rank = min(rank, n_in, n_out)
    x = data.draw(matrices(10, n_in))
    y = data.draw(matrices(10, n_out, scale))
    problem = Problem(Architecture((n_in, n_out), "linear", bias=False), x, y)
    floor = reduced_rank_floor(problem, rank)
    searched = rank_constrained_minimum(problem, n_out, n_in, rank)
    zero = float(y.square().sum() / 10)
    assert floor <= searched + 1e-9 * zero  # a floor: never above what a rank-r map attains
    # and attained (Eckart-Young is tight): the truncated SVD of the least-squares fit, pulled
    # back through X, is a map of rank <= r with exactly that loss.
    fit = x @ torch.linalg.lstsq(x, y).solution
    u, s, vh = torch.linalg.svd(fit, full_matrices=False)
    truncated = (u[:, :rank] * s[:rank]) @ vh[:rank]
    b = torch.linalg.pinv(x) @ truncated
    assert torch.linalg.matrix_rank(b) <= rank
    attained = float((x @ b - y).square().sum() / 10)
    assert attained <= floor + 1e-9 * zero + 1e-300


def test_separators_only_for_square_layers_of_bias_free_linear_nets():
    x, y = torch.randn(8, 2, dtype=torch.float64), torch.randn(8, 2, dtype=torch.float64)
    square = linear_separators(Problem(Architecture((2, 2, 2), "linear", bias=False), x, y))
    assert [(s.kind, s.index) for s in square] == [("determinant", 1), ("determinant", 2)]
    assert linear_separators(Problem(Architecture((2, 3, 2), "linear", bias=False), x, y)) == []
    narrow = linear_separators(Problem(Architecture((2, 1, 2), "linear", bias=False), x, y))
    assert [(s.kind, s.index) for s in narrow] == [("hyperplane", 1)]
    # a width-one layer before a 1 x 1 last layer is the determinant separator already
    y1 = y[:, :1]
    assert [(s.kind, s.index) for s in linear_separators(Problem(Architecture((2, 1, 1), "linear", bias=False), x, y1))] \
        == [("determinant", 2)]
    assert linear_separators(Problem(Architecture((2, 2, 2), "relu", bias=False), x, y)) == []
    assert linear_separators(Problem(Architecture((2, 2, 2), "linear", bias=True), x, y)) == []


@pytest.mark.parametrize("spec, seed", [("2-1-1", 0), ("2-2-2", 2)])
def test_count_refutes_below_the_floor_and_not_above(spec, seed):
    """Below c_{n_l - 1} the minimisers' two signs of det W_l are proven apart (lower bound 2);
    above every floor no separator is active and the lower bound falls back to 1."""
    from sublevel.constructions import construct

    arch = Architecture.parse(spec, "linear", bias=False)
    data = construct("teacher", arch=spec, activation="linear", bias=0, samples=32, seed=seed)
    problem = data.problem(arch)
    floor = reduced_rank_floor(problem, arch.widths[1] - 1)
    settings_ = SampleSettings(starts=32, steps=300)
    below, above = count_dataset(data, arch, [0.5 * floor, 1.5 * floor], settings=settings_).brackets
    assert below.lower >= 2
    assert above.lower == 1


def test_scaled_data_give_the_same_separation():
    from sublevel.constructions import construct

    data = construct("teacher", arch="2-2-2", activation="linear", bias=0, samples=32, seed=2)
    arch = Architecture.parse("2-2-2", "linear", bias=False)
    scaled = Dataset(data.x, data.y * 1e-5, {})
    floor = reduced_rank_floor(scaled.problem(arch), 1)
    (bracket,) = count_dataset(scaled, arch, [0.5 * floor], settings=SampleSettings(starts=32, steps=300)).brackets
    assert bracket.lower >= 2 and np.isclose(floor, reduced_rank_floor(data.problem(arch), 1) * 1e-10)


def _on_the_hyperplane(arch: Architecture, theta: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    """theta with the rows of its last layer projected off ``direction``: then u^T W_L = 0, so
    <W_L ... W_{l+1}, u> = 0 exactly for every width-one layer l."""
    last = arch.layers(theta)[-1].weight
    projected = last - torch.outer(direction, direction @ last)
    weights = [layer.weight for layer in arch.layers(theta)[:-1]] + [projected]
    return arch.flatten(weights)


@given(spec=st.sampled_from(["2-1-2", "3-1-2", "2-1-3", "3-1-2-2", "2-2-1-2"]), samples=st.integers(2, 8),
       scale=scales(), data=st.data())
@settings(max_examples=50, deadline=None)
def test_hyperplane_floor_is_below_every_point_of_its_zero_set(spec, samples, scale, data):
    """Minimise the loss over the zero set {<W_L ... W_{l+1}, u*> = 0} (L-BFGS from several
    starts, each iterate projected onto the set): no point found may lie below the floor. A
    floor that forgot the residual term would be L(0), above these minima, and fail here."""
    arch = Architecture.parse(spec, "linear", bias=False)
    x = data.draw(matrices(samples, arch.widths[0]))
    y = data.draw(matrices(samples, arch.widths[-1], scale))
    problem = Problem(arch, x, y)
    zero = float(y.square().sum() / samples)
    (separator,) = [s for s in linear_separators(problem) if s.kind == "hyperplane"] or [None]
    direction = torch.tensor(output_direction(problem), dtype=torch.float64)
    floor = hyperplane_floor(problem, direction.numpy())
    assert floor <= zero * (1 + 1e-12)
    if separator is not None:
        assert separator.floor <= floor
    generator = torch.Generator().manual_seed(0)
    for _ in range(4):
        free = (arch.init(1, generator=generator)[0] * max(scale, 1e-3) ** 0.5).requires_grad_(True)
        optimizer = torch.optim.LBFGS([free], max_iter=300, tolerance_grad=1e-14, tolerance_change=1e-18)

        def closure():
            optimizer.zero_grad()
            value = problem.loss(_on_the_hyperplane(arch, free, direction)[None])[0]
            value.backward()
            return value

        optimizer.step(closure)
        point = _on_the_hyperplane(arch, free.detach(), direction)
        if separator is not None:  # the projection really lands on the separator's zero set
            assert abs(float(separator.values(arch, point[None])[0])) <= 1e-9 * (1 + float(point.norm())) ** arch.depth
        assert float(problem.loss(point[None])[0]) >= floor - 1e-9 * zero


def test_width_one_layer_refutes_below_the_floor_and_not_above():
    """3-1-2 on Gaussian data: least loss 1.94 (rank one), hyperplane floor 2.19. Between them
    the two signs of <W_2, u*> are proven apart; above the floor the lower bound is 1."""
    from sublevel.constructions import construct

    arch = Architecture.parse("3-1-2", "linear", bias=False)
    data = construct("gaussian", inputs=3, outputs=2, samples=20, seed=0)
    problem = data.problem(arch)
    (separator,) = linear_separators(problem)
    least = reduced_rank_floor(problem, 1)
    assert least < separator.floor
    below, above = count_dataset(data, arch, [(least + separator.floor) / 2, 1.2 * separator.floor],
                                 settings=SampleSettings(starts=32, steps=300)).brackets
    assert below.lower >= 2
    assert above.lower == 1
