"""Certified maxima of the loss on straight segments of parameter space.

On the segment theta(t) = a + t (b - a), t in [0, 1], we want max_t L(theta(t)), where

    L(theta) = (1/N) sum_mu ||H(x_mu; theta) - y_mu||^2 + kappa ||theta||^2.

A graph edge between two parameter points is only *certified* to lie inside the sublevel set
Omega(lambda) when this maximum is known to be <= lambda, not merely sampled (docs/claims.rst,
section 6; Freeman & Bruna, "Topology and geometry of half-rectified network optimization",
ICLR 2017, arXiv:1611.01540, whose Dynamic String Sampling joins minima by such segments).

The method is chosen from the architecture:

* **No hidden layer** (H = W x + b): the residual is linear in t, the loss a quadratic.
* **One hidden layer, linear / ReLU activation**: every pre-activation
  z_{j,mu}(t) = z0 + t z1 is linear in t and changes sign at most once, at t = -z0 / z1. Between
  these breakpoints the output is a quadratic in t and the loss a quartic; the maximum of each
  quartic on its piece is at an end of the piece or at a real root of its cubic derivative.
  The linear activation is the case without breakpoints.
* **One hidden layer, quadratic activation**: the output is a cubic in t and the loss a
  polynomial of degree 6, maximised the same way (roots of a quintic derivative).
* **Deeper nets**: a rigorous upper bound from interval arithmetic over sub-intervals of t,
  refined by adaptive bisection (branch and bound); see :func:`segment_maxima`.

The exact methods are exact up to float64 rounding; ``upper`` adds an a-priori rounding-error
bound (standard gamma_n analysis, Higham, *Accuracy and Stability of Numerical Algorithms*,
ch. 3) so that it stays an upper bound on the real-number maximum.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from sublevel.checks.certify.intervals import (EPS, INTERVAL_INFLATION, Box, activation_kind, box_activation,
                                               box_affine, box_mul, inflation, widen)
from sublevel.checks.certify.relu_sweep import relu_segment_maxima
from sublevel.theory.errors import InputError
from sublevel.theory.networks import Architecture
from sublevel.theory.problems import Problem


DROP_RELATIVE = 1e-14
"""Leading derivative coefficients below this fraction of the derivative's coefficient mass are
dropped before root finding (their companion matrix would be ill conditioned); the dropped part
is added to the upper bound, so nothing is lost in rigour."""

NEWTON_STEPS = 3
"""Newton polishing steps on the companion-matrix roots (the roots come back with an error of
about sqrt(eps) at double roots; polishing brings the evaluated value to rounding level)."""

ROUNDING_FLOOR = 1e3 * INTERVAL_INFLATION
"""Relative gap below which bisection stops whatever ``atol`` says: the widening accumulated
through the layers keeps the interval bound about this far above the value, so splitting
further cannot close the gap (it matters for large losses, e.g. deep quadratic nets)."""

INITIAL_PIECES = 16
"""Uniform sub-intervals the interval method starts from before bisecting."""

SPLITS_PER_ROUND = 64
"""At most this many sub-intervals of one segment are bisected per round (best-first): keeps
flat stretches of the loss, where every sub-interval ties with the maximum, from doubling the
work every round."""

CHUNK_ELEMENTS = 1 << 22
"""Largest per-chunk working tensor (entries) in the batched computations: 32 MiB in float64."""


@dataclass(frozen=True)
class SegmentBound:
    """Bracket on the maximum of the loss along each of E segments.

    Attributes
    ----------
    upper : tensor (E,), float64
        Rigorous upper bound on max_{t in [0,1]} L(theta(t)).
    lower : tensor (E,), float64
        An attained value L(theta(t*)), so ``lower <= true max <= upper``.
    argmax : tensor (E,), float64
        The t* in [0, 1] at which ``lower`` is attained.
    exact : bool
        True when the maximum was computed exactly (upper == lower up to float64 rounding),
        False for the interval bound of deeper nets.
    """

    upper: torch.Tensor
    lower: torch.Tensor
    argmax: torch.Tensor
    exact: bool


def segment_maxima(problem: Problem, start: torch.Tensor, end: torch.Tensor, *,
                   atol: float = 1e-6, max_splits: int = 64) -> SegmentBound:
    """Certified maximum of the loss on the segments theta(t) = start + t (end - start).

    Parameters
    ----------
    problem : Problem
        Architecture, data and ridge kappa. Computations run in float64 on its device.
    start, end : tensor (E, P) or (P,)
        Segment end points (t = 0 and t = 1).
    atol : float
        Interval method only: stop refining a segment once its upper bound is within ``atol``
        (absolute) of the best attained value, or within the rounding floor
        ``ROUNDING_FLOOR * |lower|`` (1e-9 relative), below which bisection cannot help.
    max_splits : int
        Interval method only: at most this many rounds of bisection.

    Returns
    -------
    SegmentBound
        ``upper``, ``lower``, ``argmax`` of shape (E,) (scalars for (P,) inputs) and ``exact``.

    Raises
    ------
    InputError
        On shape mismatch, non-finite parameters, ``atol < 0``, ``max_splits < 0``, or a
        network with a hidden layer whose activation is not linear, relu or quadratic (an
        arbitrary callable cannot be certified).

    Notes
    -----
    Exact methods (docs/claims.rst, section 6). With d = end - start, each layer is affine in t:
    W_l(t) = W_l^a + t D_l. For one hidden layer the pre-activations z_{mu j}(t) = z0 + t z1 are
    linear in t. For ReLU, sample mu's output is a quadratic in t that changes only at the
    sample's own breakpoints -z0/z1 in (0, 1); it is obtained on each of the sample's n_1 + 1
    pieces by a cumulative sum of the units switching on (+) or off (-). The differences of
    the sample's quartic loss between consecutive pieces ("delta quartics") are attached to
    the breakpoint times; sorting all N n_1 breakpoints of a segment and summing the deltas
    cumulatively gives the total quartic on every global piece in O(N n_1 log(N n_1)) instead
    of O((N n_1)^2). For quadratic activations z^2 = z0^2 + 2 z0 z1 t + z1^2 t^2 makes the
    output a cubic and the loss a sextic, formed by exact polynomial products. Each piece's
    polynomial is maximised over its end points and the real roots of its derivative
    (batched companion-matrix eigenvalues, Newton-polished); pieces whose slope bound shows
    they cannot exceed the best end-point value are skipped. ``upper`` adds an a-priori
    float64 rounding bound, so ``upper - lower`` is at rounding level and ``exact`` is True.

    Interval method (deeper nets). On t in [t0, t1] each parameter lies in mid +- rad with
    mid = a + (t0+t1)/2 d and rad = (t1-t0)/2 abs(d). Boxes in centre-radius form propagate
    through W h + b by Rump's rule (mid = W_m c, rad = abs(W_m) r + W_r (abs(c) + r)), through the
    monotone activations (linear, relu) by their end points and through the square by the
    interval square; the loss is bounded by (1/N) sum (abs(c - y) + r)^2 + kappa sum
    (abs(mid) + rad)^2. Sub-intervals whose bound exceeds the best attained value (evaluated at
    sub-interval midpoints) by more than ``atol`` are bisected, best first, for up to
    ``max_splits`` rounds. The arithmetic is plain float64 without directed rounding, so
    every radius is widened by delta = max(1e-12, 2 n eps) relative to the magnitudes
    involved (n the longest sum), which covers the rounding (gamma_n <= n eps / (1 - n eps)).
    Each sub-interval's bound is the smaller of this natural interval extension and the mean
    value form L(t_m) + (t1 - t0)/2 max|dL/dt|, with dL/dt enclosed by propagating
    t-derivatives through the same boxes (forward mode); the latter overestimates by
    O((t1 - t0)^2) near a smooth maximum, so the refinement converges fast.

    Complexity: exact ReLU O(E N n_1 (n_0 + n_L) + E N n_1 log(N n_1)) time and, per chunk of
    segments, O(N n_1 n_L) memory; the interval method costs about six forward passes per
    evaluated sub-interval (value, derivative and midpoint boxes), and at most
    ``SPLITS_PER_ROUND`` sub-intervals per segment are bisected per round.

    Examples
    --------
    >>> import torch
    >>> from sublevel.theory.networks import Architecture
    >>> from sublevel.theory.problems import Problem
    >>> problem = Problem(Architecture((1, 1, 1), "relu", bias=False),
    ...                   torch.tensor([[1.0], [-1.0]]), torch.tensor([[1.0], [2.0]]))
    >>> bound = segment_maxima(problem, torch.tensor([1.0, 1.0]), torch.tensor([-1.0, 2.0]))
    >>> bool(bound.lower >= 2.5) and bound.exact
    True
    """
    problem = problem.to(dtype=torch.float64)
    a, b, single = _check_segments(problem, start, end)
    if not atol >= 0 or not max_splits >= 0:
        raise InputError(f"atol must be >= 0 and max_splits >= 0, got atol={atol}, max_splits={max_splits}")
    arch = problem.architecture
    kind = activation_kind(arch)
    if a.shape[0] == 0:
        empty = a.new_zeros(0)
        return SegmentBound(empty, empty, empty, arch.depth <= 2)
    if arch.depth <= 2:
        result = _exact_maxima(problem, a, b - a, kind)
    else:
        result = _interval_maxima(problem, a, b - a, kind, atol, max_splits)
    if single:
        return SegmentBound(result.upper[0], result.lower[0], result.argmax[0], result.exact)
    return result


def loss_upper_bounds(problem: Problem, theta: torch.Tensor) -> torch.Tensor:
    """Rigorous upper bounds of L at each of M points: (M, P) -> (M,).

    At most one hidden layer (linear, ReLU or quadratic activation): the computed float64 loss
    plus the a-priori rounding bound of :func:`_rounding_bound` on the segment of length zero
    (gamma_m times the loss of the net of absolute values: every dot product and sum, in
    whatever order and with or without fused multiply-adds, errs by at most gamma_n times its
    sum of absolute values, and ReLU is 1-Lipschitz; the chain's slack for d = b - a, unused
    when d = 0, covers the rounding of the final addition); two forward passes. Deeper nets: the interval enclosure
    (see :func:`segment_maxima`, interval method) of the zero-width box {theta}, whose relative
    widening covers float64 rounding. Either way the bound exceeds the computed loss by about
    the rounding error (1e-11 relative or less) and never lies below the real-number loss; it
    decides membership of Omega(lambda) rigorously.

    Raises
    ------
    InputError
        On a shape mismatch, non-finite parameters or an activation that cannot be certified.
    """
    problem = problem.to(dtype=torch.float64)
    a, _, single = _check_segments(problem, theta, theta)
    kind = activation_kind(problem.architecture)
    if a.shape[0] == 0:
        return a.new_zeros(0)
    computed = problem.loss(a)
    if problem.architecture.depth <= 2:
        bound = computed + _rounding_bound(problem, a, torch.zeros_like(a), kind)
    else:
        step = _intervals_per_chunk(problem)
        t, d = a.new_zeros(a.shape[0]), torch.zeros_like(a)
        bound = torch.cat([_interval_bounds(problem, a[i:i + step], d[i:i + step], t[i:i + step], t[i:i + step], kind,
                                            slope=False)[0] for i in range(0, a.shape[0], step)])
        bound = torch.maximum(bound, computed)
    return bound[0] if single else bound


def loss_lower_bounds(problem: Problem, theta: torch.Tensor) -> torch.Tensor:
    """Rigorous lower bounds of L at each of M points: (M, P) -> (M,), for nets with at most one
    hidden layer: the computed float64 loss minus the same a-priori rounding bound that
    :func:`loss_upper_bounds` adds (it bounds the computed loss's distance from the real-number
    loss in both directions), one ulp further down for the subtraction's own rounding, and never
    below 0 (the loss is a mean of squares plus a non-negative ridge term).

    Raises
    ------
    InputError
        For deeper nets (no lower bound is implemented there), and as :func:`loss_upper_bounds`.
    """
    problem = problem.to(dtype=torch.float64)
    if problem.architecture.depth > 2:
        raise InputError("rigorous lower bounds of the loss are implemented for at most one hidden layer")
    a, _, single = _check_segments(problem, theta, theta)
    if a.shape[0] == 0:
        return a.new_zeros(0)
    computed = problem.loss(a)
    slack = _rounding_bound(problem, a, torch.zeros_like(a), activation_kind(problem.architecture))
    lower = torch.nextafter(computed - slack, torch.full_like(computed, -math.inf)).clamp_min(0.0)
    return lower[0] if single else lower


def path_maximum(problem: Problem, beads: torch.Tensor, **options) -> SegmentBound:
    """Per-segment certified maxima along the piecewise-linear path through ``beads``.

    Parameters
    ----------
    problem : Problem
    beads : tensor (k+1, P)
        theta_0, ..., theta_k; segment i joins theta_i to theta_{i+1}.
    **options
        ``atol`` and ``max_splits``, passed to :func:`segment_maxima`.

    Returns
    -------
    SegmentBound
        Fields of shape (k,), all segments computed in one batched call; the path's maximum
        is bracketed by ``lower.max()`` and ``upper.max()``.
    """
    beads = torch.as_tensor(beads)
    if beads.ndim != 2 or beads.shape[0] < 2:
        raise InputError(f"beads must have shape (k+1, P) with k >= 1, got {tuple(beads.shape)}")
    return segment_maxima(problem, beads[:-1], beads[1:], **options)


# ----------------------------------------------------------------------------- validation
def _check_segments(problem: Problem, start, end) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Both end-point batches as (E, P) float64 on the problem's device, and whether one was given."""
    a = torch.as_tensor(start, dtype=torch.float64, device=problem.device)
    b = torch.as_tensor(end, dtype=torch.float64, device=problem.device)
    if a.shape != b.shape or a.ndim not in (1, 2):
        raise InputError(f"start and end must both have shape (E, P) or (P,), got {tuple(a.shape)} and {tuple(b.shape)}")
    problem.architecture.check_params(a)
    if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
        raise InputError("segment end points contain NaN or inf")
    single = a.ndim == 1
    return a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1]), single


