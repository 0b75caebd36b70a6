"""Exact segment maxima of one-hidden-layer ReLU nets: the compiled sweep against the obvious
alternatives, per segment, over a grid of shapes.

For each shape (n_0, n_1, n_L, N) the same random segments go through

* ``sweep``: :func:`sublevel.checks.certify.segments.segment_maxima` (the compiled breakpoint
  sweep of ``relu_sweep``);
* ``vectorised``: the batched torch computation it replaced (``tests/reference_relu_segments.py``);
* ``sampled``: the loss at 100 evenly spaced points of each segment (no certificate; it can miss
  the maximum);

all on one thread, interleaved A B C A B C, medians of the repeats. It prints ms per segment,
the ratios vectorised / sweep and sampled / sweep (above 1: the sweep is faster), the worst ratio
over the grid, and the agreement: the largest |sweep - vectorised| relative to the maximum, and
how far the sampled maximum falls below the certified one.

    python bench/segment_maxima.py             # the full grid (about 2 minutes)
    python bench/segment_maxima.py --quick     # four shapes
"""
from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from reference_relu_segments import reference_relu_maxima  # noqa: E402

from sublevel.checks.certify.segments import segment_maxima  # noqa: E402
from sublevel.theory.networks import Architecture  # noqa: E402
from sublevel.theory.problems import Problem  # noqa: E402

SAMPLED_POINTS = 100


def shape_problem(n0: int, n1: int, n_out: int, samples: int, count: int) -> tuple[Problem, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(n0 * 1000003 + n1 * 1009 + samples)
    arch = Architecture((n0, n1, n_out), "relu", bias=True)
    x = torch.randn(samples, n0, generator=gen, dtype=torch.float64)
    y = torch.randn(samples, n_out, generator=gen, dtype=torch.float64)
    problem = Problem(arch, x, y, 0.01)
    return problem, arch.init(count, scale=1.0, generator=gen), arch.init(count, scale=1.0, generator=gen)


def sampled_maxima(problem: Problem, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    t = torch.linspace(0, 1, SAMPLED_POINTS, dtype=torch.float64)
    theta = a[:, None, :] + t[None, :, None] * (b - a)[:, None, :]
    return problem.loss(theta.reshape(-1, a.shape[1])).reshape(a.shape[0], -1).max(dim=1).values


def timed(fn, repeats: int) -> tuple[float, object]:
    start = time.perf_counter()
    out = None
    for _ in range(repeats):
        out = fn()
    return (time.perf_counter() - start) / repeats, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per shape (median reported)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.quick:
        grid = [(2, 32, 1, 256), (2, 8, 1, 64), (10, 128, 1, 1024), (1, 2, 3, 64)]
    else:
        grid = list(itertools.product((1, 2, 10), (2, 8, 32, 128), (1, 3), (64, 256, 1024)))
    # compile once (cached on disk after the first run of an installation)
    problem, a, b = shape_problem(2, 4, 1, 8, 2)
    segment_maxima(problem, a, b)
    print(f"{'n0':>3} {'n1':>4} {'nL':>3} {'N':>5} {'E':>5}  {'sweep ms':>9} {'vector ms':>9} {'sample ms':>9}  "
          f"{'vec/sweep':>9} {'smp/sweep':>9}  {'|diff|/max':>10} {'sample gap':>10}")
    worst_vec, worst_smp, worst_diff = float("inf"), float("inf"), 0.0
    for n0, n1, n_out, samples in grid:
        breakpoints = samples * n1
        count = max(4, min(400, 400_000 // breakpoints))
        problem, a, b = shape_problem(n0, n1, n_out, samples, count)
        times = {"sweep": [], "vector": [], "sample": []}
        for _ in range(args.rounds):
            dt, ours = timed(lambda: segment_maxima(problem, a, b), 1)
            times["sweep"].append(dt / count)
            dt, (theirs, _) = timed(lambda: reference_relu_maxima(problem, a, b), 1)
            times["vector"].append(dt / count)
            dt, sampled = timed(lambda: sampled_maxima(problem, a, b), 1)
            times["sample"].append(dt / count)
        sweep, vector, sample = (statistics.median(times[k]) * 1e3 for k in ("sweep", "vector", "sample"))
        diff = float(((ours.upper - theirs).abs() / ours.upper.abs().clamp(min=1e-300)).max())
        gap = float(((ours.lower - sampled) / ours.lower.abs().clamp(min=1e-300)).max())
        worst_vec, worst_smp = min(worst_vec, vector / sweep), min(worst_smp, sample / sweep)
        worst_diff = max(worst_diff, diff)
        print(f"{n0:>3} {n1:>4} {n_out:>3} {samples:>5} {count:>5}  {sweep:>9.3f} {vector:>9.3f} {sample:>9.3f}  "
              f"{vector / sweep:>9.1f} {sample / sweep:>9.2f}  {diff:>10.1e} {gap:>10.1e}", flush=True)
    print(f"worst over the grid: vectorised / sweep {worst_vec:.1f}x, sampled(100 points) / sweep {worst_smp:.2f}x; "
          f"largest relative difference sweep vs vectorised {worst_diff:.1e}")


if __name__ == "__main__":
    main()
