"""The exact line sweep (checks.landscapes.lines) equals forward passes: nets with one or two hidden
ReLU / leaky-ReLU layers, deep linear nets, and one hidden layer of squares.

Every test compares the sweep with the evaluator's point-by-point path (``functional_call``
under ``vmap``, no shortcut) in float64, so a wrong slot, a wrong sign for falling units, a
missed unit with G = 0 or a wrong bias slope fails it.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sublevel.checks.landscapes.evaluation import SliceEvaluator
from sublevel.checks.landscapes.lines import Lines, SweptMLP
from sublevel.checks.landscapes.models import Square


ACTIVATIONS = {"relu": torch.nn.ReLU, "leaky": lambda: torch.nn.LeakyReLU(0.2), "linear": torch.nn.Identity,
               "square": Square}


def _net(n_in: int, hidden: int, n_out: int, activation: str, bias: bool, seed: int,
         second: tuple[int, str] | None = None) -> torch.nn.Sequential:
    """n_in - hidden [- second[0]] - n_out; ``second`` = (width, activation) adds a hidden layer."""
    torch.manual_seed(seed)
    layers = [torch.nn.Linear(n_in, hidden, bias=bias), ACTIVATIONS[activation]()]
    if second is not None:
        layers += [torch.nn.Linear(hidden, second[0], bias=bias), ACTIVATIONS[second[1]]()]
        hidden = second[0]
    return torch.nn.Sequential(*layers, torch.nn.Linear(hidden, n_out, bias=bias)).double()


def _pair(model, loss_fn, data, directions):
    fast = SliceEvaluator(model, loss_fn, data, directions)
    slow = SliceEvaluator(model, loss_fn, data, directions, affine_first_layer=False)
    assert fast.line_sweep and not slow.line_sweep
    return fast, slow


def _assert_same(fast, slow, coefficients):
    got, want = fast(coefficients), slow(coefficients)
    for name in want:
        assert torch.allclose(got[name], want[name], rtol=1e-10, atol=1e-12), name


@st.composite
def line_layouts(draw, dims: int):
    """Coefficient rows made of lines along the last axis (even or uneven steps) and single points."""
    rows = []
    for _ in range(draw(st.integers(1, 4))):
        fixed = draw(st.lists(st.floats(-3, 3), min_size=dims - 1, max_size=dims - 1))
        length = draw(st.integers(1, 9))
        start = draw(st.floats(-3, 3))
        if draw(st.booleans()):
            steps = np.full(length, draw(st.floats(0.05, 1.0)))
        else:
            steps = np.array(draw(st.lists(st.floats(0.01, 1.0), min_size=length, max_size=length)))
        last = start + np.concatenate([[0.0], np.cumsum(steps[1:])])
        rows += [fixed + [t] for t in last]
    return torch.tensor(rows, dtype=torch.float64)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_line_sweep_equals_forward_passes(data):
    """Random nets (one or two hidden layers, ReLU / leaky / none, or one squaring hidden layer;
    1-3 outputs, with or without bias), data, 1-2 directions and line layouts: the sweep equals
    the point-by-point evaluation."""
    n_in, hidden, n_out = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 12)), data.draw(st.integers(1, 3))
    activation = data.draw(st.sampled_from(sorted(ACTIVATIONS)))
    piecewise = sorted(set(ACTIVATIONS) - {"square"})  # squaring: one hidden layer only
    second = None if activation == "square" else data.draw(
        st.none() | st.tuples(st.integers(1, 6), st.sampled_from(piecewise)))
    model = _net(n_in, hidden, n_out, activation, data.draw(st.booleans()), data.draw(st.integers(0, 2**16)), second)
    g = torch.Generator().manual_seed(data.draw(st.integers(0, 2**16)))
    n = data.draw(st.integers(1, 20))
    x = torch.randn(n, n_in, generator=g, dtype=torch.float64)
    if data.draw(st.booleans()):
        loss_fn, y = torch.nn.MSELoss(), torch.randn(n, n_out, generator=g, dtype=torch.float64)
    else:
        loss_fn, y = torch.nn.CrossEntropyLoss(), torch.randint(0, max(n_out, 2), (n,), generator=g)
        if n_out == 1:
            return  # cross-entropy needs at least two classes
    dims = data.draw(st.integers(1, 2))
    directions = [{k: torch.randn(v.shape, generator=g, dtype=torch.float64) for k, v in model.named_parameters()}
                  for _ in range(dims)]
    fast, slow = _pair(model, loss_fn, (x, y), directions)
    _assert_same(fast, slow, data.draw(line_layouts(dims)))


def test_positions_exactly_at_switching_points_and_units_that_never_move():
    """h = x - 1 for x in {0, 1, 2}: the switching point of each unit is a grid position, and
    a unit whose first-layer direction is zero (G = 0) is active or inactive all along."""
    model = _net(1, 3, 1, "relu", True, 0)
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.0], [0.0], [0.0]]))
        model[0].bias.copy_(torch.tensor([-1.0, 0.5, -0.5]))
    x = torch.tensor([[0.0], [1.0], [2.0]], dtype=torch.float64)
    y = torch.zeros(3, 1, dtype=torch.float64)
    moving = {k: torch.zeros_like(v) for k, v in model.named_parameters()}
    moving["0.weight"] = torch.tensor([[1.0], [0.0], [0.0]], dtype=torch.float64)  # unit 0: h = a x - 1
    moving["2.weight"] = torch.ones(1, 3, dtype=torch.float64)
    fast, slow = _pair(model, torch.nn.MSELoss(), (x, y), [moving])
    _assert_same(fast, slow, torch.tensor([[0.0], [0.5], [1.0], [1.5], [2.0]], dtype=torch.float64))
    # a falling unit: h = 1 - a x switches off at the positions 1/x
    moving["0.weight"] = -moving["0.weight"]
    with torch.no_grad():
        model[0].bias[0] = 1.0
    fast, slow = _pair(model, torch.nn.MSELoss(), (x, y), [moving])
    _assert_same(fast, slow, torch.tensor([[0.0], [0.5], [1.0], [2.0]], dtype=torch.float64))


def test_lines_split_finds_runs_along_the_last_coordinate():
    c = np.array([[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [2, 5], [2, 6], [2, 7], [2, 7], [3, 1]], dtype=float)
    lines = Lines.split(c, min_points=3)
    assert lines.starts.tolist() == [0, 5] and lines.lengths.tolist() == [3, 3]
    assert lines.singles.tolist() == [3, 4, 8, 9]  # short run, repeated point, lone point
    assert lines.points().tolist() == [0, 1, 2, 5, 6, 7]


@pytest.mark.parametrize("layers, expected", [
    ((torch.nn.ReLU(), torch.nn.Linear(3, 1)), SweptMLP(("2",), (0.0,))),
    ((torch.nn.LeakyReLU(0.1), torch.nn.Dropout(0.5), torch.nn.Linear(3, 1)), SweptMLP(("3",), (0.1,))),
    ((torch.nn.Linear(3, 1),), SweptMLP(("1",), (1.0,))),
    ((torch.nn.ReLU(), torch.nn.Linear(3, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1)),
     SweptMLP(("2", "4"), (0.0, 0.0))),
    ((torch.nn.ReLU(), torch.nn.Linear(3, 3), torch.nn.Linear(3, 1)), SweptMLP(("2", "3"), (0.0, 1.0))),
    ((torch.nn.Tanh(), torch.nn.Linear(3, 1)), None),
    ((Square(), torch.nn.Linear(3, 1)), SweptMLP(("2",), (0.0,), square=True)),
    ((Square(), torch.nn.Linear(3, 3), Square(), torch.nn.Linear(3, 1)), None),
    ((torch.nn.ReLU(), torch.nn.Linear(3, 3), Square(), torch.nn.Linear(3, 1)), None),
    ((torch.nn.ReLU(), torch.nn.Linear(3, 3), torch.nn.ReLU(), torch.nn.Linear(3, 3), torch.nn.ReLU(),
      torch.nn.Linear(3, 1)), None),
    ((torch.nn.Linear(3, 3), torch.nn.Identity(), torch.nn.Linear(3, 3), torch.nn.Linear(3, 1)),
     SweptMLP(("1", "3", "4"), (1.0, 1.0, 1.0))),
    ((torch.nn.Linear(3, 3), torch.nn.ReLU(), torch.nn.Linear(3, 3), torch.nn.Linear(3, 1)), None),
    ((torch.nn.ReLU(), torch.nn.ReLU(), torch.nn.Linear(3, 1)), None),
    ((torch.nn.ReLU(),), None),
    ((torch.nn.Linear(3, 1), torch.nn.ReLU()), None),
])
def test_only_the_supported_mlps_take_the_sweep(layers, expected):
    rest = tuple((str(k + 1), module) for k, module in enumerate(layers))
    assert SweptMLP.detect(rest) == expected


def test_two_hidden_layers_with_dead_first_layer_give_the_exact_bias():
    """No bias in the first layer and data at 0: every first-layer unit is exactly 0 all along, so
    the outputs are exactly the last layers' biases (argmax ties break as in a forward pass)."""
    model = _net(2, 5, 3, "relu", True, 4, second=(4, "relu"))
    with torch.no_grad():
        model[0].bias.zero_()
    x, y = torch.zeros(6, 2, dtype=torch.float64), torch.randint(0, 3, (6,))
    directions = [{k: torch.randn_like(v) for k, v in model.named_parameters()} for _ in range(2)]
    for d in directions:
        d["0.bias"].zero_()
    fast, slow = _pair(model, torch.nn.CrossEntropyLoss(), (x, y), directions)
    grid = torch.cartesian_prod(torch.linspace(-1, 1, 7, dtype=torch.float64), torch.linspace(-1, 1, 7,
                                                                                                dtype=torch.float64))
    got, want = fast(grid), slow(grid)
    assert torch.equal(got["accuracy"], want["accuracy"])
    assert torch.allclose(got["loss"], want["loss"], rtol=1e-12)


