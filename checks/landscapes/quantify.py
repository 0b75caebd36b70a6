"""Numbers for what landscape pictures show: sublevel components of a slice, Hessian ratios.

Components are *estimated on the grid*: the points of a 2-D (or 1-D) grid with f <= lambda,
joined when they are 4-neighbours (``scipy.ndimage.label``). This is neither an upper nor a
lower bound for the sublevel set of the slice, let alone of the full parameter space: two
grid cells may be joined between grid points or separated by a barrier thinner than the
spacing. It is the quantity the pictures of Li, Xu, Taylor, Studer & Goldstein (NeurIPS
2018, arXiv:1712.09913, Fig. 5) show by eye ("chaotic" = many basins), made countable.
Levels are given as quantiles of the computed values so that nets with different loss
scales are compared on the same footing: the level at quantile q is the loss below which a
fraction q of the grid lies.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from sublevel.checks.landscapes.surfaces import Surface
from sublevel.theory.errors import InputError

DEFAULT_QUANTILES = (0.05, 0.1, 0.25, 0.5)
RATIO_THRESHOLD = 0.1
"""|lambda_min / lambda_max| above which a point counts as having significant negative curvature."""


def grid_components(values: np.ndarray, mask: np.ndarray, levels: Sequence[float]) -> list[int]:
    """Number of 4-connected components of {computed grid points with value <= level}, per level."""
    values, mask = np.asarray(values), np.asarray(mask, dtype=bool)
    if values.shape != mask.shape:
        raise InputError(f"values {values.shape} and mask {mask.shape} differ in shape")
    return [int(ndimage.label(mask & (values <= level))[1]) for level in levels]


def slice_components(surface: Surface, metric: str = "loss",
                     quantiles: Sequence[float] = DEFAULT_QUANTILES) -> dict[str, list[float]]:
    """Grid-estimated component counts at quantile levels of ``surface.values[metric]``."""
    values = surface.values[metric]
    computed = values[surface.mask & np.isfinite(values)]
    if computed.size == 0:
        raise InputError("the surface has no computed finite values")
    levels = [float(np.quantile(computed, q)) for q in quantiles]
    return {"quantiles": list(quantiles), "levels": levels,
            "components": grid_components(np.where(np.isfinite(values), values, np.inf), surface.mask, levels)}


def ratio_statistics(surface: Surface) -> dict[str, float]:
    """Mean, median and max of |lambda_min / lambda_max| over the converged points of a Hessian
    map, the fraction of them above :data:`RATIO_THRESHOLD`, and how many points converged
    (unconverged points hold NaN and are counted, never averaged)."""
    ratio = surface.values["ratio"][surface.mask]
    converged = ratio[np.isfinite(ratio)]
    counts = {"points": int(ratio.size), "converged": int(converged.size)}
    if converged.size == 0:
        return dict(counts, mean=float("nan"), median=float("nan"), max=float("nan"), fraction_above=float("nan"))
    return dict(counts, mean=float(np.mean(converged)), median=float(np.median(converged)),
                max=float(np.max(converged)), fraction_above=float(np.mean(converged > RATIO_THRESHOLD)))
