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
  between consecutive breakpoints t = -x_1/x_2 the sets {u.x > 0} are fixed and each side
  contributes P(t) / q(t) with P = sum_k p_k^2, p_k linear and q quadratic in t; the critical
  points are real roots of a polynomial of degree <= 7 (the numerator of the derivative).
  :func:`exact_sample_floor` brackets rho* in exact rational arithmetic: the stored float64
  numbers are dyadic rationals, so every sum is an exact integer after one common scaling; the
  derivative's real roots are isolated exactly (sympy's real-root isolation over the
  integers), and on each isolating interval the explained energy is enclosed by the exact
  ranges of its quadratic numerators and denominators; arc ends enter as exact limits (after
  cancelling a common factor of P and q). Between consecutive roots the function is monotone,
  so these candidates bound its supremum over each arc. (A float64 search over the same
  candidates, used before, missed the infimum by a factor of 75 on nearly collinear inputs.)
* **population** (x ~ N(0, I_2)): E[y_k relu(+-u.x)] = sum_j a_kj [+-u, w_j] through the
  arc-cosine kernel and E[relu(u.x)^2] = 1/2, so rho*(u) = E||y||^2 - 2 sum_k (c_k^+^2 + c_k^-^2).
  The angle is searched on a grid and the Lipschitz constant of rho* in the angle turns the grid
  minimum into a certified lower bound; the attained value is refined by a bounded scalar search.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from sublevel.constructions.arccos_kernel import relu_kernel
from sublevel.theory.errors import Contradiction, InputError

ROOT_WIDTH = Fraction(1, 2 ** 60)
"""Width to which each real root of the derivative is isolated before the bound is taken."""

POPULATION_GRID = 1 << 16
"""Angles of the grid of the population floor (spacing pi / 2^16)."""

MAX_DJ_DT = 1.8198
"""max over t in [0, pi] of |d/dt (sin t + (pi - t) cos t)| = max (pi - t) sin t = 1.81971..."""


@dataclass(frozen=True)
class Floor:
    """rho* with the minimising unit vector u.

    ``lower`` is a lower bound of rho* (proven), ``value`` the loss attained at ``u`` (an
    upper bound, up to the float64 rounding of its evaluation); they agree to a few ulps.
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


def _dyadic(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Integers m (object array) and e with values == m / 2^e exactly (float64 numbers are
    dyadic rationals)."""
    fractions = [Fraction(float(v)) for v in values.ravel()]
    e = max((f.denominator.bit_length() - 1 for f in fractions), default=0)
    return np.array([int(f * (1 << e)) for f in fractions], dtype=object).reshape(values.shape), e


def _fraction(c) -> Fraction:
    return Fraction(int(c.p), int(c.q)) if hasattr(c, "p") else Fraction(c)


def _poly_value(poly, t: Fraction) -> Fraction:
    value = Fraction(0)
    for c in poly.all_coeffs():
        value = value * t + _fraction(c)
    return value


def _poly_range(poly, lo: Fraction, hi: Fraction) -> tuple[Fraction, Fraction]:
    """The exact range of poly (degree <= 2: every side's energy and weight) over [lo, hi]:
    its values at the ends and at the vertex when inside. Higher degrees get Horner's scheme in
    exact interval arithmetic (an enclosure)."""
    coeffs = [_fraction(c) for c in poly.all_coeffs()]
    if len(coeffs) <= 3:
        points = [lo, hi]
        if len(coeffs) == 3 and coeffs[0] != 0 and lo < -coeffs[1] / (2 * coeffs[0]) < hi:
            points.append(-coeffs[1] / (2 * coeffs[0]))
        values = [_poly_value(poly, t) for t in points]
        return min(values), max(values)
    low = high = Fraction(0)
    for c in coeffs:
        products = (low * lo, low * hi, high * lo, high * hi)
        low, high = min(products) + c, max(products) + c
    return low, high


def _side_limit(a, b, t: Fraction | None) -> Fraction:
    """lim a(s) / b(s) as s -> t (t None: s -> +-inf), for a / b in lowest terms."""
    if t is None:
        if a.is_zero or a.degree() < b.degree():
            return Fraction(0)
        if a.degree() > b.degree():
            raise Contradiction("rank-one floor: an explained energy grows without bound")
        return _fraction(a.LC()) / _fraction(b.LC())
    denominator = _poly_value(b, t)
    if denominator == 0:
        raise Contradiction("rank-one floor: a side's energy vanishes at an arc end after cancellation")
    return _poly_value(a, t) / denominator


