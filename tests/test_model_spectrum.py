"""sublevel.hessian_spectrum on any torch model: against the dense Hessian, with its files."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import sublevel
from sublevel.checks.landscapes.directions import flatten, parameters_of
from sublevel.checks.landscapes.hessian import HessianEvaluator
from sublevel.theory.errors import InputError


def _model_and_data(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 4)).double()
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(20, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (20,), generator=g)
    return model, torch.nn.CrossEntropyLoss(), x, y


def _dense(model, loss_fn, x, y) -> torch.Tensor:
    from torch.autograd.functional import hessian

    evaluator = HessianEvaluator(model, loss_fn, (x, y), [])
    return torch.linalg.eigvalsh(hessian(evaluator._loss, flatten(parameters_of(model))))


@pytest.mark.parametrize("seed", [0, 1])
def test_extremes_trace_and_density_against_the_dense_hessian(seed):
    model, loss_fn, x, y = _model_and_data(seed)
    before = copy.deepcopy(model.state_dict())
    model.train()
    spectrum = sublevel.hessian_spectrum(model, loss_fn, (x, y), k=3, trace_samples=400)
    eig = _dense(model, loss_fn, x, y).numpy()
    assert model.training and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert spectrum.converged and spectrum.parameters == eig.size
    scale = np.abs(eig).max()
    np.testing.assert_allclose(spectrum.bottom, eig[:3], atol=1e-6 * scale, rtol=0)
    np.testing.assert_allclose(spectrum.top, eig[-3:], atol=1e-6 * scale, rtol=0)
    for value, residual in zip(spectrum.bottom + spectrum.top, spectrum.bottom_residuals + spectrum.top_residuals):
        assert np.abs(eig - value).min() <= residual + 1e-12 * scale  # the residual bounds the error
    assert abs(spectrum.trace - eig.sum()) <= 4 * spectrum.trace_error
    assert sum(spectrum.density_weights) == pytest.approx(1.0, abs=1e-9)
    # SLQ's first moment is the trace / P, exactly in expectation; loosely here
    assert np.dot(spectrum.density_nodes, spectrum.density_weights) == pytest.approx(eig.mean(), abs=0.5 * scale)
    assert "NOT CONVERGED" not in spectrum.describe() and "it does not prove them" in spectrum.describe()


def test_an_unconverged_end_is_flagged_never_reported_as_converged():
    model, loss_fn, x, y = _model_and_data()
    spectrum = sublevel.hessian_spectrum(model, loss_fn, (x, y), k=3, tol=1e-14, products=3, trace_samples=0,
                                         density_steps=2, density_vectors=1)
    eig = _dense(model, loss_fn, x, y).numpy()
    scale = np.abs(eig).max()
    for value, residual, ok in zip(spectrum.top, spectrum.top_residuals, spectrum.top_converged):
        if ok:
            assert np.abs(eig - value).min() <= residual + 1e-12 * scale
    assert not spectrum.converged and "NOT CONVERGED" in spectrum.describe()


def test_files_round_trip_and_plot(tmp_path):
    model, loss_fn, x, y = _model_and_data()
    spectrum = sublevel.hessian_spectrum(model, loss_fn, [(x[:7], y[:7]), (x[7:], y[7:])], k=2, trace_samples=10)
    for name in ("s.json", "s.npz"):
        spectrum.save(tmp_path / name)
        assert sublevel.HessianSpectrum.load(tmp_path / name) == spectrum
    spectrum.plot(tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 1000
    with pytest.raises(InputError):
        spectrum.save(tmp_path / "s.txt")
    with pytest.raises(InputError):
        spectrum.plot(tmp_path / "missing" / "s.png")


def test_batches_give_the_spectrum_of_the_whole_data_set():
    model, loss_fn, x, y = _model_and_data()
    whole = sublevel.hessian_spectrum(model, loss_fn, (x, y), k=2, trace_samples=10)
    split = sublevel.hessian_spectrum(model, loss_fn, [(x[:7], y[:7]), (x[7:], y[7:])], k=2, trace_samples=10)
    np.testing.assert_allclose(split.top, whole.top, rtol=1e-9)
    np.testing.assert_allclose(split.bottom, whole.bottom, atol=1e-9 * whole.scale)


@pytest.mark.parametrize("options", [{"k": 0}, {"k": 44}, {"tol": 0.0}, {"products": 0}, {"trace_samples": True}])
def test_bad_options_raise_input_error(options):
    model, loss_fn, x, y = _model_and_data()
    with pytest.raises(InputError):
        sublevel.hessian_spectrum(model, loss_fn, (x, y), **options)
