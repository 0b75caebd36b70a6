"""Our batched 2-D slice vs ``loss_landscapes.random_plane`` on the same model, data and directions.

Run:  python bench/landscape_vs_loss_landscapes.py [--repeats 3] [--threads 2]

For each case both tools evaluate the same 51 x 51 points on the CPU: ``random_plane`` draws
its directions from torch's global generator, so we seed it, let it run, then re-create its
two directions with its own functions under the same seed and hand them to
:class:`sublevel.checks.landscapes.evaluation.SliceEvaluator`. ``random_plane`` walks the grid with
in-place steps and an off-by-one on even columns (offsets 1..51 instead of 0..50 along the
second direction); we evaluate exactly the points it visits. Printed: max relative difference
of the values (target 1e-5) and the ratio of the best-of-``repeats`` wall times (theirs / ours;
targets: >= 10 for small nets (N <= 256, <= 10^4 parameters), >= 5 for the 784-100-10 MLP,
never < 1). The small nets are docs/claims.rst's (one hidden ReLU or squaring layer, deep linear)
and, held to the same 10x, generic two-hidden-layer ReLU MLPs. Times are interleaved so that
load from other processes hits both sides alike. "Ours" includes building the evaluator
(first-layer products, checks).

Every case here takes the exact line sweep (:mod:`sublevel.checks.landscapes.lines`, numba kernels or
polynomial algebra in torch; the "path" column); the bench also prints the kernels' one-time
costs in fresh processes (compilation with an empty numba cache, then loading the cached code).
The "ceiling" column is theirs / (the hidden-to-hidden matrix products that every point needs
in a forward pass, at the float32 matmul rate measured in this run): the best ratio any
point-by-point evaluation could reach.
"""
from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import torch
from loss_landscapes import random_plane
from loss_landscapes.metrics import Loss
from loss_landscapes.model_interface.model_parameters import orthogonal_to, rand_u_like
from loss_landscapes.model_interface.model_wrapper import wrap_model

from sublevel.checks.landscapes.evaluation import SliceEvaluator
from sublevel.checks.landscapes.models import Square
from timing import matmul_times

STEPS = 51


@dataclass(frozen=True)
class Case:
    name: str
    widths: tuple[int, ...]
    samples: int
    target: float  # required speed ratio
    activation: str = "relu"  # or "linear" (deep linear nets, docs/claims.rst, section 1), "quadratic" (section 4)

    def build(self) -> tuple[torch.nn.Module, torch.nn.Module, torch.Tensor, torch.Tensor]:
        torch.manual_seed(0)
        layers: list[torch.nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(self.widths[:-1], self.widths[1:])):
            hidden = i < len(self.widths) - 2 and self.activation != "linear"
            activation = Square() if self.activation == "quadratic" else torch.nn.ReLU()
            layers += [torch.nn.Linear(n_in, n_out)] + ([activation] if hidden else [])
        model = torch.nn.Sequential(*layers)
        x = torch.randn(self.samples, self.widths[0])
        if self.widths[-1] == 1:  # a theory net: regression on a teacher's outputs
            with torch.no_grad():
                y = torch.nn.Sequential(*copy.deepcopy(layers))(x) + 0.1 * torch.randn(self.samples, 1)
            return model, torch.nn.MSELoss(), x, y
        return model, torch.nn.CrossEntropyLoss(), x, torch.randint(0, self.widths[-1], (self.samples,))


CASES = (
    Case("theory net 2-16-1 ReLU, N=64 (65 params)", (2, 16, 1), 64, 10.0),
    Case("theory net 4-64-1 ReLU, N=256 (385 params)", (4, 64, 1), 256, 10.0),
    Case("theory net 10-256-1 ReLU, N=256 (3.1k params)", (10, 256, 1), 256, 10.0),
    Case("theory net 20-400-1 ReLU, N=256 (8.8k params)", (20, 400, 1), 256, 10.0),
    Case("quadratic theory net 4-32-1 (h^2), N=256 (193 params)", (4, 32, 1), 256, 10.0, "quadratic"),
    Case("deep linear theory net 8-16-16-1, N=256 (433 params)", (8, 16, 16, 1), 256, 10.0, "linear"),
    Case("deep linear theory net 10-32-32-32-1, N=256 (2.5k)", (10, 32, 32, 32, 1), 256, 10.0, "linear"),
    Case("2-hidden-layer ReLU MLP 8-32-32-1, N=256 (1.4k)", (8, 32, 32, 1), 256, 10.0),
    Case("2-hidden-layer ReLU MLP 10-64-64-1, N=256 (4.9k)", (10, 64, 64, 1), 256, 10.0),
    Case("MLP 784-100-10, N=1000 (79.5k params)", (784, 100, 10), 1000, 5.0),
)


def theirs(model, loss_fn, x, y, seed: int, steps: int = STEPS) -> np.ndarray:
    torch.manual_seed(seed)
    return random_plane(model, Loss(loss_fn, x, y), distance=1, steps=steps, normalization="filter",
                        deepcopy_model=True)