@dataclass(frozen=True)
class ExactFloor:
    """rho* of the sample loss bracketed in exact rational arithmetic.

    ``lower <= rho* <= upper``; ``t`` is where ``upper`` is reached or approached, u ~ (1, t)
    (None: u = (0, 1))."""

    lower: Fraction
    upper: Fraction
    t: Fraction | None


def exact_sample_floor(x: np.ndarray, y: np.ndarray) -> ExactFloor:
    """rho* of the sample loss, bracketed in exact rational arithmetic (a proof, not an estimate).

    With u = (1, t), rho*(t) = (sum ||y||^2 - E_+(t) - E_-(t)) / N where, for the side
    S_+- = {i : +-u.x_i > 0}, E(t) = sum_k (sum_{i in S} y_ik (x_i1 + t x_i2))^2 /
    sum_{i in S} (x_i1 + t x_i2)^2. On each arc between consecutive breakpoints
    t_i = -x_i1 / x_i2 the sides are fixed, so E_+ + E_- is a rational function: its supremum
    over the arc is at an end (an exact limit) or near a real root of its derivative's
    numerator (isolated exactly to width :data:`ROOT_WIDTH` or finer, then enclosed). The
    value at a breakpoint is at most the limits beside it (a point on the line u.x = 0 adds
    nothing), and u = (0, 1) is the limit t -> +-inf, so the largest of these bounds the
    explained energy over the whole circle.

    Returns
    -------
    ExactFloor
        ``lower`` from the largest enclosure, ``upper`` from the largest value attained (or
        approached) among the same candidates; they agree to about 1e-15 of the label energy.

    Notes
    -----
    The side sums of every arc come from prefix sums over the points sorted by breakpoint
    (exact integers), so the cost is O(N log N) plus one root isolation of a degree <= 7
    integer polynomial per arc: about 0.5 s for N = 256, 2 s for N = 1024. Nearly collinear
    points make the sweep fine-grained: on an arc of width 1e-8 between two of their
    breakpoints a side's best fit can turn through a whole quadrant, which no angle grid sees.
    """
    from sympy import ZZ, Poly, Symbol  # here, not at import: sympy takes a second to load

    x, y = _check(x, y)
    n, outputs = y.shape
    xi, _ = _dyadic(x)                 # E does not change when x is scaled
    yi, ey = _dyadic(y)                # E and sum ||y||^2 both scale by 4^ey
    x1, x2 = xi[:, 0], xi[:, 1]
    moments = np.empty((n, 2 * outputs + 4), dtype=object)
    for k in range(outputs):
        moments[:, k] = yi[:, k] * x1
        moments[:, outputs + k] = yi[:, k] * x2
    moments[:, 2 * outputs] = x1 * x1
    moments[:, 2 * outputs + 1] = x1 * x2
    moments[:, 2 * outputs + 2] = x2 * x2
    moments[:, 2 * outputs + 3] = np.array([int(a != 0 or b != 0) for a, b in zip(x1, x2)], dtype=object)
    points_at = [Fraction(-int(a), int(b)) if b != 0 else None for a, b in zip(x1, x2)]
    breaks = sorted({t for t in points_at if t is not None})
    # positive[j]: sums over S_+ on arc j = (breaks[j-1], breaks[j]), arcs 0 .. len(breaks)
    change = np.zeros((len(breaks) + 2, moments.shape[1]), dtype=object)
    for i in range(n):
        if points_at[i] is None:
            if x1[i] > 0:
                change[0] += moments[i]
            continue
        j = bisect.bisect_left(breaks, points_at[i])
        if x2[i] > 0:                  # u.x > 0 iff t > t_i: the arcs after t_i
            change[j + 1] += moments[i]
        else:                          # u.x > 0 iff t < t_i: the arcs up to t_i
            change[0] += moments[i]
            change[j + 1] -= moments[i]
    positive = np.cumsum(change, axis=0)
    everything = moments.sum(axis=0)
    total_energy = sum(int(v) * int(v) for v in yi.ravel())
    tolerance = Fraction(total_energy, 10 ** 15)
    t = Symbol("t")
    edges = [None, *breaks, None]
    bound, attained, where = Fraction(0), Fraction(0), None
    for j, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        parts = []
        for sums in (positive[j], everything - positive[j]):
            if sums[-1] == 0:
                continue               # an empty side explains nothing
            energy = Poly(0, t, domain=ZZ)
            for k in range(outputs):
                p = Poly([int(sums[outputs + k]), int(sums[k])], t, domain=ZZ)
                energy += p * p
            q = Poly([int(sums[-2]), 2 * int(sums[-3]), int(sums[-4])], t, domain=ZZ)
            common = energy.gcd(q)
            parts.append((energy.quo(common), q.quo(common)))
        candidates = []               # (enclosure, attained or approached, at t)
        for end in (lo, hi):
            value = sum((_side_limit(a, b, end) for a, b in parts), Fraction(0))
            candidates.append((value, value, end))
        numerator = Poly(0, t, domain=ZZ)
        for i, (a, b) in enumerate(parts):
            term = a.diff(t) * b - a * b.diff(t)
            for other, (_, b2) in enumerate(parts):
                if other != i:
                    term = term * b2 * b2
            numerator += term
        if not numerator.is_zero and numerator.degree() > 0:
            for (a_lo, a_hi), _ in numerator.intervals(eps=ROOT_WIDTH, inf=lo, sup=hi):
                candidates.append(_explained_near_root(numerator, parts, _fraction(a_lo), _fraction(a_hi), lo, hi,
                                                       tolerance))
        bound = max(bound, max(c[0] for c in candidates))
        best = max(candidates, key=lambda c: c[1])
        if best[1] > attained:
            attained, where = best[1], best[2]
    scale = n * 4 ** ey
    # E_+ + E_- <= sum ||y||^2 at every u (two orthogonal features), so rho* >= 0 as well
    return ExactFloor(max(Fraction(0), (total_energy - bound) / scale), (total_energy - attained) / scale, where)


