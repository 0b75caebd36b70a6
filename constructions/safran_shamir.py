"""``safran-shamir``: ReLU teacher sum_i relu(v_i.x) with orthonormal v_i, k >= 6 units.

Safran & Shamir, "Spurious local minima are common in two-layer ReLU neural networks",
ICML 2018 (arXiv:1712.08968). Inputs x ~ N(0, I_k); target sum_{i<=k} relu(v_i.x) with
orthonormal v_i; student sum_{i<=k} relu(w_i.x) with output weights fixed to 1. The paper
finds spurious local minima of the population loss for every k from 6 to 20 (none below 6).

The population loss is exact through the arc-cosine kernel (:mod:`sublevel.constructions.arccos_kernel`):

    L(W) = 1^T K(W, W) 1 - 2 1^T K(W, V) 1 + 1^T K(V, V) 1,

which :func:`population_loss` evaluates (batched, differentiable). The stored sample (inputs and
labels) serves the sample-loss tools; its named point theta_teacher has widths k-k-1, no bias,
with output weights 1.
"""
from __future__ import annotations

import numpy as np
import torch

from sublevel.constructions.arccos_kernel import two_layer_population_loss
from sublevel.constructions.datasets import Dataset
from sublevel.constructions.registry import Param, positive, register
from sublevel.theory.errors import InputError
from sublevel.theory.networks import Architecture

MIN_K = 6
"""Smallest k for which Safran & Shamir report spurious local minima."""


def orthonormal_teacher(k: int, seed: int) -> torch.Tensor:
    """V (k, k) with orthonormal rows: the identity for seed 0, else Q of a Gaussian matrix's QR."""
    if seed == 0:
        return torch.eye(k, dtype=torch.float64)
    gaussian = torch.randn(k, k, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return torch.linalg.qr(gaussian).Q


def population_loss(w: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Exact population loss of students W (..., k, k) against teacher V, output weights 1."""
    ones_w = w.new_ones(w.shape[:-1])
    ones_v = v.new_ones(v.shape[:-1]).expand(w.shape[:-2] + v.shape[:-1])
    return two_layer_population_loss(w, ones_w, v.expand(w.shape[:-2] + v.shape), ones_v)


@register("safran-shamir",
          "Safran-Shamir 2018: k orthonormal ReLU teacher units on N(0, I_k), output weights 1 (k >= 6); "
          "population loss exact via the arc-cosine kernel",
          Param("k", int, 6, "number of teacher and student units = input dimension (k >= 6)"),
          Param("samples", int, 512, "number of stored samples N (the population loss needs none)"),
          Param("seed", int, 0, "random seed (seed 0: v_i = e_i)"))
def safran_shamir(k: int, samples: int, seed: int) -> Dataset:
    if k < MIN_K:
        raise InputError(f"safran-shamir needs k >= {MIN_K} (no spurious minima are known below), got {k}")
    positive("samples", samples)
    v = orthonormal_teacher(k, seed)
    architecture = Architecture((k, k, 1), "relu", bias=False)
    theta = architecture.flatten([v, torch.ones(1, k, dtype=torch.float64)])
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples, k))
    y = np.maximum(x @ v.numpy().T, 0.0).sum(axis=1, keepdims=True)
    meta = {
        "seed": seed,
        "architecture": {"widths": architecture.spec, "activation": "relu", "bias": False},
        "points": {"theta_teacher": theta.tolist()},
        "point_losses": {"theta_teacher": 0.0},
        "loss_floor": 0.0,
        "teacher_rows": v.tolist(),
        "population_loss": "exact: constructions.safran_shamir.population_loss (arc-cosine kernel); "
                           "output weights fixed to 1 as in the paper",
    }
    return Dataset(x, y, meta)
