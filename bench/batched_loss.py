"""Batched loss throughput, fraction of the machine's matmul speed, memory, and exact segments.

Prints, from one run (ratios are the figures to quote; absolute times are noisy):
1. batched ``Problem.loss`` vs a loop that loads each parameter vector into an equivalent
   ``torch.nn.Sequential`` and evaluates it (targets: >= 20x for 4-16-1 ReLU, N = 64,
   K = 16384; >= 2x for 32-64-1 ReLU, N = 256, K = 4096);
2. achieved FLOP/s of the 32-64-1 case as a fraction of a large float32 matmul's FLOP/s
   measured in the same run (target >= 25%);
3. peak memory of the batched evaluation (K chunked, so it stays bounded as K grows);
4. for counting components at one level: loss evaluations with exact segment maxima vs dense
   sampling of every segment at 100 points, and whether both give the same count.

5. with ``--grid``: batched ``Problem.loss`` vs the ``nn.Module`` loop over a grid of shapes
   (n_0 in {1, 10, 100}, hidden widths in {8, 64, 512}, depth 1 to 3, N in {64, 1024, 4096},
   float32; K chosen per shape so the batched call takes about 0.2 s, the loop times up to 64
   networks), interleaved per shape, one line per shape with the ratio and the fraction of
   the float32 matmul rate, then the worst ratio over the grid.

Usage: python bench/batched_loss.py [--quick] [--threads T] [--grid]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time

import torch

from sublevel.checks.counting.components import count_components
from sublevel.checks.landscapes.models import mlp
from sublevel.checks.counting.sampling import SampleSettings
from sublevel.constructions import construct
from sublevel.checks.counting.chains import chain_count, chain_separators
from sublevel.theory import Architecture, Problem
from timing import call_times, matmul_times


def best_time(fn, repeat: int = 7) -> float:
    return min(call_times(fn, repeat))


def matmul_flops(size: int = 2048) -> float:
    return 2 * size**3 / min(matmul_times(size, 7))


def network_flops(arch: Architecture, n: int) -> int:
    """Multiply-adds of the forward pass counted as 2 FLOPs, plus the activation and the loss."""
    layers = sum(2 * n * a * b for a, b in zip(arch.widths[:-1], arch.widths[1:]))
    return layers + n * sum(arch.widths[1:-1]) + 3 * n * arch.widths[-1]


def module_loop(problem: Problem, theta: torch.Tensor) -> torch.Tensor:
    """One network at a time: load theta into an nn.Module (same layout), forward, loss."""
    model = mlp(problem.architecture)
    out = torch.empty(len(theta))
    with torch.no_grad():
        for k, row in enumerate(theta):
            for layer, view in zip(model[::2], problem.architecture.layers(row)):
                layer.weight.copy_(view.weight)
                if view.bias is not None:
                    layer.bias.copy_(view.bias)
            out[k] = ((model(problem.x) - problem.y) ** 2).sum() / problem.num_samples
    return out


def throughput_case(spec: str, n: int, k: int, peak: float, loop_k: int) -> None:
    arch = Architecture.parse(spec, "relu")
    g = torch.Generator().manual_seed(0)
    problem = Problem(arch, torch.randn(n, arch.widths[0], generator=g), torch.randn(n, arch.widths[-1], generator=g))
    theta = arch.init(k, generator=g, dtype=torch.float32)
    with torch.no_grad():
        batched = best_time(lambda: problem.loss(theta)) / k
        loop = best_time(lambda: module_loop(problem, theta[:loop_k]), repeat=1) / loop_k
        agree = torch.allclose(problem.loss(theta[:loop_k]), module_loop(problem, theta[:loop_k]), rtol=1e-4, atol=1e-5)
    flops = network_flops(arch, n) / batched
    print(f"{spec} relu, N = {n}, K = {k} (float32): batched {1 / batched:,.0f} nets/s, "
          f"nn.Module loop {1 / loop:,.0f} nets/s -> ratio {loop / batched:.1f}x; "
          f"{flops / 1e9:.1f} GFLOP/s = {flops / peak:.0%} of matmul; values agree: {agree}")


PEAK_SCRIPT = """
import resource, sys, torch
from sublevel.theory import Architecture, Problem
torch.set_num_threads({threads})
arch = Architecture.parse("{spec}", "relu")
problem = Problem(arch, torch.randn({n}, arch.widths[0]), torch.randn({n}, arch.widths[-1]))
theta = arch.init({k}, dtype=torch.float32)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with torch.no_grad():
    problem.loss(theta)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    problem.loss(theta, chunk={k})
    unchunked = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before, after, unchunked, problem.chunk_size())