def their_points(model, seed: int, steps: int = STEPS):
    """``random_plane``'s origin, step directions and grid coefficients, rebuilt under ``seed``."""
    start = wrap_model(copy.deepcopy(model)).get_module_parameters()
    torch.manual_seed(seed)
    dir_one = rand_u_like(start)
    dir_two = orthogonal_to(dir_one)
    dir_one.filter_normalize_(start)
    dir_two.filter_normalize_(start)
    dir_one.mul_(((start.model_norm() / 1) / steps) / dir_one.model_norm())
    dir_two.mul_(((start.model_norm() / 1) / steps) / dir_two.model_norm())
    names = [name for name, _ in model.named_parameters()]
    d1 = dict(zip(names, [p.clone() for p in dir_one.parameters]))
    d2 = dict(zip(names, [p.clone() for p in dir_two.parameters]))
    i, j = np.meshgrid(np.arange(steps), np.arange(steps), indexing="ij")
    coefficients = np.stack([i - steps / 2, j + (i % 2 == 0) - steps / 2], axis=-1).reshape(-1, 2)
    return d1, d2, torch.as_tensor(coefficients, dtype=torch.float32)


def ours(model, loss_fn, x, y, d1, d2, coefficients) -> np.ndarray:
    evaluator = SliceEvaluator(model, loss_fn, (x, y), [d1, d2], accuracy=False)
    return evaluator(coefficients)["loss"].numpy().reshape(STEPS, STEPS)


def matmul_rate(size: int = 1024, repeats: int = 5) -> float:
    """Measured float32 multiply-adds per second of a size^3 matrix product (this machine's peak)."""
    return size ** 3 / min(matmul_times(size, repeats))


def hidden_products(case: Case) -> int:
    """Multiply-adds of the hidden-to-hidden layers over the whole grid (none for one hidden layer)."""
    inner = case.widths[1:-1]
    return STEPS * STEPS * case.samples * sum(a * b for a, b in zip(inner[:-1], inner[1:]))


ONE_TIME = """
import time, torch
start = time.perf_counter()
from sublevel.checks.landscapes.evaluation import SliceEvaluator
imported = time.perf_counter()
x, y = torch.randn(8, 2), torch.randn(8, 1)
grid = torch.cartesian_prod(torch.arange(5.0), torch.arange(5.0))
for hidden in ([torch.nn.Linear(2, 3), torch.nn.ReLU()],
               [torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 3), torch.nn.ReLU()]):
    model = torch.nn.Sequential(*hidden, torch.nn.Linear(3, 1))
    directions = [{k: torch.randn_like(v) for k, v in model.named_parameters()} for _ in range(2)]
    SliceEvaluator(model, torch.nn.MSELoss(), (x, y), directions)(grid)
print(imported - start, time.perf_counter() - imported)
"""


def one_time_costs() -> tuple[tuple[float, float], tuple[float, float]]:
    """(import, first call) seconds in a fresh process with an empty numba cache, then with it filled."""
    runs = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", ONE_TIME], env=env, check=True, capture_output=True, text=True)
            runs.append(tuple(float(v) for v in out.stdout.split()))
    return runs[0], runs[1]


def timed(fn, timings: list[float]):
    start = time.perf_counter()
    result = fn()
    timings.append(time.perf_counter() - start)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for both tools (default 1: on a shared 2-core machine a second "
                             "thread mostly adds synchronisation)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}, grid {STEPS}x{STEPS}, "
          f"best of {args.repeats}")
    (cold_import, cold_call), (warm_import, warm_call) = one_time_costs()
    print(f"line sweep one-time costs (fresh processes): empty numba cache: import {cold_import:.2f} s + "
          f"compile {cold_call:.2f} s; cached: import {warm_import:.2f} s + load {warm_call:.2f} s")
    rate = matmul_rate()
    print(f"float32 matmul rate (1024^3, measured): {2 * rate / 1e9:.1f} GFLOP/s")
    print(f"{'case':52s} {'path':>6s} {'max rel diff':>12s} {'theirs s':>9s} {'ours s':>8s} {'ratio':>7s} "
          f"{'target':>6s} {'ceiling':>8s}")
    for case in CASES:
        model, loss_fn, x, y = case.build()
        d1, d2, coefficients = their_points(model, seed=1)
        path = "sweep" if SliceEvaluator(model, loss_fn, (x, y), [d1, d2]).line_sweep else "points"
        t_theirs, t_ours = [], []
        for _ in range(args.repeats):
            ref = timed(lambda: theirs(model, loss_fn, x, y, seed=1), t_theirs)
            got = timed(lambda: ours(model, loss_fn, x, y, d1, d2, coefficients), t_ours)
        rel = float(np.max(np.abs(got - ref) / np.abs(ref)))
        ratio = min(t_theirs) / min(t_ours)
        verdict = "ok" if ratio >= case.target and rel <= 1e-5 else "MISSED"
        products = hidden_products(case)
        ceiling = f"{min(t_theirs) / (products / rate):7.1f}x" if products else "-"
        print(f"{case.name:52s} {path:>6s} {rel:12.2e} {min(t_theirs):9.3f} {min(t_ours):8.3f} {ratio:6.1f}x "
              f"{case.target:5.0f}x {ceiling:>8s} {verdict}")


if __name__ == "__main__":
    main()
