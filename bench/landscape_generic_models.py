"""2-D slices of models outside the exact line sweep: ours vs ``loss_landscapes.random_plane``.

Run:  python bench/landscape_generic_models.py [--repeats 3] [--threads 1] [--steps 21]

The bench set: a small CNN with BatchNorm on 28 x 28 images, a ResNet-8 on 32 x 32 images, an MLP
with tanh, an MLP with three hidden ReLU layers and a transformer encoder layer (random data of
the right shapes; the timing does not depend on the values). For each, both tools evaluate the
same ``steps`` x ``steps`` points (``random_plane``'s directions are re-created under its seed
and handed to :class:`sublevel.checks.landscapes.evaluation.SliceEvaluator`, as in
``bench/landscape_vs_loss_landscapes.py``), interleaved, best of ``repeats``. Printed per model:
parameters, max relative difference of the values, seconds of each, the ratio theirs / ours (the
issue's target: never below 1, at least 3 under 10^4 parameters) and which evaluation path ours
took. Everything runs in eval mode (BatchNorm with its running statistics) on the CPU.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from sublevel.checks.landscapes.evaluation import SliceEvaluator
from sublevel.checks.landscapes.models import ResNet
from landscape_vs_loss_landscapes import their_points, theirs  # this folder is on sys.path


class Pooled(nn.Module):
    """A transformer encoder layer, mean over tokens, a linear classifier."""

    def __init__(self, width: int = 32, heads: int = 4, classes: int = 10):
        super().__init__()
        self.encoder = nn.TransformerEncoderLayer(width, heads, dim_feedforward=2 * width, batch_first=True,
                                                  dropout=0.0)
        self.head = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x).mean(1))


def cases():
    torch.manual_seed(0)
    cnn = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(16, 10))
    yield "CNN + BatchNorm, 256 images 28x28", cnn, torch.randn(256, 1, 28, 28), torch.randint(0, 10, (256,))
    resnet = ResNet(8, width=8, in_channels=3, dims=2)
    yield "ResNet-8 (width 8), 128 images 32x32", resnet, torch.randn(128, 3, 32, 32), torch.randint(0, 10, (128,))
    tanh = nn.Sequential(nn.Linear(20, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
    x = torch.randn(256, 20)
    yield "MLP 20-64-64-1 tanh, N=256", tanh, x, torch.randn(256, 1)
    relu3 = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                          nn.Linear(32, 1))
    yield "MLP 10-32-32-32-1 ReLU, N=256", relu3, torch.randn(256, 10), torch.randn(256, 1)
    yield "transformer encoder layer (d=32, 4 heads), 64 x 16 tokens", Pooled(), torch.randn(64, 16, 32), \
        torch.randint(0, 10, (64,))


def loss_for(y: torch.Tensor) -> nn.Module:
    return nn.CrossEntropyLoss() if not y.is_floating_point() else nn.MSELoss()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=21)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}, grid {args.steps}x{args.steps}, "
          f"best of {args.repeats}")
    print(f"{'model':58s} {'params':>7s} {'path':>7s} {'max rel diff':>12s} {'theirs s':>9s} {'ours s':>8s} "
          f"{'ratio':>7s}")
    worst = float("inf")
    for name, model, x, y in cases():
        with torch.no_grad():  # as if trained: loss_landscapes' filter normalisation divides by
            for parameter in model.parameters():  # filter norms, so none may be zero (BN biases are)
                parameter.add_(0.05 * torch.randn_like(parameter))
        model.eval()
        loss_fn = loss_for(y)
        d1, d2, coefficients = their_points(model, seed=1, steps=args.steps)
        t_theirs, t_ours = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            ref = theirs(model, loss_fn, x, y, seed=1, steps=args.steps)
            t_theirs.append(time.perf_counter() - start)
            start = time.perf_counter()
            evaluator = SliceEvaluator(model, loss_fn, (x, y), [d1, d2], accuracy=False)
            got = evaluator(coefficients)["loss"].numpy().reshape(args.steps, args.steps)
            t_ours.append(time.perf_counter() - start)
        path = evaluator.path
        params = sum(p.numel() for p in model.parameters())
        rel = float(np.max(np.abs(got - ref) / np.abs(ref)))
        ratio = min(t_theirs) / min(t_ours)
        worst = min(worst, ratio)
        print(f"{name:58s} {params:>7d} {path:>7s} {rel:12.2e} {min(t_theirs):9.3f} {min(t_ours):8.3f} {ratio:6.2f}x",
              flush=True)
    print(f"worst ratio theirs / ours: {worst:.2f}x")


if __name__ == "__main__":
    main()