"""


def peak_memory(spec: str, n: int, ks: list[int], threads: int) -> None:
    """Growth of the peak resident set during one batched loss call, each K in a fresh process."""
    for k in ks:
        script = PEAK_SCRIPT.format(spec=spec, n=n, k=k, threads=threads)
        before, after, unchunked, chunk = map(int, subprocess.run(
            [sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout.split())
        print(f"  K = {k:>6}: parameters {k * Architecture.parse(spec).num_params * 4 / 2**20:6.1f} MiB; "
              f"peak RSS grew by {(after - before) / 1024:6.1f} MiB with chunks of {chunk} nets, "
              f"by a further {(unchunked - after) / 1024:6.1f} MiB with one unchunked call")


def dense_certifier(points: int):
    """Sampled segment maxima (NOT certified): the baseline that exact segments replace."""
    calls = {"evaluations": 0}

    def certify(problem, start, end):
        t = torch.linspace(0, 1, points, dtype=torch.float64)[:, None, None]
        beads = (start[None] + t * (end - start)[None]).reshape(-1, start.shape[1])
        calls["evaluations"] += len(beads)
        return problem.loss(beads).reshape(points, -1).max(dim=0).values

    return certify, calls


def segments_case() -> None:
    data = construct("one-neuron", a=2.0)
    arch = data.default_architecture()
    problem = data.problem(arch)
    seps = chain_separators(problem)
    settings = SampleSettings(starts=64, steps=300)
    start = time.perf_counter()
    exact = count_components(problem, [2.2], settings, seps, bridge_rounds=0,
                             whole_space=lambda level: (chain_count(problem, level),) * 2)
    t_exact = time.perf_counter() - start
    certify, calls = dense_certifier(100)
    start = time.perf_counter()
    dense = count_components(problem, [2.2], settings, seps, certifier=certify, bridge_rounds=0)
    t_dense = time.perf_counter() - start
    sampled = settings.starts * (settings.steps + 1)
    print(f"G2 (a = 2) at lambda = 2.2: exact segments -> {exact.brackets[0].describe()}, "
          f"{exact.forest.certified_edges} segments, 0 loss evaluations on segments "
          f"(+{sampled} for sampling), {t_exact:.2f} s")
    print(f"  dense 100-point sampling -> {dense.brackets[0].sampled} components (sampled, not certified), "
          f"{calls['evaluations']} loss evaluations on segments, {t_dense:.2f} s; same sampled count: "
          f"{dense.brackets[0].sampled == exact.brackets[0].sampled}")


def grid_case(peak: float) -> None:
    """Ratio loop / batched and the fraction of matmul over the grid of the module docstring."""
    import itertools

    print(f"{'shape':<22} {'N':>5} {'K':>6} {'chunk':>5} {'loop us':>9} {'batch us':>9} {'ratio':>7} {'of matmul':>9}")
    worst = (float("inf"), "")
    for n0, width, depth, n in itertools.product((1, 10, 100), (8, 64, 512), (1, 2, 3), (64, 1024, 4096)):
        spec = "-".join(map(str, [n0] + [width] * depth + [1]))
        arch = Architecture.parse(spec, "relu")
        g = torch.Generator().manual_seed(0)
        problem = Problem(arch, torch.randn(n, n0, generator=g), torch.randn(n, 1, generator=g))
        per_net = network_flops(arch, n)
        k = int(min(16384, max(256, 0.2 * 0.3 * peak / per_net)))  # about 0.2 s at 30% of matmul
        theta = arch.init(k, generator=g, dtype=torch.float32)
        loop_k = int(min(64, max(4, 0.3 * 0.3 * peak / per_net)))
        with torch.no_grad():
            loop_times, batch_times = [], []
            for _ in range(2):  # interleaved A B A B
                loop_times.append(best_time(lambda: module_loop(problem, theta[:loop_k]), repeat=1) / loop_k)
                batch_times.append(best_time(lambda: problem.loss(theta), repeat=1) / k)
        loop, batched = min(loop_times), min(batch_times)
        ratio = loop / batched
        worst = min(worst, (ratio, f"{spec} N = {n}"))
        print(f"{spec:<22} {n:>5} {k:>6} {problem.chunk_size():>5} {loop * 1e6:>9.1f} {batched * 1e6:>9.1f} "
              f"{ratio:>6.2f}x {per_net / batched / peak:>9.0%}", flush=True)
    print(f"worst ratio loop / batched over the grid: {worst[0]:.2f}x ({worst[1]})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller K for a smoke run")
    parser.add_argument("--grid", action="store_true", help="only the grid of shapes (item 5)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="torch threads (default: torch's choice); use 1 on a loaded machine")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    peak = matmul_flops()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"float32 2048^3 matmul: {peak / 1e9:.1f} GFLOP/s")
    if args.grid:
        grid_case(peak)
        return
    scale = 8 if args.quick else 1
    throughput_case("4-16-1", 64, 16384 // scale, peak, loop_k=2048 // scale)
    throughput_case("32-64-1", 256, 4096 // scale, peak, loop_k=512 // scale)
    print("peak memory, 32-64-1 relu, N = 256:")
    peak_memory("32-64-1", 256, [1024 // scale, 4096 // scale, 16384 // scale], args.threads)
    segments_case()


if __name__ == "__main__":
    main()