def test_float32_models_agree_with_their_forward_pass():
    """The sweep runs in float64; a float32 model's point-by-point values agree to float32 rounding."""
    model = _net(4, 32, 1, "relu", True, 3).float()
    x, y = torch.randn(64, 4), torch.randn(64, 1)
    directions = [{k: torch.randn_like(v) for k, v in model.named_parameters()} for _ in range(2)]
    fast = SliceEvaluator(model, torch.nn.MSELoss(), (x, y), directions)
    slow = SliceEvaluator(model, torch.nn.MSELoss(), (x, y), directions, affine_first_layer=False)
    grid = torch.cartesian_prod(torch.linspace(-1, 1, 11), torch.linspace(-1, 1, 11))
    assert torch.allclose(fast(grid)["loss"], slow(grid)["loss"], rtol=1e-5)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_deep_linear_polynomial_sweep_equals_forward_passes(data):
    """Deep linear nets (docs/claims.rst, section 1) of 3-5 layers after the first, with or without bias:
    the degree-L polynomial along each line equals the forward passes."""
    widths = data.draw(st.lists(st.integers(1, 5), min_size=5, max_size=7))
    bias = data.draw(st.booleans())
    torch.manual_seed(data.draw(st.integers(0, 2**16)))
    model = torch.nn.Sequential(*[torch.nn.Linear(a, b, bias=bias) for a, b in zip(widths[:-1], widths[1:])]).double()
    n = data.draw(st.integers(1, 12))
    x, y = torch.randn(n, widths[0], dtype=torch.float64), torch.randn(n, widths[-1], dtype=torch.float64)
    dims = data.draw(st.integers(1, 2))
    directions = [{k: 0.5 * torch.randn_like(v) for k, v in model.named_parameters()} for _ in range(dims)]
    fast, slow = _pair(model, torch.nn.MSELoss(), (x, y), directions)
    _assert_same(fast, slow, data.draw(line_layouts(dims)))


