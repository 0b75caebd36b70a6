"""Random regression data: ``gaussian`` (independent labels) and ``teacher`` (labels from a net).

Both are deterministic given ``seed`` (numpy's PCG64 for data, torch's generator for
teacher weights).
"""
from __future__ import annotations

import numpy as np
import torch

from sublevel.constructions.datasets import Dataset
from sublevel.constructions.registry import Param, positive, register
from sublevel.theory.errors import InputError
from sublevel.theory.networks import Architecture


@register("gaussian", "random regression: X ~ N(0, I), Y ~ N(0, I) independent of X",
          Param("inputs", int, 2, "input dimension n_0"),
          Param("outputs", int, 1, "output dimension n_L"),
          Param("samples", int, 32, "number of samples N"),
          Param("seed", int, 0, "random seed"))
def gaussian(inputs: int, outputs: int, samples: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((positive("samples", samples), positive("inputs", inputs)))
    y = rng.standard_normal((samples, positive("outputs", outputs)))
    return Dataset(x, y, {"seed": seed})


@register("teacher", "labels from a random teacher net on Gaussian inputs (zero loss is attainable)",
          Param("arch", str, "2-4-1", "teacher widths n_0-...-n_L"),
          Param("activation", str, "relu", "teacher activation: linear, relu or quadratic"),
          Param("bias", int, 0, "1 for a teacher with biases, 0 without"),
          Param("samples", int, 64, "number of samples N"),
          Param("noise", float, 0.0, "standard deviation of Gaussian label noise"),
          Param("seed", int, 0, "random seed for inputs, teacher and noise"))
def teacher(arch: str, activation: str, bias: int, samples: int, noise: float, seed: int) -> Dataset:
    architecture = Architecture.parse(arch, activation, bool(bias))
    if noise < 0:
        raise InputError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((positive("samples", samples), architecture.widths[0]))
    theta = architecture.init(1, generator=torch.Generator().manual_seed(seed))[0]
    y = architecture.forward(theta, torch.as_tensor(x)).numpy() + noise * rng.standard_normal((samples, architecture.widths[-1]))
    meta = {
        "seed": seed,
        "architecture": {"widths": architecture.spec, "activation": activation, "bias": bool(bias)},
        "points": {"theta_teacher": theta.tolist()},
        "loss_floor": 0.0,
    }
    return Dataset(x, y, meta)
