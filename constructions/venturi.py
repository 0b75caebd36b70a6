"""``venturi``: a spurious local minimum of a ReLU net narrower than its input (p < n).

Reconstructed after Venturi, Bandeira & Bruna, "Spurious valleys in two-layer neural network
optimization landscapes" (arXiv:1802.06384), their lower bound for p < n; docs/claims.rst, section 2
notes that the reconstruction comes from a reproduction, not from the paper's text.

Data, n >= 3 and 2 <= p <= n - 1: with probability 1/2, x = (G, 0) with G ~ N(0, I_{n-1});
otherwise x = (0, ..., 0, g) with g ~ N(0, 1). Labels

    y = alpha sum_{i <= p} relu(x_i) - beta relu(x_n),      beta > alpha > 0.

Student H(x) = sum_{j <= p} u_j relu(w_j.x), widths n-p-1, no bias. Named points:

* theta_bad: w_j = e_j (j <= p), u = alpha 1. It fits the first kind of input exactly and
  outputs 0 on the second: population loss (1/2) beta^2 E[relu(g)^2] = beta^2 / 4.
* theta_good: w_j = e_j (j < p), w_p = e_n, u = (alpha, ..., alpha, -beta): it fits the second
  kind exactly and misses alpha relu(x_p) on the first: population loss alpha^2 / 4.

Why theta_bad is a local minimum (proof, for the sample loss too): on an input (0, ..., 0, g)
the label is -beta relu(g) <= 0, while any student with u >= 0 outputs
sum_j u_j relu(w_jn g) >= 0, so its squared error there is at least beta^2 relu(g)^2; the
inputs of the first kind contribute >= 0. Hence L(theta) >= L(theta_bad) on the whole region
{u >= 0}, a neighbourhood of theta_bad (u = alpha 1 > 0). theta_bad sits on ReLU kinks, so
its Hessian says nothing; the bound above does. It is spurious because L(theta_good) < L(theta_bad)
whenever beta > alpha (exactly so on the sample when both kinds of input occur).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from sublevel.constructions.datasets import Dataset
from sublevel.constructions.registry import Param, register
from sublevel.theory.errors import InputError
from sublevel.theory.networks import Architecture


def named_points(n: int, p: int, alpha: float, beta: float) -> dict[str, torch.Tensor]:
    """theta_bad and theta_good for widths n-p-1 without bias."""
    architecture = Architecture((n, p, 1), "relu", bias=False)
    eye = torch.eye(n, dtype=torch.float64)
    bad_u = torch.full((1, p), alpha, dtype=torch.float64)
    good_w = torch.cat([eye[:p - 1], eye[n - 1:]])
    good_u = torch.cat([torch.full((1, p - 1), alpha, dtype=torch.float64),
                        torch.tensor([[-beta]], dtype=torch.float64)], dim=1)
    return {"theta_bad": architecture.flatten([eye[:p], bad_u]),
            "theta_good": architecture.flatten([good_w, good_u])}


@register("venturi",
          "Venturi-Bandeira-Bruna style (p < n): a spurious local minimum theta_bad at loss beta^2/4 "
          "above theta_good at alpha^2/4 for widths n-p-1",
          Param("n", int, 4, "input dimension n >= 3"),
          Param("p", int, 2, "hidden width p, 2 <= p <= n - 1"),
          Param("alpha", float, 1.0, "weight of the p teacher units, 0 < alpha < beta"),
          Param("beta", float, 2.0, "weight of the last-coordinate unit, beta > alpha"),
          Param("samples", int, 400, "number of samples N"),
          Param("seed", int, 0, "random seed"))
def venturi(n: int, p: int, alpha: float, beta: float, samples: int, seed: int) -> Dataset:
    if n < 3:
        raise InputError(f"venturi needs input dimension n >= 3, got {n}")
    if not 2 <= p <= n - 1:
        raise InputError(f"venturi needs hidden width 2 <= p <= n - 1 = {n - 1}, got {p}")
    if not (math.isfinite(alpha) and math.isfinite(beta) and 0 < alpha < beta):
        raise InputError(f"venturi needs 0 < alpha < beta, got alpha = {alpha}, beta = {beta}")
    if samples < 2:
        raise InputError(f"samples must be >= 2, got {samples}")
    rng = np.random.default_rng(seed)
    second = rng.random(samples) < 0.5
    x = np.zeros((samples, n))
    x[~second, : n - 1] = rng.standard_normal((int((~second).sum()), n - 1))
    x[second, n - 1] = rng.standard_normal(int(second.sum()))
    relu = np.maximum(x, 0.0)
    y = alpha * relu[:, :p].sum(axis=1, keepdims=True) - beta * relu[:, n - 1:]
    points = named_points(n, p, alpha, beta)
    architecture = Architecture((n, p, 1), "relu", bias=False)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    losses = {name: float(((architecture.forward(theta, xt) - yt) ** 2).mean()) for name, theta in points.items()}
    meta = {
        "seed": seed,
        "architecture": {"widths": architecture.spec, "activation": "relu", "bias": False},
        "points": {name: theta.tolist() for name, theta in points.items()},
        "point_losses": losses,
        "population_losses": {"theta_bad": beta * beta / 4, "theta_good": alpha * alpha / 4},
        "local_minimum_proof": "theta_bad: L(theta) >= L(theta_bad) on the region u >= 0 (labels of the "
                               "last-coordinate inputs are <= 0, outputs of students with u >= 0 are >= 0)",
    }
    return Dataset(x, y, meta)
