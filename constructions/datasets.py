"""Data sets: X (N x n_0), Y (N x n_L) and JSON metadata, stored as ``.npz``.

The metadata records how the data were made (family, parameters, seed) and, for
constructions, the proof artefacts that come with them: named parameter points
(``points``), separators with proven floors (``separators``, see
:mod:`sublevel.constructions.certificates`), a proven global lower bound on the loss (``loss_floor``)
and the architecture they refer to (``architecture``).

Files are always read with ``allow_pickle=False`` and validated before use.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sublevel.constructions.storage import read_npz, write_npz
from sublevel.theory.errors import InputError
from sublevel.theory.networks import Architecture
from sublevel.theory.problems import Problem

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Dataset:
    """Inputs, targets and metadata.

    Parameters
    ----------
    x : ndarray (N, n_0), float64
    y : ndarray (N, n_L), float64
    metadata : dict
        JSON-serialisable description; see the module docstring for the known keys.
    """

    x: np.ndarray
    y: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        x = _matrix(self.x, "X")
        y = _matrix(self.y, "Y")
        if x.shape[0] != y.shape[0]:
            raise InputError(f"X has {x.shape[0]} samples but Y has {y.shape[0]}")
        if x.shape[0] == 0:
            raise InputError("the data set has no samples")
        try:
            json.dumps(self.metadata)
        except (TypeError, ValueError) as err:
            raise InputError(f"metadata is not JSON-serialisable: {err}") from None
        _check_metadata(self.metadata)
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    @property
    def num_samples(self) -> int:
        return self.x.shape[0]

    def points(self) -> dict[str, np.ndarray]:
        """Named parameter points of the construction (e.g. theta_A, theta_B)."""
        return {name: np.asarray(value, dtype=np.float64) for name, value in self.metadata.get("points", {}).items()}

    def default_architecture(self) -> Architecture | None:
        """The architecture the construction's certificates refer to, if it names one."""
        spec = self.metadata.get("architecture")
        if not spec:
            return None
        return Architecture.parse(spec["widths"], spec.get("activation", "linear"), spec.get("bias", True))

    def problem(self, architecture: Architecture, kappa: float = 0.0, dtype=torch.float64, device="cpu") -> Problem:
        """The problem this data set poses for ``architecture``."""
        x = torch.as_tensor(self.x, dtype=dtype, device=device)
        y = torch.as_tensor(self.y, dtype=dtype, device=device)
        return Problem(architecture, x, y, kappa)

    # ------------------------------------------------------------------- files
    def save(self, path: str | os.PathLike) -> None:
        """Write ``path`` (.npz) atomically: either the whole file appears or nothing does."""
        meta = dict(self.metadata, format_version=FORMAT_VERSION)
        write_npz(path, meta, X=self.x, Y=self.y)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Dataset":
        """Read and validate a data set written by :meth:`save` (never unpickles).

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        InputError
            If the file is not a valid data set: not an npz archive, missing X / Y, object
            arrays, non-numeric or non-finite values, shape mismatch, bad metadata.
        """
        arrays, metadata = read_npz(path, "sublevel data set", ("X", "Y"))
        x, y = arrays["X"], arrays["Y"]
        try:
            return cls(x, y, metadata)
        except InputError as err:
            raise InputError(f"{path}: {err}") from None


def _check_metadata(metadata: Any) -> None:
    """The parts of the metadata the package reads have the shapes it expects: an object; named
    points a mapping of names to lists of finite numbers; the architecture an object with
    widths. Nothing here is trusted as a proof (certificates are recomputed), but a malformed
    entry is one clear error, not a traceback later."""
    if not isinstance(metadata, dict):
        raise InputError(f"metadata must be a JSON object, got {type(metadata).__name__}")
    points = metadata.get("points", {})
    if not isinstance(points, dict):
        raise InputError("metadata 'points' must map names to lists of numbers")
    for name, value in points.items():
        array = np.asarray(value)
        if array.dtype.kind not in "biuf" or array.ndim != 1 or not np.isfinite(array).all():
            raise InputError(f"metadata point {name!r} must be a list of finite numbers")
    architecture = metadata.get("architecture")
    if architecture is not None and not (isinstance(architecture, dict) and "widths" in architecture):
        raise InputError("metadata 'architecture' must be an object with 'widths'")


def _matrix(values, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise InputError(f"{name} must be numeric, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise InputError(f"{name} must be 2-D (samples x features), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise InputError(f"{name} contains NaN or inf")
    return array
