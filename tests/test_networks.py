"""Architecture layout and the batched loss against a one-network-at-a-time nn.Module loop."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sublevel.theory.strategies import problems
from sublevel.theory import Architecture, InputError, Problem
from conftest import gaussian_problem


def module_for(arch: Architecture, theta: torch.Tensor) -> torch.nn.Module:
    """An equivalent torch.nn.Sequential with theta loaded into it."""
    layers = []
    for l, view in enumerate(arch.layers(theta)):
        linear = torch.nn.Linear(view.weight.shape[1], view.weight.shape[0], bias=arch.bias).double()
        with torch.no_grad():
            linear.weight.copy_(view.weight)
            if arch.bias:
                linear.bias.copy_(view.bias)
        layers.append(linear)
        if l < arch.depth - 1:
            layers.append(_Act(arch.activation_fn))
    return torch.nn.Sequential(*layers)


class _Act(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, z):
        return self.fn(z)


@given(problems(), st.integers(1, 6))
@settings(max_examples=60, deadline=None)
def test_batched_loss_equals_module_loop(problem, k):
    theta = problem.architecture.init(k, generator=torch.Generator().manual_seed(k))
    batched = problem.loss(theta)
    loop = []
    for row in theta:
        out = module_for(problem.architecture, row)(problem.x)
        loop.append(((out - problem.y) ** 2).sum() / problem.num_samples + problem.kappa * row.square().sum())
    torch.testing.assert_close(batched, torch.stack(loop), rtol=1e-12, atol=1e-12)


@given(problems())
@settings(max_examples=30, deadline=None)
def test_chunking_does_not_change_results(problem):
    theta = problem.architecture.init(7, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(problem.loss(theta, chunk=2), problem.loss(theta), rtol=1e-14, atol=1e-14)


def test_gradients_match_finite_differences():
    arch = Architecture.parse("2-3-1", "quadratic")
    g = torch.Generator().manual_seed(0)
    problem = gaussian_problem(arch, 5, g, kappa=0.1)
    theta = arch.init(3, generator=g)
    _, grad = problem.loss_and_grad(theta)
    eps = 1e-6
    for i in range(arch.num_params):
        e = torch.zeros(arch.num_params, dtype=torch.float64)
        e[i] = eps
        fd = (problem.loss(theta + e) - problem.loss(theta - e)) / (2 * eps)
        torch.testing.assert_close(grad[:, i], fd, rtol=1e-6, atol=1e-7)


def test_layout_views_write_through_and_round_trip():
    arch = Architecture((2, 3, 1), "relu", bias=True)
    theta = torch.arange(arch.num_params, dtype=torch.float64)
    w1, w2 = arch.layers(theta)
    assert w1.weight.shape == (3, 2) and w1.bias.shape == (3,) and w2.weight.shape == (1, 3)
    assert arch.num_params == 2 * 3 + 3 + 3 + 1
    torch.testing.assert_close(arch.flatten([w1.weight, w2.weight], [w1.bias, w2.bias]), theta)
    w1.weight[0, 0] = -5
    assert theta[0] == -5


def test_float32_and_elementwise_callable():
    arch = Architecture((3, 4, 2), torch.tanh)
    x = torch.randn(6, 3)
    problem = Problem(arch, x, torch.randn(6, 2))
    assert problem.dtype == torch.float32
    assert problem.loss(arch.init(5, dtype=torch.float32)).shape == (5,)
    assert arch.activation_name == "tanh"


@pytest.mark.parametrize("widths, activation, message", [
    ((2, 0, 1), "relu", "every width must be >= 1"),
    ((2,), "relu", "at least two widths"),
    ((2, 3, 1), "sigmoidish", "unknown activation"),
])
def test_bad_architectures(widths, activation, message):
    with pytest.raises(InputError, match=message):
        Architecture(widths, activation)


def test_bad_data():
    arch = Architecture.parse("2-3-1")
    with pytest.raises(InputError, match="NaN or inf"):
        Problem(arch, torch.tensor([[float("nan"), 0.0]]), torch.zeros(1, 1))
    with pytest.raises(InputError, match="needs \\(N, 2\\)"):
        Problem(arch, torch.zeros(4, 3), torch.zeros(4, 1))
    with pytest.raises(InputError, match="samples"):
        Problem(arch, torch.zeros(4, 2), torch.zeros(3, 1))
    with pytest.raises(InputError, match="length 5"):
        Problem(arch, torch.zeros(4, 2), torch.zeros(4, 1)).loss(torch.zeros(2, 5))
