"""``teacher-mixture``: labels from one of two ReLU teachers, chosen at random per sample.

docs/claims.rst, section 2 (after Freeman & Bruna 2017, arXiv:1611.01540, section 2.3). Inputs
x ~ N(0, I_{n_0}); each label comes from teacher theta_1 with probability pi, else from theta_2:

    y = z H(x; theta_1) + (1 - z) H(x; theta_2),     z ~ Bernoulli(pi) independent of x.

Since z is independent of x, the population loss of any student f is
E[(f - g)^2] + pi (1 - pi) E[(H_1 - H_2)^2] with g = pi H_1 + (1 - pi) H_2, and

    L(theta_1) = (1 - pi) D,   L(theta_2) = pi D,   D = E[(H(x; theta_1) - H(x; theta_2))^2],

so the two teachers sit at heights that pi controls. They are not critical points in general
(the gradient at theta_1 is (1 - pi) E[(H_1 - H_2) dH_1]); the local minima that descent from
them reaches are what :mod:`sublevel.checks.verdicts.spurious` examines. Observed for widths 2-2-1, seed 0,
pi = 0.7 and 0.9: descent from either teacher ends at the same (best found) minimum, so the
teachers themselves do not mark spurious minima there; random starts do end at higher
minima. The recorded ``point_losses`` are the exact losses on the stored sample.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from sublevel.constructions.datasets import Dataset
from sublevel.constructions.registry import Param, positive, register
from sublevel.theory.errors import InputError
from sublevel.theory.networks import Architecture


@register("teacher-mixture",
          "two ReLU teachers mixed per sample with weight pi: teachers at losses (1-pi) D and pi D",
          Param("arch", str, "2-2-1", "widths n_0-...-n_L of both teachers (and of the student)"),
          Param("pi", float, 0.7, "probability pi in [0, 1] that a label comes from theta_1"),
          Param("samples", int, 256, "number of samples N"),
          Param("seed", int, 0, "random seed for inputs, teachers and the mixture"))
def teacher_mixture(arch: str, pi: float, samples: int, seed: int) -> Dataset:
    architecture = Architecture.parse(arch, "relu", bias=False)
    if not (math.isfinite(pi) and 0.0 <= pi <= 1.0):
        raise InputError(f"pi must lie in [0, 1], got {pi}")
    positive("samples", samples)
    generator = torch.Generator().manual_seed(seed)
    theta_1, theta_2 = architecture.init(2, generator=generator)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples, architecture.widths[0]))
    z = rng.random(samples) < pi
    xt = torch.as_tensor(x)
    h1, h2 = architecture.forward(theta_1, xt).numpy(), architecture.forward(theta_2, xt).numpy()
    y = np.where(z[:, None], h1, h2)
    gap = np.square(h1 - h2).sum(axis=1)
    meta = {
        "seed": seed,
        "architecture": {"widths": architecture.spec, "activation": "relu", "bias": False},
        "points": {"theta_1": theta_1.tolist(), "theta_2": theta_2.tolist()},
        "point_losses": {"theta_1": float(gap[~z].sum() / samples), "theta_2": float(gap[z].sum() / samples)},
        "mixture": {"pi": pi, "from_theta_1": int(z.sum()), "D_estimated": float(gap.mean())},
    }
    return Dataset(x, y, meta)
