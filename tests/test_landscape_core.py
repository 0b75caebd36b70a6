"""Landscape API: filter-normalisation invariance, batched == looped, resume == one-shot,
Hessian extremes, PCA directions, interpolation with BatchNorm, grid component counts."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from sublevel.checks.landscapes.directions import check_direction, parameters_of, random_direction
from sublevel.checks.landscapes.evaluation import SliceEvaluator, as_batches
from sublevel.checks.landscapes.hessian import HessianEvaluator
from sublevel.checks.landscapes.interpolation import interpolate
from sublevel.checks.landscapes.models import ResNet
from sublevel.checks.landscapes.quantify import grid_components
from sublevel.checks.landscapes.surfaces import Grid, Surface, compute_surface
from sublevel.checks.landscapes.trajectories import pca_directions
from sublevel.theory.errors import InputError


def _relu_net(seed: int = 0, widths=(3, 8, 6, 2)) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    layers = []
    for k, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers += [torch.nn.Linear(a, b)] + ([torch.nn.ReLU()] if k < len(widths) - 2 else [])
    return torch.nn.Sequential(*layers).double()


def _data(n=40, d=3, classes=2, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randint(0, classes, (n,), generator=g)


def _curve(model, x, y, normalization):
    theta = parameters_of(model)
    d = random_direction(theta, seed=5, normalization=normalization)
    ev = SliceEvaluator(model, torch.nn.CrossEntropyLoss(), (x, y), [d])
    return ev(torch.linspace(-1, 1, 21, dtype=torch.float64)[:, None])["loss"]


def test_filter_normalised_curve_is_invariant_under_layer_rescaling():
    """docs/claims.rst, section 7: scale layer k by c and layer k+1 by 1/c; the filter-normalised curve stays
    the same to 1e-5, the unnormalised one moves."""
    model = _relu_net()
    x, y = _data()
    scaled = copy.deepcopy(model)
    c = 7.0
    with torch.no_grad():  # layers 0 and 2 are Linear, ReLU between (positively homogeneous)
        scaled[0].weight.mul_(c)
        scaled[0].bias.mul_(c)
        scaled[2].weight.div_(c)
    # biases get 0 in a filter-normalised direction, but the rescaled net has the same outputs
    before, after = _curve(model, x, y, "filter"), _curve(scaled, x, y, "filter")
    assert torch.allclose(before, after, rtol=1e-5, atol=1e-8)
    raw_before, raw_after = _curve(model, x, y, "none"), _curve(scaled, x, y, "none")
    assert (raw_before - raw_after).abs().max() > 1e-2


def test_filter_normalisation_zeroes_biases_and_batchnorm():
    model = ResNet(8, width=2, skip=True)
    d = random_direction(parameters_of(model), seed=0)
    for name, value in d.items():
        if value.dim() <= 1:
            assert torch.count_nonzero(value) == 0, name
    conv = d["stem.0.weight"]
    theta = dict(model.named_parameters())["stem.0.weight"].detach()
    assert torch.allclose(conv.flatten(1).norm(dim=1), theta.flatten(1).norm(dim=1), rtol=1e-5)


class _Residual(torch.nn.Module):
    """Linear layers with a shortcut: not a Sequential MLP, but every module batches under vmap."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(4)
        self.a, self.b, self.c = torch.nn.Linear(3, 8), torch.nn.Linear(8, 3), torch.nn.Linear(3, 2)

    def forward(self, x):
        return self.c(x + self.b(torch.relu(self.a(x))))


@pytest.mark.parametrize("factory, path", [
    (lambda: _relu_net(), "sweep"),  # Sequential ReLU MLP: the exact line sweep
    (lambda: ResNet(8, width=2, skip=True, in_channels=1, num_classes=2).double().eval(), "loop"),  # convs, BN
    (lambda: _Residual().double(), "vmap"),
])
def test_batched_grid_equals_one_point_at_a_time(factory, path):
    """Every evaluation path against loading each point into a copy of the model; the user's
    model keeps its parameters, buffers and mode."""
    model = factory()
    if isinstance(model, ResNet):
        g = torch.Generator().manual_seed(3)
        x, y = torch.randn(12, 1, 10, generator=g, dtype=torch.float64), torch.randint(0, 2, (12,), generator=g)
        with torch.no_grad():  # non-trivial running statistics
            model.train()(x)
            model.eval()
    else:
        x, y = _data()
    theta = parameters_of(model)
    d1, d2 = random_direction(theta, 1), random_direction(theta, 2)
    loss_fn = torch.nn.CrossEntropyLoss()
    coefficients = torch.as_tensor(Grid.regular(2, -1, 1, 5).points())
    state = {name: value.clone() for name, value in model.state_dict().items()}
    mode = model.training
    evaluator = SliceEvaluator(model, loss_fn, [(x[:7], y[:7]), (x[7:], y[7:])], [d1, d2], chunk_size=4)
    assert evaluator.path == path
    batched = evaluator(coefficients)
    assert model.training == mode and all(torch.equal(value, state[name]) for name, value in model.state_dict().items())
    probe = copy.deepcopy(model).eval()
    for k, (a, b) in enumerate(coefficients.tolist()):
        with torch.no_grad():
            for name, p in probe.named_parameters():
                p.copy_(theta[name] + a * d1[name] + b * d2[name])
            out = probe(x)
        assert batched["loss"][k].item() == pytest.approx(loss_fn(out, y).item(), rel=1e-10, abs=1e-12)
        assert batched["accuracy"][k].item() == pytest.approx((out.argmax(1) == y).double().mean().item())


