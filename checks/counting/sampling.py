"""Points of Omega(lambda) from batched descent.

Many random starts theta_0^(s) ~ N(0, scale^2/n_in) descend together: all S parameter vectors
form one (S, P) tensor, their losses come from one batched call, and one backward pass gives
every gradient (the losses are independent, so the gradient of their sum is the stack of the
individual gradients). Every ``record_every`` steps the points whose loss is <= ``level``
are kept. Adam acts coordinate-wise, so the S runs do not interact.

Descent is scale-free: it runs on the problem with the labels divided by their root mean square
s (level lambda / s^2), and the points are mapped back by
:meth:`~sublevel.theory.networks.Architecture.scale_output`, which multiplies the network's output by s
exactly. Labels scaled by 1e-6 or 1e4 therefore give the same trajectories up to rounding, and
the same sampled components. (With a ridge the loss is not invariant under that map, so the
labels are left as they are.)

This samples Omega(lambda) near descent trajectories only: it proves that the kept points
lie in Omega(lambda) (their losses are evaluated exactly) but it cannot show that a component
holds no point (see :mod:`sublevel.checks.counting.components` for what the counts mean).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from sublevel.theory.problems import Problem
from sublevel.theory.settings import MAX_SEED, check_settings, setting


@dataclass(frozen=True)
class SampleSettings:
    """How to sample Omega(lambda): where descent starts, how long it runs, what it keeps.

    Parameters
    ----------
    starts : int
        Descent runs, from independent starts theta_0 ~ N(0, init_scale^2 / n_in).
    steps, lr : int, float
        Adam steps per run (all runs in one batch) and the learning rate.
    record_every : int
        Every this many steps each run's iterate is recorded when it lies below the level.
    init_scale : float
        Scale of the random starts (see ``starts``).
    max_points : int
        Points kept at the most: every run's last point, and a seeded random subset of the
        other recorded points.
    seed : int
        Same seed, same points.
    """

    starts: int = setting(64, ge=1)
    steps: int = setting(300, ge=1)
    lr: float = setting(0.05, gt=0)
    record_every: int = setting(10, ge=1)
    init_scale: float = setting(1.0, gt=0)
    max_points: int = setting(1500, ge=1)
    seed: int = setting(0, ge=0, le=MAX_SEED)

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass(frozen=True)
class LevelSample:
    """Sampled points of Omega(level): ``points`` (M, P), their ``losses`` (M,), and the
    ``trajectory`` index (M,) of the start each point came from (-1 for given points)."""

    points: torch.Tensor
    losses: torch.Tensor
    trajectory: torch.Tensor
    level: float

    def below(self, level: float) -> torch.Tensor:
        """Indices of the points with loss <= level."""
        return torch.nonzero(self.losses <= level).flatten()


def sample_sublevel(problem: Problem, level: float, settings: SampleSettings = SampleSettings(),
                    extra_points: torch.Tensor | None = None) -> LevelSample:
    """Points of Omega(level) visited by batched Adam descent from random starts.

    Parameters
    ----------
    problem : Problem
    level : float
        The highest level of interest; points above it are dropped.
    settings : SampleSettings
    extra_points : tensor (E, P), optional
        Points to add (e.g. a construction's named points); kept when below ``level``.

    Returns
    -------
    LevelSample
        Deterministic given ``settings.seed``. At most ``settings.max_points`` descent points
        are kept (the last point of every trajectory always is, the others are thinned
        evenly at random).

    Notes
    -----
    Cost: ``starts * steps`` loss-and-gradient evaluations in ``steps`` batched calls.
    """
    arch = problem.architecture
    generator = torch.Generator().manual_seed(settings.seed)
    starts = arch.init(settings.starts, settings.init_scale, generator, dtype=problem.dtype, device=problem.device)
    unit, scale = unit_labels(problem)
    points, traj, num_final = _descend(unit, starts, level / scale ** 2, settings)
    points = arch.scale_output(points, scale)
    points, traj = thin_sample(points, traj, num_final, settings.max_points, generator)
    points, traj = with_extra_points(points, traj, extra_points, arch.num_params)
    return certified_sample(problem, points, traj, level)


def with_extra_points(points: torch.Tensor, traj: torch.Tensor, extra_points, num_params: int
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """``points`` and ``traj`` with the caller's ``extra_points`` (rows of ``num_params``, e.g. a
    construction's named points) appended under trajectory id -1."""
    if extra_points is None or not len(extra_points):
        return points, traj
    extra = torch.as_tensor(extra_points, dtype=torch.float64).reshape(-1, num_params)
    return torch.cat([points, extra]), torch.cat([traj, torch.full((len(extra),), -1)])


def unit_labels(problem: Problem) -> tuple[Problem, float]:
    """(the problem with labels Y / s, s) for s the root mean square of Y; (problem, 1.0) when
    Y = 0 or a ridge makes the loss depend on the parameters' scale."""
    scale = float(problem.y.double().square().mean().sqrt())
    if problem.kappa or not scale > 0 or scale == 1.0:
        return problem, 1.0
    return Problem(problem.architecture, problem.x, problem.y / scale, problem.kappa), scale


def descend(problem: Problem, starts: torch.Tensor, level: float, settings: SampleSettings = SampleSettings(),
            first_trajectory: int = 0) -> LevelSample:
    """Points of Omega(level) on batched descent trajectories from given ``starts`` (S, P).

    Trajectory ids are numbered from ``first_trajectory`` so samples can be concatenated.
    """
    starts = torch.as_tensor(starts, dtype=problem.dtype, device=problem.device)
    unit, scale = unit_labels(problem)
    arch = problem.architecture
    points, traj, _ = _descend(unit, arch.scale_output(starts, 1 / scale), level / scale ** 2, settings)
    points = arch.scale_output(points, scale)
    return certified_sample(problem, points, traj + first_trajectory, level)


def _descend(problem: Problem, starts: torch.Tensor, level: float, settings: SampleSettings):
    """Adam from each start; rows recorded every ``record_every`` steps when below ``level``.
    Returns points (float64, CPU), trajectory ids and how many rows (the last) are final points."""
    theta = starts.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([theta], lr=settings.lr)
    ids = torch.arange(len(starts))
    kept_points, kept_ids = [], []
    for step in range(settings.steps + 1):
        optimizer.zero_grad()
        losses = problem.loss(theta)
        last = step == settings.steps
        if step % settings.record_every == 0 or last:
            mask = (losses.detach() <= level).cpu()
            kept_points.append(theta.detach().cpu()[mask])
            kept_ids.append(ids[mask])
        if last:
            break
        losses.sum().backward()
        optimizer.step()
    return torch.cat(kept_points).to(torch.float64), torch.cat(kept_ids), int(mask.sum())


def certified_sample(problem: Problem, points: torch.Tensor, traj: torch.Tensor, level: float) -> LevelSample:
    """Recompute losses in float64 (whatever dtype descent used) and keep the points below level."""
    losses = problem.to(device="cpu", dtype=torch.float64).loss(points)
    keep = losses <= level
    return LevelSample(points[keep], losses[keep], traj[keep], level)


def merge_samples(first: LevelSample, second: LevelSample) -> LevelSample:
    """Concatenation of two samples (the level is the larger of the two)."""
    return LevelSample(torch.cat([first.points, second.points]), torch.cat([first.losses, second.losses]),
                       torch.cat([first.trajectory, second.trajectory]), max(first.level, second.level))


def thin_sample(points, traj, num_final: int, max_points: int, generator: torch.Generator):
    """Keep the trajectories' final points (the last ``num_final`` rows) and a random subset of the rest."""
    if len(points) <= max_points:
        return points, traj
    head = len(points) - num_final
    budget = max(0, max_points - num_final)
    chosen = torch.randperm(head, generator=generator)[:budget].sort().values
    index = torch.cat([chosen, torch.arange(head, len(points))])
    return points[index], traj[index]
