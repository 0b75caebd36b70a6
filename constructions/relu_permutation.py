"""``relu-permutation``: teacher labels whose zero-loss set splits by a permutation of hidden units.

Freeman & Bruna 2017 (arXiv:1611.01540), section 2.3.1 (lecture 11, "ReLU network: multiple
components"). Inputs x ~ N(0, I_{n_0}) (positive density everywhere), labels
Y = H(X; theta_A) for a ReLU teacher theta_A without biases (with biases when asked).
theta_B is theta_A with the units of the first hidden layer cyclically shifted (rows of W_1,
entries of b_1 and columns of W_2 permuted), so L(theta_A) = L(theta_B) = 0 exactly.

Certificate (widths 2-2-n_L, no bias): the shift of two units is a swap, which flips the sign
of det W_1; every path from theta_A to theta_B crosses det W_1 = 0, where the loss is at least
rho* (:mod:`sublevel.constructions.rank_one_floor`). The separator's floor is rho* of the *sample*
loss (the loss of the stored data, exact sums); the population rho* (x ~ N(0, I_2), closed-form
arc-cosine kernel, certified lower bound) is recorded beside it. With biases the determinant
argument fails (a rank-one W_1 with two different biases is not of the form
alpha relu(u.x) + beta relu(-u.x)), so no separator is recorded.

Teacher: for n_0 = 2 the first-layer rows are unit vectors at angles r, r + angle, r + 2 angle,
... with a random rotation r; for n_0 > 2 they are random unit vectors. A two-layer teacher has
all output weights equal to ``scale`` (positive weights keep rho* away from 0; rho* grows as
scale^2); deeper layers are random.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from sublevel.constructions.certificates import Separator
from sublevel.constructions.datasets import Dataset
from sublevel.constructions.rank_one_floor import population_floor, sample_floor
from sublevel.constructions.registry import Param, positive, register
from sublevel.theory.errors import InputError
from sublevel.theory.networks import Architecture


def permute_first_layer(architecture: Architecture, theta: torch.Tensor, shift: int = 1) -> torch.Tensor:
    """theta with the first hidden layer's units cyclically shifted by ``shift`` (same function)."""
    theta = theta.clone()
    n1 = architecture.widths[1]
    order = torch.roll(torch.arange(n1), shift)
    views = architecture.layers(theta.unsqueeze(0))
    first, second = views[0], views[1]
    first.weight[0] = first.weight[0][order].clone()
    if first.bias is not None:
        first.bias[0] = first.bias[0][order].clone()
    second.weight[0] = second.weight[0][:, order].clone()
    return theta


def teacher(architecture: Architecture, angle: float, scale: float, seed: int) -> torch.Tensor:
    """The teacher theta_A described in the module docstring, deterministic given ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    theta = architecture.init(1, generator=generator)[0]
    views = architecture.layers(theta.unsqueeze(0))
    n0, n1 = architecture.widths[:2]
    if n0 == 2:
        start = 2 * math.pi * float(torch.rand(1, generator=generator, dtype=torch.float64))
        phis = start + math.radians(angle) * torch.arange(n1, dtype=torch.float64)
        rows = torch.stack([torch.cos(phis), torch.sin(phis)], dim=1)
    else:
        rows = torch.randn(n1, n0, generator=generator, dtype=torch.float64)
        rows = rows / rows.norm(dim=1, keepdim=True)
    views[0].weight[0] = rows
    if architecture.depth == 2:
        views[1].weight[0] = torch.full_like(views[1].weight[0], scale)
    return theta


@register("relu-permutation",
          "F&B 2.3.1: ReLU teacher labels on Gaussian inputs; theta_B = theta_A with hidden units permuted "
          "(determinant certificate with exact floor rho* for 2-2-n_L without bias)",
          Param("arch", str, "2-2-1", "widths n_0-n_1-...-n_L of teacher and student (n_1 >= 2; 2-2-n_L gets the certificate)"),
          Param("bias", int, 0, "1 for biases (breaks the determinant certificate), 0 without"),
          Param("angle", float, 120.0, "degrees between consecutive teacher rows of W_1 (only for n_0 = 2)"),
          Param("scale", float, 1.0, "output weight of every unit of a two-layer teacher (rho* grows as scale^2)"),
          Param("samples", int, 256, "number of samples N (inputs x ~ N(0, I))"),
          Param("seed", int, 0, "random seed for inputs and teacher"))
def relu_permutation(arch: str, bias: int, angle: float, scale: float, samples: int, seed: int) -> Dataset:
    architecture = Architecture.parse(arch, "relu", bool(bias))
    if architecture.depth < 2 or architecture.widths[1] < 2:
        raise InputError(f"relu-permutation needs a hidden layer of width >= 2 to permute, got {arch}")
    positive("samples", samples)
    if not math.isfinite(angle) or not 0 < angle % 360 < 360:
        raise InputError(f"angle must be a finite number of degrees, not a multiple of 360, got {angle}")
    if not math.isfinite(scale) or scale == 0:
        raise InputError(f"scale must be a finite non-zero number, got {scale}")
    theta_a = teacher(architecture, angle, scale, seed)
    theta_b = permute_first_layer(architecture, theta_a)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples, architecture.widths[0]))
    y = architecture.forward(theta_a, torch.as_tensor(x)).numpy()
    meta = {
        "seed": seed,
        "architecture": {"widths": architecture.spec, "activation": "relu", "bias": bool(bias)},
        "points": {"theta_A": theta_a.tolist(), "theta_B": theta_b.tolist()},
        "point_losses": {"theta_A": 0.0, "theta_B": 0.0},
        "loss_floor": 0.0,
    }
    if architecture.widths[:2] == (2, 2) and architecture.depth == 2 and not bias:
        views = architecture.layers(theta_a.unsqueeze(0))
        w, a = views[0].weight[0].numpy(), views[1].weight[0].numpy()
        sample = sample_floor(x, y)
        population = population_floor(w, a)
        meta["separators"] = [Separator(
            "determinant", sample.lower, Separator.architecture_key(architecture), 1,
            "det W_1 = 0 means rank W_1 <= 1, i.e. H = alpha relu(u.x) + beta relu(-u.x), whose sample loss "
            "is >= rho* (proven lower bound in exact rational arithmetic, constructions.rank_one_floor)").to_dict()]
        meta["rho_star"] = {"separator_floor_is_for": "sample", "sample": sample.to_dict(),
                            "population": population.to_dict()}
    else:
        meta["certificate"] = ("none: the determinant certificate needs widths 2-2-n_L without bias"
                               + (" (biases break the rank-one argument)" if bias else ""))
    return Dataset(x, y, meta)
