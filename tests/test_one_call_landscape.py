"""sublevel.landscape(model, loss, data): values at every grid point, resuming, plotting, errors."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import sublevel
from sublevel.checks.landscapes.directions import parameters_of, random_direction
from sublevel.theory.errors import InputError


def _model_and_data():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.BatchNorm1d(6), torch.nn.Tanh(),
                                torch.nn.Linear(6, 3)).double()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(25, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (25,), generator=g)
    with torch.no_grad():
        model.train()(x * 2)  # running statistics of its own
    return model, torch.nn.CrossEntropyLoss(), x, y


@pytest.mark.parametrize("dims", [1, 2])
def test_every_grid_point_is_the_model_at_that_point(dims):
    model, loss_fn, x, y = _model_and_data()
    before = copy.deepcopy(model.state_dict())
    surface = sublevel.landscape(model, loss_fn, (x, y), dims=dims, steps=4, span=0.5, seed=3)
    assert model.training and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    theta = parameters_of(model)
    directions = [random_direction(theta, 3 + j) for j in range(dims)]
    probe = copy.deepcopy(model).eval()
    for index in np.ndindex(surface.grid.shape):
        c = [surface.grid.axes[j][index[j]] for j in range(dims)]
        with torch.no_grad():
            for name, p in probe.named_parameters():
                p.copy_(theta[name] + sum(cj * d[name] for cj, d in zip(c, directions)))
            out = probe(x)
        assert surface.values["loss"][index] == pytest.approx(float(loss_fn(out, y)), rel=1e-10)
        assert surface.values["accuracy"][index] == pytest.approx(float((out.argmax(1) == y).double().mean()))


def test_resumes_from_its_file_and_plots(tmp_path):
    model, loss_fn, x, y = _model_and_data()
    path = tmp_path / "s.npz"
    first = sublevel.landscape(model, loss_fn, (x, y), steps=5, path=path)
    again = sublevel.landscape(model, loss_fn, (x, y), steps=5, path=path)
    np.testing.assert_array_equal(first.values["loss"], again.values["loss"])
    first.plot(tmp_path / "s.png", kind="filled")
    assert (tmp_path / "s.png").stat().st_size > 1000
    with pytest.raises(InputError):
        first.plot(tmp_path / "s.png", metric="nothing")


@pytest.mark.parametrize("options", [{"dims": 3}, {"steps": 1}, {"span": 0.0}, {"span": float("inf")},
                                     {"normalization": "layer"}])
def test_bad_options_raise_input_error(options):
    model, loss_fn, x, y = _model_and_data()
    with pytest.raises(InputError):
        sublevel.landscape(model, loss_fn, (x, y), **options)


@pytest.mark.parametrize("data", [[], iter([]), (torch.randn(4, 5), torch.randn(4, 1))])
def test_empty_loaders_and_misfit_data_raise_input_error_in_both_helpers(data):
    model = torch.nn.Linear(2, 1)
    for helper in (sublevel.landscape, sublevel.hessian_spectrum):
        with pytest.raises(InputError):
            helper(model, torch.nn.MSELoss(), data)
