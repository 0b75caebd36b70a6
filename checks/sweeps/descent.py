"""Batched descent over many problems at once: the sampling step of a width sweep.

:func:`sublevel.checks.counting.sampling.sample_sublevel` descends from S random starts on one problem. A sweep
runs it for K problems of one shape (one width, K seeds, hence K data sets); here all K S
trajectories form one (K, S, P) tensor whose losses come from one call of
:meth:`sublevel.theory.batched_problems.BatchedProblems.loss` and whose gradients come from one
backward pass (the losses are independent, so the gradient of their sum is the stack of the
individual gradients). Adam acts coordinate-wise, so the K S runs do not interact. As in the
one-problem sampler, each problem descends with its labels divided by their root mean square
and the points are mapped back (:func:`~sublevel.checks.counting.sampling.unit_labels`).

Problem k is started and thinned with its own generator seeded by ``seeds[k]``, exactly as
:func:`~sublevel.checks.counting.sampling.sample_sublevel` with ``settings.seed = seeds[k]`` does, so each
sample is the one the one-problem sampler draws, up to rounding (the two losses order their
floating-point operations differently), and bit for bit the same whichever other problems
share the batch (the test suite checks both).
"""
from __future__ import annotations

from typing import Sequence

import torch

from sublevel.checks.counting.sampling import (LevelSample, SampleSettings, descent_records, finish_sample,
                                               record_priorities, unit_labels)
from sublevel.theory.batched_problems import BatchedProblems


def sample_many(batch: BatchedProblems, levels: Sequence[float], settings: SampleSettings, seeds: Sequence[int],
                extra_points: Sequence[torch.Tensor | None] | None = None) -> list[LevelSample]:
    """Points of Omega_k(level) for each of K problems, from one batched descent.

    Parameters
    ----------
    batch : BatchedProblems
        K problems, on the device and in the dtype descent should use.
    levels : sequence of float
        Highest level of interest for each problem; points above it are dropped.
    settings : SampleSettings
        Shared settings; ``settings.seed`` is ignored in favour of ``seeds``.
    seeds : sequence of int
        One seed per problem.
    extra_points : sequence of (E_k, P) tensors or None, optional
        Points to add to problem k's sample (a construction's named points).

    Returns
    -------
    list of LevelSample
        Sample k equals ``sample_sublevel(batch.problem(k), levels[k], settings with seed
        seeds[k], extra_points[k])`` up to rounding; losses are recomputed in float64 on the CPU.

    Notes
    -----
    Cost: ``steps`` batched loss-and-gradient calls on K S networks.
    """
    if len(seeds) != batch.count or len(levels) != batch.count:
        raise ValueError(f"need one seed and one level per problem: {batch.count} problems, {len(seeds)} seeds, "
                         f"{len(levels)} levels")
    arch = batch.architecture
    units = [unit_labels(batch.problem(k)) for k in range(batch.count)]
    scales = [scale for _, scale in units]
    original, batch = batch, BatchedProblems.stack([unit for unit, _ in units]).to(batch.device, batch.dtype)
    extra_points = extra_points or [None] * batch.count
    generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
    starts, priorities = [], []
    for g in generators:  # the order of draws of the one-problem sampler
        starts.append(arch.init(settings.starts, settings.init_scale, g, dtype=batch.dtype, device=batch.device))
        priorities.append(record_priorities(settings, g))
    unit_levels = torch.tensor([float(v) / s ** 2 for v, s in zip(levels, scales)])
    records = descent_records(batch.loss, torch.stack(starts), unit_levels, settings)
    samples = []
    for k, (points, trajectories, numbers) in enumerate(records):
        samples.append(finish_sample(original.problem(k), arch.scale_output(points, scales[k]), trajectories, numbers,
                                     priorities[k], levels[k], settings, extra_points[k]))
    return samples
