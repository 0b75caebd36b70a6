"""The vectorised torch computation of exact ReLU segment maxima that the compiled sweep
(sublevel.checks.certify.relu_sweep) replaced, kept as an independent reference for the
property test in test_segments.py and for bench/segment_maxima.py.

Per sample, the output quadratics on the sample's own pieces come from a cumulative sum of the
units switching on or off; the differences of the sample quartics are attached to the switching
times, sorted over all samples, and summed cumulatively; every piece is then maximised by the
package's polynomial maximiser (companion-matrix roots), a different root finder from the sweep's
bracketing bisection.
"""
from __future__ import annotations

import torch

from sublevel.checks.certify.segments import (_affine_layers, _hidden_polys, _maximise_pieces, _poly_mul,
                                              _ridge_poly, _rounding_bound)
from sublevel.theory.problems import Problem


def reference_relu_maxima(problem: Problem, start: torch.Tensor, end: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(upper, argmax) of the loss on each segment, as the package computed them before the sweep."""
    problem = problem.to(dtype=torch.float64)
    a, d = start.double(), (end - start).double()
    coeffs, knots = relu_pieces(problem, a, d)
    coeffs = coeffs.clone()
    coeffs[..., :3] += _ridge_poly(a, d, problem.kappa).unsqueeze(1)
    lo, hi = knots[:, :-1], knots[:, 1:]
    keep = hi > lo
    seg = torch.arange(a.shape[0]).unsqueeze(1).expand_as(lo)[keep]
    value, t_best = _maximise_pieces(coeffs[keep], lo[keep], hi[keep], seg, a.shape[0])
    return value + _rounding_bound(problem, a, d, "relu"), t_best


def relu_pieces(problem: Problem, a: torch.Tensor, d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss quartics on all global pieces: coeffs (E, M+1, 5) on [knots_k, knots_{k+1}],
    knots (E, M+2) from 0 to 1, M = N n_1."""
    layers = _affine_layers(problem.architecture, a, d)
    x, y = problem.x, problem.y
    z0, z1 = _hidden_polys(layers[0], x)
    va, vd, ba, bd = layers[1]
    e, n, n1 = z0.shape
    contrib = torch.stack([
        torch.einsum("enj,eoj->enjo", z0, va),
        torch.einsum("enj,eoj->enjo", z1, va) + torch.einsum("enj,eoj->enjo", z0, vd),
        torch.einsum("enj,eoj->enjo", z1, vd),
    ], dim=-1)  # (E, N, n1, nL, 3)
    ratio = -z0 / torch.where(z1 == 0, torch.ones_like(z1), z1)
    inside = (z1 != 0) & (ratio > 0) & (ratio < 1)
    active0 = (z0 > 0) | ((z0 == 0) & (z1 > 0))
    toggle = torch.where(inside, torch.sign(z1), torch.zeros_like(z1))
    times = torch.where(inside, ratio, torch.ones_like(ratio))
    base = torch.zeros(e, n, y.shape[1], 3, dtype=z0.dtype)
    base[..., 0] = ba.unsqueeze(1) - y
    base[..., 1] = bd.unsqueeze(1)
    out0 = base + (active0.to(z0.dtype)[..., None, None] * contrib).sum(dim=2)
    times, order = torch.sort(times, dim=2)
    steps = toggle[..., None, None] * contrib
    steps = torch.gather(steps, 2, order[..., None, None].expand_as(steps))
    outs = torch.cat([out0.unsqueeze(2), out0.unsqueeze(2) + torch.cumsum(steps, dim=2)], dim=2)
    quartic = _poly_mul(outs, outs).sum(dim=3)
    delta = (quartic[:, :, 1:] - quartic[:, :, :-1]).reshape(e, n * n1, 5) / n
    first = quartic[:, :, 0].sum(dim=1) / n
    flat_times, order = torch.sort(times.reshape(e, n * n1), dim=1)
    delta = torch.gather(delta, 1, order.unsqueeze(-1).expand_as(delta))
    coeffs = torch.cat([first.unsqueeze(1), first.unsqueeze(1) + torch.cumsum(delta, dim=1)], dim=1)
    zeros, ones = flat_times.new_zeros(e, 1), flat_times.new_ones(e, 1)
    return coeffs, torch.cat([zeros, flat_times, ones], dim=1)
