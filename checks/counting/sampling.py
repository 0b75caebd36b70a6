"""Points of Omega(lambda) from batched descent.

Many random starts theta_0^(s) ~ N(0, scale^2/n_in) descend together: all S parameter vectors
form one (S, P) tensor, their losses come from one batched call, and one backward pass gives
every gradient (the losses are independent, so the gradient of their sum is the stack of the
individual gradients). Every ``record_every`` steps the points whose loss is <= ``level``
are recorded. Adam acts coordinate-wise, so the S runs do not interact. The sample of each
level is then thinned on its own (:meth:`LevelSample.at`), so a count at one level does not
depend on which other levels are asked.

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

from sublevel.checks.paths.adam import Adam
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
        Points each level keeps (:meth:`LevelSample.at`): every run's last point below it and
        every given point, and of the other recorded points the ``max_points`` minus those
        with the smallest seeded priorities. Bridge points added later come on top.
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


RECORD_MARGIN = 1e-3
"""Descent records points whose (descent-precision) loss is <= (1 + RECORD_MARGIN) x the
highest level; float64 losses then decide. The margin makes the points recorded for a level
the same whether or not higher levels are asked (float32 descent rounds the loss)."""


@dataclass(frozen=True)
class LevelSample:
    """Sampled points of Omega(level).

    ``points`` (M, P) and their float64 ``losses`` (M,); the ``trajectory`` (M,) each point came
    from (-1 for given points); ``final`` (M,) marks the last point of its trajectory;
    ``priority`` (M,) is the seeded thinning key of each recorded point (-1: always kept);
    ``ids`` (M,) name the points across the per-level samples drawn from one sample (segments
    certified for one level are reused by another through them).
    """

    points: torch.Tensor
    losses: torch.Tensor
    trajectory: torch.Tensor
    level: float
    final: torch.Tensor
    priority: torch.Tensor
    ids: torch.Tensor

    def below(self, level: float) -> torch.Tensor:
        """Indices of the points with loss <= level."""
        return torch.nonzero(self.losses <= level).flatten()

    def subset(self, index: torch.Tensor, level: float | None = None) -> "LevelSample":
        return LevelSample(self.points[index], self.losses[index], self.trajectory[index],
                           self.level if level is None else level, self.final[index], self.priority[index],
                           self.ids[index])

    def at(self, level: float, max_points: int) -> "LevelSample":
        """The sample of one level: the points with loss <= ``level``; among them every
        trajectory's final point and every given point, and of the others the ``max_points``
        minus those with the smallest seeded priority. Which points a level keeps depends on that
        level alone, never on which other levels are asked (a property test checks it)."""
        below = self.below(level)
        always = (self.final[below] | (self.priority[below] < 0))
        budget = max(0, max_points - int(always.sum()))
        others = below[~always]
        chosen = others[torch.argsort(self.priority[others], stable=True)[:budget]]
        index = torch.cat([below[always], chosen]).sort().values
        return self.subset(index, level)


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
        Every recorded point below ``level`` (thin with :meth:`LevelSample.at`), deterministic
        given ``settings.seed``: the generator draws the starts, then one thinning priority per
        (start, record).

    Notes
    -----
    Cost: ``starts * steps`` loss-and-gradient evaluations in ``steps`` batched calls.
    """
    arch = problem.architecture
    generator = torch.Generator().manual_seed(settings.seed)
    starts = arch.init(settings.starts, settings.init_scale, generator, dtype=problem.dtype, device=problem.device)
    priorities = record_priorities(settings, generator)
    unit, scale = unit_labels(problem)
    points, traj, record = _descend(unit, starts, level / scale ** 2, settings)
    points = arch.scale_output(points, scale)
    return finish_sample(problem, points, traj, record, priorities, level, settings, extra_points)


def records_per_run(settings: SampleSettings) -> int:
    """Points recorded along one descent run: every ``record_every`` steps and the last step."""
    return settings.steps // settings.record_every + 1 + (settings.steps % settings.record_every != 0)


def record_priorities(settings: SampleSettings, generator: torch.Generator) -> torch.Tensor:
    """One uniform thinning key per (start, record), drawn whatever the levels."""
    return torch.rand(settings.starts, records_per_run(settings), generator=generator, dtype=torch.float64)


def finish_sample(problem: Problem, points: torch.Tensor, traj: torch.Tensor, record: torch.Tensor,
                  priorities: torch.Tensor, level: float, settings: SampleSettings,
                  extra_points=None) -> LevelSample:
    """A :class:`LevelSample` from recorded descent points: float64 losses, final flags,
    priorities, the given points added (kept whenever below the level)."""
    final = record == records_per_run(settings) - 1
    priority = priorities[traj, record]
    if extra_points is not None:
        extra = torch.as_tensor(extra_points, dtype=torch.float64).reshape(-1, problem.architecture.num_params)
        points = torch.cat([points, extra])
        traj = torch.cat([traj, torch.full((len(extra),), -1)])
        final = torch.cat([final, torch.ones(len(extra), dtype=torch.bool)])
        priority = torch.cat([priority, torch.full((len(extra),), -1.0, dtype=torch.float64)])
    return certified_sample(problem, points, traj, level, final, priority)


