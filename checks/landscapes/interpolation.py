"""1-D linear interpolation between two models: loss and accuracy on train and test data.

theta(alpha) = (1 - alpha) theta_A + alpha theta_B for alpha in [-0.5, 1.5] (Goodfellow et al.
2015, as used for small- vs large-batch minimisers by Li, Xu, Taylor, Studer & Goldstein,
NeurIPS 2018, arXiv:1712.09913, Sec. 3 and Fig. 2).

BatchNorm: running statistics are buffers, not parameters. ``batchnorm="interpolate"``
(default) interpolates the buffers like the weights (the paper's code does this when it
interpolates whole state dicts), so alpha = 0 and 1 are exactly model A and model B as given,
evaluated in eval mode. ``"recompute"`` resets them at every alpha and re-estimates them with
one pass over ``statistics_data`` in train mode (cumulative average, momentum None), then
evaluates in eval mode (Garipov et al. 2018); the curve's ends are then not the given models,
and ``notes`` says so with both numbers. Models without BatchNorm take the batched path of
:class:`~sublevel.checks.landscapes.evaluation.SliceEvaluator`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Literal, Mapping

import numpy as np
import torch

from sublevel.checks.landscapes.directions import difference, parameters_of
from sublevel.checks.landscapes.evaluation import LossFn, SliceEvaluator, as_batches
from sublevel.theory.errors import InputError

_BATCHNORM = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)


@dataclass(frozen=True)
class Interpolation:
    """Curves over ``alphas``: ``curves["train_loss"]``, ``curves["test_accuracy"]``, ...

    ``endpoints["a"]`` and ``endpoints["b"]`` hold the same metrics of the two models as given
    (their own BatchNorm statistics, eval mode): the models the user trained. Where the curve
    at alpha = 0 or 1 differs from them (recomputed BatchNorm statistics), ``notes`` says so
    with both numbers; the curve's ends are then not the given models.
    """

    alphas: np.ndarray
    curves: dict[str, np.ndarray]
    endpoints: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def interpolate(model_a: torch.nn.Module, model_b: torch.nn.Module, loss_fn: LossFn,
                data: Mapping[str, object], alphas: np.ndarray | None = None,
                batchnorm: Literal["recompute", "interpolate"] = "interpolate",
                statistics_data=None) -> Interpolation:
    """Evaluate the segment from ``model_a`` (alpha 0) to ``model_b`` (alpha 1) and beyond.

    Parameters
    ----------
    model_a, model_b : torch.nn.Module
        Same architecture (checked by parameter names and shapes).
    loss_fn : callable
        Batch-mean loss.
    data : mapping
        Name -> data (tensors or loader), e.g. ``{"train": ..., "test": ...}``.
    alphas : array, optional
        Default: 41 points on [-0.5, 1.5].
    batchnorm : {"recompute", "interpolate"}
        How BatchNorm running statistics are set at each alpha (see module docstring).
    statistics_data : data, optional
        Data for re-estimating BatchNorm statistics; default the first entry of ``data``.
    """
    if batchnorm not in ("recompute", "interpolate"):
        raise InputError(f"unknown batchnorm mode {batchnorm!r} (known: recompute, interpolate)")
    if not data:
        raise InputError("interpolate needs at least one data set")
    alphas = np.linspace(-0.5, 1.5, 41) if alphas is None else np.asarray(alphas, dtype=np.float64)
    theta_a = parameters_of(model_a)
    direction = difference(theta_a, parameters_of(model_b))
    batches = {name: as_batches(d, name) for name, d in data.items()}
    has_bn = has_batchnorm(model_a)
    curves: dict[str, list[np.ndarray]] = {}
    if not has_bn:
        coefficients = torch.as_tensor(alphas[:, None])
        for name, d in batches.items():
            for metric, value in SliceEvaluator(model_a, loss_fn, d, [direction])(coefficients).items():
                curves[f"{name}_{metric}"] = [value.double().numpy()]
    else:
        stats = as_batches(statistics_data, "statistics data") if statistics_data is not None \
            else next(iter(batches.values()))
        for alpha in alphas:
            model = _model_at(model_a, model_b, float(alpha), batchnorm, stats)
            for name, d in batches.items():
                values = SliceEvaluator(model, loss_fn, d, [])(torch.zeros(1, 0))
                for metric, value in values.items():
                    curves.setdefault(f"{name}_{metric}", []).append(value.double().numpy())
    curves = {key: np.concatenate(parts) for key, parts in curves.items()}
    endpoints = {label: {f"{name}_{metric}": value for name, d in batches.items()
                         for metric, value in model_metrics(model, loss_fn, d).items()}
                 for label, model in (("a", model_a), ("b", model_b))}
    notes = []
    for label, alpha in (("a", 0.0), ("b", 1.0)):
        at = np.flatnonzero(np.isclose(alphas, alpha, rtol=0, atol=1e-12))
        for key, own in endpoints[label].items():
            if len(at) and not np.isclose(curves[key][at[0]], own, rtol=1e-6, atol=1e-12):
                notes.append(f"{key} at alpha = {alpha:g} is {curves[key][at[0]]:.6g} with BatchNorm statistics "
                             f"{'recomputed' if batchnorm == 'recompute' else 'interpolated'}, but model {label} as "
                             f"given has {own:.6g}: the curve's end is not model {label}")
    return Interpolation(alphas, curves, endpoints, tuple(notes))


def _model_at(model_a: torch.nn.Module, model_b: torch.nn.Module, alpha: float, batchnorm: str,
              stats) -> torch.nn.Module:
    model = copy.deepcopy(model_a)
    params_b = dict(model_b.named_parameters())
    buffers_b = dict(model_b.named_buffers())
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.lerp_(params_b[name].detach(), alpha)
        if batchnorm == "interpolate":
            for name, b in model.named_buffers():
                if b.is_floating_point():
                    b.lerp_(buffers_b[name].detach(), alpha)
            return model
    recompute_batchnorm(model, stats)
    return model


def has_batchnorm(model: torch.nn.Module) -> bool:
    return any(isinstance(m, _BATCHNORM) for m in model.modules())


def recompute_batchnorm(model: torch.nn.Module, batches) -> None:
    """Re-estimate every BatchNorm layer's running statistics in place from one pass over
    ``batches`` in train mode (reset, then a cumulative average: momentum None), and leave the
    model in eval mode."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, _BATCHNORM):
                module.reset_running_stats()
                module.momentum = None
        model.train()
        reference = next(model.parameters())
        for x, _ in batches:
            model(x.to(device=reference.device, dtype=reference.dtype))
    model.eval()


def model_metrics(model: torch.nn.Module, loss_fn: LossFn, batches) -> dict[str, float]:
    """Loss (and accuracy for class labels) of ``model`` as it is, in eval mode, over all samples."""
    values = SliceEvaluator(model, loss_fn, batches, [])(torch.zeros(1, 0))
    return {metric: float(value[0]) for metric, value in values.items()}
