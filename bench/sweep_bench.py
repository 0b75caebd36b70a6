"""Sweep benchmarks: pool scaling (1 vs 2 workers) and batched vs one-network-at-a-time loss.

1. Tasks per second of the default sweep (checks/sweeps/default.toml, first ``--seeds``
   seeds) on the local process pool with 1 and with 2 workers, each into a fresh database;
   the ratio is the scaling figure (2.0 is perfect on 2 free cores). Beside it: concurrency
   (summed task seconds / wall: are both workers busy?), worker CPU seconds per task (the
   pool's overhead) and the CPU share the workers got, which tells a busy machine from a
   pool that does not scale.
2. Loss throughput on the CPU for K problems x S networks of the default sweep's ReLU shape:
   one :class:`sublevel.theory.batched_problems.BatchedProblems` call, against a Python loop over the
   K S networks calling :meth:`sublevel.theory.problems.Problem.loss` on one parameter vector at a
   time, and against a loop over the K problems (each batched over its S networks). The
   results are compared (max absolute difference) before the timings are trusted.

Timings are measured wall times (median of repeats for 2.) on a shared machine: noisy. The
ratios measured in one run are the figures to quote.

Usage: python bench/sweep_bench.py [--seeds 2] [--skip-scaling]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from sublevel.checks.sweeps.executors import LocalPool
from sublevel.checks.sweeps.runner import run_sweep
from sublevel.checks.sweeps.spec import DEFAULT_SPEC, load_spec
from sublevel.checks.sweeps.store import ResultStore
from sublevel.constructions import construct
from sublevel.theory.batched_problems import BatchedProblems
from sublevel.theory.networks import Architecture
from timing import call_times


@dataclass(frozen=True)
class PoolRun:
    """One sweep on the pool: tasks, wall seconds, worker CPU seconds, summed task seconds."""

    tasks: int
    wall: float
    cpu: float
    busy: float

    @property
    def rate(self) -> float:
        return self.tasks / self.wall


def sweep_rate(spec, workers: int, directory: Path) -> PoolRun:
    """Run ``spec`` on a fresh store with ``workers`` processes; CPU time of the (joined)
    workers comes from ``getrusage(RUSAGE_CHILDREN)``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    pool = LocalPool(workers)
    db = directory / f"workers{workers}.db"
    try:
        with ResultStore(db) as store:
            summary = run_sweep(spec, store, pool, progress=False)
    finally:
        pool.close()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with ResultStore(db, readonly=True) as store:
        busy = sum(row.seconds for row in store.rows())
    return PoolRun(summary.ran, summary.seconds, cpu, busy)


def median_time(fn, repeats: int) -> float:
    return statistics.median(call_times(fn, repeats))


def batched_vs_loop(k: int, s: int, width: int, samples: int) -> None:
    arch = Architecture((2, width, 1), "relu", False)
    problems = [construct("teacher", arch=f"2-{width}-1", samples=samples, seed=seed).problem(arch) for seed in range(k)]
    batch = BatchedProblems.stack(problems)
    theta = arch.init(k * s, generator=torch.Generator().manual_seed(0)).reshape(k, s, -1)

    def one_at_a_time():
        return torch.stack([torch.stack([p.loss(theta[i, j]) for j in range(s)]) for i, p in enumerate(problems)])

    def per_problem():
        return torch.stack([p.loss(theta[i]) for i, p in enumerate(problems)])

    batched = batch.loss(theta)
    error = max((batched - one_at_a_time()).abs().max().item(), (batched - per_problem()).abs().max().item())
    t_batched = median_time(lambda: batch.loss(theta), 7)
    t_problem = median_time(per_problem, 5)
    t_single = median_time(one_at_a_time, 3)
    print(f"2. loss of K={k} problems x S={s} networks (2-{width}-1 relu, N={samples}), CPU float64, "
          f"{torch.get_num_threads()} threads; max |batched - loop| = {error:.1e} (computed):")
    print(f"   one network at a time: {k * s / t_single:10.4g} networks/s (measured)")
    print(f"   one problem at a time: {k * s / t_problem:10.4g} networks/s (measured)")
    print(f"   one batched call:      {k * s / t_batched:10.4g} networks/s (measured)")
    print(f"   batched vs one-network-at-a-time: {t_single / t_batched:.0f}x (target >= 10x); "
          f"batched vs one-problem-at-a-time: {t_problem / t_batched:.1f}x (measured ratios)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2, help="seeds of the default spec to run (default: 2)")
    parser.add_argument("--skip-scaling", action="store_true", help="only the batched-loss benchmark")
    args = parser.parse_args()
    if not args.skip_scaling:
        spec = load_spec(DEFAULT_SPEC)
        spec = dataclasses.replace(spec, seeds=spec.seeds[:args.seeds])
        with tempfile.TemporaryDirectory() as tmp:
            runs = {w: sweep_rate(spec, w, Path(tmp)) for w in (1, 2)}
        load = os.getloadavg()[0]
        print(f"1. default sweep, {runs[1].tasks} tasks ({args.seeds} seeds), local pool: "
              f"1 worker {runs[1].rate:.3f} tasks/s, 2 workers {runs[2].rate:.3f} tasks/s (measured); "
              f"scaling ratio {runs[2].rate / runs[1].rate:.2f} (2.0 is perfect on 2 free cores; load average "
              f"{load:.1f} on {os.cpu_count()} cores)")
        for w, run in runs.items():
            print(f"   {w} worker(s): concurrency {run.busy / run.wall:.2f} (summed task seconds / wall), "
                  f"worker CPU {run.cpu / run.tasks:.2f} s per task, CPU share {run.cpu / run.wall:.2f} cores "
                  f"(measured)")
    torch.set_num_threads(1)  # as in sweep tasks; oversubscribed OpenMP threads only add noise
    batched_vs_loop(k=5, s=32, width=8, samples=64)  # one group of the default sweep (5 seeds, 32 starts)
    batched_vs_loop(k=64, s=32, width=8, samples=64)  # many seeds: where batching over problems pays


if __name__ == "__main__":
    main()
