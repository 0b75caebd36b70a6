"""Quadratic Bezier curves (Garipov et al., NeurIPS 2018, arXiv:1802.10026).

phi(t) = (1 - t)^2 theta_A + 2 t (1 - t) c + t^2 theta_B, t in [0, 1]. The control point c
starts at the midpoint and is trained by Adam to minimise the mean loss over t ~ U(0, 1),
estimated each step with stratified samples t_j = (j + u_j) / T. The curves of all pairs
train together: (M, T) points in one batched loss call.

The certificate is for the polygon through points of the curve (a path in its own right,
with the same endpoints), not for the curve: the polygon starts with ``beads`` segments at
even t, and segments whose certified maximum exceeds the level are halved (new points on the
curve at the middle t) for up to ``refinements`` rounds.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from sublevel.checks.paths.adam import Adam
from sublevel.checks.paths.base import JitteredFinder, Path, certify_paths, jitter, register_finder
from sublevel.theory.problems import Problem
from sublevel.theory.settings import setting


def bezier_points(a: torch.Tensor, c: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """phi(t) for endpoints a, b and control c of shape (M, P) at t of shape (M, T) -> (M, T, P)."""
    t = t.unsqueeze(-1)
    return (1 - t) ** 2 * a.unsqueeze(1) + 2 * t * (1 - t) * c.unsqueeze(1) + t ** 2 * b.unsqueeze(1)


@register_finder("bezier")
@dataclass(frozen=True)
class BezierCurve(JitteredFinder):
    """Train the control point of a quadratic Bezier curve on the mean loss along it.

    Parameters
    ----------
    steps, lr : int, float
        Adam steps on the control points and learning rate.
    samples : int
        T, stratified values of t per curve per step.
    beads : int
        Segments of the initial certified polygon.
    refinements : int
        Rounds of halving segments whose certified maximum exceeds the level.
    jitter, seed : float, int
        The control point starts at the midpoint moved by a random direction of norm
        ``jitter * ||theta_B - theta_A||`` (seeded).
    """

    steps: int = setting(300, ge=0)
    lr: float = setting(0.05, gt=0)
    samples: int = setting(16, ge=1)
    beads: int = setting(16, ge=1)
    refinements: int = setting(3, ge=0)

    def _search(self, problem: Problem, starts: torch.Tensor, ends: torch.Tensor,
                levels: torch.Tensor) -> list[Path]:
        generator = torch.Generator().manual_seed(self.seed)
        control = jitter((starts + ends) / 2, (ends - starts).norm(dim=1), self.jitter, generator)
        control = control.requires_grad_(True)
        adam = Adam(control.data, lr=self.lr)
        m, t_count = starts.shape[0], self.samples
        strata = torch.arange(t_count, dtype=starts.dtype, device=starts.device)
        for _ in range(self.steps):
            u = torch.rand(m, t_count, generator=generator, dtype=starts.dtype).to(starts.device)
            points = bezier_points(starts, control, ends, (strata + u) / t_count)
            loss = problem.loss(points.reshape(-1, starts.shape[1])).reshape(m, t_count).mean(1).sum()
            control.grad = None
            loss.backward()
            adam.step(control.grad)
        control = control.detach()
        spent = [self.steps * t_count] * m
        knots = [torch.linspace(0, 1, self.beads + 1, dtype=starts.dtype, device=starts.device)] * m
        for round_ in range(self.refinements + 1):
            chains = [bezier_points(starts[i:i + 1], control[i:i + 1], ends[i:i + 1], knots[i][None])[0] for i in range(m)]
            # The curve's ends are theta_A and theta_B up to rounding: pin them exactly.
            chains = [torch.cat([starts[i:i + 1], c[1:-1], ends[i:i + 1]]) for i, c in enumerate(chains)]
            paths = certify_paths(problem, chains, self.name, spent)
            if round_ == self.refinements:
                break
            spent = [p.evaluations for p in paths]
            for i, path in enumerate(paths):
                bad = (path.upper > float(levels[i])).to(knots[i].device)
                middle = (knots[i][:-1] + knots[i][1:])[bad] / 2
                knots[i] = torch.cat([knots[i], middle]).sort().values
        return paths