def test_the_sweep_leaves_torch_thread_count_alone():
    """numba's OpenMP threading layer shares OpenMP's settings with torch; the sweep runs on
    torch's thread count and leaves it as the caller set it."""
    model = _net(3, 8, 1, "relu", True, 5)
    x, y = torch.randn(16, 3, dtype=torch.float64), torch.randn(16, 1, dtype=torch.float64)
    directions = [{k: torch.randn_like(v) for k, v in model.named_parameters()} for _ in range(2)]
    fast, _ = _pair(model, torch.nn.MSELoss(), (x, y), directions)
    for threads in (1, 2, 1):
        torch.set_num_threads(threads)
        fast(torch.cartesian_prod(torch.arange(4.0), torch.arange(5.0)).double())
        assert torch.get_num_threads() == threads


def test_directions_that_require_grad_are_data():
    """Directions computed from parameters (so requiring grad) are detached, on every path."""
    for model in (_net(3, 6, 1, "relu", True, 6), _net(3, 6, 1, "linear", True, 6)):
        x, y = torch.randn(10, 3, dtype=torch.float64), torch.randn(10, 1, dtype=torch.float64)
        directions = [{k: torch.randn_like(v) * v.norm() for k, v in model.named_parameters()} for _ in range(2)]
        assert all(v.requires_grad for d in directions for v in d.values())
        fast, slow = _pair(model, torch.nn.MSELoss(), (x, y), directions)
        _assert_same(fast, slow, torch.cartesian_prod(torch.arange(3.0), torch.arange(4.0)).double())
