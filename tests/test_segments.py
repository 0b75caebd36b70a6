"""Certified segment maxima (checks/certify/segments.py) against dense sampling and hand cases.

Every bound is checked where it can fail: ``upper`` must dominate a dense sample of the loss
on the segment, ``lower`` must be the loss actually attained at ``argmax``, and for one hidden
layer the exact maximum must agree with a fine grid refined by a bounded scalar optimiser.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from scipy.optimize import minimize_scalar

from sublevel.checks.certify.segments import SegmentBound, path_maximum, segment_maxima
from sublevel.theory.errors import InputError
from sublevel.theory.networks import Architecture
from sublevel.theory.problems import Problem
from reference_relu_segments import reference_relu_maxima

DENSE = 2001
SLACK = 1e-12


def random_problem(seed: int, widths: tuple[int, ...], activation: str, bias: bool,
                   kappa: float, samples: int = 6) -> Problem:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, widths[0], generator=gen, dtype=torch.float64)
    y = torch.randn(samples, widths[-1], generator=gen, dtype=torch.float64)
    return Problem(Architecture(widths, activation, bias), x, y, kappa)


def random_segments(problem: Problem, seed: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed + 1)
    arch = problem.architecture
    return arch.init(count, scale=1.5, generator=gen), arch.init(count, scale=1.5, generator=gen)


def dense_losses(problem: Problem, start: torch.Tensor, end: torch.Tensor, points: int = DENSE):
    t = torch.linspace(0, 1, points, dtype=torch.float64)
    theta = start[:, None, :] + t[None, :, None] * (end - start)[:, None, :]
    return t, problem.loss(theta.reshape(-1, start.shape[1])).reshape(start.shape[0], points)


def assert_bracket(problem: Problem, start, end, bound: SegmentBound) -> None:
    """upper dominates the dense sample; lower is the loss attained at argmax."""
    _, values = dense_losses(problem, start, end)
    sampled = values.max(dim=1).values
    assert (sampled <= bound.upper + SLACK * sampled.abs().clamp(min=1)).all()
    attained = problem.loss(start + bound.argmax[:, None] * (end - start))
    torch.testing.assert_close(bound.lower, attained, rtol=1e-14, atol=0)
    assert ((bound.argmax >= 0) & (bound.argmax <= 1)).all()
    assert (bound.lower <= bound.upper).all()


def refined_maximum(problem: Problem, start: torch.Tensor, end: torch.Tensor) -> float:
    """Grid maximum of one segment polished by a bounded scalar search around the best point."""
    t, values = dense_losses(problem, start[None], end[None], points=4001)
    best = int(values[0].argmax())
    centre = float(t[best])
    lo, hi = float(t[max(best - 1, 0)]) - centre, float(t[min(best + 1, len(t) - 1)]) - centre

    # Search the offset u = t - centre: scipy's bounded Brent stops at sqrt(eps) |x| + xatol,
    # so searching t itself would leave a 1e-8 error in t (and in the value at a ReLU kink).
    def negative(u: float) -> float:
        return -float(problem.loss(start + (centre + u) * (end - start)))

    res = minimize_scalar(negative, bounds=(lo, hi), method="bounded", options={"xatol": 1e-13})
    return max(float(values[0, best]), -res.fun)


one_hidden = st.fixed_dictionaries({
    "seed": st.integers(0, 10_000),
    "activation": st.sampled_from(["linear", "relu", "quadratic"]),
    "bias": st.booleans(),
    "n0": st.integers(1, 3),
    "n1": st.integers(1, 5),
    "nl": st.integers(1, 3),
    "kappa": st.sampled_from([0.0, 0.05]),
})


@settings(max_examples=50, deadline=None)
@given(one_hidden)
def test_one_hidden_layer_is_exact(case):
    problem = random_problem(case["seed"], (case["n0"], case["n1"], case["nl"]), case["activation"],
                             case["bias"], case["kappa"])
    start, end = random_segments(problem, case["seed"], 3)
    bound = segment_maxima(problem, start, end)
    assert bound.exact
    assert_bracket(problem, start, end, bound)
    for i in range(start.shape[0]):
        reference = refined_maximum(problem, start[i], end[i])
        assert abs(float(bound.lower[i]) - reference) <= 1e-9 * max(1.0, abs(reference))
        assert float(bound.upper[i] - bound.lower[i]) <= 1e-9 * max(1.0, abs(reference))


@pytest.mark.parametrize("seed", [0, 1])
def test_many_relu_pieces(seed):
    """N n_1 = 720 breakpoints: the global sort, delta cumulation and slope pruning at scale.
    A grid can miss a narrow higher peak, so the reference is one-sided."""
    problem = random_problem(seed, (3, 12, 2), "relu", True, 0.01, samples=60)
    start, end = random_segments(problem, seed, 3)
    bound = segment_maxima(problem, start, end)
    assert_bracket(problem, start, end, bound)
    for i in range(start.shape[0]):
        reference = refined_maximum(problem, start[i], end[i])
        assert float(bound.lower[i]) >= reference - 1e-9 * max(1.0, abs(reference))
    assert ((bound.upper - bound.lower) <= 1e-9 * bound.lower.abs().clamp(min=1)).all()


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n0=st.integers(1, 3), n1=st.integers(1, 12), nl=st.integers(1, 3),
       samples=st.integers(1, 40), bias=st.booleans(), kappa=st.sampled_from([0.0, 0.05]),
       scale=st.sampled_from([1e-3, 1.0, 1e3]), ties=st.booleans())
def test_relu_sweep_agrees_with_the_vectorised_reference(seed, n0, n1, nl, samples, bias, kappa, scale, ties):
    """The compiled sweep against the torch computation it replaced (a different sort, a
    different accumulation and a different root finder): each one's maximum lies inside the
    other's bracket, up to the rounding bound both add. ``ties`` rounds the data and
    parameters to a coarse grid, so breakpoints coincide across samples and units."""
    problem = random_problem(seed, (n0, n1, nl), "relu", bias, kappa, samples=samples)
    start, end = random_segments(problem, seed, 4)
    if ties:
        problem = Problem(problem.architecture, torch.round(problem.x * 2) / 2, problem.y, kappa)
        start, end = torch.round(start * 2) / 2, torch.round(end * 2) / 2
    problem = Problem(problem.architecture, problem.x, problem.y * scale, kappa)
    start, end = start * scale ** 0.5, end * scale ** 0.5
    bound = segment_maxima(problem, start, end)
    upper, argmax = reference_relu_maxima(problem, start, end)
    attained = problem.loss(start + argmax[:, None] * (end - start))
    slack = 1e-12 * upper.abs().clamp(min=1e-300)
    assert (bound.upper >= attained - slack).all(), "the sweep misses a value the reference attains"
    assert (upper >= bound.lower - slack).all(), "the sweep attains a value above the reference's bound"
    torch.testing.assert_close(bound.upper, upper, rtol=1e-9, atol=0)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), bias=st.booleans(), n0=st.integers(1, 3), nl=st.integers(1, 3),
       kappa=st.sampled_from([0.0, 0.1]))
def test_no_hidden_layer_is_exact(seed, bias, n0, nl, kappa):
    problem = random_problem(seed, (n0, nl), "relu", bias, kappa)
    start, end = random_segments(problem, seed, 3)
    bound = segment_maxima(problem, start, end)
    assert bound.exact
    assert_bracket(problem, start, end, bound)
    # The loss is a convex quadratic in t, so its maximum sits at an end point.
    ends = torch.maximum(problem.loss(start), problem.loss(end))
    torch.testing.assert_close(bound.lower, ends, rtol=1e-12, atol=1e-12)


def g2_problem(a: float = 2.0) -> Problem:
    """docs/claims.rst, G2: H = v relu(w x), data (1, 1) and (-1, a)."""
    x = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    y = torch.tensor([[1.0], [a]], dtype=torch.float64)
    return Problem(Architecture((1, 1, 1), "relu", bias=False), x, y)


def test_g2_segment_crosses_the_ridge_w_equals_zero():
    """docs/claims.rst, G2 with a = 2: on w = 0 the loss is (1 + a^2)/2 = 2.5, higher than both ends."""
    problem = g2_problem()
    start, end = torch.tensor([1.0, 1.0]), torch.tensor([-1.0, 2.0])
    bound = segment_maxima(problem, start, end)
    assert bound.exact and bound.upper.shape == ()
    assert float(bound.lower) >= 2.5
    assert float(problem.loss(start)) < 2.5 and float(problem.loss(end)) < 2.5


def test_endpoints_only_is_not_an_upper_bound():
    """The must-fail sanity check: taking the larger end value as the segment maximum is wrong
    on the G2 segment, and the dense check used above detects it."""
    problem = g2_problem()
    start = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    end = torch.tensor([[-1.0, 2.0]], dtype=torch.float64)
    endpoints_only = torch.maximum(problem.loss(start), problem.loss(end))
    wrong = SegmentBound(endpoints_only, endpoints_only, torch.zeros(1, dtype=torch.float64), True)
    with pytest.raises(AssertionError):
        assert_bracket(problem, start, end, wrong)
    assert_bracket(problem, start, end, segment_maxima(problem, start, end))


deep = st.fixed_dictionaries({
    "seed": st.integers(0, 10_000),
    "activation": st.sampled_from(["linear", "relu", "quadratic"]),
    "bias": st.booleans(),
    "hidden": st.lists(st.integers(1, 4), min_size=2, max_size=3),
    "nl": st.integers(1, 2),
    "kappa": st.sampled_from([0.0, 0.05]),
})


def deep_problem(case) -> Problem:
    widths = (2, *case["hidden"], case["nl"])
    return random_problem(case["seed"], widths, case["activation"], case["bias"], case["kappa"])


@settings(max_examples=50, deadline=None)
@given(deep)
def test_deep_interval_bound_without_refinement_is_valid(case):
    """max_splits=0: ``upper`` is the raw interval / mean-value bound on 16 sub-intervals."""
    problem = deep_problem(case)
    start, end = random_segments(problem, case["seed"], 3)
    bound = segment_maxima(problem, start, end, max_splits=0)
    assert not bound.exact
    assert_bracket(problem, start, end, bound)


@settings(max_examples=50, deadline=None)
@given(deep)
def test_deep_refinement_closes_the_gap(case):
    """Bisection closes the gap to atol, or to the rounding floor: 1e-9 relative, or twice the
    widening that the interval arithmetic adds at the maximiser itself, which no bisection can
    remove (it reaches 8e-10 relative through four quadratic layers with values near 1e8)."""
    from sublevel.checks.certify.segments import loss_upper_bounds

    problem = deep_problem(case)
    start, end = random_segments(problem, case["seed"], 2)
    atol = 1e-6
    bound = segment_maxima(problem, start, end, atol=atol)
    assert_bracket(problem, start, end, bound)
    at_max = loss_upper_bounds(problem, start + bound.argmax[:, None] * (end - start))
    floor = torch.maximum(1e-9 * bound.lower.abs(), 2 * (at_max - bound.lower))
    assert ((bound.upper - bound.lower) <= atol + floor).all()


# sigma(u) = c_1 sigma(u + beta_1) + c_2 sigma(s u + beta_2) recovers u exactly: relu(u) - relu(-u),
# ((u + 1)^2 - (u - 1)^2) / 4, and (u - (-u)) / 2.
IDENTITY_GADGETS = {
    "relu": (-1.0, (0.0, 0.0), (1.0, -1.0)),
    "quadratic": (1.0, (1.0, -1.0), (0.25, -0.25)),
    "linear": (-1.0, (0.0, 0.0), (0.5, -0.5)),
}


def deepen(shallow: Problem, theta: torch.Tensor) -> torch.Tensor:
    """Parameters of a (n0, n1, 2, 1) net computing the same function as the (n0, n1, 1) net
    without bias: the output unit v.sigma(h) passes through the identity gadget above."""
    s, beta, c = IDENTITY_GADGETS[shallow.architecture.activation]
    w1, v = (view.weight for view in shallow.architecture.layers(theta))
    k = theta.shape[0]
    w2 = torch.cat([v, s * v], dim=1)
    beta = torch.tensor(beta, dtype=theta.dtype).expand(k, 2)
    w3 = torch.tensor([c], dtype=theta.dtype).expand(k, 1, 2)
    zeros = [torch.zeros(k, w1.shape[1], dtype=theta.dtype), beta, torch.zeros(k, 1, dtype=theta.dtype)]
    widths = (shallow.architecture.widths[0], w1.shape[1], 2, 1)
    return Architecture(widths, shallow.architecture.activation).flatten([w1, w2, w3], zeros)


@pytest.mark.parametrize("activation", ["linear", "relu", "quadratic"])
def test_interval_method_agrees_with_exact_method(activation):
    """Two implementations of one maximum: the exact one-hidden-layer method and the interval
    method on a deeper net computing the same function along the whole segment."""
    shallow = random_problem(11, (2, 3, 1), activation, False, 0.0)
    deep = Problem(Architecture((2, 3, 2, 1), activation), shallow.x, shallow.y)
    start, end = random_segments(shallow, 11, 4)
    exact = segment_maxima(shallow, start, end)
    torch.testing.assert_close(deep.loss(deepen(shallow, start)), shallow.loss(start))
    bound = segment_maxima(deep, deepen(shallow, start), deepen(shallow, end), atol=1e-8)
    assert (bound.lower <= exact.upper).all() and (exact.lower <= bound.upper).all()
    torch.testing.assert_close(bound.lower, exact.lower, rtol=1e-7, atol=1e-8)


def test_deep_relu_maximum_at_a_kink():
    """G2 with an extra scalar layer: the maximum 2.5 sits where relu(w x) switches off."""
    problem = g2_problem()
    deep = Problem(Architecture((1, 1, 1, 1), "relu", bias=False), problem.x, problem.y)
    start = torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64)
    end = torch.tensor([-1.0, 1.0, 2.0], dtype=torch.float64)
    bound = segment_maxima(deep, start, end, atol=1e-9)
    assert float(bound.lower) <= 2.5 <= float(bound.upper) <= 2.5 + 1e-8
    assert abs(float(bound.argmax) - 0.5) < 1e-6


def test_batched_equals_one_at_a_time():
    problem = random_problem(3, (2, 4, 2), "relu", True, 0.01, samples=9)
    start, end = random_segments(problem, 3, 6)
    batched = segment_maxima(problem, start, end)
    for i in range(start.shape[0]):
        single = segment_maxima(problem, start[i], end[i])
        torch.testing.assert_close(single.lower, batched.lower[i], rtol=1e-13, atol=1e-13)
        torch.testing.assert_close(single.argmax, batched.argmax[i], rtol=0, atol=1e-12)
        torch.testing.assert_close(single.upper, batched.upper[i], rtol=1e-13, atol=1e-13)


def test_deep_batched_equals_one_at_a_time():
    problem = random_problem(4, (2, 3, 3, 1), "relu", True, 0.0)
    start, end = random_segments(problem, 4, 3)
    batched = segment_maxima(problem, start, end)
    for i in range(start.shape[0]):
        single = segment_maxima(problem, start[i], end[i])
        torch.testing.assert_close(single.lower, batched.lower[i], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(single.upper, batched.upper[i], rtol=1e-12, atol=1e-12)


def test_activation_callable_matched_by_identity():
    problem = random_problem(2, (2, 3, 1), "relu", True, 0.0)
    same = Problem(Architecture((2, 3, 1), torch.relu, True), problem.x, problem.y)
    start, end = random_segments(problem, 2, 2)
    by_name, by_fn = segment_maxima(problem, start, end), segment_maxima(same, start, end)
    assert by_fn.exact
    torch.testing.assert_close(by_name.upper, by_fn.upper)


def test_path_maximum_matches_segments():
    problem = random_problem(5, (2, 3, 1), "relu", True, 0.0)
    beads = problem.architecture.init(5, generator=torch.Generator().manual_seed(5))
    path = path_maximum(problem, beads)
    direct = segment_maxima(problem, beads[:-1], beads[1:])
    assert path.upper.shape == (4,)
    torch.testing.assert_close(path.upper, direct.upper)
    torch.testing.assert_close(path.lower, direct.lower)


def test_float32_problem_is_certified_in_float64():
    problem = random_problem(7, (2, 3, 1), "relu", True, 0.0).to(dtype=torch.float32)
    start, end = random_segments(problem.to(dtype=torch.float64), 7, 2)
    bound = segment_maxima(problem, start, end)
    assert bound.upper.dtype == torch.float64
    assert_bracket(problem.to(dtype=torch.float64), start, end, bound)


def test_bad_inputs_raise_input_error():
    problem = random_problem(0, (2, 3, 1), "relu", True, 0.0)
    p = problem.num_params
    with pytest.raises(InputError):
        segment_maxima(problem, torch.zeros(2, p), torch.zeros(3, p))
    with pytest.raises(InputError):
        segment_maxima(problem, torch.zeros(2, p + 1), torch.zeros(2, p + 1))
    with pytest.raises(InputError):
        segment_maxima(problem, torch.full((p,), np.nan), torch.zeros(p))
    with pytest.raises(InputError):
        path_maximum(problem, torch.zeros(1, p))
    with pytest.raises(InputError):
        segment_maxima(problem, torch.zeros(p), torch.ones(p), atol=-1.0)
    for widths in [(2, 3, 1), (2, 3, 3, 1)]:
        tanh = Problem(Architecture(widths, torch.tanh), problem.x, problem.y)
        q = tanh.num_params
        with pytest.raises(InputError, match="cannot certify"):
            segment_maxima(tanh, torch.zeros(q), torch.ones(q))


@settings(max_examples=50, deadline=None)
@given(deep, st.floats(0.0, 0.9), st.floats(0.01, 0.5))
def test_interval_slope_encloses_the_derivative(case, t0, width):
    """The t-derivative enclosure behind the mean value form contains dL/dt at points of the
    interval (ReLU units straddling 0 must contribute their whole [0, 1] slope range)."""
    from sublevel.checks.certify.intervals import activation_kind
    from sublevel.checks.certify.segments import _interval_bounds

    problem = deep_problem(case)
    start, end = random_segments(problem, case["seed"], 1)
    if case["activation"] == "relu":
        # Centre the interval on a kink of a first-layer unit, where a unit straddles 0.
        first = problem.architecture.layers(start)[0], problem.architecture.layers(end - start)[0]
        z0 = problem.x @ first[0].weight[0].T + (0 if first[0].bias is None else first[0].bias[0])
        z1 = problem.x @ first[1].weight[0].T + (0 if first[1].bias is None else first[1].bias[0])
        kinks = (-z0 / z1)[(z1 != 0) & (-z0 / z1 > 0.01) & (-z0 / z1 < 0.99)]
        if len(kinks):
            t0 = float(kinks[0]) - width * 1e-2
            width = width * 2e-2
    t1 = min(1.0, t0 + width)
    mid, rad = torch.tensor([(t0 + t1) / 2], dtype=torch.float64), torch.tensor([(t1 - t0) / 2], dtype=torch.float64)
    _, slope = _interval_bounds(problem, start, end - start, mid, rad, activation_kind(problem.architecture), slope=True)
    ts = torch.linspace(t0, t1, 41, dtype=torch.float64).requires_grad_(True)
    losses = problem.loss(start + ts[:, None] * (end - start))
    (derivative,) = torch.autograd.grad(losses.sum(), ts)
    assert (derivative.abs() <= slope * (1 + 1e-9) + 1e-12).all()


def test_serial_and_parallel_sweeps_agree_bit_for_bit():
    """One torch thread (or a worker process) takes the serial kernel, several threads the
    parallel one: the same per-segment code, so the same bits."""
    problem = random_problem(3, (2, 6, 2), "relu", True, 0.01, samples=30)
    start, end = random_segments(problem, 3, 40)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        serial = segment_maxima(problem, start, end)
        torch.set_num_threads(2)
        parallel = segment_maxima(problem, start, end)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(serial.upper, parallel.upper) and torch.equal(serial.argmax, parallel.argmax)


def _exact_loss(arch: Architecture, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, kappa: float):
    """The real-number loss of the float64 parameters and data, in exact rational arithmetic."""
    from fractions import Fraction

    views = arch.layers(theta.unsqueeze(0))
    layers = [([[Fraction(float(v)) for v in row] for row in view.weight[0]],
               None if view.bias is None else [Fraction(float(v)) for v in view.bias[0]]) for view in views]
    total = Fraction(0)
    for xi, yi in zip(x.tolist(), y.tolist()):
        h = [Fraction(v) for v in xi]
        for depth, (w, b) in enumerate(layers):
            h = [sum((wij * hj for wij, hj in zip(row, h)), Fraction(0)) + (b[i] if b else 0) for i, row in enumerate(w)]
            if depth < len(layers) - 1:
                h = [max(v, Fraction(0)) if arch.activation_name == "relu" else v * v if
                     arch.activation_name == "quadratic" else v for v in h]
        total += sum((hi - Fraction(yv)) ** 2 for hi, yv in zip(h, yi))
    return total / len(x) + Fraction(kappa) * sum(Fraction(float(v)) ** 2 for v in theta.tolist())


@settings(max_examples=40, deadline=None)
@given(activation=st.sampled_from(["relu", "quadratic", "linear"]), width=st.integers(1, 4),
       log_scale=st.floats(-3, 3), kappa=st.sampled_from([0.0, 0.1]), seed=st.integers(0, 2 ** 16))
def test_loss_lower_and_upper_bounds_enclose_the_real_number_loss(activation, width, log_scale, kappa, seed):
    """Exact rational arithmetic on the float64 data and parameters: the real loss lies within
    [loss_lower_bounds, loss_upper_bounds] at every point, at scales from 1e-3 to 1e3."""
    from fractions import Fraction

    from sublevel.checks.certify.segments import loss_lower_bounds, loss_upper_bounds

    g = torch.Generator().manual_seed(seed)
    arch = Architecture((2, width, 1), activation, bias=True)
    x = torch.randn(5, 2, generator=g, dtype=torch.float64) * 10.0 ** log_scale
    y = torch.randn(5, 1, generator=g, dtype=torch.float64)
    problem = Problem(arch, x, y, kappa)
    theta = torch.randn(3, arch.num_params, generator=g, dtype=torch.float64)
    lower, upper = loss_lower_bounds(problem, theta), loss_upper_bounds(problem, theta)
    for point, low, high in zip(theta, lower.tolist(), upper.tolist()):
        real = _exact_loss(arch, point, x, y, kappa)
        assert Fraction(low) <= real <= Fraction(high)


def test_loss_lower_bounds_refuse_deep_nets():
    from sublevel.checks.certify.segments import loss_lower_bounds

    arch = Architecture((2, 3, 3, 1), "relu")
    problem = Problem(arch, torch.zeros(4, 2, dtype=torch.float64), torch.zeros(4, 1, dtype=torch.float64))
    with pytest.raises(InputError):
        loss_lower_bounds(problem, torch.zeros(arch.num_params, dtype=torch.float64))
