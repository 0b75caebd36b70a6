"""Freeman & Bruna's kernel lemma (Prop 2.3) evaluated on a distribution.

For unit w1, w2 at angle alpha, with unit bisector w_m = (w1 + w2) / |w1 + w2|,
[a, b]_Z = E[relu(a.X) relu(b.X)], ||w||_Z^2 = [w, w]_Z and Sigma = E[X X^T]:

    (1 + cos alpha)/2 ||w_m||_Z^2 - 2 ||Sigma|| ((1 - cos alpha)/2 + sin^2 alpha)
        <= [w1, w2]_Z <= (1 + cos alpha)/2 ||w_m||_Z^2

(Freeman & Bruna 2017, arXiv:1611.01540, Prop. 2.3), for every distribution of X. The upper
bound holds pointwise: on {w1.x > 0, w2.x > 0}, (w1.x)(w2.x) <= ((w1 + w2).x / 2)^2
= cos^2(alpha/2) (w_m.x)^2. Two kinds of distribution are evaluated exactly:
Gaussian N(0, C) through the arc-cosine kernel ([a, b] = [C^(1/2) a, C^(1/2) b] for N(0, I)),
and empirical distributions (finite sums).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sublevel.constructions.arccos_kernel import relu_kernel


@dataclass(frozen=True)
class KernelBounds:
    """The three sides of Prop 2.3 at one (distribution, w1, w2)."""

    lower: float
    value: float
    upper: float
    correction: float


def _bisector_terms(w1: np.ndarray, w2: np.ndarray) -> tuple[float, float, np.ndarray]:
    cos_a = float(np.clip(w1 @ w2, -1.0, 1.0))
    middle = w1 + w2
    return cos_a, 1.0 - cos_a * cos_a, middle / np.linalg.norm(middle)


def bounds_empirical(x: np.ndarray, w1: np.ndarray, w2: np.ndarray) -> KernelBounds:
    """Prop 2.3 for the empirical distribution of the rows of ``x`` (unit w1, w2, not opposite)."""
    cos_a, sin2, wm = _bisector_terms(w1, w2)
    relu = lambda w: np.maximum(x @ w, 0.0)  # noqa: E731 - local shorthand
    value = float(np.mean(relu(w1) * relu(w2)))
    norm_m = float(np.mean(relu(wm) ** 2))
    sigma = float(np.linalg.norm(x.T @ x / x.shape[0], 2))
    correction = 2 * sigma * ((1 - cos_a) / 2 + sin2)
    return KernelBounds((1 + cos_a) / 2 * norm_m - correction, value, (1 + cos_a) / 2 * norm_m, correction)


def bounds_gaussian(cov: np.ndarray, w1: np.ndarray, w2: np.ndarray) -> KernelBounds:
    """Prop 2.3 for X ~ N(0, cov), exactly through the arc-cosine kernel."""
    cos_a, sin2, wm = _bisector_terms(w1, w2)
    root = np.linalg.cholesky(cov)            # X = root Z, so a.X = (root^T a).Z
    w = torch.as_tensor(np.stack([w1, w2, wm]) @ root)
    k = relu_kernel(w, w).numpy()
    sigma = float(np.linalg.norm(cov, 2))
    correction = 2 * sigma * ((1 - cos_a) / 2 + sin2)
    return KernelBounds((1 + cos_a) / 2 * k[2, 2] - correction, float(k[0, 1]), (1 + cos_a) / 2 * k[2, 2], correction)
