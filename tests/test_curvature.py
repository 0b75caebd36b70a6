"""Hessian spectra from Hessian-vector products: agreement with the dense Hessian, residuals
that bound the error, unconverged pairs reported as such, trace and density estimators."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch.func import functional_call

from sublevel.checks.curvature.spectrum import (extreme_eigenpairs, hessian_vector_product, hutchinson_trace,
                                                smoothed_density, spectral_density)
from sublevel.checks.landscapes.hessian import HessianEvaluator
from sublevel.theory.errors import InputError


def _flat_loss(model, loss, x, y):
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def unflatten(vector):
        out, start = {}, 0
        for name, shape in zip(names, shapes):
            out[name] = vector[start:start + shape.numel()].reshape(shape)
            start += shape.numel()
        return out
    return (lambda vector: loss(functional_call(model, unflatten(vector), (x,)), y)), flat


def _mlp(loss):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 12), torch.nn.Tanh(), torch.nn.Linear(12, 12), torch.nn.Tanh(),
                                torch.nn.Linear(12, 2)).double()
    x = torch.randn(60, 3, dtype=torch.float64)
    y = torch.randn(60, 2, dtype=torch.float64) if loss == "mse" else torch.randint(0, 2, (60,))
    return _flat_loss(model, torch.nn.MSELoss() if loss == "mse" else torch.nn.CrossEntropyLoss(), x, y)


@pytest.mark.parametrize("loss", ["mse", "cross-entropy"])
def test_extreme_eigenpairs_match_the_dense_hessian_to_1e_6(loss):
    """nn.MSELoss has no forward-mode derivative of its backward (the product then goes
    reverse-over-reverse); both losses agree with eigvalsh of the dense Hessian."""
    f, flat = _mlp(loss)
    eig = np.linalg.eigvalsh(torch.autograd.functional.hessian(f, flat).numpy())
    low, top = extreme_eigenpairs(hessian_vector_product(f, flat), flat.numel(), k=3)
    assert low.all_converged and top.all_converged
    scale = np.abs(eig).max()
    np.testing.assert_allclose(low.values, eig[:3], atol=1e-6 * scale)
    np.testing.assert_allclose(top.values, eig[-3:], atol=1e-6 * scale)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 1000), size=st.integers(8, 60), budget=st.integers(1, 400),
       scale=st.sampled_from([1e-6, 1.0, 1e6]))
def test_every_residual_bounds_the_distance_to_a_true_eigenvalue(seed, size, budget, scale):
    """For any budget (converged or not), each reported theta lies within its residual of an
    eigenvalue of the operator; a pair marked converged is within tol x scale."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((size, size)))
    spectrum = scale * rng.standard_normal(size) * np.logspace(0, 3, size)
    matrix = torch.as_tensor((q * spectrum) @ q.T)
    low, top = extreme_eigenpairs(lambda v: matrix @ v, size, k=2, tol=1e-8, max_products=budget, seed=seed)
    for pairs in (low, top):
        for i, (theta, residual, converged) in enumerate(zip(pairs.values, pairs.residuals, pairs.converged)):
            if np.isnan(theta):
                assert not converged and residual == np.inf
                continue
            vector = torch.as_tensor(pairs.vectors[:, i])
            # the reported residual is the one computed afresh, up to rounding (and never below it)
            fresh = float((matrix @ vector - theta * vector).norm())
            rounding = 1e-12 * np.abs(spectrum).max()
            assert fresh - rounding <= residual <= fresh * (1 + 1e-6) + rounding
            assert np.min(np.abs(spectrum - theta)) <= residual * (1 + 1e-6) + 1e-12 * np.abs(spectrum).max()
            if converged:
                assert residual <= 1e-8 * pairs.scale


def test_a_tiny_budget_is_reported_unconverged_and_the_map_leaves_the_point_blank():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)).double()
    x, y = torch.randn(40, 4, dtype=torch.float64), torch.randint(0, 3, (40,))
    starved = HessianEvaluator(model, torch.nn.CrossEntropyLoss(), (x, y), [], products=3)
    values = starved(torch.zeros(1, 0, dtype=torch.float64))
    assert torch.isnan(values["ratio"]).all() and torch.isnan(values["lambda_min"]).all()
    assert (values["residual"] > 1e-6).all()
    enough = HessianEvaluator(model, torch.nn.CrossEntropyLoss(), (x, y), [])(torch.zeros(1, 0, dtype=torch.float64))
    assert torch.isfinite(enough["ratio"]).all() and (enough["residual"] <= 1e-6).all()


