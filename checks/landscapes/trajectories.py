"""PCA directions of a training trajectory (Li, Xu, Taylor, Studer & Goldstein, NeurIPS 2018,
arXiv:1712.09913, Sec. 7).

Random directions are nearly orthogonal to an optimisation path in high dimension, so a
random slice shows nothing of it. Instead take M = [theta_0 - theta_n; ...; theta_{n-1} -
theta_n] (one row per saved epoch, theta_n the final weights), run PCA on its rows and use
the two leading principal axes as directions. The explained-variance ratios say how much of
the path the plane captures (the paper reports 40-90% for the top two); projecting each row
on the unit axes places the path on the contour plot, with theta_n at the origin.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch
from sklearn.decomposition import PCA

from sublevel.checks.landscapes.directions import Params, check_direction, flatten, unflatten
from sublevel.theory.errors import InputError


@dataclass(frozen=True)
class PCADirections:
    """Leading PCA axes of a trajectory, as directions, with what they capture.

    Attributes
    ----------
    directions : tuple of Params
        Unit-norm principal axes (as flat vectors), shaped like the parameters.
    explained_variance_ratio : ndarray (n_components,)
    coordinates : ndarray (T, n_components)
        Projection of theta_t - theta_n on each axis (the path drawn on the slice).
    """

    directions: tuple[Params, ...]
    explained_variance_ratio: np.ndarray
    coordinates: np.ndarray


def pca_directions(trajectory: Sequence[Mapping[str, torch.Tensor]], n_components: int = 2) -> PCADirections:
    """PCA of the trajectory's offsets from its last point.

    Raises
    ------
    InputError
        If the trajectory has fewer than ``n_components + 1`` points or inconsistent shapes.
    """
    if len(trajectory) < n_components + 1:
        raise InputError(f"PCA of a trajectory needs at least {n_components + 1} saved points, got {len(trajectory)}")
    final = {name: t.detach() for name, t in trajectory[-1].items()}
    rows = [flatten(check_direction(final, point, f"trajectory point {t}")) - flatten(final)
            for t, point in enumerate(trajectory)]
    matrix = torch.stack(rows).double().numpy()
    pca = PCA(n_components=n_components).fit(matrix[:-1])
    axes = pca.components_ / np.linalg.norm(pca.components_, axis=1, keepdims=True)
    dtype = next(iter(final.values())).dtype
    directions = tuple(unflatten(torch.as_tensor(axis, dtype=dtype), final) for axis in axes)
    return PCADirections(directions, pca.explained_variance_ratio_, matrix @ axes.T)
