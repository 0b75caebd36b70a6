"""Top Hessian eigenvalue: ours (:mod:`sublevel.checks.curvature.spectrum`) vs PyHessian 0.1.

Run:  python bench/hessian_vs_pyhessian.py [--repeats 3] [--threads 1]

For each model of the landscape benches (MLPs and a CNN with BatchNorm, eval mode, full-batch
loss) both tools compute the largest Hessian eigenvalue. PyHessian runs its power iteration with
its defaults (tol 1e-3 on the relative change of the estimate, at most 100 iterations; its
products counted by wrapping its product function); ours runs Lanczos until the residual
||Hv - theta v|| is below a tolerance times |theta|: 1e-3 (the same nominal tolerance; the
residual bounds the error, PyHessian's test does not) and 1e-6 (the models are float32, whose
products cannot reach much less). The reference is ours at 1e-10 (float32 rounding limits it).
Printed per model: each result's relative error, Hessian-vector products, seconds (best of
``repeats``, interleaved) and the ratio PyHessian / ours at 1e-3 (above 1: ours is faster).
"""
from __future__ import annotations

import argparse
import time

import torch
from pyhessian import hessian as PyHessian
from torch import nn
from torch.func import functional_call

from sublevel.checks.curvature.spectrum import extreme_eigenpairs, hessian_vector_product


def models():
    torch.manual_seed(0)
    yield ("MLP 20-64-64-1 tanh, N=256, MSE",
           nn.Sequential(nn.Linear(20, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1)),
           nn.MSELoss(), torch.randn(256, 20), torch.randn(256, 1))
    yield ("MLP 10-32-32-32-1 ReLU, N=256, MSE",
           nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                         nn.Linear(32, 1)), nn.MSELoss(), torch.randn(256, 10), torch.randn(256, 1))
    yield ("MLP 784-100-10, N=1000, cross-entropy",
           nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10)), nn.CrossEntropyLoss(),
           torch.randn(1000, 784), torch.randint(0, 10, (1000,)))
    cnn = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(16, 10))
    yield "CNN + BatchNorm, 256 images 28x28, cross-entropy", cnn, nn.CrossEntropyLoss(), \
        torch.randn(256, 1, 28, 28), torch.randint(0, 10, (256,))


def ours(model, loss_fn, x, y, tol: float) -> tuple[float, int]:
    names = [name for name, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    sizes = [p.numel() for _, p in model.named_parameters()]
    buffers = dict(model.named_buffers())

    def loss(theta: torch.Tensor) -> torch.Tensor:
        params = {n: t.view(s) for n, t, s in zip(names, torch.split(theta, sizes), shapes)}
        return loss_fn(functional_call(model, (params, buffers), (x,)), y)

    at = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    _, top = extreme_eigenpairs(hessian_vector_product(loss, at), at.numel(), k=1, ends="top", tol=tol,
                                dtype=at.dtype)
    return float(top.values[-1]), top.products


def theirs(model, loss_fn, x, y) -> tuple[float, int]:
    """PyHessian's top eigenvalue and its Hessian-vector products (counted by wrapping its product)."""
    import sys

    module = sys.modules[PyHessian.__module__]  # the module: the package re-exports the class under its name
    counted = {"products": 0}
    original = module.hessian_vector_product

    def counting(*args, **kwargs):
        counted["products"] += 1
        return original(*args, **kwargs)

    module.hessian_vector_product = counting
    try:
        engine = PyHessian(model, loss_fn, data=(x, y), cuda=False)
        values, _ = engine.eigenvalues(top_n=1)
    finally:
        module.hessian_vector_product = original
    return float(values[0]), counted["products"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}, best of {args.repeats}")
    print(f"{'model':50s} {'method':16s} {'rel error':>10s} {'products':>8s} {'seconds':>8s}")
    worst = float("inf")
    for name, model, loss_fn, x, y in models():
        model.eval()
        reference, _ = ours(model, loss_fn, x, y, 1e-10)
        runs = {"PyHessian 0.1": (lambda: theirs(model, loss_fn, x, y)),
                "ours tol 1e-3": (lambda: ours(model, loss_fn, x, y, 1e-3)),
                "ours tol 1e-6": (lambda: ours(model, loss_fn, x, y, 1e-6))}
        times = {key: [] for key in runs}
        results = {}
        for _ in range(args.repeats):
            for key, run in runs.items():
                start = time.perf_counter()
                results[key] = run()
                times[key].append(time.perf_counter() - start)
        for key in runs:
            value, products = results[key]
            print(f"{name:50s} {key:16s} {abs(value - reference) / abs(reference):10.1e} "
                  f"{products if products >= 0 else '-':>8} {min(times[key]):8.3f}", flush=True)
        ratio = min(times["PyHessian 0.1"]) / min(times["ours tol 1e-3"])
        worst = min(worst, ratio)
        print(f"{'':50s} ratio PyHessian / ours at 1e-3: {ratio:.2f}x")
    print(f"worst ratio PyHessian / ours (same tolerance): {worst:.2f}x")


if __name__ == "__main__":
    main()