def _explained_near_root(numerator, parts, a_lo: Fraction, a_hi: Fraction, lo, hi,
                         tolerance: Fraction) -> tuple[Fraction, Fraction, Fraction]:
    """(enclosure, attained value, where) of E_+ + E_- over an isolating interval
    [a_lo, a_hi] of a root of the derivative's numerator, refined (exactly, by sympy) until the
    enclosure is within ``tolerance`` of the values at its ends or the interval is 2^-200
    wide: near-collinear points make a side's weight tiny and its energy steep there."""
    width = ROOT_WIDTH
    while True:
        # an isolating interval may reach past the arc; the root lies inside it
        low = a_lo if lo is None else max(a_lo, lo)
        high = a_hi if hi is None else min(a_hi, hi)
        enclosure = Fraction(0)
        for a, b in parts:
            top_lo, top_hi = _poly_range(a, low, high)
            bottom_lo, _ = _poly_range(b, low, high)
            if bottom_lo <= 0:
                raise Contradiction("rank-one floor: a side's energy vanishes inside an arc")
            enclosure += max(abs(top_lo), abs(top_hi)) / bottom_lo
        value, at = max((sum((_poly_value(a, end) / _poly_value(b, end) for a, b in parts), Fraction(0)), end)
                        for end in (low, high))
        if enclosure - value <= tolerance or width < Fraction(1, 2 ** 200):
            return enclosure, value, at
        width /= 2 ** 40
        refined_lo, refined_hi = numerator.refine_root(a_lo, a_hi, eps=width)
        a_lo, a_hi = _fraction(refined_lo), _fraction(refined_hi)


def float_below(value: Fraction) -> float:
    """The largest float64 <= ``value``."""
    result = float(value)
    return math.nextafter(result, -math.inf) if Fraction(result) > value else result


def float_above(value: Fraction) -> float:
    """The smallest float64 >= ``value``."""
    result = float(value)
    return math.nextafter(result, math.inf) if Fraction(result) < value else result


def sample_floor(x: np.ndarray, y: np.ndarray) -> Floor:
    """rho* of the sample loss: the infimum over the rank-one set (module docstring).

    Parameters
    ----------
    x : ndarray (N, 2)
    y : ndarray (N, K) or (N,)

    Returns
    -------
    Floor
        ``lower`` (proven) and ``value`` (attained or approached) from
        :func:`exact_sample_floor`, rounded outwards to float64. The infimum need not be
        attained: a side holding a single point explains that point's label exactly inside an
        arc but not at its end, so arc ends enter as limits.
    """
    exact = exact_sample_floor(x, y)
    u = (0.0, 1.0) if exact.t is None else (1.0, float(exact.t))
    norm = math.hypot(*u)
    return Floor(float_above(exact.upper), float_below(exact.lower), (u[0] / norm, u[1] / norm), "sample",
                 "exact rational arithmetic: real roots of the degree-7 derivative numerator isolated exactly per "
                 "arc, exact limits at arc ends (exact_sample_floor)")


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