def test_a_finite_but_unconverged_pair_is_not_drawn(monkeypatch):
    """The map's rule itself: values whose residual exceeds the tolerance become NaN."""
    import sublevel.checks.landscapes.hessian as hessian
    from sublevel.checks.curvature.spectrum import Eigenpairs

    def rough(matvec, size, **options):
        pairs = Eigenpairs(np.array([-0.5]), np.zeros((size, 1)), np.array([1e-2]), np.array([False]), 1.0, 10)
        return pairs, pairs
    monkeypatch.setattr(hessian, "extreme_eigenpairs", rough)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1)).double()
    x, y = torch.randn(10, 2, dtype=torch.float64), torch.randn(10, 1, dtype=torch.float64)
    values = hessian.HessianEvaluator(model, torch.nn.MSELoss(), (x, y), [])(torch.zeros(1, 0, dtype=torch.float64))
    assert torch.isnan(values["ratio"]).all() and torch.isnan(values["lambda_max"]).all()
    assert float(values["residual"][0]) == pytest.approx(1e-2)


def test_hutchinson_trace_and_slq_density_match_the_spectrum():
    rng = np.random.default_rng(0)
    size = 200
    q, _ = np.linalg.qr(rng.standard_normal((size, size)))
    spectrum = np.concatenate([rng.normal(-1.0, 0.1, size // 2), rng.normal(3.0, 0.2, size // 2)])
    matrix = torch.as_tensor((q * spectrum) @ q.T)
    trace, error = hutchinson_trace(lambda v: matrix @ v, size, samples=300, seed=1)
    assert abs(trace - spectrum.sum()) <= 4 * error and error < 0.1 * abs(spectrum).sum()
    nodes, weights = spectral_density(lambda v: matrix @ v, size, steps=60, vectors=20, seed=2)
    assert weights.sum() == pytest.approx(1.0)
    assert float(nodes @ weights) == pytest.approx(spectrum.mean(), abs=0.15)  # first moment: tr(H) / P
    grid = np.linspace(-2, 4.5, 651)
    density = smoothed_density(nodes, weights, grid, width=0.1)
    assert float(density.sum() * (grid[1] - grid[0])) == pytest.approx(1.0, abs=1e-3)
    # two bumps of equal mass: half the mass on each side of 1
    assert float(density[grid < 1].sum() * (grid[1] - grid[0])) == pytest.approx(0.5, abs=0.1)


@settings(max_examples=30, deadline=None)
@given(size=st.integers(12, 80), rank=st.integers(1, 6), log_scale=st.floats(-6, 6), seed=st.integers(0, 2 ** 16),
       method=st.sampled_from(["hutch++", "hutchinson"]))
def test_trace_estimates_are_within_their_error_bars(size, rank, log_scale, seed, method):
    """A few dominant eigenvalues over a small bulk (a trained net's Hessian in miniature): both
    estimators land within 5 standard errors of the trace; Hutch++'s exact part removes the
    dominant directions, so its error is at most plain Hutchinson's bound on the bulk alone."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((size, size)))
    spectrum = np.concatenate([rng.uniform(50, 100, rank), rng.normal(0.0, 1.0, size - rank)]) * 10.0 ** log_scale
    matrix = torch.as_tensor((q * spectrum) @ q.T)
    trace, error = hutchinson_trace(lambda v: matrix @ v, size, samples=60, seed=seed, method=method)
    assert abs(trace - spectrum.sum()) <= 5 * error + 1e-9 * np.abs(spectrum).sum()
    if method == "hutch++" and 20 >= rank:  # the sketch of 20 columns holds the dominant part
        bulk = np.sqrt(2 * np.sum(spectrum[rank:] ** 2))  # Hutchinson's deviation on the bulk alone
        assert abs(trace - spectrum.sum()) <= 5 * bulk / np.sqrt(20) + 1e-9 * np.abs(spectrum).sum()


def test_hutch_plus_plus_beats_hutchinson_where_a_few_eigenvalues_dominate():
    rng = np.random.default_rng(0)
    size = 300
    q, _ = np.linalg.qr(rng.standard_normal((size, size)))
    spectrum = np.concatenate([[400.0, 200.0, 90.0], rng.normal(0.0, 0.5, size - 3)])
    matrix = torch.as_tensor((q * spectrum) @ q.T)
    errors = {method: np.mean([abs(hutchinson_trace(lambda v: matrix @ v, size, samples=99, seed=s,
                                                    method=method)[0] - spectrum.sum()) for s in range(5)])
              for method in ("hutch++", "hutchinson")}
    assert errors["hutch++"] < 0.1 * errors["hutchinson"]


def test_bad_requests_are_input_errors():
    with pytest.raises(InputError):
        extreme_eigenpairs(lambda v: v, 5, k=5)
    with pytest.raises(InputError):
        extreme_eigenpairs(lambda v: v, 5, ends="middle")
    with pytest.raises(InputError):
        hutchinson_trace(lambda v: v, 5, samples=1, method="hutchinson")
    with pytest.raises(InputError):
        hutchinson_trace(lambda v: v, 5, samples=5)
    with pytest.raises(InputError):
        hutchinson_trace(lambda v: v, 5, samples=30, method="hutch")