# ------------------------------------------------------------------ polynomial arithmetic
def _poly_mul(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Product of polynomials with coefficients (lowest degree first) on the last axis."""
    shape = torch.broadcast_shapes(p.shape[:-1], q.shape[:-1])
    out = p.new_zeros(shape + (p.shape[-1] + q.shape[-1] - 1,))
    for i in range(p.shape[-1]):
        out[..., i:i + q.shape[-1]] += p[..., i:i + 1] * q
    return out


def _poly_eval(coeffs: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Horner evaluation: coeffs (..., D+1), t (..., C) -> (..., C)."""
    value = coeffs[..., -1:].expand_as(t).clone()
    for i in range(coeffs.shape[-1] - 2, -1, -1):
        value = value * t + coeffs[..., i:i + 1]
    return value


def _square_loss_poly(residual: torch.Tensor) -> torch.Tensor:
    """(1/N) sum_{mu, o} r_{mu o}(t)^2 from residual polynomials (E, N, n_L, D+1)."""
    return _poly_mul(residual, residual).sum(dim=(1, 2)) / residual.shape[1]


def _ridge_poly(a: torch.Tensor, d: torch.Tensor, kappa: float) -> torch.Tensor:
    """kappa ||a + t d||^2 = kappa (|a|^2 + 2 t a.d + t^2 |d|^2) as (E, 3) coefficients."""
    return kappa * torch.stack([(a * a).sum(1), 2 * (a * d).sum(1), (d * d).sum(1)], dim=1)


def _pad(p: torch.Tensor, length: int) -> torch.Tensor:
    """Coefficients padded with zeros up to ``length`` (a higher declared degree)."""
    return torch.nn.functional.pad(p, (0, length - p.shape[-1]))


# ------------------------------------------------------------ exact: no or one hidden layer
AffineLayer = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
"""(W^a, D, b^a, e) of one layer along a segment: W(t) = W^a + t D, b(t) = b^a + t e."""


def _affine_layers(arch: Architecture, a: torch.Tensor, d: torch.Tensor) -> list[AffineLayer]:
    """Every layer as an :data:`AffineLayer` (zero biases when the net has none)."""
    out = []
    for va, vd in zip(arch.layers(a), arch.layers(d)):
        if va.bias is None:
            zeros = va.weight.new_zeros(va.weight.shape[:-1])
            out.append((va.weight, vd.weight, zeros, zeros))
        else:
            out.append((va.weight, vd.weight, va.bias, vd.bias))
    return out


def _hidden_polys(layer: AffineLayer, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pre-activations z(t) = z0 + t z1 of a first layer on inputs x: two (E, N, n_out)."""
    wa, wd, ba, bd = layer
    z0 = torch.einsum("ni,eoi->eno", x, wa) + ba.unsqueeze(1)
    z1 = torch.einsum("ni,eoi->eno", x, wd) + bd.unsqueeze(1)
    return z0, z1


def _output_poly(arch: Architecture, a: torch.Tensor, d: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                 kind: str) -> torch.Tensor:
    """Residual polynomials H(x_mu; theta(t)) - y_mu, (E, N, n_L, D+1), all units active.

    Depth 1: degree 1. Depth 2: the hidden polynomial g_j(t) (z for linear, z^2 for
    quadratic) times the affine W_2(t), plus b_2(t): degree 2 or 3.
    """
    layers = _affine_layers(arch, a, d)
    z0, z1 = _hidden_polys(layers[0], x)
    if arch.depth == 1:
        out = torch.stack([z0, z1], dim=-1)
    else:
        g = torch.stack([z0, z1], dim=-1)
        if kind == "quadratic":
            g = _poly_mul(g, g)
        va, vd, ba, bd = layers[1]
        vg_a = torch.einsum("enjk,eoj->enok", g, va)
        vg_d = torch.einsum("enjk,eoj->enok", g, vd)
        out = _pad(vg_a, g.shape[-1] + 1)
        out[..., 1:] += vg_d
        out[..., 0] += ba.unsqueeze(1)
        out[..., 1] += bd.unsqueeze(1)
    out[..., 0] -= y
    return out


def _rounding_bound(problem: Problem, a: torch.Tensor, d: torch.Tensor, kind: str) -> torch.Tensor:
    """A-priori bound on float64 rounding in the piece polynomials, evaluated on [0, 1].

    Every coefficient is a sum of products of data and parameters. With m the longest chain
    of floating-point operations any term goes through, the computed sum differs from the
    exact one by at most gamma_m = m eps / (1 - m eps) times the same sum taken over absolute
    values (Higham, ch. 3). The chain here: the n_0-term pre-activation, the n_1-term sum over
    units, the outputs and the polynomial product, the N-term sum over samples, for ReLU the
    per-sample cumulative sum (n_1) and the global one (N n_1), and Horner evaluation at
    t in [0, 1] (2 D). The absolute-value computation with every unit active dominates any
    ReLU active set, so the linear computation on |.| covers ReLU too. The direction
    d = b - a is itself rounded (relative eps), one more operation in every chain.

    The sum over absolute values of every coefficient of a polynomial with non-negative
    coefficients is its value at t = 1; so the magnitude is the loss of the net with weights
    |a| + |d| on inputs |x| and targets -|y| (every unit active, the square kept for a
    quadratic activation), plus kappa ||(|a| + |d|)||^2: one forward pass. Its own rounding
    (relative gamma_m at most) is covered by the factor (1 + gamma).
    """
    arch = problem.architecture
    magnitude = Problem(Architecture(arch.widths, "quadratic" if kind == "quadratic" else "linear", arch.bias),
                        problem.x.abs(), -problem.y.abs(), problem.kappa)
    total = magnitude.loss(a.abs() + d.abs())
    n = problem.num_samples
    coefficients = 2 if arch.depth == 1 else (4 if kind == "quadratic" else 3)  # of the residual polynomials
    chain = sum(arch.widths) + n + 2 * coefficients * 2 + 16  # 16 covers d = b - a too
    if kind == "relu":
        chain += n * arch.widths[1] + arch.widths[1] + 1
    gamma = chain * EPS / (1 - chain * EPS)
    return gamma * (1 + gamma) * total


def _exact_maxima(problem: Problem, a: torch.Tensor, d: torch.Tensor, kind: str) -> SegmentBound:
    """Exact maxima for at most one hidden layer, in chunks of segments to bound memory.

    ReLU goes to the compiled breakpoint sweep of :mod:`sublevel.checks.certify.relu_sweep`;
    the other activations have one polynomial per segment, maximised here.
    """
    arch = problem.architecture
    n0, n1, n_out = arch.widths[0], arch.widths[1], arch.widths[-1]
    # Largest per-segment tensors: ReLU's parameters (the sweep forms everything else per
    # segment), otherwise the hidden and output polynomials.
    if kind == "relu":
        per_segment = 2 * arch.num_params + problem.num_samples
    else:
        per_segment = problem.num_samples * (4 * n1 + 8 * n_out + n0)
    step = max(1, CHUNK_ELEMENTS // per_segment)
    uppers, argmaxes = [], []
    for i in range(0, a.shape[0], step):
        ai, di = a[i:i + step], d[i:i + step]
        ridge = _ridge_poly(ai, di, problem.kappa)
        if kind == "relu":
            layers = _affine_layers(arch, ai, di)
            value, t_best = relu_segment_maxima(problem.x, *layers[0], *layers[1], problem.y, ridge)
        else:
            coeffs = _square_loss_poly(_output_poly(arch, ai, di, problem.x, problem.y, kind)).unsqueeze(1)
            coeffs = coeffs.clone()
            coeffs[..., :3] += ridge.unsqueeze(1)
            lo, hi = torch.zeros_like(ridge[:, 0]), torch.ones_like(ridge[:, 0])
            seg = torch.arange(ai.shape[0], device=ai.device)
            value, t_best = _maximise_pieces(coeffs[:, 0], lo, hi, seg, ai.shape[0])
        uppers.append(value + _rounding_bound(problem, ai, di, kind))
        argmaxes.append(t_best)
    upper, argmax = torch.cat(uppers), torch.cat(argmaxes)
    lower = problem.loss(a + argmax.unsqueeze(1) * d)
    return SegmentBound(torch.maximum(upper, lower), lower, argmax, True)


def _maximise_pieces(coeffs: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, seg: torch.Tensor,
                     count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Maximum of piecewise polynomials, the pieces of ``count`` segments given flat.

    Parameters
    ----------
    coeffs : (K, D+1)
        Polynomial on piece k = [lo_k, hi_k] (0 <= lo_k < hi_k <= 1), lowest degree first.
    lo, hi : (K,)
    seg : (K,)
        Segment of each piece; every segment has at least one piece.

    Returns
    -------
    upper : (count,)
        Maximum over the candidates of :func:`_piece_maxima`, plus its dropped-term margin.
    argmax : (count,)
        The candidate t with the largest polynomial value.

    Notes
    -----
    Pruning: with s = sum_i i |c_i| hi^(i-1) >= |p'| on the piece, p <= (p(lo) + p(hi)) / 2
    + s (hi - lo) / 2 there. A piece whose bound does not exceed the best end-point value of
    its segment cannot hold a larger value, so only the few pieces near the maximum go
    through root finding; with N n_1 narrow ReLU pieces this skips almost all of them.
    """
    ends = _poly_eval(coeffs, torch.stack([lo, hi], dim=-1))
    best_end, which = ends.max(dim=-1)
    none = torch.full((count,), -torch.inf, dtype=coeffs.dtype, device=coeffs.device)
    best, argmax = _update_best(none, torch.zeros_like(none), seg, best_end, torch.where(which == 0, lo, hi))
    powers = torch.arange(1, coeffs.shape[-1], dtype=coeffs.dtype, device=coeffs.device)
    slope = (coeffs[:, 1:].abs() * powers * hi.unsqueeze(-1) ** (powers - 1)).sum(-1)
    bound = ends.mean(dim=-1) + slope * (hi - lo) / 2
    open_ = bound > best[seg]
    upper_piece, value, t_best = _piece_maxima(coeffs[open_], lo[open_], hi[open_])
    upper = best.scatter_reduce(0, seg[open_], upper_piece, reduce="amax")
    _, argmax = _update_best(best, argmax, seg[open_], value, t_best)
    return upper, argmax


def _piece_maxima(coeffs: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Maximum of each polynomial on its piece via the roots of its derivative.

    Returns
    -------
    upper : (K,)
        ``value`` plus twice the mass of the dropped tiny leading terms: with p~ the
        polynomial without them, max over candidates of p >= max p~ - sup|p - p~| >= max p -
        2 sup|p - p~| on [0, 1].
    value, argmax : (K,)
        Largest candidate value and its t.

    Notes
    -----
    Candidates per piece: its two end points, and the real parts of the roots of p' clamped
    into the piece, before and after Newton polishing. Spurious candidates (real parts of
    complex roots) are harmless: they are points of the piece, so the maximum over candidates
    never exceeds the true maximum, and it reaches it because the true critical points are
    among them.
    """
    lo, hi = lo.unsqueeze(-1), hi.unsqueeze(-1)
    degree = coeffs.shape[-1] - 1
    powers = torch.arange(1, degree + 1, dtype=coeffs.dtype, device=coeffs.device)
    deriv = coeffs[..., 1:] * powers
    # Effective degree of p': drop leading coefficients that are negligible relative to the
    # derivative's coefficient mass; what they contribute to p on [0, 1] goes into the bound.
    mass = deriv.abs().sum(-1, keepdim=True)
    significant = deriv.abs() > DROP_RELATIVE * mass
    idx = torch.arange(degree, device=coeffs.device)
    eff = torch.where(significant, idx, torch.full_like(idx, -1)).amax(-1)  # -1: p' == 0
    dropped_mask = idx > eff.unsqueeze(-1)
    dropped = torch.where(dropped_mask, coeffs[..., 1:].abs(), torch.zeros_like(deriv)).sum(-1)

    roots = torch.clamp(_companion_roots(deriv, eff), lo, hi)
    polished = roots
    deriv_kept = torch.where(dropped_mask, torch.zeros_like(deriv), deriv)
    second = deriv_kept[..., 1:] * powers[:-1]
    for _ in range(NEWTON_STEPS):
        f = _poly_eval(deriv_kept, polished)
        fp = _poly_eval(second, polished)
        safe = torch.where(fp == 0, torch.ones_like(fp), fp)
        polished = torch.clamp(torch.where(fp == 0, polished, polished - f / safe), lo, hi)
    cand = torch.cat([lo, hi, roots, polished], dim=-1)
    values = _poly_eval(coeffs, cand)
    best_val, best_idx = values.max(dim=-1)
    best_t = torch.gather(cand, -1, best_idx.unsqueeze(-1)).squeeze(-1)
    return best_val + 2 * dropped, best_val, best_t


def _companion_roots(deriv: torch.Tensor, eff: torch.Tensor) -> torch.Tensor:
    """Real parts of the roots of polynomials of effective degree ``eff`` (batched).

    A polynomial of degree k < D is placed in the leading k x k block of a D x D companion
    matrix; the remaining eigenvalues are 0, a harmless extra candidate once clamped.
    """
    size = deriv.shape[-1] - 1
    shape = deriv.shape[:-1]
    if size == 0:
        return deriv.new_zeros(shape + (0,))
    k = eff.clamp(min=0).unsqueeze(-1)
    lead = torch.gather(deriv, -1, k)
    lead = torch.where(lead == 0, torch.ones_like(lead), lead)
    rows = torch.arange(size, device=deriv.device)
    inside = rows < k  # (…, size): row i belongs to the k x k block
    comp = deriv.new_zeros(shape + (size, size))
    sub = torch.diag_embed((inside[..., 1:]).to(deriv.dtype), offset=-1)
    comp = comp + sub
    last = torch.where(inside, -deriv[..., :size] / lead, torch.zeros_like(deriv[..., :size]))
    col = (rows.unsqueeze(0) == (k - 1)).to(deriv.dtype)  # one-hot column k-1, zero when k == 0
    comp = comp + last.unsqueeze(-1) * col.unsqueeze(-2)
    flat = comp.reshape(-1, size, size)
    roots = torch.linalg.eigvals(flat).real if flat.shape[0] else flat.new_zeros(0, size)
    return roots.reshape(shape + (size,))


# --------------------------------------------------------------- interval method (deeper)
def _interval_bounds(problem: Problem, a: torch.Tensor, d: torch.Tensor, mid: torch.Tensor,
                     rad: torch.Tensor, kind: str, slope: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Loss bound and |dL/dt| bound over t in [mid - rad, mid + rad], batched over intervals.

    Parameters
    ----------
    a, d : (I, P)
        Segment start and direction for each interval.
    mid, rad : (I,)
        Centre and half-width of each t-interval.
    slope : bool
        Also propagate the t-derivative (forward mode) and return a bound on |dL/dt|.

    Returns
    -------
    upper : (I,)
        (1/N) sum (|c_H - y| + r_H)^2 + kappa sum (|theta_c| + theta_r)^2.
    slope : (I,) or None
        max |dL/dt| over the interval, from dL/dt = (2/N) sum (H - y) dH/dt + 2 kappa theta.d.
    """
    arch = problem.architecture
    delta = inflation(problem)
    theta_c = a + mid.unsqueeze(1) * d
    # delta (|a| + |d|) covers the rounding of a + mid d and of d = b - a itself (mid <= 1).
    theta_r = widen(theta_c, rad.unsqueeze(1) * d.abs() + delta * (a.abs() + d.abs()), delta)
    views_c, views_r, views_d = arch.layers(theta_c), arch.layers(theta_r), arch.layers(d)
    x = problem.x.expand(a.shape[0], -1, -1)
    h: Box = (x, torch.zeros_like(x))
    dh: Box | None = None  # the inputs do not move with t
    for layer, (vc, vr, vd) in enumerate(zip(views_c, views_r, views_d), start=1):
        zeros = vc.weight.new_zeros(vc.weight.shape[:-1])
        bias = (zeros, zeros) if vc.bias is None else (vc.bias, vr.bias)
        z = box_affine(vc.weight, vr.weight, bias, h, delta)
        dz = None
        if slope:
            # d/dt (W h + b) = D h + W dh/dt + e, with D and e the (exact) direction.
            e = zeros if vd.bias is None else vd.bias
            dz = box_affine(vd.weight, None, (e, zeros), h, delta)
            if dh is not None:
                inner = box_affine(vc.weight, vr.weight, (zeros, zeros), dh, delta)
                dz = (dz[0] + inner[0], widen(dz[0] + inner[0], dz[1] + inner[1], delta))
        if layer == arch.depth:
            h, dh = z, dz
        else:
            h, moved = box_activation(z, [] if dz is None else [dz], kind, delta)
            dh = moved[0] if moved else None
    n = problem.num_samples
    residual = (h[0] - problem.y, widen(h[0] - problem.y, h[1], delta))
    upper = (residual[0].abs() + residual[1]).square().sum(dim=(1, 2)) / n
    upper = upper + problem.kappa * (theta_c.abs() + theta_r).square().sum(dim=1)
    upper = upper * (1 + delta)
    if not slope:
        return upper, None
    prod = box_mul(residual, dh, delta)
    ridge = box_mul((theta_c, theta_r), (d, torch.zeros_like(d)), delta)
    g_c = 2 * prod[0].sum(dim=(1, 2)) / n + 2 * problem.kappa * ridge[0].sum(dim=1)
    g_r = 2 * prod[1].sum(dim=(1, 2)) / n + 2 * problem.kappa * ridge[1].sum(dim=1)
    magnitude = 2 * (prod[0].abs() + prod[1]).sum(dim=(1, 2)) / n \
        + 2 * problem.kappa * (ridge[0].abs() + ridge[1]).sum(dim=1)
    return upper, (g_c.abs() + g_r) * (1 + delta) + delta * magnitude


def _intervals_per_chunk(problem: Problem) -> int:
    """Intervals evaluated together so one chunk's boxes stay near ``CHUNK_ELEMENTS`` entries."""
    per_interval = problem.num_samples * max(problem.architecture.widths) * 8 + problem.num_params * 6
    return max(1, CHUNK_ELEMENTS // per_interval)


def _interval_upper(problem: Problem, a: torch.Tensor, d: torch.Tensor, t0: torch.Tensor, t1: torch.Tensor,
                    kind: str) -> torch.Tensor:
    """Rigorous upper bound of L on each t-interval [t0, t1] (I intervals).

    The smaller of the natural interval extension (overestimates by O(t1 - t0)) and the
    mean value form L(t_m) + (t1 - t0)/2 max |L'| (overestimates by O((t1 - t0)^2) near a
    smooth maximum, where the slope enclosure contains 0), both in interval arithmetic.
    """
    step = _intervals_per_chunk(problem)
    parts = []
    for i in range(0, a.shape[0], step):
        ai, di, lo, hi = a[i:i + step], d[i:i + step], t0[i:i + step], t1[i:i + step]
        mid, rad = (lo + hi) / 2, (hi - lo) / 2
        natural, slope = _interval_bounds(problem, ai, di, mid, rad, kind, slope=True)
        centre, _ = _interval_bounds(problem, ai, di, mid, torch.zeros_like(rad), kind, slope=False)
        mean_value = (centre + rad * slope) * (1 + inflation(problem))
        parts.append(torch.minimum(natural, mean_value))
    return torch.cat(parts)


def _interval_maxima(problem: Problem, a: torch.Tensor, d: torch.Tensor, kind: str, atol: float,
                     max_splits: int) -> SegmentBound:
    """Branch and bound over t: bisect, best first, the sub-intervals that may still hold a
    value above the best attained one + atol; a sub-interval is settled for good once its
    bound is within atol (+ the relative rounding floor), since the attained value only
    grows."""
    e = a.shape[0]
    grid = torch.linspace(0, 1, 2 * INITIAL_PIECES + 1, dtype=a.dtype, device=a.device)
    seg = torch.arange(e, device=a.device).repeat_interleave(INITIAL_PIECES)
    t0, t1 = grid[:-1:2].repeat(e), grid[2::2].repeat(e)
    values = problem.loss((a.unsqueeze(1) + grid[:, None] * d.unsqueeze(1)).reshape(-1, a.shape[1])).reshape(e, -1)
    lower, best = values.max(dim=1)
    argmax = grid[best]
    upper = _interval_upper(problem, a[seg], d[seg], t0, t1, kind)
    settled = torch.full((e,), -torch.inf, dtype=a.dtype, device=a.device)
    for round_ in range(max_splits + 1):
        open_ = upper > lower[seg] + atol + ROUNDING_FLOOR * lower[seg].abs()
        settled = settled.scatter_reduce(0, seg[~open_], upper[~open_], reduce="amax")
        seg, t0, t1, upper = seg[open_], t0[open_], t1[open_], upper[open_]
        if round_ == max_splits or seg.numel() == 0:
            break
        chosen = _best_per_segment(seg, upper, e, SPLITS_PER_ROUND)
        rest = torch.ones(seg.numel(), dtype=torch.bool, device=seg.device).index_fill(0, chosen, False)
        c_seg, c_lo, c_hi, c_up = seg[chosen], t0[chosen], t1[chosen], upper[chosen]
        c_mid = (c_lo + c_hi) / 2
        kids_seg = torch.cat([c_seg, c_seg])
        kids_lo, kids_hi = torch.cat([c_lo, c_mid]), torch.cat([c_mid, c_hi])
        # A child lies inside its parent, so the parent's bound holds for it too.
        kids_up = torch.minimum(_interval_upper(problem, a[kids_seg], d[kids_seg], kids_lo, kids_hi, kind),
                                torch.cat([c_up, c_up]))
        kids_t = (kids_lo + kids_hi) / 2
        kids_val = problem.loss(a[kids_seg] + kids_t.unsqueeze(1) * d[kids_seg])
        lower, argmax = _update_best(lower, argmax, kids_seg, kids_val, kids_t)
        seg = torch.cat([seg[rest], kids_seg])
        t0, t1 = torch.cat([t0[rest], kids_lo]), torch.cat([t1[rest], kids_hi])
        upper = torch.cat([upper[rest], kids_up])
    upper = settled.scatter_reduce(0, seg, upper, reduce="amax")
    return SegmentBound(torch.maximum(upper, lower), lower, argmax, False)


def _best_per_segment(seg: torch.Tensor, score: torch.Tensor, count: int, k: int) -> torch.Tensor:
    """Indices of the (at most) k highest scores within each segment."""
    order = torch.argsort(score, descending=True)
    order = order[torch.argsort(seg[order], stable=True)]
    sorted_seg = seg[order]
    sizes = torch.bincount(sorted_seg, minlength=count)
    first = torch.cumsum(sizes, 0) - sizes
    rank = torch.arange(order.numel(), device=seg.device) - first[sorted_seg]
    return order[rank < k]


def _update_best(lower: torch.Tensor, argmax: torch.Tensor, seg: torch.Tensor, values: torch.Tensor,
                 ts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Raise each segment's attained value (and its t) with newly evaluated points."""
    new = lower.scatter_reduce(0, seg, values, reduce="amax")
    hit = (values == new[seg]) & (values > lower[seg])
    argmax = argmax.clone()
    argmax[seg[hit]] = ts[hit]
    return new, argmax
