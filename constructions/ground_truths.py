"""Exact ground truths G1 and G2 (docs/claims.rst, section 0).

G1, ``scalar-linear``: H = w_2 w_1 x on the single datum (x, y) = (1, t), so
L = (w_1 w_2 - t)^2. For t != 0, Omega(lambda) has two components (the branches of the
hyperbola w_1 w_2 = t, quadrants I and III for t > 0) for 0 <= lambda < t^2 and one for
lambda >= t^2. Separator g = w_1 with floor t^2: on w_1 = 0 the product is 0 and L = t^2.
With hidden width 2 (H = a.b x) the set is connected at every level (Freeman & Bruna 2017,
Prop. 2.2 with n_1 = 2 > min(n_0, n_2) = 1).

G2, ``one-neuron``: H = v relu(w x), no bias, data (1, 1) and (-1, a), mean loss
L = ((v relu(w) - 1)^2 + (v relu(-w) - a)^2) / 2. On w < 0 the loss is >= 1/2, on w > 0 it is
>= a^2/2, on the line w = 0 it equals (1 + a^2)/2 for every v. For a > 1 the branch w > 0 is a
spurious valley with minimum a^2/2: N_lambda = 0 below 1/2, 1 on [1/2, a^2/2), 2 on
[a^2/2, (1+a^2)/2), 1 from (1+a^2)/2 on.
"""
from __future__ import annotations

import math

import numpy as np

from sublevel.constructions.certificates import Separator
from sublevel.constructions.datasets import Dataset
from sublevel.constructions.registry import Param, register
from sublevel.theory.errors import InputError


@register("scalar-linear", "G1: one datum (1, target) for the scalar linear net 1-1-1 (two branches below target^2)",
          Param("target", float, 1.0, "the label y of the single datum x = 1 (N_lambda = 2 below target^2)"))
def scalar_linear(target: float) -> Dataset:
    if not math.isfinite(target):
        raise InputError(f"target must be finite, got {target}")
    root = math.sqrt(abs(target))
    sign = 1.0 if target >= 0 else -1.0
    floor = target * target
    meta = {
        "architecture": {"widths": "1-1-1", "activation": "linear", "bias": False},
        "points": {"theta_A": [root, sign * root], "theta_B": [-root, -sign * root], "saddle": [0.0, 0.0]},
        "point_losses": {"theta_A": 0.0, "theta_B": 0.0, "saddle": floor},
        "loss_floor": 0.0,
        "separators": [Separator("coordinate", floor, "1-1-1/linear/nobias", 0,
                                 "on w1 = 0 the output is 0, so L = target^2").to_dict()],
        "ground_truth": {"breaks": [floor], "counts": [2, 1]} if target != 0 else {"breaks": [], "counts": [1]},
    }
    return Dataset(np.array([[1.0]]), np.array([[float(target)]]), meta)


@register("one-neuron", "G2: one ReLU neuron without bias, data (1, 1) and (-1, a): a spurious valley for a > 1",
          Param("a", float, 2.0, "label of the datum x = -1 (a > 1 gives a spurious valley at a^2/2)"))
def one_neuron(a: float) -> Dataset:
    if not math.isfinite(a) or a <= 0:
        raise InputError(f"a must be a positive number, got {a}")
    low, high = sorted((0.5, a * a / 2))
    wall = (1 + a * a) / 2
    meta = {
        "architecture": {"widths": "1-1-1", "activation": "relu", "bias": False},
        "points": {"theta_global": [-1.0, a], "theta_spurious": [1.0, 1.0]},
        "point_losses": {"theta_global": 0.5, "theta_spurious": a * a / 2},
        "loss_floor": low,
        "separators": [Separator("coordinate", wall, "1-1-1/relu/nobias", 0,
                                 "on w = 0 both outputs vanish, so L = (1 + a^2)/2 for every v").to_dict()],
        "ground_truth": {"breaks": [low, high, wall], "counts": [0, 1, 2, 1]} if a != 1
        else {"breaks": [0.5, 1.0], "counts": [0, 2, 1]},
    }
    return Dataset(np.array([[1.0], [-1.0]]), np.array([[1.0], [a]]), meta)
