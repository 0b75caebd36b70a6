"""A loss landscape of any torch model in one call (Li, Xu, Taylor, Studer & Goldstein,
"Visualizing the loss landscape of neural nets", NeurIPS 2018, arXiv:1712.09913).

``landscape(model, loss_fn, data)`` draws ``dims`` Gaussian directions, filter-normalised to the
model's parameters (Li et al., Sec. 4), evaluates the loss (and accuracy for class labels) on a
regular grid of the slice theta + a d1 (+ b d2) in eval mode, and returns a
:class:`~sublevel.checks.landscapes.surfaces.Surface` that saves, resumes (give ``path``) and
plots (:meth:`Surface.plot`). The model is not modified. The same machinery as
``sublevel landscape surface``: :class:`~sublevel.checks.landscapes.evaluation.SliceEvaluator`
and :func:`~sublevel.checks.landscapes.surfaces.compute_surface`.
"""
from __future__ import annotations

import os

import torch

from sublevel.checks.landscapes.directions import parameters_of, random_direction
from sublevel.checks.landscapes.evaluation import SliceEvaluator
from sublevel.checks.landscapes.surfaces import Grid, Surface, compute_surface
from sublevel.theory.errors import InputError


def landscape(model: torch.nn.Module, loss_fn, data, dims: int = 2, steps: int = 21, span: float = 1.0,
              normalization: str = "filter", seed: int = 0, path: str | os.PathLike | None = None,
              progress: bool = False) -> Surface:
    """The loss of ``model`` on ``data`` over a ``dims``-D slice through its parameters.

    Parameters
    ----------
    model : torch.nn.Module
        Not modified; evaluated in eval mode (BatchNorm with its running statistics).
    loss_fn : callable (outputs, targets) -> scalar mean loss, e.g. ``torch.nn.CrossEntropyLoss()``.
    data : (X, Y) tensors or an iterable of (X, Y) batches.
    dims : 1 or 2
    steps : int
        Grid points per axis, on [-span, span].
    normalization : "filter" (Li et al.) or "none"
    seed : int
        Direction j is drawn with seed ``seed + j``.
    path : optional .npz
        Saved after every chunk; a rerun with the same setup computes only the missing points.

    Raises
    ------
    InputError
        On ``dims`` other than 1 or 2, fewer than 2 steps, a non-positive span, bad data, or a
        model that cannot run on the data.
    """
    if dims not in (1, 2) or isinstance(dims, bool):
        raise InputError(f"dims must be 1 or 2, got {dims!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise InputError(f"steps must be an integer >= 2, got {steps!r}")
    if not (isinstance(span, (int, float)) and 0 < span < float("inf")):
        raise InputError(f"span must be a positive finite number, got {span!r}")
    theta = parameters_of(model)
    directions = [random_direction(theta, seed + j, normalization) for j in range(dims)]
    evaluator = SliceEvaluator(model, loss_fn, data, directions)
    metadata = {"title": f"loss, {normalization}-normalised directions (seeds {seed}..{seed + dims - 1})",
                "normalization": normalization, "seed": seed}
    return compute_surface(evaluator, Grid.regular(dims, -span, span, steps), path=path, metadata=metadata,
                           progress=progress)
