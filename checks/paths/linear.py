"""The straight segment theta(t) = theta_A + t (theta_B - theta_A): the baseline finder.

Its certified maximum is exact for nets with at most one hidden layer (docs/claims.rst, section 6);
on a convex loss it is already the minimax path.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from sublevel.checks.paths.base import BatchedFinder, Path, certify_paths, register_finder
from sublevel.theory.problems import Problem


@register_finder("linear")
@dataclass(frozen=True)
class LinearInterpolation(BatchedFinder):
    """One segment per pair; all segments certified in one call.

    Examples
    --------
    >>> import torch
    >>> from sublevel.constructions import construct
    >>> data = construct("scalar-linear")
    >>> problem = data.problem(data.default_architecture())
    >>> path = LinearInterpolation()(problem, torch.tensor([1.0, 1.0]), torch.tensor([-1.0, -1.0]))
    >>> path.maximum >= 1.0  # the segment crosses the saddle at the origin
    True
    """

    def _search(self, problem: Problem, starts: torch.Tensor, ends: torch.Tensor,
                levels: torch.Tensor) -> list[Path]:
        return certify_paths(problem, [torch.stack([a, b]) for a, b in zip(starts, ends)], self.name)