def test_first_layer_shortcut_matches_full_evaluation():
    model = ResNet(8, width=2, skip=False, num_classes=3).double().eval()
    x, y = torch.randn(9, 1, 8, dtype=torch.float64), torch.randint(0, 3, (9,))
    theta = parameters_of(model)
    dirs = [random_direction(theta, 1), random_direction(theta, 2)]
    c = torch.as_tensor(Grid.regular(2, -0.5, 0.5, 3).points())
    fast = SliceEvaluator(model, torch.nn.CrossEntropyLoss(), (x, y), dirs)
    slow = SliceEvaluator(model, torch.nn.CrossEntropyLoss(), (x, y), dirs, affine_first_layer=False)
    assert fast.first is not None and fast.first.name == "stem.0"
    assert torch.allclose(fast(c)["loss"], slow(c)["loss"], rtol=1e-12)


def test_resumed_surface_equals_one_shot(tmp_path):
    model = _relu_net()
    x, y = _data()
    theta = parameters_of(model)
    ev = SliceEvaluator(model, torch.nn.CrossEntropyLoss(), (x, y), [random_direction(theta, 1), random_direction(theta, 2)])
    grid = Grid.regular(2, -1, 1, 7)
    path = tmp_path / "s.npz"

    def interrupt(surface):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compute_surface(ev, grid, path=path, chunk_points=10, on_chunk=interrupt)
    partial = Surface.load(path)
    assert partial.mask.sum() == 10 and not partial.complete
    resumed = compute_surface(ev, grid, path=path, chunk_points=10)
    once = compute_surface(ev, grid, chunk_points=10)
    assert resumed.complete
    np.testing.assert_array_equal(resumed.values["loss"], once.values["loss"])
    # other chunkings change only the GEMM's summation order
    np.testing.assert_allclose(compute_surface(ev, grid, chunk_points=49).values["loss"], once.values["loss"], rtol=1e-12)
    again = Surface.load(path)
    np.testing.assert_array_equal(again.values["loss"], once.values["loss"])
    assert again.mask.dtype == bool and again.mask.all()
    other = SliceEvaluator(model, torch.nn.CrossEntropyLoss(), (x, y), [random_direction(theta, 3), random_direction(theta, 2)])
    with pytest.raises(InputError, match="different"):
        compute_surface(other, grid, path=path)


def test_lanczos_matches_dense_eigenvalues_on_a_tiny_net():
    model = _relu_net(widths=(2, 3, 2))
    x, y = _data(d=2)
    ev = HessianEvaluator(model, torch.nn.CrossEntropyLoss(), (x, y), [])
    low, high, residual = ev.extremes(parameters_of(model))
    assert residual <= 1e-6
    from torch.autograd.functional import hessian
    from sublevel.checks.landscapes.directions import flatten
    dense = hessian(ev._loss, flatten(parameters_of(model)))
    eig = torch.linalg.eigvalsh(dense)
    assert low == pytest.approx(eig[0].item(), abs=1e-6)
    assert high == pytest.approx(eig[-1].item(), rel=1e-6)


def test_pca_directions_capture_a_planar_trajectory():
    base = {"w": torch.zeros(3, 2, dtype=torch.float64)}
    e1 = torch.zeros(3, 2, dtype=torch.float64)
    e1[0, 0] = 1
    e2 = torch.zeros(3, 2, dtype=torch.float64)
    e2[1, 1] = 1
    trajectory = [{"w": base["w"] + (4 - t) * e1 + np.sin(t) * e2} for t in range(5)]
    pca = pca_directions(trajectory)
    assert pca.explained_variance_ratio.sum() == pytest.approx(1.0)
    assert np.allclose(pca.coordinates[-1], 0)
    assert pca.coordinates.shape == (5, 2)


