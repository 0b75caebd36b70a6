"""What the peer libraries get wrong on a small CNN with BatchNorm, and that we do not.

Each test asserts our behaviour unconditionally; where the peer is installed (the ``test``
extra installs loss-landscapes, PyHessian and hessian-eigenthings) it also shows the peer's
behaviour on the same model, so a peer that fixes it makes the test say so. The timings and
errors of the README's comparison table come from ``bench/peers_small_cnn.py``.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

import sublevel
from sublevel.checks.landscapes.directions import flatten, parameters_of
from sublevel.checks.landscapes.hessian import HessianEvaluator


def _cnn() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, 3)).double()


@pytest.fixture(scope="module")
def setting():
    """A CNN trained a little (BatchNorm statistics from training), data, and the dense truth."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(48, 1, 8, 8, generator=g, dtype=torch.float64)
    y = (x[:, 0, :4].mean((1, 2)) > 0).long() + (x[:, 0, 4:].mean((1, 2)) > 0).long()
    model = _cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(60):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    model.eval()
    evaluator = HessianEvaluator(model, nn.CrossEntropyLoss(), (x, y), [])
    dense = torch.autograd.functional.hessian(evaluator._loss, flatten(parameters_of(model)))
    with torch.no_grad():
        loss = float(nn.functional.cross_entropy(model(x), y))
    return model, x, y, np.linalg.eigvalsh(dense.numpy()), loss


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _changed(model, state):
    return [k for k, v in model.state_dict().items() if not torch.equal(v, state[k])]


def test_a_model_in_train_mode_is_evaluated_as_trained_and_left_as_it_was(setting):
    """Train-mode BatchNorm: handed a model straight from its training loop, every helper of
    ours evaluates it in eval mode (its running statistics), and leaves its mode, parameters and
    statistics exactly as they were."""
    model, x, y, eig, loss = setting
    probe = copy.deepcopy(model).train()
    state = _state(probe)
    spectrum = sublevel.hessian_spectrum(probe, nn.CrossEntropyLoss(), (x, y), k=2, ends="top", trace_samples=0,
                                         density_vectors=0)
    np.testing.assert_allclose(spectrum.top, eig[-2:], rtol=1e-6)
    surface = sublevel.landscape(probe, nn.CrossEntropyLoss(), (x, y), steps=5)
    assert float(surface.values["loss"][2, 2]) == pytest.approx(loss, rel=1e-12)
    path = sublevel.connect(probe, probe, nn.CrossEntropyLoss(), (x, y), curve="linear", points=3)
    assert path.endpoints["a"]["loss"] == pytest.approx(loss, rel=1e-12)
    assert probe.training and not _changed(probe, state)


def test_hessian_eigenthings_on_a_train_mode_model_computes_another_loss_and_moves_its_statistics(setting):
    he = pytest.importorskip("hessian_eigenthings")
    model, x, y, eig, _ = setting
    probe = copy.deepcopy(model).train()
    state = _state(probe)
    operator = he.HessianOperator(probe, [(x, y)], he.supervised_loss(nn.CrossEntropyLoss()))
    theirs = he.lanczos(operator, k=2, which="LA", seed=0).eigenvalues.numpy()
    assert any("running_mean" in k for k in _changed(probe, state))  # the user's statistics, overwritten
    assert np.max(np.abs(np.sort(theirs) - eig[-2:]) / eig[-2:]) > 1e-3  # the train-mode Hessian, not the model's


def test_loss_landscapes_by_default_leaves_the_model_moved_and_evaluates_batch_statistics(setting):
    loss_landscapes = pytest.importorskip("loss_landscapes")
    from loss_landscapes.metrics import Loss

    model, x, y, _, loss = setting
    probe = copy.deepcopy(model).train()
    state = _state(probe)
    torch.manual_seed(0)
    values = loss_landscapes.random_plane(probe, Loss(nn.CrossEntropyLoss(), x, y), distance=1, steps=4,
                                          normalization="filter")
    moved = _changed(probe, state)
    assert "0.weight" in moved  # the caller's model ends at a point of the grid, not where it was
    ours = sublevel.landscape(copy.deepcopy(model).train(), nn.CrossEntropyLoss(), (x, y), steps=3)
    assert float(ours.values["loss"][1, 1]) == pytest.approx(loss, rel=1e-12)
    assert np.isfinite(values).all()


def test_pyhessian_switches_the_model_to_eval_and_stops_short_of_the_eigenvalue(setting):
    """PyHessian 0.1 sets ``model.eval()`` and never restores the mode, and its power iteration
    stops on a 1e-3 relative change of the estimate, which is not an error bound; ours reports
    each eigenvalue with a residual that is one (checked against the dense Hessian)."""
    model, x, y, eig, _ = setting
    ours = sublevel.hessian_spectrum(model, nn.CrossEntropyLoss(), (x, y), k=1, ends="top", trace_samples=0,
                                     density_vectors=0)
    assert ours.top_converged[0] and abs(ours.top[0] - eig[-1]) <= ours.top_residuals[0] + 1e-12 * eig[-1]
    pyhessian = pytest.importorskip("pyhessian")
    probe = copy.deepcopy(model).train()
    torch.manual_seed(0)
    top = pyhessian.hessian(probe, nn.CrossEntropyLoss(), data=(x, y), cuda=False).eigenvalues(top_n=1)[0][0]
    assert not probe.training  # the caller's model changed mode
    assert abs(top - eig[-1]) > 1e-9 * eig[-1]  # an estimate, with no bound attached


def test_hessian_eigenthings_agrees_with_ours_on_the_model_in_eval_mode(setting):
    """Where the peer is used as intended (eval mode, enough Lanczos steps), its converged top
    eigenvalues and ours agree with the dense Hessian and with each other."""
    he = pytest.importorskip("hessian_eigenthings")
    model, x, y, eig, _ = setting
    ours = sublevel.hessian_spectrum(model, nn.CrossEntropyLoss(), (x, y), k=3, ends="top", trace_samples=30,
                                     density_vectors=0)
    operator = he.HessianOperator(copy.deepcopy(model), [(x, y)], he.supervised_loss(nn.CrossEntropyLoss()))
    theirs = he.lanczos(operator, k=3, which="LA", max_iter=40, seed=0)
    assert bool(theirs.converged.all())
    np.testing.assert_allclose(np.sort(theirs.eigenvalues.numpy()), ours.top, rtol=1e-5)
    np.testing.assert_allclose(ours.top, eig[-3:], rtol=1e-6)
    trace = he.trace(operator, seed=0)
    assert abs(ours.trace - eig.sum()) <= 5 * ours.trace_error + 1e-9 * abs(eig).sum()
    assert abs(float(trace.estimate) - eig.sum()) <= 0.05 * abs(eig).sum()
