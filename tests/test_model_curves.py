"""sublevel.connect: curves between two trained models of any architecture."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import sublevel
from sublevel.checks.landscapes.interpolation import interpolate
from sublevel.theory.errors import InputError


def _data(seed: int = 0, n: int = 60):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    y = ((x[:, 0] * x[:, 1]) > 0).long()  # XOR-like: needs the hidden units
    return x, y


def _trained(seed: int, x, y, hidden: int = 16, bn: bool = False, steps: int = 300):
    torch.manual_seed(seed)
    layers = [torch.nn.Linear(2, hidden)] + ([torch.nn.BatchNorm1d(hidden)] if bn else []) + \
        [torch.nn.ReLU(), torch.nn.Linear(hidden, 2)]
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return model.eval()


def _permuted(model: torch.nn.Sequential) -> torch.nn.Sequential:
    """The same function with its hidden units in reverse order: a different minimum."""
    other = copy.deepcopy(model)
    order = torch.arange(model[0].out_features).flip(0)
    with torch.no_grad():
        other[0].weight.copy_(model[0].weight[order])
        other[0].bias.copy_(model[0].bias[order])
        other[-1].weight.copy_(model[-1].weight[:, order])
    return other


def test_linear_curve_equals_interpolation_and_its_ends_are_the_models():
    x, y = _data()
    a, b = _trained(0, x, y), _trained(1, x, y)
    path = sublevel.connect(a, b, torch.nn.CrossEntropyLoss(), (x, y), curve="linear", points=11)
    reference = interpolate(a, b, torch.nn.CrossEntropyLoss(), {"train": (x, y)}, alphas=np.linspace(0, 1, 11))
    np.testing.assert_allclose(path.loss, reference.curves["train_loss"], rtol=1e-5)  # float32 models
    assert path.loss[0] == pytest.approx(path.endpoints["a"]["loss"], rel=1e-6)
    assert path.loss[-1] == pytest.approx(path.endpoints["b"]["loss"], rel=1e-6)
    assert not path.certified and "not bounded" in path.describe()


def test_a_trained_bezier_curve_lowers_the_barrier_between_permuted_copies():
    """Garipov et al.'s finding on the simplest case: the straight line between a net and its
    permuted copy (the same function) crosses a barrier; a trained Bezier curve goes around
    it. The models are not modified."""
    x, y = _data()
    a = _trained(0, x, y)
    b = _permuted(a)
    state = copy.deepcopy(a.state_dict())
    linear = sublevel.connect(a, b, torch.nn.CrossEntropyLoss(), (x, y), curve="linear", points=21)
    bezier = sublevel.connect(a, b, torch.nn.CrossEntropyLoss(), (x, y), curve="bezier", points=21, steps=400)
    assert all(torch.equal(v, state[k]) for k, v in a.state_dict().items())
    assert linear.endpoints["a"]["loss"] == pytest.approx(linear.endpoints["b"]["loss"], rel=1e-5)
    assert linear.barrier > 0.1
    assert bezier.barrier < 0.5 * linear.barrier
    assert bezier.loss[0] == pytest.approx(bezier.endpoints["a"]["loss"], rel=1e-6)


def test_batchnorm_statistics_are_recomputed_along_the_curve_and_said(tmp_path):
    x, y = _data()
    a, b = _trained(0, x, y, bn=True), _trained(1, x, y, bn=True)
    path = sublevel.connect(a, b, torch.nn.CrossEntropyLoss(), [(x[:30], y[:30]), (x[30:], y[30:])],
                            curve="polychain", points=5, steps=50)
    assert path.batchnorm == "recompute" and any("recomputed" in note for note in path.notes)
    assert path.accuracy is not None and len(path.accuracy) == 5
    path.save(tmp_path / "p.json")
    path.plot(tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000


@pytest.mark.parametrize("options", [{"curve": "spline"}, {"points": 1}, {"steps": -1}, {"lr": 0.0}])
def test_bad_options_raise_input_error(options):
    x, y = _data()
    a = _trained(0, x, y, steps=1)
    with pytest.raises(InputError):
        sublevel.connect(a, a, torch.nn.CrossEntropyLoss(), (x, y), **options)


def test_different_architectures_are_refused():
    x, y = _data()
    with pytest.raises(InputError):
        sublevel.connect(_trained(0, x, y, steps=1), _trained(0, x, y, hidden=8, steps=1),
                         torch.nn.CrossEntropyLoss(), (x, y))


def test_streamed_data_give_the_same_values_without_moving_the_data_whole():
    """Streaming (one batch moved and cast at a time) changes where the data live, not the
    results: the landscape values, the Hessian spectrum and the curve are the same, and the
    streamed batches keep the caller's tensors (float32 here, the model float64)."""
    from sublevel.checks.landscapes.evaluation import SliceEvaluator, as_batches
    from sublevel.checks.landscapes.directions import parameters_of, random_direction

    x, y = _data(n=90)
    model = _trained(0, x, y).double()
    batches = [(x[i:i + 30], y[i:i + 30]) for i in range(0, 90, 30)]
    streamed = as_batches(batches).to(torch.float64, "cpu", stream=True)
    assert streamed.streamed and all(b[0].dtype == torch.float32 for b in streamed.batches)
    assert all(b[0].dtype == torch.float64 for b in streamed)
    d = [random_direction(parameters_of(model), seed=s) for s in (1, 2)]
    grid = torch.tensor([[0.0, 0.0], [0.3, -0.2], [-1.0, 0.5]], dtype=torch.float64)
    plain = SliceEvaluator(model, torch.nn.CrossEntropyLoss(), batches, d)(grid)
    lazy = SliceEvaluator(model, torch.nn.CrossEntropyLoss(), batches, d, stream=True)(grid)
    torch.testing.assert_close(lazy["loss"], plain["loss"], rtol=1e-12, atol=0)
    full = sublevel.hessian_spectrum(model, torch.nn.CrossEntropyLoss(), batches, k=2, trace_samples=6)
    part = sublevel.hessian_spectrum(model, torch.nn.CrossEntropyLoss(), batches, k=2, trace_samples=6, stream=True)
    np.testing.assert_allclose(part.top, full.top, rtol=1e-9)
    np.testing.assert_allclose(part.bottom, full.bottom, rtol=1e-9, atol=1e-12 * abs(full.top[-1]))