def test_interpolation_ends_are_the_models_and_recomputed_statistics_are_said():
    torch.manual_seed(0)
    a = ResNet(8, width=2, num_classes=3).double()
    b = ResNet(8, width=2, num_classes=3).double()
    x, y = torch.randn(16, 1, 8, dtype=torch.float64), torch.randint(0, 3, (16,))
    for m in (a, b):
        with torch.no_grad():
            m.train()(x)
        m.eval()
    by_default = interpolate(a, b, torch.nn.CrossEntropyLoss(), {"train": (x, y)}, alphas=np.array([0.0, 0.5, 1.0]))
    # by default the buffers are interpolated too: the ends are exactly the models as given
    assert by_default.curves["train_loss"][0] == pytest.approx(by_default.endpoints["a"]["train_loss"], rel=1e-12)
    assert by_default.curves["train_loss"][2] == pytest.approx(by_default.endpoints["b"]["train_loss"], rel=1e-12)
    assert by_default.notes == ()
    result = interpolate(a, b, torch.nn.CrossEntropyLoss(), {"train": (x, y), "test": (x[:8], y[:8])},
                         alphas=np.array([0.0, 0.5, 1.0]), batchnorm="recompute")
    assert set(result.curves) == {"train_loss", "train_accuracy", "test_loss", "test_accuracy"}
    # at alpha = 0 the statistics are recomputed on the same data (cumulative average), so the
    # loss equals model a's after one statistics pass
    probe = copy.deepcopy(a)
    for bn in [m for m in probe.modules() if isinstance(m, torch.nn.BatchNorm1d)]:
        bn.reset_running_stats()
        bn.momentum = None
    with torch.no_grad():
        probe.train()(x)
        expected = torch.nn.CrossEntropyLoss()(probe.eval()(x), y).item()
    assert result.curves["train_loss"][0] == pytest.approx(expected, rel=1e-10)
    # ... which is not model a as given (its own running statistics): the result says so
    own = torch.nn.CrossEntropyLoss()(a.eval()(x), y).item()
    assert result.endpoints["a"]["train_loss"] == pytest.approx(own, rel=1e-10)
    if abs(own - expected) > 1e-6 * abs(own):
        assert any("train_loss at alpha = 0" in note and "not model a" in note for note in result.notes)
    mlp_a, mlp_b = _relu_net(0), _relu_net(1)
    xs, ys = _data()
    plain = interpolate(mlp_a, mlp_b, torch.nn.CrossEntropyLoss(), {"train": (xs, ys)}, alphas=np.array([0.0, 1.0]))
    assert plain.curves["train_loss"][1] == pytest.approx(torch.nn.CrossEntropyLoss()(mlp_b(xs), ys).item(), rel=1e-10)
    assert plain.notes == () and plain.endpoints["b"]["train_loss"] == pytest.approx(plain.curves["train_loss"][1])


def test_grid_components_counts_basins():
    a = np.linspace(-1, 1, 41)
    values = np.minimum((a[:, None] - 0.6) ** 2 + a[None, :] ** 2, (a[:, None] + 0.6) ** 2 + a[None, :] ** 2)
    mask = np.ones_like(values, dtype=bool)
    assert grid_components(values, mask, [0.05, 1.0]) == [2, 1]
    mask[:, 20:] = False
    assert grid_components(values, mask, [0.05]) == [2]


def test_bad_inputs_raise_input_error():
    model = _relu_net()
    x, y = _data()
    theta = parameters_of(model)
    bad = dict(theta)
    bad["0.weight"] = torch.zeros(2, 2, dtype=torch.float64)
    with pytest.raises(InputError, match="shape"):
        check_direction(theta, bad)
    with pytest.raises(InputError, match="no samples"):
        as_batches(torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[:0], y[:0]), batch_size=4))
    with torch.no_grad():
        model[0].weight[0, 0] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        SliceEvaluator(model, torch.nn.CrossEntropyLoss(), (x, y), [])


def test_lanczos_through_batchnorm_matches_dense_hessian():
    torch.manual_seed(0)
    model = ResNet(8, width=1, num_classes=3).double()
    x, y = torch.randn(6, 1, 6, dtype=torch.float64), torch.randint(0, 3, (6,))
    with torch.no_grad():
        model.train()(x)
    model.eval()
    ev = HessianEvaluator(model, torch.nn.CrossEntropyLoss(), (x, y), [])
    from torch.autograd.functional import hessian
    from sublevel.checks.landscapes.directions import flatten
    eig = torch.linalg.eigvalsh(hessian(ev._loss, flatten(parameters_of(model))))
    low, high, residual = ev.extremes(parameters_of(model))
    assert residual <= 1e-6
    assert high == pytest.approx(eig[-1].item(), rel=1e-6)
    assert low == pytest.approx(eig[0].item(), abs=1e-6 * abs(eig).max().item())
