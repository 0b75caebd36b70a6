"""Separators derived from the architecture of bias-free linear networks.

A separator is a continuous g(theta) with a proven floor c: g(theta) = 0 implies L(theta) >= c,
so for lambda < c no path in Omega(lambda) crosses g = 0 and points of Omega(lambda) with
different signs of g lie in different components (:mod:`sublevel.constructions.certificates`).

Square layers of a linear net (Freeman & Bruna 2017, arXiv:1611.01540, the case that makes the
strict width condition of their Prop. 2.2 necessary). For H(x) = W_L ... W_1 x without biases,
the loss depends on theta only through the product W = W_L ... W_1:
L = (1/N) ||X W^T - Y||_F^2 (rows of X, Y are the samples). If layer l is square
(n_l = n_{l-1}), det W_l = 0 forces rank W_l <= n_l - 1, hence rank W <= r = n_l - 1, and

    L >= c_r = min over B of rank <= r of (1/N) ||X B - Y||^2
             = (1/N) (||Y - P_X Y||^2 + sum_{i > r} s_i^2),

where P_X Y is the least-squares fit and s_1 >= s_2 >= ... its singular values: the residual
splits orthogonally into the part outside the column space of X and the part inside, and
inside, X B ranges over the matrices of rank <= r in that space, so Eckart-Young gives the
second term (reduced-rank regression). With r = 0 this is L(0) = (1/N) ||Y||^2: a zero output.
g = det W_l is a polynomial in theta, and the floor c_r is the separator's floor.

Width-one hidden layers (e.g. 3-1-2; derived here and checked against direct minimisation in
the tests). If n_l = 1 for a hidden layer l, then W = a b with the column a = W_L ... W_{l+1}
(n_L x 1) and the row b = W_l ... W_1. For a unit vector u, g = <a, u> = 0 gives u^T W = 0, so
the outputs have no component along u and, with P = I - u u^T,

    L = (1/N) (||Y u||^2 + ||Y P - X W^T P||^2) >= (1/N) (||Y u||^2 + ||(I - P_X) Y P||^2),

the second term being the least-squares residual of Y P (any X C is at least that far from it).
We take u = the top right singular vector of the least-squares fit P_X Y, the output direction of
the best rank-one map, which makes the floor largest where it matters. Negating W_l and
W_{l+1} keeps W and flips g, so every minimiser has a twin of the other sign. With n_L = 1,
u = 1 and the floor is L(0) (a zero output), the same as the determinant of a 1 x 1 last layer.

Why it refutes the non-strict claim: when the least-squares product W* has rank > r, the
global minimum c_{min width} lies below c_r, and the minimisers come with both signs of
det W_l (negate one row of W_l and the matching column of W_{l+1}, or of W_l alone when it is
the last layer, with Y's fit unchanged only in the first case), so for c_{min} <= lambda < c_r
there are at least two components whenever sampled points of both signs are found.

The floors are computed in float64 (an SVD of the N x n_L fit, backward stable) and lowered by
FLOOR_MARGIN L(0) to cover its rounding, which is below N n eps L(0) by orders of magnitude.
"""
from __future__ import annotations

import math

import numpy as np

from sublevel.constructions.certificates import Separator
from sublevel.theory.problems import Problem

FLOOR_MARGIN = 1e-9
"""Relative to L(0): how far below the computed reduced-rank floor the separator's floor is set."""


def reduced_rank_floor(problem: Problem, rank: int) -> float:
    """c_rank: the least loss (1/N) ||X B - Y||^2 over linear maps B of rank <= ``rank`` (float64)."""
    x = problem.x.detach().cpu().double().numpy()
    y = problem.y.detach().cpu().double().numpy()
    coefficients, *_ = np.linalg.lstsq(x, y, rcond=None)
    fit = x @ coefficients
    singular = np.linalg.svd(fit, compute_uv=False)
    return float((np.square(y - fit).sum() + np.square(singular[rank:]).sum()) / x.shape[0])


def output_direction(problem: Problem) -> np.ndarray:
    """u*: the top right singular vector of the least-squares fit (length n_L), sign fixed so
    that its largest entry is positive."""
    x = problem.x.detach().cpu().double().numpy()
    y = problem.y.detach().cpu().double().numpy()
    coefficients, *_ = np.linalg.lstsq(x, y, rcond=None)
    direction = np.linalg.svd(x @ coefficients, full_matrices=False)[2][0]
    return direction * np.sign(direction[np.argmax(np.abs(direction))])


def hyperplane_floor(problem: Problem, direction: np.ndarray) -> float:
    """(1/N) (||Y u||^2 + ||(I - P_X) Y P||^2), P = I - u u^T: the least loss of a bias-free
    linear net whose width-one layer has <W_L ... W_{l+1}, u> = 0 (module docstring)."""
    x = problem.x.detach().cpu().double().numpy()
    y = problem.y.detach().cpu().double().numpy()
    u = np.asarray(direction, dtype=np.float64) / np.linalg.norm(direction)
    along = y @ u
    projected = y - np.outer(along, u)
    coefficients, *_ = np.linalg.lstsq(x, projected, rcond=None)
    residual = projected - x @ coefficients
    return float((np.square(along).sum() + np.square(residual).sum()) / x.shape[0])


def linear_separators(problem: Problem) -> list[Separator]:
    """The separators of a bias-free linear net without ridge (module docstring): one
    determinant separator per square layer, floor c_{n_l - 1}, and one hyperplane separator per
    hidden layer of width one (unless that is a 1 x 1 last layer's determinant again); empty
    for other problems."""
    arch = problem.architecture
    if arch.bias or arch.activation_name != "linear" or problem.kappa != 0:
        return []
    zero = reduced_rank_floor(problem, 0)
    key = Separator.architecture_key(arch)
    out = []
    for layer, (n_in, n_out) in enumerate(zip(arch.widths[:-1], arch.widths[1:]), start=1):
        if n_in != n_out:
            continue
        floor = reduced_rank_floor(problem, n_out - 1) - FLOOR_MARGIN * zero
        if floor > 0 and math.isfinite(floor):
            out.append(Separator("determinant", floor, key, layer,
                                 f"det W_{layer} = 0 forces rank W <= {n_out - 1}: L >= the reduced-rank floor"))
    widths = arch.widths
    for layer in range(1, arch.depth):
        if widths[layer] != 1 or (layer == arch.depth - 1 and widths[-1] == 1):
            continue
        direction = output_direction(problem)
        floor = hyperplane_floor(problem, direction) - FLOOR_MARGIN * zero
        if floor > 0 and math.isfinite(floor):
            out.append(Separator("hyperplane", floor, key, layer,
                                 f"width-one layer {layer}: <W_L...W_{layer + 1}, u*> = 0 removes the output along u*: "
                                 "L >= ||Y u*||^2/N + the residual of the rest", tuple(direction.tolist())))
    return out
