"""GPU check of the batched many-networks loss: correctness, throughput, fraction of peak.

One run (under 5 minutes on a GPU machine) that
1. checks :class:`sublevel.theory.batched_problems.BatchedProblems` on the device (float32 and
   float64) against the CPU float64 result on the same K problems x S networks;
2. measures throughput (networks evaluated per second, and achieved FLOP/s counting
   2 N sum_l n_l n_{l-1} per network) on the device and on the CPU, and their ratio;
3. measures the device's own large-matmul FLOP/s (n x n float32 products) and prints the
   batched loss's FLOP/s as a fraction of it;
4. evaluates 2-D loss-landscape slices (:class:`sublevel.checks.landscapes.evaluation.SliceEvaluator`) of
   a 784-100-10 MLP and of 1-D ResNets with and without shortcuts on the device and on the CPU:
   values compared, wall times and their ratio.
5. runs a tiny width sweep with ``--device`` set to the device, and compares its rows with a
   CPU run (counts may differ only where rounding moves a sampled point across a level).

Without CUDA it runs every step on the CPU with small sizes, so the code path is exercised.
All timings are measured (medians of repeats) and noisy; the ratios are the figures to quote.

Usage: python bench/gpu_check.py [--quick]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from sublevel.theory.batched_problems import BatchedProblems
from sublevel.theory.networks import Architecture
from timing import call_times, matmul_times

TINY_SPEC = """
[sweep]
name = "gpu-check"
seeds = [0, 1, 2, 3]
[sampling]
starts = 16
steps = 60
[[family]]
label = "relu-permutation"
data = "relu-permutation"
params = { samples = 64 }
activation = "relu"
widths = [2, 4]
levels = [0.1, 0.5]
"""


def timed(fn, device: torch.device, repeats: int = 5) -> float:
    """Median wall time of ``fn()`` in seconds (synchronising CUDA)."""
    return statistics.median(call_times(fn, repeats, device))


def matmul_flops(device: torch.device, n: int) -> float:
    """Measured FLOP/s of an n x n float32 matrix product (2 n^3 operations)."""
    return 2.0 * n ** 3 / statistics.median(matmul_times(n, 5, device))


def make_batch(k: int, n: int, arch: Architecture, device, dtype, seed: int = 0) -> BatchedProblems:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(k, n, arch.widths[0], generator=gen, dtype=torch.float64)
    y = torch.randn(k, n, arch.widths[-1], generator=gen, dtype=torch.float64)
    return BatchedProblems(arch, x, y).to(device, dtype)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (the CPU fallback uses them anyway)")
    parser.add_argument("--landscapes-only", action="store_true", help="run step 4 alone")
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    quick = args.quick or not cuda
    print(f"device: {torch.cuda.get_device_name(0) if cuda else 'CPU only (no CUDA): checking the code path'}")
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = False  # compare like with like: true float32
    if args.landscapes_only:
        for line in landscape_check(device, quick):
            print("4. " + line)
        return 0

    arch = Architecture((16, 64, 1), "relu", False)
    k, s, n = (8, 64, 64) if quick else (64, 1024, 256)
    reference = make_batch(k, n, arch, "cpu", torch.float64)
    theta64 = arch.init(k * s, generator=torch.Generator().manual_seed(1)).reshape(k, s, -1)
    exact = reference.loss(theta64)
    print(f"\n1. correctness vs CPU float64, K={k} problems x S={s} networks, {arch.spec} relu, N={n}:")
    for dtype in (torch.float64, torch.float32):
        got = reference.to(device, dtype).loss(theta64.to(device, dtype)).double().cpu()
        rel = ((got - exact).abs() / exact.abs().clamp_min(1e-12)).max().item()
        tol = 1e-12 if dtype == torch.float64 else 1e-4
        print(f"   {str(dtype):>14} on {device.type}: max relative error {rel:.2e} (computed) "
              f"{'OK' if rel <= tol else 'FAIL'} (tolerance {tol:g})")
        if rel > tol:
            return 1

    print("\n2. throughput of the batched loss (measured, median of 5):")
    networks = k * s
    flops = reference.flops(networks)
    rates = {}
    for name, dev, dtype in (("cpu float64", "cpu", torch.float64), ("cpu float32", "cpu", torch.float32)) + \
            ((("cuda float32", "cuda", torch.float32), ("cuda float64", "cuda", torch.float64)) if cuda else ()):
        batch = reference.to(dev, dtype)
        theta = theta64.to(dev, dtype)
        seconds = timed(lambda: batch.loss(theta, chunk=s), torch.device(dev))
        rates[name] = networks / seconds
        print(f"   {name:>13}: {networks / seconds:12.4g} networks/s, {flops / seconds / 1e9:9.3g} GFLOP/s")
    if cuda:
        print(f"   GPU float32 / CPU float64 throughput: {rates['cuda float32'] / rates['cpu float64']:.1f}x; "
              f"GPU float32 / CPU float32: {rates['cuda float32'] / rates['cpu float32']:.1f}x (measured)")

    size = 2048 if quick else 8192
    peak = matmul_flops(device, size)
    best = max(v for key, v in rates.items() if key.startswith(device.type) and "float32" in key)
    print(f"\n3. {device.type} large-matmul float32 ({size} x {size}): {peak / 1e12:.3g} TFLOP/s (measured); "
          f"batched loss float32 reaches {best * flops / networks / peak:.1%} of it")

    print("\n4. landscape slices on the device vs the CPU (same model, data, directions):")
    try:
        for line in landscape_check(device, quick):
            print("   " + line)
    except Exception as err:  # report and go on to the sweep: one GPU call must give every figure it can
        print(f"   FAILED: {type(err).__name__}: {err}")

    print("\n5. tiny sweep on the device vs on the CPU (rows compared):")
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "gpu-check.toml"
        spec.write_text(TINY_SPEC)
        outcomes = {}
        for dev in ("cpu", device.type) if cuda else ("cpu",):
            db = Path(tmp) / f"{dev}.db"
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "sublevel", "sweep", str(spec), "--db", str(db), "--device", dev,
                            "--workers", "1", "--quiet"], check=True, stdout=subprocess.DEVNULL)
            from sublevel.checks.sweeps.store import ResultStore

            with ResultStore(db, readonly=True) as store:
                outcomes[dev] = {r.key: (r.outcome["lower"], r.outcome["upper"]) for r in store.rows()}
            print(f"   {dev}: {len(outcomes[dev])} tasks in {time.perf_counter() - start:.1f} s (measured)")
        if cuda:
            same = sum(outcomes["cpu"][key] == outcomes["cuda"][key] for key in outcomes["cpu"])
            print(f"   brackets equal on {same}/{len(outcomes['cpu'])} tasks (device rounding can move a point "
                  f"across a level)")
    return 0


def landscape_check(device: torch.device, quick: bool) -> list[str]:
    """Rows comparing a 2-D slice computed on ``device`` with the CPU computation (float32 both)."""
    from sublevel.checks.landscapes.directions import parameters_of, random_direction
    from sublevel.checks.landscapes.evaluation import SliceEvaluator
    from sublevel.checks.landscapes.models import ResNet

    torch.manual_seed(0)
    cases = [("MLP 784-100-10, N=1000", 11 if quick else 51,
              torch.nn.Sequential(torch.nn.Linear(784, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10)),
              torch.randn(1000, 784), torch.randint(0, 10, (1000,)))]
    for depth in ((8,) if quick else (8, 20, 56)):
        for skip in (True, False):  # the CPU side of ResNet-56 on 51 x 51 would take minutes: 15 x 15
            cases.append((f"ResNet-{depth} {'skip' if skip else 'no skip'} width 4, 1-D, N=512", 7 if quick else 15,
                          ResNet(depth, width=4, skip=skip, in_channels=1, num_classes=10).eval(),
                          torch.randn(512, 1, 40), torch.randint(0, 10, (512,))))
    rows = []
    for name, steps, model, x, y in cases:
        grid = torch.cartesian_prod(torch.linspace(-1, 1, steps), torch.linspace(-1, 1, steps))
        theta = parameters_of(model)
        directions = [random_direction(theta, 1), random_direction(theta, 2)]
        results, seconds = {}, {}
        for dev in ("cpu", device.type) if device.type != "cpu" else ("cpu",):
            moved = model.to(dev)
            dirs = [{k: v.to(dev) for k, v in d.items()} for d in directions]
            evaluator = SliceEvaluator(moved, torch.nn.CrossEntropyLoss(), (x.to(dev), y.to(dev)), dirs)
            seconds[dev] = timed(lambda: evaluator(grid), torch.device(dev), repeats=1 if dev == "cpu" else 3)
            results[dev] = evaluator(grid)["loss"].double().cpu()
        if len(results) == 2:
            rel = ((results["cuda"] - results["cpu"]).abs() / results["cpu"].abs()).max().item()
            rows.append(f"{name}: {steps}x{steps} grid, cpu {seconds['cpu']:.3f} s, cuda {seconds['cuda']:.4f} s, "
                        f"ratio {seconds['cpu'] / seconds['cuda']:.1f}x (measured); max relative difference {rel:.1e}")
        else:
            rows.append(f"{name}: {steps}x{steps} grid, cpu {seconds['cpu']:.3f} s (no device to compare)")
    return rows


if __name__ == "__main__":
    sys.exit(main())
