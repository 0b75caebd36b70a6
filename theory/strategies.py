"""Hypothesis strategies for architectures, data and problems, for users' own property tests.

>>> from hypothesis import given
>>> from sublevel.theory.strategies import problems
>>> @given(problems())
... def test_loss_is_nonnegative(problem):
...     assert (problem.loss(problem.architecture.init(4, dtype=problem.dtype)) >= 0).all()
>>> test_loss_is_nonnegative()

The data are drawn entry by entry (times a drawn scale), so a failing example shrinks to small
networks, few samples, simple values and scale 1. Needs ``hypothesis``
(``pip install 'sublevel[testing]'``).
"""
from __future__ import annotations

try:
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - the hint is the point
    raise ImportError("sublevel.theory.strategies needs hypothesis: pip install 'sublevel[testing]'") from None
import torch

from sublevel.theory.networks import Architecture
from sublevel.theory.problems import Problem

SCALES = (1.0, 1e-6, 1e-3, 1e3, 1e4)
"""Scales that data are multiplied by (1 first, so failures shrink to it): the package's
comparisons are meant to be scale-free, and tests should say so by drawing the scale."""


def scales() -> st.SearchStrategy[float]:
    """A data scale from :data:`SCALES`, shrinking to 1."""
    return st.sampled_from(SCALES)


@st.composite
def architectures(draw, activations=("linear", "relu", "quadratic"), max_depth: int = 3, max_width: int = 4,
                  bias=None) -> Architecture:
    """A fully connected architecture of depth 1..max_depth and widths 1..max_width."""
    depth = draw(st.integers(1, max_depth))
    widths = tuple(draw(st.lists(st.integers(1, max_width), min_size=depth + 1, max_size=depth + 1)))
    activation = draw(st.sampled_from(activations))
    return Architecture(widths, activation, draw(st.booleans()) if bias is None else bias)


def matrices(rows: int, columns: int, scale: float = 1.0) -> st.SearchStrategy[torch.Tensor]:
    """A float64 (rows, columns) tensor with entries in [-3, 3] times ``scale``."""
    entries = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)
    return st.lists(entries, min_size=rows * columns, max_size=rows * columns).map(
        lambda values: torch.tensor(values, dtype=torch.float64).reshape(rows, columns) * scale)


@st.composite
def problems(draw, architecture=None, max_samples: int = 8, kappa=None, scale=None) -> Problem:
    """A problem: an architecture (drawn unless given), 1..max_samples samples whose inputs and
    labels are drawn entry by entry, labels times a drawn scale, and a ridge of 0 or 0.01."""
    arch = draw(architecture if architecture is not None else architectures())
    n = draw(st.integers(1, max_samples))
    x = draw(matrices(n, arch.widths[0]))
    y = draw(matrices(n, arch.widths[-1], draw(scales()) if scale is None else scale))
    k = draw(st.sampled_from([0.0, 0.01])) if kappa is None else kappa
    return Problem(arch, x, y, k)
