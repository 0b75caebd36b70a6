"""The floor rho* of the determinant certificate for two ReLU units on 2-D inputs.

Freeman & Bruna 2017 (arXiv:1611.01540), section 2.3.1: for H(x) = W_2 relu(W_1 x) with
W_1 in R^{2x2} and no biases, swapping the two hidden units flips the sign of det W_1, so every
path between a teacher and its permuted copy crosses {det W_1 = 0}. There W_1 has rank <= 1:
both rows are multiples of one unit vector u, and since relu(c z) = c relu(z) for c >= 0 the
network is alpha relu(u.x) + beta relu(-u.x) with alpha, beta in R^{n_L}. Hence

    rho* = min_{|u| = 1} min_{alpha, beta} L(alpha relu(u.x) + beta relu(-u.x))

is a lower bound of L on the separator, and theta_A, theta_B lie in different components of
Omega(lambda) for every lambda < rho*. The inner minimum is a least-squares problem with a
diagonal 2x2 Gram matrix (relu(u.x) relu(-u.x) = 0), so

    rho*(u) = E||y||^2 - sum_k [ E[y_k relu(u.x)]^2 / E[relu(u.x)^2] + E[y_k relu(-u.x)]^2 / E[relu(-u.x)^2] ]

and rho*(u) = rho*(-u): a 1-D problem over the angle of u in [0, pi).

Two versions:

* **sample** (the mean over the stored inputs, the loss every check uses): with u ~ (1, t),
  between consecutive breakpoints t = -x_1/x_2 the sets {u.x > 0} are fixed and each term is
  (linear in t)^2 / (quadratic in t); the critical points are real roots of a polynomial of
  degree <= 7 (the numerator of the derivative). The minimum over breakpoints, these roots and
  u = (0, 1) is exact up to float64 rounding (a dense angle grid is added to the candidates as
  a safeguard against a root lost to conditioning, which can only lower the value).
* **population** (x ~ N(0, I_2)): E[y_k relu(+-u.x)] = sum_j a_kj [+-u, w_j] through the
  arc-cosine kernel and E[relu(u.x)^2] = 1/2, so rho*(u) = E||y||^2 - 2 sum_k (c_k^+^2 + c_k^-^2).
  The angle is searched on a grid and the Lipschitz constant of rho* in the angle turns the grid
  minimum into a certified lower bound; the attained value is refined by a bounded scalar search.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from sublevel.constructions.arccos_kernel import relu_kernel
from sublevel.theory.errors import InputError

SAFEGUARD_GRID = 4096
"""Angles of the dense safeguard grid of the sample floor."""

POPULATION_GRID = 1 << 16
"""Angles of the grid of the population floor (spacing pi / 2^16)."""

MAX_DJ_DT = 1.8198
"""max over t in [0, pi] of |d/dt (sin t + (pi - t) cos t)| = max (pi - t) sin t = 1.81971..."""


@dataclass(frozen=True)
class Floor:
    """rho* with the minimising unit vector u.

    ``lower`` is a lower bound of rho* (certified), ``value`` the loss attained at ``u``
    (an upper bound); for the sample floor both are the exact minimum.
    """

    value: float
    lower: float
    u: tuple[float, float]
    loss: str
    method: str

    def to_dict(self) -> dict:
        return {"value": self.value, "lower": self.lower, "u": list(self.u), "loss": self.loss, "method": self.method}


def _check(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if x.ndim != 2 or x.shape[1] != 2:
        raise InputError(f"the determinant floor needs 2-D inputs, got shape {x.shape}")
    if y.shape[0] != x.shape[0]:
        raise InputError(f"X has {x.shape[0]} samples but Y has {y.shape[0]}")
    return x, y


def sample_rank_one_loss(x: np.ndarray, y: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """rho*(u) on the sample for u = (cos phi, sin phi), each phi in ``angles`` (exact sums)."""
    x, y = _check(x, y)
    u = np.stack([np.cos(angles), np.sin(angles)])
    z = x @ u                                   # (N, T)
    total = np.square(y).sum()
    explained = np.zeros(z.shape[1])
    for side in (z > 0, z < 0):
        feature = np.where(side, z, 0.0)
        energy = np.square(feature).sum(axis=0)
        cross = y.T @ feature                   # (K, T)
        safe = np.where(energy > 0, energy, 1.0)
        explained += np.where(energy > 0, np.square(cross).sum(axis=0) / safe, 0.0)
    return (total - explained) / x.shape[0]


def _polynomial_terms(x_side: np.ndarray, y_side: np.ndarray) -> tuple[list[np.poly1d], np.poly1d]:
    """For u = (1, t): numerators p_k(t) = sum y_k (x_1 + t x_2) and q(t) = sum (x_1 + t x_2)^2."""
    p = [np.poly1d([float(yk @ x_side[:, 1]), float(yk @ x_side[:, 0])]) for yk in y_side.T]
    q = np.poly1d([float(x_side[:, 1] @ x_side[:, 1]), 2 * float(x_side[:, 0] @ x_side[:, 1]),
                   float(x_side[:, 0] @ x_side[:, 0])])
    return p, q


def _derivative_numerator(p: list[np.poly1d], q: np.poly1d) -> np.poly1d:
    """sum_k p_k (2 p_k' q - p_k q'): numerator of d/dt sum_k p_k^2 / q over q^2."""
    out = np.poly1d([0.0])
    for pk in p:
        out = out + pk * (2 * pk.deriv() * q - pk * q.deriv())
    return out


def _arc_limit(p: list[np.poly1d], q: np.poly1d, t: float) -> float:
    """lim of sum_k p_k(s)^2 / q(s) as s -> t inside an arc (t may be +-inf).

    q vanishes at a finite t only when every point of the side lies on the line u.x = 0 there;
    then p_k and q have a common root of order 1 and 2 and the limit is lead(p_k)^2 / lead(q).
    """
    scale = float(np.abs(q.coeffs).max())
    if np.isinf(t) or abs(q(t)) <= 1e-14 * scale * (1 + t * t):
        lead_q = q.coeffs[0] if q.order == 2 else 0.0
        return float(sum(pk.coeffs[0] ** 2 for pk in p if pk.order == 1) / lead_q) if lead_q > 0 else 0.0
    return float(sum(pk(t) ** 2 for pk in p) / q(t))


def sample_floor(x: np.ndarray, y: np.ndarray) -> Floor:
    """Exact rho* of the sample loss: the infimum over the rank-one set (module docstring).

    Parameters
    ----------
    x : ndarray (N, 2)
    y : ndarray (N, K) or (N,)

    Returns
    -------
    Floor
        ``value == lower``: the exact infimum (float64 rounding aside). It need not be
        attained: a side holding a single point explains that point's label exactly for every
        u of the arc but not at the arc's end, so the ends enter as limits from inside.

    Notes
    -----
    O(N) polynomial root problems of degree <= 7 plus O(N) work each: O(N^2) in all.
    """
    x, y = _check(x, y)
    n = x.shape[0]
    total = float(np.square(y).sum())
    vertical = np.abs(x[:, 1]) > 0
    breaks = np.unique(-x[vertical, 0] / x[vertical, 1])
    edges = np.concatenate([[-np.inf], breaks, [np.inf]])
    angles = [np.arctan(breaks), np.array([math.pi / 2]),
              np.linspace(-math.pi / 2, math.pi / 2, SAFEGUARD_GRID, endpoint=False)]
    limits: list[tuple[float, float]] = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        mid = (lo + hi) / 2 if np.isfinite(lo) and np.isfinite(hi) else (hi - 1 if np.isfinite(hi) else lo + 1)
        z = x[:, 0] + mid * x[:, 1]
        parts = [_polynomial_terms(x[side], y[side]) for side in (z > 0, z < 0) if side.any()]
        for end in (lo, hi):
            limits.append(((total - sum(_arc_limit(p, q, end) for p, q in parts)) / n, math.atan(end)))
        numerators = [_derivative_numerator(p, q) for p, q in parts]
        numerator = numerators[0] * parts[1][1] ** 2 + numerators[1] * parts[0][1] ** 2 if len(parts) == 2 else numerators[0]
        coeffs = np.trim_zeros(numerator.coeffs, "f")
        if len(coeffs) < 2:
            continue
        roots = np.roots(coeffs)
        real = roots[np.abs(roots.imag) <= 1e-9 * (1 + np.abs(roots.real))].real
        angles.append(np.arctan(real[(real > lo) & (real < hi)]))
    grid = np.concatenate(angles)
    values = sample_rank_one_loss(x, y, grid)
    best = int(np.argmin(values))
    value, phi = float(values[best]), float(grid[best])
    limit_value, limit_phi = min(limits)
    if limit_value < value:
        value, phi = limit_value, limit_phi
    return Floor(value, value, (math.cos(phi), math.sin(phi)), "sample",
                 "exact infimum: values at breakpoints, limits at arc ends, real roots of the degree-7 "
                 "derivative numerator per arc, dense safeguard grid")


def population_rank_one_loss(w: np.ndarray, a: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """rho*(u) for x ~ N(0, I_2) and teacher y = a relu(W x), u = (cos phi, sin phi) (exact kernel)."""
    w_t = torch.as_tensor(np.asarray(w, dtype=np.float64))
    a_t = torch.as_tensor(np.asarray(a, dtype=np.float64)).reshape(-1, w_t.shape[0])
    u = torch.as_tensor(np.stack([np.cos(angles), np.sin(angles)], axis=1))
    energy = (a_t @ relu_kernel(w_t, w_t) * a_t).sum()
    c_plus = relu_kernel(u, w_t) @ a_t.T        # (T, K)
    c_minus = relu_kernel(-u, w_t) @ a_t.T
    return (energy - 2 * (c_plus.square() + c_minus.square()).sum(dim=1)).numpy()


def population_floor(w: np.ndarray, a: np.ndarray) -> Floor:
    """Certified rho* of the population loss for the teacher y = a relu(W x), x ~ N(0, I_2).

    Parameters
    ----------
    w : ndarray (m, 2)   teacher first layer
    a : ndarray (K, m)   teacher output weights

    Returns
    -------
    Floor
        ``lower`` = grid minimum - Lip * h / 2 (certified), ``value`` = refined attained minimum.

    Notes
    -----
    |c_k^+-| <= S_k / 2 and |d c_k^+- / d phi| <= S_k max|J'| / (2 pi) with
    S_k = sum_j |a_kj| |w_j|, so |d rho* / d phi| <= sum_k 4 S_k^2 max|J'| / (2 pi) =: Lip.
    """
    from scipy.optimize import minimize_scalar  # here, not at import: 0.3 s of every CLI start
    w = np.asarray(w, dtype=np.float64)
    a = np.asarray(a, dtype=np.float64).reshape(-1, w.shape[0])
    if w.ndim != 2 or w.shape[1] != 2:
        raise InputError(f"the determinant floor needs a 2-D input layer, got shape {w.shape}")
    angles = np.linspace(0.0, math.pi, POPULATION_GRID, endpoint=False)
    values = population_rank_one_loss(w, a, angles)
    s = np.abs(a) @ np.linalg.norm(w, axis=1)
    lipschitz = float(np.sum(4 * s * s * MAX_DJ_DT / (2 * math.pi)))
    step = math.pi / POPULATION_GRID
    best = int(np.argmin(values))
    lower = float(values[best]) - lipschitz * step / 2
    result = minimize_scalar(lambda phi: float(population_rank_one_loss(w, a, np.array([phi]))[0]),
                             bounds=(angles[best] - step, angles[best] + step), method="bounded",
                             options={"xatol": 1e-12})
    phi, value = (float(result.x), float(result.fun)) if result.fun < values[best] else (float(angles[best]), float(values[best]))
    return Floor(value, min(lower, value), (math.cos(phi), math.sin(phi)), "population",
                 f"grid of {POPULATION_GRID} angles with Lipschitz bound {lipschitz:.3g} (certified lower), bounded refinement (attained)")
