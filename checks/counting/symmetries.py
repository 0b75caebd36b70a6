"""Symmetries of fully connected nets and canonical forms of parameter points.

Three groups act on theta without changing the function H(x; theta) (so without changing the
square loss; the ridge term is kept by the discrete ones only):

* **Permutations** of the units of each hidden layer l: rows of W_l and entries of b_l, with
  the columns of W_{l+1}, permuted alike.
* **Rescaling** of a unit by c > 0 (ReLU, sigma(c z) = c sigma(z)): incoming row and bias
  times 1/c, outgoing column times c. The square has degree 2 (outgoing times c^2), the
  identity degree 1 and any sign of c.
* **Sign flips** of quadratic units ((-z)^2 = z^2; incoming row and bias negated) and of
  linear units (outgoing column negated too).

The canonical form fixes each: every hidden unit's incoming vector (row and bias) gets unit
norm (rescaling; units with zero incoming vector are left alone), then its incoming
vector's entries are made to sum to a positive number (sign flips, where they are
symmetries), then the units are permuted,
either to match a reference point by weight matching (maximise sum_j <u_j^ref, u_pi(j)> over
incoming and outgoing weights with :func:`scipy.optimize.linear_sum_assignment`, layer by
layer; Ainsworth, Hayase & Srinivasa, "Git Re-Basin", ICLR 2023) or, without a reference, by
sorting the units lexicographically.

Rescaling and sign flips of one unit are connected to the identity only through c > 0, so
they never change which component a point is in; permutations and flips can. Counting modulo
symmetry therefore means: two minima (or components) are the same when their canonical forms
agree (or are joined by a certified path). Every count in this package says whether it is
``raw`` or ``modulo symmetry``.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from sublevel.theory.errors import InputError
from sublevel.theory.networks import Architecture

DEGREE = {"relu": 1, "quadratic": 2, "linear": 1}
"""Homogeneity degree of each activation: sigma(c z) = c^degree sigma(z) for c > 0."""

FLIPS = {"quadratic": False, "linear": True}
"""Activations with a sign-flip symmetry, and whether the outgoing column flips too."""


def _activation(architecture: Architecture) -> str:
    name = architecture.activation_name
    if architecture.depth > 1 and name not in DEGREE:
        raise InputError(f"symmetries are known for linear, relu and quadratic units, not {name!r}")
    return name


def _units(architecture: Architecture, theta: torch.Tensor, layer: int) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Views (K, n_l, n_{l-1}), (K, n_l) or None, (K, n_{l+1}, n_l) of hidden layer ``layer``'s units."""
    views = architecture.layers(theta)
    return views[layer - 1].weight, views[layer - 1].bias, views[layer].weight


def rescale(architecture: Architecture, theta: torch.Tensor, layer: int, balanced: bool = False) -> None:
    """In place: hidden layer ``layer``'s incoming vectors (row and bias) divided by c and
    outgoing columns multiplied by c^degree (the same function): c = the incoming norm r (unit
    incoming vectors), or with ``balanced`` c = (r / s)^(1 / (1 + degree)), s the outgoing norm,
    which makes the two norms equal (the point of smallest norm on the unit's rescaling orbit).
    Units with a zero incoming (or, balanced, outgoing) vector are left alone."""
    degree = DEGREE[_activation(architecture)]
    w_in, b_in, w_out = _units(architecture, theta, layer)
    norm = (w_in.square().sum(-1) + (b_in.square() if b_in is not None else 0)).sqrt()
    if balanced:
        outgoing = w_out.square().sum(-2).sqrt()
        ok = (norm > 0) & (outgoing > 0)
        norm = torch.where(ok, (norm / torch.where(ok, outgoing, torch.ones_like(outgoing))) ** (1 / (1 + degree)),
                           torch.zeros_like(norm))
    scale = torch.where(norm > 0, norm, torch.ones_like(norm))
    w_in /= scale.unsqueeze(-1)
    if b_in is not None:
        b_in /= scale
    w_out *= (scale ** degree).unsqueeze(-2)


def flip_signs(architecture: Architecture, theta: torch.Tensor, layer: int) -> None:
    """In place: quadratic and linear units of ``layer`` get incoming vectors with a positive
    sum (a rule that ignores the order of the previous layer's units)."""
    name = _activation(architecture)
    if name not in FLIPS:
        return
    w_in, b_in, w_out = _units(architecture, theta, layer)
    incoming = torch.cat([w_in, b_in.unsqueeze(-1)], -1) if b_in is not None else w_in
    sign = torch.where(incoming.sum(-1) < 0, -1.0, 1.0).to(theta.dtype)
    w_in *= sign.unsqueeze(-1)
    if b_in is not None:
        b_in *= sign
    if FLIPS[name]:
        w_out *= sign.unsqueeze(-2)


