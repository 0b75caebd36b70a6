"""Interval arithmetic in centre-radius form, batched, with a rounding bound that grows with
the length of the sums: the one interval library behind certified segment maxima
(:mod:`sublevel.checks.certify.segments`) and certified boxes
(:mod:`sublevel.checks.certify.boxes`).

A box (c, r) is the set {v : |v - c| <= r}, elementwise. Products follow Rump's rule
(|x y - x_c y_c| <= |x_c| y_r + x_r (|y_c| + y_r)), affine maps W h + b likewise with matrix
products. The arithmetic is plain float64 without directed rounding, so every radius is widened
by delta relative to the magnitudes it was computed from: a dot product of length n commits a
relative error of at most gamma_n = n eps / (1 - n eps) against the sum of the absolute terms
(Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., ch. 3), and
:func:`inflation` takes delta >= 2 n eps for the longest sum of the problem (and at least
:data:`INTERVAL_INFLATION`). Because the widening is relative to magnitudes such as |W| |h| and
not to the result, cancellation cannot defeat it.
"""
from __future__ import annotations

from typing import Sequence

import torch

from sublevel.theory.errors import InputError
from sublevel.theory.networks import ACTIVATIONS, Architecture
from sublevel.theory.problems import Problem

EPS = float(torch.finfo(torch.float64).eps)
INTERVAL_INFLATION = 1e-12
"""Smallest relative widening of every interval radius (see :func:`inflation`): gamma_n stays
below it for sums of up to ~4000 terms."""

Box = tuple[torch.Tensor, torch.Tensor]
"""An interval vector in centre-radius form (c, r): the set {v : |v - c| <= r}."""


def inflation(problem: Problem) -> float:
    """Relative widening delta covering float64 rounding for ``problem``.

    The longest sums are over a layer's inputs, over the N n_L loss terms and over the P ridge
    terms; delta = max(INTERVAL_INFLATION, 2 n eps) for n their total (+ 8 for the few
    operations around them).
    """
    arch = problem.architecture
    longest = max(arch.widths) + problem.num_samples * arch.widths[-1] + arch.num_params + 8
    return max(INTERVAL_INFLATION, 2 * longest * EPS)


def widen(c: torch.Tensor, r: torch.Tensor, delta: float) -> torch.Tensor:
    """Radius widened to cover float64 rounding of quantities of magnitude |c| + r."""
    return r * (1 + delta) + delta * c.abs()


def box_mul(x: Box, y: Box, delta: float) -> Box:
    """Elementwise product of two boxes (Rump's centre-radius rule)."""
    c = x[0] * y[0]
    return c, widen(c, x[0].abs() * y[1] + x[1] * (y[0].abs() + y[1]), delta)


def box_affine(wc: torch.Tensor, wr: torch.Tensor | None, b: Box, h: Box, delta: float) -> Box:
    """W h + b for W in wc +- wr (wr None: W = wc exactly), b in b, h in h.

    Shapes (I, o, i), (I, o), (I, N, i) -> (I, N, o). Rump: |W h - wc hc| <= |wc| hr +
    wr (|hc| + hr). The rounding widening of |wc| |hc| is folded into the |wc| product
    (hr + delta |hc|) so it costs no extra matrix product.
    """
    c = h[0] @ wc.transpose(-1, -2) + b[0].unsqueeze(-2)
    r = (h[1] + delta * h[0].abs()) @ wc.abs().transpose(-1, -2) + (b[1] + delta * b[0].abs()).unsqueeze(-2)
    if wr is not None:
        r = r + (h[0].abs() + h[1]) @ wr.transpose(-1, -2)
    return c, widen(c, r, delta)


def box_activation(z: Box, derivatives: Sequence[Box], kind: str, delta: float) -> tuple[Box, list[Box]]:
    """sigma(z), and sigma'(z) dz for each box dz of ``derivatives`` (forward mode).

    ReLU is monotone, so its range is [relu(lo), relu(hi)]; its derivative lies in [0, 1]
    where the box straddles 0 (an enclosure of the Clarke derivative, enough for mean value
    forms and first-order conditions, since the loss is Lipschitz). The square has range
    [relu(|c| - r)^2, (|c| + r)^2] and derivative 2 z dz.
    """
    c, r = z
    if kind == "linear":
        return z, list(derivatives)
    if kind == "relu":
        lo, hi = torch.relu(c - r), torch.relu(c + r)
        out = ((lo + hi) / 2, widen(hi, (hi - lo) / 2, delta))
        s_lo, s_hi = (c - r > 0).to(c.dtype), (c + r >= 0).to(c.dtype)
        slope = ((s_lo + s_hi) / 2, (s_hi - s_lo) / 2)
        return out, [box_mul(slope, dz, delta) for dz in derivatives]
    low, high = square_range(z)
    out = ((low + high) / 2, widen(high, (high - low) / 2, delta))
    return out, [box_mul((2 * c, 2 * r), dz, delta) for dz in derivatives]


def square_range(z: Box) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower and upper ends (before rounding) of {v^2 : v in z}, elementwise."""
    return torch.relu(z[0].abs() - z[1]).square(), (z[0].abs() + z[1]).square()


def activation_kind(arch: Architecture) -> str:
    """Name of a certifiable activation (linear, relu, quadratic); the callable is matched by
    identity so that ``torch.relu`` passed directly is recognised as ``"relu"``.

    Raises
    ------
    InputError
        For any other activation: an arbitrary callable cannot be certified.
    """
    if arch.depth == 1:
        return "linear"  # no hidden layer: the activation is never applied
    for name, fn in ACTIVATIONS.items():
        if arch.activation == name or arch.activation is fn:
            return name
    raise InputError(
        f"cannot certify bounds for activation {arch.activation_name!r}: only linear, "
        "relu and quadratic have exact or interval bounds"
    )
