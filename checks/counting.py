"""Counting components of a data set's sublevel sets: the glue behind ``sublevel count``.

Takes a :class:`~constructions.datasets.Dataset` and an architecture, picks up the proof
artefacts the construction recorded (separators, proven loss floor, named points) when their
architecture matches, and returns :class:`~checks.components.ComponentCount`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from checks.components import ComponentCount, count_components
from checks.sampling import LevelSample, SampleSettings
from constructions.certificates import separators_for
from constructions.datasets import Dataset
from theory.networks import Architecture


def named_points(dataset: Dataset, architecture: Architecture) -> torch.Tensor | None:
    """The construction's named points that fit ``architecture`` (P entries), as (E, P)."""
    fitting = [p for p in dataset.points().values() if p.shape == (architecture.num_params,)]
    return torch.as_tensor(np.stack(fitting), dtype=torch.float64) if fitting else None


def count_dataset(dataset: Dataset, architecture: Architecture, levels: Sequence[float], kappa: float = 0.0,
                  settings: SampleSettings = SampleSettings(), k: int = 8,
                  sample: LevelSample | None = None, finder=None) -> ComponentCount:
    """Brackets of N_lambda for ``dataset`` under ``architecture`` at each level (from
    ``sample`` instead of fresh descent when given; with a path ``finder`` for a second pass
    over open brackets; see :func:`count_components`)."""
    problem = dataset.problem(architecture, kappa)
    separators = separators_for(dataset.metadata, architecture) if kappa == 0 else []
    matches = dataset.default_architecture() == architecture and kappa == 0
    floor = dataset.metadata.get("loss_floor") if matches else (0.0 if kappa == 0 else None)
    return count_components(problem, levels, settings, separators, floor, named_points(dataset, architecture), k,
                            sample=sample, finder=finder)
