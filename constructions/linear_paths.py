"""The constructive path of Freeman & Bruna's deep-linear theorem, for two layers.

For H(x) = W_2 W_1 x the loss depends on theta only through the product W = W_2 W_1 and is
convex in W (Freeman & Bruna 2017, arXiv:1611.01540, proof of Prop. 2.2). Given theta_A and
theta_B with hidden width n_1 > min(n_0, n_2), the path below never rises above
max(L_A, L_B) (docs/claims.rst, section 1). Write the factor with more rows than columns as A
(A = W_1 when n_1 > n_0; otherwise work with the transposed net, A = W_2^T, B = W_1^T), so
W = B A:

1. Free a unit at constant loss: with A^T c = 0, c != 0, the segment B -> B + u c^T,
   u = -B[:, j] / c_j, keeps B A and brings column j of B to 0.
2. Unit j has no output weight: move row j of A out of the span of the other rows (constant
   loss). Repeat 1-2 until A has full column rank.
3. With A^+ A = I: move B to W_A A^+ (constant product), then along B(t) = W(t) A^+ with W(t)
   the straight line W_A -> W_B (L convex in W: L <= max(L_A, L_B)).
4. In the fibre of the endpoint with the lower loss (before or after step 3), move A along a
   random piecewise-linear path (which misses the rank-deficient set, of codimension
   n_1 - n_0 + 1 >= 2) to the factor reached from theta_B, with B = W A^+. Beads are
   inserted until the discretised fibre segments stay below max(L_A, L_B) + ``tol``; the
   smallest singular value of A along the way is reported.
5. Undo theta_B's steps 1-2.

Every piece but 4 is an exact segment of constant or convex loss. Only two-layer nets are
covered; deeper nets raise :class:`~sublevel.theory.errors.InputError`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from sublevel.theory.errors import InputError
from sublevel.theory.problems import Problem


@dataclass(frozen=True)
class ConstructedPath:
    """Beads theta_0 = theta_A, ..., theta_k = theta_B (k+1, P) and the smallest singular
    value of the full-rank factor met in the fibre step (> 0 means the path avoided the
    rank-deficient set)."""

    beads: torch.Tensor
    min_singular_value: float


def deep_linear_path(problem: Problem, theta_a: torch.Tensor, theta_b: torch.Tensor, *,
                     fibre_beads: int = 16, tol: float = 1e-6, max_refinements: int = 12,
                     seed: int = 0) -> ConstructedPath:
    """Build the path of docs/claims.rst, section 1 between two parameter points of a 2-layer linear net.

    Raises
    ------
    InputError
        If the net is not a two-layer linear net without bias and ridge, or if
        n_1 <= min(n_0, n_2) (the strict width condition fails: no such path exists in general).
    """
    arch = problem.architecture
    if arch.depth != 2 or arch.activation_name != "linear" or arch.bias or problem.kappa:
        raise InputError("the constructive path covers two-layer linear nets without bias and ridge only")
    n0, n1, n2 = arch.widths
    if n1 <= min(n0, n2):
        raise InputError(f"strict width condition fails: n_1 = {n1} <= min(n_0, n_2) = {min(n0, n2)}")
    transpose = n1 <= n0
    generator = torch.Generator().manual_seed(seed)

    def to_factors(theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w1, w2 = (view.weight for view in arch.layers(theta.to(torch.float64)))
        return (w2.T.clone(), w1.T.clone()) if transpose else (w1.clone(), w2.clone())

    def to_theta(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return arch.flatten([b.T, a.T] if transpose else [a, b])

    prep_a = _full_rank_moves(*to_factors(theta_a), generator)
    prep_b = _full_rank_moves(*to_factors(theta_b), generator)
    (a1, b1), (a2, b2) = prep_a[-1], prep_b[-1]
    w_a, w_b = b1 @ a1, b2 @ a2
    loss_a, loss_b = problem.loss(theta_a), problem.loss(theta_b)
    ceiling = float(torch.maximum(loss_a, loss_b)) + tol
    # The fibre move runs in the fibre of the lower endpoint, where it has the most room.
    if float(loss_a) <= float(loss_b):
        fibre, sigma = _fibre_path(problem, to_theta, a1, a2, w_a, generator, fibre_beads, ceiling, max_refinements)
        middle = fibre + [(a2, w_b @ torch.linalg.pinv(a2))]
    else:
        fibre, sigma = _fibre_path(problem, to_theta, a1, a2, w_b, generator, fibre_beads, ceiling, max_refinements)
        middle = [(a1, w_a @ torch.linalg.pinv(a1))] + fibre
    factors = prep_a + middle + [(a2, b2)] + prep_b[::-1]
    beads = torch.stack([to_theta(a, b) for a, b in factors])
    return ConstructedPath(beads, sigma)


def _full_rank_moves(a: torch.Tensor, b: torch.Tensor, generator: torch.Generator):
    """Steps 1-2: factor pairs (A, B), each a constant-product segment from the last, ending
    with A of full column rank."""
    moves = [(a, b)]
    n_cols = a.shape[1]
    while torch.linalg.matrix_rank(a) < n_cols:
        left, _, _ = torch.linalg.svd(a)
        c = left[:, -1]  # A^T c = 0: a left singular vector beyond the rank
        j = int(torch.argmax(c.abs()))
        b = b - torch.outer(b[:, j] / c[j], c)
        b[:, j] = 0.0
        moves.append((a, b))
        others = torch.cat([a[:j], a[j + 1:]])
        row = torch.randn(n_cols, generator=generator, dtype=a.dtype)
        if others.numel():
            basis = torch.linalg.svd(others, full_matrices=False)[2]
            basis = basis[torch.linalg.svdvals(others) > 1e-10 * max(1.0, float(others.abs().max()))]
            row = row - basis.T @ (basis @ row)
        a = a.clone()
        a[j] = row / row.norm()
        moves.append((a, b))
    return moves


def _fibre_path(problem, to_theta, a_start, a_end, w, generator, beads, ceiling, max_refinements):
    """Step 4: A along a_start -> R -> a_end with B = W A^+, refined until the loss on every
    discretised segment stays below ``ceiling`` (checked on a fine sample of each segment; the
    caller certifies the final path exactly)."""
    via = torch.randn(a_start.shape, generator=generator, dtype=a_start.dtype) * a_start.norm() / a_start.numel() ** 0.5
    s = torch.linspace(0, 1, beads + 1, dtype=torch.float64)
    legs = [(a_start, via), (via, a_end)]
    knots = [(leg, float(t)) for leg in range(2) for t in s[:-1]] + [(1, 1.0)]

    def factor(knot):
        (start, end) = legs[knot[0]]
        a = start + knot[1] * (end - start)
        return a, w @ torch.linalg.pinv(a)

    probe = torch.linspace(0, 1, 9, dtype=torch.float64)[1:-1, None]
    for _ in range(max_refinements):
        thetas = torch.stack([to_theta(*factor(k)) for k in knots])
        inner = thetas[:-1, None] + probe * (thetas[1:] - thetas[:-1])[:, None]
        worst = problem.loss(inner.reshape(-1, thetas.shape[1])).reshape(len(knots) - 1, -1).max(dim=1).values
        bad = torch.nonzero(worst > ceiling).flatten().tolist()
        if not bad:
            break
        for i in reversed(bad):
            (leg0, t0), (leg1, t1) = knots[i], knots[i + 1]
            mid = (leg0, (t0 + (t1 if leg1 == leg0 else 1.0)) / 2)
            knots.insert(i + 1, mid)
    factors = [factor(k) for k in knots]
    sigma = min(float(torch.linalg.svdvals(a)[-1]) for a, _ in factors)
    return factors, sigma
