"""Directions in parameter space: filter-normalised random directions and model differences.

A point of parameter space is a :data:`Params` mapping, ``name -> tensor``, with the names and
shapes of ``model.named_parameters()``; a direction has the same form. Buffers (BatchNorm
running statistics) are not parameters and are never moved along a direction.

Filter normalisation (Li, Xu, Taylor, Studer & Goldstein, "Visualizing the Loss Landscape of
Neural Nets", NeurIPS 2018, arXiv:1712.09913, Sec. 4): draw d ~ N(0, I) shaped like theta and,
for every tensor of dimension > 1 (a Linear weight, a Conv kernel), rescale each filter --
the slice ``d[i]`` that produces output channel / neuron i -- to the norm of the matching
filter of theta,

    d[i] <- d[i] / ||d[i]|| * ||theta[i]||.

One-dimensional tensors (biases, BatchNorm weights and biases) get 0 in the direction, as in
the paper. Because ReLU networks are invariant under rescaling a layer by c and the next by
1 / c, and the filter-normalised direction rescales with its filter, the slice
L(theta + a d) of a rescaled network equals the original one (tested in
``tests/test_landscape_directions.py``).
"""
from __future__ import annotations

import hashlib
from typing import Literal, Mapping

import numpy as np
import torch

from sublevel.theory.errors import InputError

Params = dict[str, torch.Tensor]
"""Parameter point or direction: ``name -> tensor`` in ``model.named_parameters()`` order."""

Normalization = Literal["filter", "none"]

_EPS = 1e-10  # the paper's guard against an all-zero filter


def parameters_of(model: torch.nn.Module) -> Params:
    """A detached copy of the model's parameters, checked to be finite.

    Raises
    ------
    InputError
        If the model has no parameters or a parameter holds NaN or infinity.
    """
    params = {name: p.detach().clone() for name, p in model.named_parameters()}
    if not params:
        raise InputError("the model has no parameters")
    check_finite(params, "model weights")
    return params


def check_finite(params: Mapping[str, torch.Tensor], what: str) -> None:
    """Raise :class:`InputError` naming the first tensor of ``params`` that is not finite."""
    for name, value in params.items():
        if not torch.isfinite(value).all():
            raise InputError(f"{what}: {name} holds NaN or infinite values")


def check_direction(reference: Mapping[str, torch.Tensor], direction: Mapping[str, torch.Tensor],
                    label: str = "direction") -> Params:
    """Validate that ``direction`` has exactly the names and shapes of ``reference``.

    Returns the direction converted to the reference's dtype and device, in its order, detached
    from any autograd graph (a direction is data).

    Raises
    ------
    InputError
        On a missing or extra name, a shape mismatch, or non-finite values.
    """
    missing = [name for name in reference if name not in direction]
    extra = [name for name in direction if name not in reference]
    if missing or extra:
        parts = ([f"missing {', '.join(missing[:3])}"] if missing else []) + \
                ([f"unknown {', '.join(extra[:3])}"] if extra else [])
        raise InputError(f"{label} does not match the model's parameters ({'; '.join(parts)})")
    out = {}
    for name, ref in reference.items():
        value = torch.as_tensor(direction[name])
        if tuple(value.shape) != tuple(ref.shape):
            raise InputError(f"{label}: {name} has shape {tuple(value.shape)}, "
                             f"the model's has {tuple(ref.shape)}")
        out[name] = value.detach().to(dtype=ref.dtype, device=ref.device)
    check_finite(out, label)
    return out


def filter_normalize(direction: Mapping[str, torch.Tensor], params: Mapping[str, torch.Tensor]) -> Params:
    """Rescale each filter of ``direction`` to the norm of the matching filter of ``params``.

    Tensors of dimension <= 1 (biases, BatchNorm parameters) become 0. The filters of a
    tensor are its slices along dimension 0 (output neurons of a Linear layer, output
    channels of a convolution).
    """
    out = {}
    for name, theta in params.items():
        d = direction[name]
        if theta.dim() <= 1:
            out[name] = torch.zeros_like(theta)
            continue
        d_norm = d.flatten(1).norm(dim=1)
        t_norm = theta.flatten(1).norm(dim=1)
        scale = (t_norm / (d_norm + _EPS)).reshape((-1,) + (1,) * (theta.dim() - 1))
        out[name] = d * scale
    return out


def random_direction(params: Mapping[str, torch.Tensor], seed: int,
                     normalization: Normalization = "filter") -> Params:
    """A Gaussian random direction, filter-normalised to ``params`` unless asked otherwise.

    Parameters
    ----------
    params : Params
        The point the direction is normalised to (usually the trained weights).
    seed : int
        Seed of the Gaussian draw; the same seed gives the same direction on every run.
    normalization : {"filter", "none"}
        ``"filter"``: Li et al.'s filter normalisation (biases and BatchNorm get 0).
        ``"none"``: the raw N(0, I) draw on every parameter, the unnormalised baseline.
    """
    if normalization not in ("filter", "none"):
        raise InputError(f"unknown normalization {normalization!r} (known: filter, none)")
    generator = torch.Generator().manual_seed(int(seed))
    raw = {name: torch.randn(theta.shape, generator=generator, dtype=torch.float64).to(theta)
           for name, theta in params.items()}
    return filter_normalize(raw, params) if normalization == "filter" else raw


def difference(start: Mapping[str, torch.Tensor], end: Mapping[str, torch.Tensor]) -> Params:
    """The direction ``end - start`` (for the interpolation theta(a) = start + a (end - start))."""
    end = check_direction(start, end, "second model")
    return {name: end[name] - value for name, value in start.items()}


def flatten(params: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """All tensors of ``params`` concatenated into one vector, in mapping order."""
    return torch.cat([value.reshape(-1) for value in params.values()])


def unflatten(vector: torch.Tensor, like: Mapping[str, torch.Tensor]) -> Params:
    """Inverse of :func:`flatten`: cut ``vector`` into tensors shaped like ``like``."""
    out, start = {}, 0
    for name, value in like.items():
        out[name] = vector[start:start + value.numel()].reshape(value.shape).to(value)
        start += value.numel()
    return out


def fingerprint(*tensors: Mapping[str, torch.Tensor] | torch.Tensor) -> str:
    """A short SHA-256 of tensors' values, to recognise the same setup when resuming."""
    digest = hashlib.sha256()
    for item in tensors:
        values = item.values() if isinstance(item, Mapping) else [item]
        for value in values:
            array = np.ascontiguousarray(value.detach().cpu().numpy())
            digest.update(str(array.shape).encode())
            digest.update(array.tobytes())
    return digest.hexdigest()[:16]