def permute(architecture: Architecture, theta: torch.Tensor, orders: list[torch.Tensor]) -> torch.Tensor:
    """Units of hidden layer l put in the order ``orders[l-1]`` (K, n_l) (new unit j = old unit order[j])."""
    theta = theta.clone()
    for layer, order in enumerate(orders, start=1):
        w_in, b_in, w_out = _units(architecture, theta, layer)
        w_in.copy_(torch.gather(w_in, 1, order.unsqueeze(-1).expand_as(w_in)))
        if b_in is not None:
            b_in.copy_(torch.gather(b_in, 1, order))
        w_out.copy_(torch.gather(w_out, 2, order.unsqueeze(1).expand_as(w_out)))
    return theta


def permute_layer(architecture: Architecture, theta: torch.Tensor, layer: int, order: torch.Tensor) -> torch.Tensor:
    """Only hidden layer ``layer``'s units reordered by ``order`` (K, n_layer)."""
    orders = [torch.arange(architecture.widths[l]).expand(theta.shape[0], -1) for l in range(1, architecture.depth)]
    orders[layer - 1] = order
    return permute(architecture, theta, orders)


def _unit_features(architecture: Architecture, theta: torch.Tensor, layer: int) -> torch.Tensor:
    """(K, n_l, F): incoming row and bias of each unit of hidden layer ``layer``, then its
    outgoing column, sorted unless ``layer`` is the last hidden layer (the next layer's units
    are not ordered yet; their multiset of weights is)."""
    w_in, b_in, w_out = _units(architecture, theta, layer)
    out = w_out.transpose(-1, -2)
    parts = [w_in] + ([b_in.unsqueeze(-1)] if b_in is not None else [])
    return torch.cat(parts + [out if layer == architecture.depth - 1 else out.sort(-1).values], -1)


def _sort_order(features: torch.Tensor) -> torch.Tensor:
    """Lexicographic order of the units (K, n, F) -> (K, n)."""
    return torch.stack([torch.as_tensor(np.lexsort(f.T[::-1])) for f in features.cpu().numpy()])


def _match_order(features: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Weight matching: the unit order maximising sum_j <ref_j, unit_order[j]> (K, n, F), (n, F) -> (K, n)."""
    score = (reference.unsqueeze(0) @ features.transpose(-1, -2)).cpu().numpy()
    return torch.stack([torch.as_tensor(linear_sum_assignment(s, maximize=True)[1]) for s in score])


def canonicalise(architecture: Architecture, theta, reference=None, rescale_units: bool | str = True) -> torch.Tensor:
    """Canonical forms of parameter points (K, P) or (P,): same function, same square loss.

    Parameters
    ----------
    architecture : Architecture
    theta : tensor (K, P) or (P,)
    reference : tensor (P,), optional
        Match unit order to this point's canonical form (weight matching); without it units
        are sorted lexicographically.
    rescale_units : bool or "balanced"
        Normalise incoming vectors (a continuous symmetry; turn off with a ridge term, which
        it does not preserve); ``"balanced"`` gives every unit equal incoming and outgoing
        norms instead (:func:`rescale`), which keeps the scale of the weights.

    Returns
    -------
    tensor of theta's shape.

    Raises
    ------
    InputError
        On a length other than P, NaN or inf, or an activation with no known symmetries.

    Notes
    -----
    First every hidden layer, from the input side, is rescaled and flipped (rules that do not
    depend on unit order); then the units of layer l are ordered (which fixes the column order
    of W_{l+1}) before layer l + 1. Idempotent: a canonical form changes only by rounding (up
    to exact ties between units). Cost O(K L n^3) for the assignments.
    """
    theta = torch.as_tensor(theta, dtype=torch.float64)
    architecture.check_params(theta)
    if not torch.isfinite(theta).all():
        raise InputError("parameters contain NaN or inf")
    single = theta.ndim == 1
    batch = theta.reshape(-1, architecture.num_params).clone()
    ref = None
    if reference is not None:
        ref = canonicalise(architecture, torch.as_tensor(reference, dtype=torch.float64).reshape(-1),
                           rescale_units=rescale_units).unsqueeze(0)
    for layer in range(1, architecture.depth):
        if rescale_units:
            rescale(architecture, batch, layer, balanced=rescale_units == "balanced")
        flip_signs(architecture, batch, layer)
    for layer in range(1, architecture.depth):
        features = _unit_features(architecture, batch, layer)
        order = _sort_order(features) if ref is None else _match_order(features, _unit_features(architecture, ref, layer)[0])
        batch = permute_layer(architecture, batch, layer, order.to(batch.device))
    return batch[0] if single else batch


def distinct(points: torch.Tensor, atol: float = 1e-6) -> int:
    """Number of distinct points (K, P): greedy clusters of radius ``atol`` (max-norm)."""
    reps: list[torch.Tensor] = []
    for point in points:
        if not any(float((point - r).abs().max()) <= atol for r in reps):
            reps.append(point)
    return len(reps)


def count_minima(architecture: Architecture, points, atol: float = 1e-6) -> dict:
    """Distinct points raw and modulo symmetry (canonical forms matched to the first point)."""
    points = torch.as_tensor(points, dtype=torch.float64)
    canon = canonicalise(architecture, points, points[0])
    return {"raw": distinct(points, atol), "modulo symmetry": distinct(canon, atol)}
