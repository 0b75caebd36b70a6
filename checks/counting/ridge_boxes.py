"""Whole-space bounds on N_lambda for problems with a ridge and at most 3 parameters.

With a ridge kappa > 0 the loss L(theta) = (1/N) sum_mu ||H(x_mu) - y_mu||^2 + kappa ||theta||^2 is
at least kappa ||theta||^2, so every point of Omega(lambda) satisfies
||theta||_inf <= ||theta||_2 <= r = sqrt(lambda / kappa): the loss is coercive. In a box
[-R, R]^P with R > r, Omega(lambda) lies in the box's interior, so the components of
Omega(lambda) inside the box are exactly the components of Omega(lambda), and the proven bounds
of the certified box count (:func:`sublevel.checks.certify.boxes.count_box`: interval enclosures of the
loss and its gradient, refined where undecided) are proven bounds on N_lambda itself. This is
the low-dimensional route to an upper bound that covers all of parameter space; it is how
``sublevel count`` bounds ridge-regularised versions of the ground truths (Freeman & Bruna
2017, arXiv:1611.01540, discuss the ridge in their Prop. 2.2).
"""
from __future__ import annotations

import math

from sublevel.checks.certify.boxes import SliceLoss, count_box
from sublevel.checks.certify.intervals import activation_kind
from sublevel.theory.errors import InputError
from sublevel.theory.problems import Problem

RADIUS_MARGIN = 1e-6
"""Relative margin by which the box exceeds sqrt(lambda / kappa) (covers rounding of the root)."""


def applies(problem: Problem) -> bool:
    """Whether :func:`ridge_box_bounds` applies: kappa > 0, at most 3 parameters, and an
    activation the interval enclosures support (linear, relu, quadratic)."""
    if not problem.kappa > 0 or problem.num_params > 3:
        return False
    try:
        activation_kind(problem.architecture)
    except InputError:
        return False
    return True


def ridge_box_bounds(problem: Problem, level: float) -> tuple[int, int | None]:
    """Proven (lower, upper) bounds on N_level (upper None while suspect cells remain).

    Raises ``ValueError`` when :func:`applies` is false. Levels <= 0 give (0, None): the
    empty or one-point set is left to the caller's floor argument.
    """
    if not applies(problem):
        raise ValueError("ridge_box_bounds needs kappa > 0, at most 3 parameters and a certifiable activation")
    if not level > 0:
        return 0, None
    radius = math.sqrt(level / problem.kappa) * (1 + RADIUS_MARGIN)
    p = problem.num_params
    resolution, depth = (32, 4) if p <= 2 else (16, 3)
    (count,) = count_box(SliceLoss.full(problem), [-radius] * p, [radius] * p, [level], resolution, depth)
    return count.lower, count.upper