def unit_labels(problem: Problem) -> tuple[Problem, float]:
    """(the problem with labels Y / s, s) for s the root mean square of Y; (problem, 1.0) when
    Y = 0 or a ridge makes the loss depend on the parameters' scale."""
    scale = float(problem.y.double().square().mean().sqrt())
    if problem.kappa or not scale > 0 or scale == 1.0:
        return problem, 1.0
    return Problem(problem.architecture, problem.x, problem.y / scale, problem.kappa), scale


def descend(problem: Problem, starts: torch.Tensor, level: float, settings: SampleSettings = SampleSettings(),
            first_trajectory: int = 0) -> LevelSample:
    """Points of Omega(level) on batched descent trajectories from given ``starts`` (S, P),
    all kept (priority -1). Trajectory ids are numbered from ``first_trajectory`` so samples
    can be concatenated."""
    starts = torch.as_tensor(starts, dtype=problem.dtype, device=problem.device)
    unit, scale = unit_labels(problem)
    arch = problem.architecture
    points, traj, record = _descend(unit, arch.scale_output(starts, 1 / scale), level / scale ** 2, settings)
    points = arch.scale_output(points, scale)
    final = record == records_per_run(settings) - 1
    return certified_sample(problem, points, traj + first_trajectory, level, final,
                            torch.full((len(points),), -1.0, dtype=torch.float64))


def _descend(problem: Problem, starts: torch.Tensor, level: float, settings: SampleSettings):
    """Adam from each start of one problem (:func:`descent_records` with K = 1)."""
    (records,) = descent_records(lambda theta: problem.loss(theta[0]).unsqueeze(0), starts.unsqueeze(0),
                                 torch.tensor([float(level)]), settings)
    return records


def descent_records(loss, starts: torch.Tensor, levels: torch.Tensor, settings: SampleSettings):
    """Adam from K x S starts at once: ``loss`` maps (K, S, P) to (K, S); rows are recorded
    every ``record_every`` steps and at the last step when below (1 + :data:`RECORD_MARGIN`)
    times their problem's level. Returns, per problem, the points (float64, CPU), their
    trajectory ids and record numbers. Adam acts coordinate-wise, so the K S runs do not
    interact; the gradient of the summed losses is the stack of the individual gradients."""
    theta = starts.detach().clone().requires_grad_(True)
    adam = Adam(theta.data, lr=settings.lr)
    ids = torch.arange(starts.shape[1])
    thresholds = (levels.to(torch.float64) * (1 + RECORD_MARGIN)).unsqueeze(1)
    kept = [([], [], []) for _ in range(starts.shape[0])]
    record = 0
    for step in range(settings.steps + 1):
        theta.grad = None
        losses = loss(theta)
        last = step == settings.steps
        if step % settings.record_every == 0 or last:
            mask = losses.detach().cpu().to(torch.float64) <= thresholds
            current = theta.detach().cpu()
            for k, (points, trajectories, records) in enumerate(kept):
                points.append(current[k][mask[k]])
                trajectories.append(ids[mask[k]])
                records.append(torch.full((int(mask[k].sum()),), record))
            record += 1
        if last:
            break
        losses.sum().backward()
        adam.step(theta.grad)
    return [(torch.cat(points).to(torch.float64), torch.cat(trajectories), torch.cat(records))
            for points, trajectories, records in kept]


def certified_sample(problem: Problem, points: torch.Tensor, traj: torch.Tensor, level: float, final: torch.Tensor,
                     priority: torch.Tensor) -> LevelSample:
    """Recompute losses in float64 (whatever dtype descent used) and keep the points below level."""
    losses = problem.to(device="cpu", dtype=torch.float64).loss(points)
    keep = losses <= level
    return LevelSample(points[keep], losses[keep], traj[keep], level, final[keep], priority[keep],
                       torch.arange(int(keep.sum())))


def merge_samples(first: LevelSample, second: LevelSample, first_id: int | None = None) -> LevelSample:
    """Concatenation of two samples (the level is the larger of the two). The second's points
    get the ids ``first_id``, ``first_id + 1``, ... (default: after the first's largest id);
    ids must stay unique among all samples that share certified segments."""
    if first_id is None:
        first_id = int(first.ids.max()) + 1 if len(first.ids) else 0
    return LevelSample(torch.cat([first.points, second.points]), torch.cat([first.losses, second.losses]),
                       torch.cat([first.trajectory, second.trajectory]), max(first.level, second.level),
                       torch.cat([first.final, second.final]), torch.cat([first.priority, second.priority]),
                       torch.cat([first.ids, first_id + torch.arange(len(second.ids))]))
