"""Canonical forms: idempotent, loss-preserving, constant on symmetry orbits; raw and modulo counts."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sublevel.checks.counting.symmetries import canonicalise, count_minima, permute
from sublevel.constructions import construct
from sublevel.theory.strategies import architectures, problems
from sublevel.theory.errors import InputError
from sublevel.theory.networks import Architecture
from conftest import gaussian_problem

ARCHS = architectures(activations=("linear", "relu", "quadratic"), max_depth=3, max_width=4)


def random_symmetry(architecture, theta, seed):
    """theta moved by a random permutation, positive rescaling and (where allowed) sign flips."""
    g = torch.Generator().manual_seed(seed)
    theta = theta.clone()
    degree = {"relu": 1, "quadratic": 2, "linear": 1}[architecture.activation_name]
    for layer in range(1, architecture.depth):
        views = architecture.layers(theta)
        w_in, b_in, w_out = views[layer - 1].weight, views[layer - 1].bias, views[layer].weight
        c = torch.exp(torch.randn(theta.shape[0], w_in.shape[1], generator=g, dtype=theta.dtype))
        if architecture.activation_name != "relu":
            c = c * torch.where(torch.rand(c.shape, generator=g) < 0.5, -1.0, 1.0).to(theta.dtype)
        w_in *= c.unsqueeze(-1)
        if b_in is not None:
            b_in *= c
        w_out /= (c ** degree if degree == 2 else c).unsqueeze(-2)
    orders = [torch.stack([torch.randperm(n, generator=g) for _ in range(theta.shape[0])])
              for n in architecture.widths[1:-1]]
    return permute(architecture, theta, orders)


@settings(max_examples=40, deadline=None)
@given(problems(architecture=ARCHS, kappa=0.0), st.integers(0, 2**31 - 1))
def test_idempotent_loss_preserving_and_orbit_invariant(problem, seed):
    arch = problem.architecture
    theta = arch.init(3, generator=torch.Generator().manual_seed(seed))
    once = canonicalise(arch, theta)
    assert torch.allclose(canonicalise(arch, once), once, rtol=1e-12, atol=1e-12)
    assert torch.allclose(problem.loss(once), problem.loss(theta), rtol=1e-9, atol=1e-12)
    moved = random_symmetry(arch, theta, seed + 1)
    assert torch.allclose(problem.loss(moved), problem.loss(theta), rtol=1e-9, atol=1e-12)
    assert torch.allclose(canonicalise(arch, moved), once, rtol=1e-9, atol=1e-9)
    # Weight matching to a reference: idempotent and lands every orbit point on one form.
    matched = canonicalise(arch, moved, reference=theta[0])
    assert torch.allclose(canonicalise(arch, matched, reference=theta[0]), matched, rtol=1e-12, atol=1e-12)
    assert torch.allclose(matched[0], canonicalise(arch, theta[0], reference=theta[0]), atol=1e-9)


def test_ridge_keeps_loss_without_rescaling():
    arch = Architecture.parse("2-3-1", "relu")
    g = torch.Generator().manual_seed(0)
    problem = gaussian_problem(arch, 5, g, kappa=0.1)
    theta = arch.init(4, generator=g)
    canon = canonicalise(arch, theta, rescale_units=False)
    assert torch.allclose(problem.loss(canon), problem.loss(theta), rtol=1e-12)


def test_relu_permutation_counts_raw_and_modulo():
    data = construct("relu-permutation")
    arch = data.default_architecture()
    points = torch.as_tensor(np.stack([data.points()["theta_A"], data.points()["theta_B"]]))
    assert count_minima(arch, points) == {"raw": 2, "modulo symmetry": 1}


def test_bad_input():
    arch = Architecture.parse("2-3-1", "relu")
    with pytest.raises(InputError):
        canonicalise(arch, torch.ones(5))
    with pytest.raises(InputError):
        canonicalise(arch, torch.full((arch.num_params,), float("nan")))
    with pytest.raises(InputError):
        canonicalise(Architecture.parse("2-3-1", torch.tanh), torch.ones(Architecture.parse("2-3-1").num_params))


@settings(max_examples=30, deadline=None)
@given(activation=st.sampled_from(["relu", "quadratic", "linear"]), width=st.integers(1, 6),
       log_scale=st.floats(-3, 3), seed=st.integers(0, 2 ** 16))
def test_balanced_rescaling_keeps_the_function_and_equalises_each_unit(activation, width, log_scale, seed):
    """Balanced canonical forms: the same outputs, each hidden unit's incoming and outgoing norms
    equal (r / c = s c^degree), and for degree-1 units a total norm no larger than the input's."""
    from sublevel.checks.counting.symmetries import DEGREE, _units

    arch = Architecture((3, width, 2), activation, bias=False)
    theta = arch.init(1, generator=torch.Generator().manual_seed(seed)).double()
    w_in, _, _ = _units(arch, theta, 1)
    w_in *= 10.0 ** log_scale  # an unbalanced point on the orbit
    out = canonicalise(arch, theta[0], rescale_units="balanced")
    x = torch.randn(7, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    torch.testing.assert_close(arch.forward(out.unsqueeze(0), x), arch.forward(theta, x), rtol=1e-9, atol=1e-9)
    w_in, _, w_out = _units(arch, out.unsqueeze(0), 1)
    incoming, outgoing = w_in.square().sum(-1).sqrt()[0], w_out.square().sum(-2).sqrt()[0]
    scale = float(out.abs().max())
    torch.testing.assert_close(incoming, outgoing, rtol=1e-9, atol=1e-12 * scale)
    if DEGREE[activation] == 1:  # r^2 + s^2 at fixed r s is smallest where r = s
        assert float(out.norm()) <= float(theta.norm()) * (1 + 1e-12)
