"""Re-checking a separator's floor by searching its zero set.

A separator (g, c) claims: g(theta) = 0 implies L(theta) >= c (see
:mod:`sublevel.constructions.certificates`). Every floor the package uses is proven in a
docstring, but a proof can be implemented wrongly: a floor set too high would wrongly split
Omega(lambda) and "refute" a connectivity claim that holds. This module tries to falsify the
floor where it is used: it minimises L over the zero set {g = 0} from several starts (scipy's
L-BFGS-B on free parameters, each iterate mapped onto the zero set by a projection that lands on
it exactly or to rounding) and reports the least loss evaluated on the zero set. A point of the
zero set below the floor is a contradiction, never a result: the caller raises
:class:`~sublevel.theory.errors.Contradiction`.

A search finds upper bounds of the minimum over the zero set, so passing it is evidence, not
proof; failing it is proof that the implemented floor is wrong.

Projections onto the zero set, by kind:

- ``coordinate``: theta_i = 0.
- ``determinant``: W_l minus its smallest singular triple, the nearest singular matrix.
- ``hyperplane``: the rows of the last layer projected off u, so u^T W_L = 0 and
  <W_L ... W_{l+1}, u> = 0 (a subset of the zero set, which is enough to falsify).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from scipy.optimize import minimize

from sublevel.constructions.certificates import Separator
from sublevel.theory.errors import Contradiction
from sublevel.theory.problems import Problem

TOLERANCE = 1e-9
"""Relative to max(L(0), floor): how far below the floor a found point must be to contradict it
(the floors are set 1e-9 L(0) below their computed values for rounding)."""


@dataclass(frozen=True)
class ZeroSetSearch:
    """The least loss found on a separator's zero set, against its floor."""

    separator: Separator
    least: float
    starts: int

    @property
    def margin(self) -> float:
        return self.least - self.separator.floor

    def describe(self) -> str:
        return (f"{self.separator.kind} separator (layer/index {self.separator.index}): floor "
                f"{self.separator.floor:.6g}, least loss found on its zero set {self.least:.6g} ({self.starts} starts)")


def project(separator: Separator, problem: Problem, theta: torch.Tensor) -> torch.Tensor:
    """theta (P,) mapped onto {g = 0} (module docstring), differentiably."""
    arch = problem.architecture
    if separator.kind == "coordinate":
        mask = torch.ones_like(theta)
        mask[separator.index] = 0
        return theta * mask
    layers = arch.layers(theta)
    weights = [layer.weight for layer in layers]
    biases = [layer.bias for layer in layers] if arch.bias else None
    if separator.kind == "determinant":
        weight = weights[separator.index - 1]
        u, s, vh = torch.linalg.svd(weight)
        weights[separator.index - 1] = weight - s[-1] * torch.outer(u[:, -1], vh[-1])
    else:
        direction = torch.tensor(separator.direction, dtype=theta.dtype, device=theta.device)
        direction = direction / direction.norm()
        weights[-1] = weights[-1] - torch.outer(direction, direction @ weights[-1])
    return arch.flatten(weights, biases)


def search_zero_set(problem: Problem, separator: Separator, starts: Sequence[torch.Tensor] = (),
                    random_starts: int = 4, seed: int = 0, iterations: int = 200) -> ZeroSetSearch:
    """Minimise L over {g = 0} from ``starts`` (e.g. sampled minima) and seeded random starts."""
    problem = problem.to(dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    initial = [torch.as_tensor(s, dtype=torch.float64).reshape(-1) for s in starts]
    if random_starts:
        initial += list(problem.architecture.init(random_starts, generator=generator).to(problem.device))
    least = float("inf")
    for start in initial:
        seen: list[float] = []

        def value_and_grad(free: np.ndarray) -> tuple[float, np.ndarray]:
            theta = torch.from_numpy(free).to(problem.device).requires_grad_(True)
            value = problem.loss(project(separator, problem, theta)[None])[0]
            loss = float(value.detach())
            if not np.isfinite(loss):
                return float("inf"), np.zeros_like(free)
            seen.append(loss)  # the loss at a point of the zero set
            (grad,) = torch.autograd.grad(value, theta)
            return loss, grad.cpu().numpy()

        try:
            minimize(value_and_grad, start.detach().cpu().numpy(), jac=True, method="L-BFGS-B",
                     options={"maxiter": iterations, "gtol": 1e-12, "ftol": 1e-16})
        except (RuntimeError, torch.linalg.LinAlgError):  # a degenerate SVD gradient: keep what we have
            pass
        least = min([least, *seen])
    return ZeroSetSearch(separator, least, len(initial))


def recheck_floors(problem: Problem, separators: Sequence[Separator], levels: Sequence[float],
                   starts: Sequence[torch.Tensor] = ()) -> list[ZeroSetSearch]:
    """Search the zero set of every separator active at some level (floor > level).

    Raises
    ------
    Contradiction
        If a point of a zero set has a loss below the separator's floor by more than
        :data:`TOLERANCE` max(L(0), floor).
    """
    if not levels:
        return []
    zero = float(problem.to(dtype=torch.float64).y.square().sum() / problem.num_samples)
    results = []
    for separator in separators:
        if not separator.floor > min(levels):
            continue
        found = search_zero_set(problem, separator, starts)
        if found.margin < -TOLERANCE * max(zero, separator.floor):
            raise Contradiction(f"a point with g = 0 has loss {found.least:.12g} below the floor "
                                f"{separator.floor:.12g} of the {separator.kind} separator ({separator.proof})")
        results.append(found)
    return results
