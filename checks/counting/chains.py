"""Exact component counts for scalar chains: every width 1, no bias, any data.

A *scalar chain* is a network 1-1-...-1 of depth L without biases, H(x) = w_L s(... s(w_1 x)),
with s linear or ReLU, and the square loss L(theta) = (1/N) sum_mu (H(x_mu) - y_mu)^2 with no
ridge. These are the smallest nets whose sublevel sets split (Freeman & Bruna 2017,
arXiv:1611.01540, section 2; the lecture's scalar example), and on them N_lambda, the number of
path components of Omega(lambda), is known *exactly* for every data set and every level.
The argument covers the whole parameter space, so the count is a rigorous lower *and* upper
bound, which is what lets :mod:`sublevel.checks.counting.components` report ``exact`` without trusting sampling.

Proof, linear chains. H = p x with p = w_1 ... w_L, so L(theta) = q(p) with the quadratic
q(p) = A p^2 - 2 B p + C, A = mean x^2, B = mean x y, C = mean y^2 = L(0). Its sublevel set
I = {p : q(p) <= lambda} is an interval (empty, a point, a closed interval, or R when A = 0 and
C <= lambda), and Omega(lambda) = {w : w_1 ... w_L in I}.

* I empty: N = 0.
* 0 in I (C <= lambda): every w in Omega joins 0 along s -> s w, s from 1 to 0, whose product
  s^L p lies between 0 and p, hence in the interval I. N = 1.
* 0 not in I: I lies on one side of 0, so the sign of the product is fixed and no coordinate
  can vanish inside Omega (it would make the product 0). Each sign orthant with the right
  parity of negative entries (2^(L-1) of them) meets Omega, and its part is connected: in the
  variables u_l = log abs(w_l) it is the slab {sum u_l in log abs(I)}, which is convex. N = 2^(L-1).

Proof, ReLU chains (L >= 2). The hidden value after layer 1 is relu(w_1 x) >= 0, and each
further hidden layer passes it on as w_l h when w_l > 0 and kills it when w_l <= 0. Hence
H = p relu(x) with p = w_L ... w_1 when w_1 > 0 and w_2 .. w_{L-1} > 0, H = p' relu(-x) with
p' = w_L ... w_2 abs(w_1) when w_1 < 0 and w_2 .. w_{L-1} > 0, and H = 0 otherwise. On the two
regions the loss is a quadratic q+(p), q-(p') as above (with relu(x), relu(-x) in place of x),
with sublevel intervals I+, I-, and q+(0) = q-(0) = C.

* C > lambda: the set {H = 0} misses Omega, so the regions cannot be left inside Omega; each
  region's part {w_1 ... w_{L-1} free in its orthant, w_L in I+ or I- / (w_2 ... w_{L-1} abs(w_1))} is
  connected (a continuous family of intervals over a connected base) when the interval is
  non-empty. N = [I+ non-empty] + [I- non-empty].
* C <= lambda: {H = 0} = {w_1 = 0} union {some middle w_l <= 0} union {w_L = 0} is connected
  (each piece is connected and meets w_1 = w_L = 0) and lies in Omega; every point of a region
  joins it by s -> (s w_1, w_2, ...), whose product stays between 0 and p, inside I+ or I-. N = 1.

Every decision above (is I empty, is 0 in I) is a comparison of rationals: the float64 data,
the level and the sums are converted to exact fractions, so the count is exact even at a
level equal to a minimum value. Nothing is read from a file's metadata.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import torch

from sublevel.constructions.certificates import Separator
from sublevel.theory.problems import Problem

MAX_SAMPLES = 100_000
"""Above this many samples the exact rational sums are skipped (they cost ~10 us a sample)."""


@dataclass(frozen=True)
class QuadraticInP:
    """q(p) = A p^2 - 2 B p + C over exact rationals."""

    a: Fraction
    b: Fraction
    c: Fraction

    def sublevel_nonempty(self, level: Fraction) -> bool:
        """Whether {p : q(p) <= level} is non-empty (exactly)."""
        if self.a == 0:  # q is the constant C (the linear term vanishes with A: |B|^2 <= A C)
            return self.c <= level
        return self.a * (level - self.c) + self.b * self.b >= 0


def is_scalar_chain(problem: Problem) -> bool:
    """Whether :func:`chain_count` applies: widths all 1, no bias, linear or ReLU, no ridge."""
    arch = problem.architecture
    return (all(w == 1 for w in arch.widths) and not arch.bias and problem.kappa == 0
            and arch.activation_name in ("linear", "relu") and problem.num_samples <= MAX_SAMPLES)


def _fractions(values: torch.Tensor) -> list[Fraction]:
    return [Fraction(v) for v in values.detach().to(device="cpu", dtype=torch.float64).flatten().tolist()]


def _quadratic(features: list[Fraction], targets: list[Fraction]) -> QuadraticInP:
    n = len(targets)
    return QuadraticInP(sum(f * f for f in features) / n, sum(f * t for f, t in zip(features, targets)) / n,
                        sum(t * t for t in targets) / n)


def zero_output_loss(problem: Problem) -> Fraction:
    """L at H = 0, i.e. (1/N) sum_mu ||y_mu||^2, exactly."""
    return sum((t * t for t in _fractions(problem.y)), Fraction(0)) / problem.num_samples


def round_down(value: Fraction) -> float:
    """The largest float64 <= ``value``."""
    x = float(value)
    return math.nextafter(x, -math.inf) if Fraction(x) > value else x


def chain_count(problem: Problem, level: float) -> int:
    """N_level for a scalar chain, exactly (see the module docstring for the proof).

    Raises ``ValueError`` when ``problem`` is not a scalar chain (:func:`is_scalar_chain`).

    Examples
    --------
    >>> import torch
    >>> from sublevel.theory.networks import Architecture
    >>> chain = Problem(Architecture((1, 1, 1, 1), "linear", bias=False),
    ...                 torch.tensor([[1.0]]), torch.tensor([[1.0]]))
    >>> [chain_count(chain, lam) for lam in (-0.1, 0.0, 0.5, 1.0)]
    [0, 4, 4, 1]
    """
    if not is_scalar_chain(problem):
        raise ValueError("chain_count needs a bias-free 1-1-...-1 linear or ReLU net without ridge")
    arch = problem.architecture
    lam = Fraction(float(level))
    x, y = _fractions(problem.x), _fractions(problem.y)
    if arch.activation_name == "linear" or arch.depth == 1:
        q = _quadratic(x, y)
        if not q.sublevel_nonempty(lam):
            return 0
        return 1 if q.c <= lam else 2 ** (arch.depth - 1)
    plus = _quadratic([max(v, Fraction(0)) for v in x], y)
    minus = _quadratic([max(-v, Fraction(0)) for v in x], y)
    if plus.c <= lam:
        return 1
    return int(plus.sublevel_nonempty(lam)) + int(minus.sublevel_nonempty(lam))


def chain_separators(problem: Problem) -> list[Separator]:
    """Separators derived from the architecture of a bias-free chain 1-1-...-1.

    Every weight w_l of such a chain is a separator: w_l = 0 makes the output 0 (linear, ReLU and
    square activations all vanish at 0), so L = L(0) = (1/N) sum_mu ||y_mu||^2 there, plus a
    non-negative ridge. The floor is L(0) computed exactly and rounded down. Empty for other
    architectures.
    """
    arch = problem.architecture
    if arch.bias or any(w != 1 for w in arch.widths) or arch.activation_name not in ("linear", "relu", "quadratic"):
        return []
    floor = round_down(zero_output_loss(problem))
    key = Separator.architecture_key(arch)
    return [Separator("coordinate", floor, key, index, f"w_{index + 1} = 0 makes the output 0, so L >= L(0)")
            for index in range(arch.num_params)]
