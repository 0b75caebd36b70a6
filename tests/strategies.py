"""Hypothesis strategies for architectures and problems, reusable by users' own tests."""
from __future__ import annotations

import torch
from hypothesis import strategies as st

from sublevel.theory.networks import Architecture
from sublevel.theory.problems import Problem


@st.composite
def architectures(draw, activations=("linear", "relu", "quadratic"), max_depth: int = 3, max_width: int = 4,
                  bias=None) -> Architecture:
    depth = draw(st.integers(1, max_depth))
    widths = tuple(draw(st.lists(st.integers(1, max_width), min_size=depth + 1, max_size=depth + 1)))
    activation = draw(st.sampled_from(activations))
    return Architecture(widths, activation, draw(st.booleans()) if bias is None else bias)


@st.composite
def problems(draw, architecture=None, max_samples: int = 8, kappa=None) -> Problem:
    arch = draw(architecture if architecture is not None else architectures())
    n = draw(st.integers(1, max_samples))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, arch.widths[0], generator=g, dtype=torch.float64)
    y = torch.randn(n, arch.widths[-1], generator=g, dtype=torch.float64)
    k = draw(st.sampled_from([0.0, 0.01])) if kappa is None else kappa
    return Problem(arch, x, y, k)
