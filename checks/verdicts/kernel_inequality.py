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

How much can the check tell? Random distributions leave the lower bound slack by orders of
magnitude, so :func:`tightest_lower_bound` searches adversarially for the distribution and
angle that make the correction most needed: it maximises the ratio

    r = ((1 + cos alpha)/2 ||w_m||_Z^2 - [w1, w2]_Z) / (2 ||Sigma|| ((1 - cos alpha)/2 + sin^2 alpha))

over empirical distributions of a few points (dense among all distributions). The lemma says
r <= 1; a correction scaled by a factor f is refuted by any distribution with r > f. Found
here: r = 1/6 at alpha = 90 degrees with two points on w1 and w2 (then [w1, w2] = 0,
||w_m||^2 = c^2/2, ||Sigma|| = c^2/2: r = (c^2/4) / (3 c^2/2)); no search got higher. So the
stated correction is about 6 times larger than any distribution tried needs, and a correction
scaled by f < 1/6 is refuted, while the halved one (f = 1/2) holds on everything tried.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import minimize

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


@dataclass(frozen=True)
class Tightness:
    """The largest ratio r (module docstring) an adversarial search found, and where."""

    ratio: float
    angle: float
    points: np.ndarray
    searches: int


def planar_pair(angle: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit w1 = e_1 and w2 = cos(angle) e_1 + sin(angle) e_2 in R^n."""
    w1, w2 = np.zeros(n), np.zeros(n)
    w1[0] = 1.0
    w2[:2] = np.cos(angle), np.sin(angle)
    return w1, w2


def _negative_ratio(params: np.ndarray, n: int, count: int) -> float:
    w1, w2 = planar_pair(float(np.clip(params[0], 1e-4, np.pi - 1e-4)), n)
    bounds = bounds_empirical(params[1:].reshape(count, n), w1, w2)
    if not bounds.correction > 0:
        return 0.0
    return -(bounds.upper - bounds.value) / bounds.correction


def tightest_lower_bound(searches: int = 24, seed: int = 0, max_points: int = 4,
                         iterations: int = 3000) -> Tightness:
    """Maximise r over the angle and an empirical distribution of 1..``max_points`` points in
    R^2 or R^3 (Nelder-Mead from ``searches`` seeded random starts); deterministic."""
    rng = np.random.default_rng(seed)
    best = Tightness(0.0, 0.0, np.zeros((0, 2)), searches)
    for _ in range(searches):
        n, count = int(rng.integers(2, 4)), int(rng.integers(1, max_points + 1))
        start = np.concatenate([[rng.uniform(0.05, np.pi - 0.05)], rng.standard_normal(n * count)])
        found = minimize(_negative_ratio, start, args=(n, count), method="Nelder-Mead",
                         options={"maxiter": iterations, "xatol": 1e-10, "fatol": 1e-14})
        if -found.fun > best.ratio:
            best = Tightness(float(-found.fun), float(np.clip(found.x[0], 1e-4, np.pi - 1e-4)),
                             found.x[1:].reshape(count, n), searches)
    return best
