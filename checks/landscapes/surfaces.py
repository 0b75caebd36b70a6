"""1-D and 2-D grids of a slice, computed in chunks and saved as resumable ``.npz`` files.

A surface holds f(a) on a line or f(a, b) on a plane of coefficients, for one or more metrics
(loss, accuracy, Hessian eigenvalue ratio ...), plus a boolean ``mask`` of the grid points
already computed: never a sentinel value. :func:`compute_surface` evaluates the missing points
chunk by chunk and rewrites the file atomically after each chunk, so interrupting it loses at
most one chunk, and running it again with the same setup continues where it stopped
(Li, Xu, Taylor, Studer & Goldstein, NeurIPS 2018, arXiv:1712.09913, use 51 x 51 grids on
[-1, 1]^2).

Any ``evaluate(coefficients (K, m)) -> {metric: (K,)}`` with ``metric_names`` and
``fingerprint()`` plugs in (:class:`~sublevel.checks.landscapes.evaluation.SliceEvaluator`,
:class:`~sublevel.checks.landscapes.hessian.HessianEvaluator`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

import numpy as np
import torch
from tqdm import tqdm

from sublevel.constructions.storage import read_npz, write_npz
from sublevel.theory.errors import InputError

FORMAT_VERSION = 1


class PointEvaluator(Protocol):
    """What a surface needs: metric values at rows of a (K, m) coefficient matrix."""

    metric_names: tuple[str, ...]

    def __call__(self, coefficients: torch.Tensor) -> dict[str, torch.Tensor]: ...

    def fingerprint(self) -> str: ...


@dataclass(frozen=True)
class Grid:
    """Coefficient axes of a 1-D (``axes = (a,)``) or 2-D (``axes = (a, b)``) slice.

    Points are ordered with the last axis fastest, so ``values.reshape(shape)`` is indexed
    ``[i, j]`` for (a_i, b_j).
    """

    axes: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        axes = tuple(np.asarray(axis, dtype=np.float64).reshape(-1) for axis in self.axes)
        if len(axes) not in (1, 2):
            raise InputError(f"a grid has 1 or 2 axes, got {len(axes)}")
        if any(axis.size < 1 or not np.isfinite(axis).all() for axis in axes):
            raise InputError("grid axes must be non-empty and finite")
        object.__setattr__(self, "axes", axes)

    @classmethod
    def regular(cls, dims: int, start: float = -1.0, stop: float = 1.0, num: int = 51) -> "Grid":
        """``num`` evenly spaced values on [start, stop] along each of ``dims`` axes."""
        if num < 1:
            raise InputError(f"the grid needs at least one point per axis, got {num}")
        if not start < stop and num > 1:
            raise InputError(f"the grid range must have start < stop, got {start} .. {stop}")
        axis = np.linspace(start, stop, num)
        return cls(tuple(axis for _ in range(dims)))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(axis.size for axis in self.axes)

    def points(self) -> np.ndarray:
        """All coefficient rows, (prod(shape), dims)."""
        mesh = np.meshgrid(*self.axes, indexing="ij")
        return np.stack([m.reshape(-1) for m in mesh], axis=1)


@dataclass
class Surface:
    """Metric values on a grid, a mask of computed points, and JSON metadata."""

    grid: Grid
    values: dict[str, np.ndarray]
    mask: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def empty(cls, grid: Grid, metrics: Sequence[str], metadata: dict[str, Any]) -> "Surface":
        return cls(grid, {name: np.zeros(grid.shape) for name in metrics},
                   np.zeros(grid.shape, dtype=bool), dict(metadata))

    @property
    def complete(self) -> bool:
        return bool(self.mask.all())

    def save(self, path: str | os.PathLike) -> None:
        """Write ``path`` atomically (the old file stays intact if writing fails)."""
        arrays = {f"axis_{k}": axis for k, axis in enumerate(self.grid.axes)}
        arrays.update({f"value_{name}": value for name, value in self.values.items()})
        meta = dict(self.metadata, format_version=FORMAT_VERSION)
        write_npz(path, meta, mask=self.mask, **arrays)

    def plot(self, path: str | os.PathLike, kind: str = "contour", metric: str = "loss") -> None:
        """Draw to ``path`` (a curve for 1-D surfaces; ``kind`` contour, filled, heatmap or
        surface3d for 2-D), atomically."""
        from sublevel.figures.landscape_plots import plot_surface
        from sublevel.figures.saving import check_figure_path

        if metric not in self.values:
            raise InputError(f"no metric {metric!r} in this surface (it has {', '.join(self.values)})")
        plot_surface(self, check_figure_path(path), kind, metric)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Surface":
        """Read a surface written by :meth:`save` (``allow_pickle=False``; validated).

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        InputError
            If the file is not a surface file.
        """
        arrays, metadata = read_npz(path, "sublevel surface file", ("mask", "axis_0"))
        axes = tuple(arrays[f"axis_{k}"] for k in range(2) if f"axis_{k}" in arrays)
        values = {name[len("value_"):]: arrays[name] for name in sorted(arrays) if name.startswith("value_")}
        mask = arrays["mask"]
        grid = Grid(axes)
        if mask.dtype != bool or mask.shape != grid.shape or any(v.shape != grid.shape for v in values.values()):
            raise InputError(f"{path}: mask and values do not match the grid {grid.shape}")
        return cls(grid, values, mask, metadata)


def compute_surface(evaluate: PointEvaluator, grid: Grid, path: str | os.PathLike | None = None,
                    metadata: dict[str, Any] | None = None, chunk_points: int | None = None,
                    progress: bool = False,
                    on_chunk: Callable[[Surface], None] | None = None) -> Surface:
    """Evaluate ``evaluate`` on every grid point, resuming from ``path`` if it exists.

    Parameters
    ----------
    evaluate : PointEvaluator
        Maps (K, m) coefficients to metric values; m must equal the grid's dimension.
    grid : Grid
    path : path-like, optional
        ``.npz`` file rewritten atomically after every chunk. If it exists and records the
        same setup (``evaluate.fingerprint()`` and grid), only its missing points are computed.
    metadata : dict, optional
        JSON-serialisable description stored with the surface (model, seeds, data ...).
    chunk_points : int, optional
        Grid points per saved chunk (the evaluator batches inside a chunk as it likes); by
        default about 256, in whole grid lines along the last axis (the line sweep evaluates a
        line at once).
    progress : bool
        Show a tqdm bar.
    on_chunk : callable, optional
        Called with the surface after each chunk is stored (progress reporting, tests).

    Raises
    ------
    InputError
        If ``path`` holds a surface of a different setup (model point, directions, data or grid).
    """
    fingerprint = evaluate.fingerprint()
    meta = dict(metadata or {}, fingerprint=fingerprint, metrics=list(evaluate.metric_names))
    surface = None
    if path is not None and os.path.exists(path):
        surface = Surface.load(path)
        same_grid = surface.grid.shape == grid.shape and all(
            np.array_equal(a, b) for a, b in zip(surface.grid.axes, grid.axes))
        if surface.metadata.get("fingerprint") != fingerprint or not same_grid:
            raise InputError(f"{path} holds a surface of a different model, data, directions or grid; "
                             "remove it or choose another output file")
    if surface is None:
        surface = Surface.empty(grid, evaluate.metric_names, meta)
    points = grid.points()
    if chunk_points is None:
        chunk_points = max(1, 256 // grid.shape[-1]) * grid.shape[-1]
    todo = np.flatnonzero(~surface.mask.reshape(-1))
    chunks = [todo[i:i + chunk_points] for i in range(0, todo.size, max(1, chunk_points))]
    for chunk in tqdm(chunks, disable=not progress, desc="grid chunks", unit="chunk"):
        result = evaluate(torch.as_tensor(points[chunk]))
        for name, value in result.items():
            surface.values[name].reshape(-1)[chunk] = value.detach().cpu().double().numpy()
        surface.mask.reshape(-1)[chunk] = True
        if path is not None:
            surface.save(path)
        if on_chunk is not None:
            on_chunk(surface)
    return surface
