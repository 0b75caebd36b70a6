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

from sublevel.checks.counting.sampling import (RECORD_MARGIN, LevelSample, SampleSettings, finish_sample,
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
    bounds = torch.tensor([[float(v) / s ** 2 * (1 + RECORD_MARGIN)] for v, s in zip(levels, scales)],
                          dtype=batch.dtype)
    original, batch = batch, BatchedProblems.stack([unit for unit, _ in units]).to(batch.device, batch.dtype)
    extra_points = extra_points or [None] * batch.count
    generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
    starts, priorities = [], []
    for g in generators:  # the order of draws of the one-problem sampler
        starts.append(arch.init(settings.starts, settings.init_scale, g, dtype=batch.dtype, device=batch.device))
        priorities.append(record_priorities(settings, g))
    theta = torch.stack(starts).requires_grad_(True)
    optimizer = torch.optim.Adam([theta], lr=settings.lr)
    ids = torch.arange(settings.starts)
    kept_points = [[] for _ in seeds]
    kept_ids = [[] for _ in seeds]
    kept_records = [[] for _ in seeds]
    record = 0
    for step in range(settings.steps + 1):
        optimizer.zero_grad()
        losses = batch.loss(theta)
        last = step == settings.steps
        if step % settings.record_every == 0 or last:
            mask = losses.detach().cpu() <= bounds
            current = theta.detach().cpu()
            for k in range(batch.count):
                kept_points[k].append(current[k][mask[k]])
                kept_ids[k].append(ids[mask[k]])
                kept_records[k].append(torch.full((int(mask[k].sum()),), record))
            record += 1
        if last:
            break
        losses.sum().backward()
        optimizer.step()
    samples = []
    for k in range(batch.count):
        points = arch.scale_output(torch.cat(kept_points[k]).to(torch.float64), scales[k])
        samples.append(finish_sample(original.problem(k), points, torch.cat(kept_ids[k]), torch.cat(kept_records[k]),
                                     priorities[k], levels[k], settings, extra_points[k]))
    return samples
