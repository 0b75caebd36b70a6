"""Counting components of a data set's sublevel sets: the glue behind ``sublevel count``.

Takes a :class:`~sublevel.constructions.datasets.Dataset` and an architecture and returns
:class:`~sublevel.checks.counting.components.ComponentCount`, using only what it can prove itself:

- certificates derived from the architecture (:mod:`sublevel.checks.counting.chains`: exact counts and
  zero-output separators for bias-free 1-1-...-1 chains, for any data;
  :mod:`sublevel.checks.counting.separators`: determinant separators of the square layers and
  hyperplane separators of the width-one layers of bias-free linear nets, with closed-form
  floors) and from a ridge
  (:mod:`sublevel.checks.counting.ridge_boxes`: certified boxes that hold all of Omega(lambda), for problems
  with at most 3 parameters);
- a construction's certificates (separators, loss floor, named points) only after rebuilding
  the construction from the metadata's family and parameters (seed included) and finding X and
  Y equal to the file's bit for bit. A file's metadata is never believed as such: a forged or
  edited certificate is ignored, and the count says so in its notes.

Every separator that is active at a requested level is re-checked first by a search of its zero
set (:mod:`sublevel.checks.counting.separator_search`); a point there below the floor is a
contradiction.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from sublevel.checks.counting import ridge_boxes
from sublevel.checks.counting.components import ComponentCount, count_components
from sublevel.checks.counting.separator_search import recheck_floors
from sublevel.checks.counting.separators import linear_separators
from sublevel.checks.counting.sampling import LevelSample, SampleSettings
from sublevel.checks.counting.chains import chain_count, chain_separators, is_scalar_chain
from sublevel.constructions.certificates import separators_for
from sublevel.constructions.datasets import Dataset
from sublevel.constructions.registry import construct
from sublevel.theory.errors import InputError
from sublevel.theory.levels import check_levels
from sublevel.theory.networks import Architecture

FLOOR_ROUNDING = 4 * 2.0 ** -52
"""Relative margin taken off a construction's closed-form loss floor (one or two float64
operations from its parameters) before it is compared with a level."""


def named_points(dataset: Dataset, architecture: Architecture) -> torch.Tensor | None:
    """The construction's named points that fit ``architecture`` (P entries), as (E, P)."""
    fitting = [p for p in dataset.points().values() if p.shape == (architecture.num_params,)]
    return torch.as_tensor(np.stack(fitting), dtype=torch.float64) if fitting else None


def rebuilt_construction(dataset: Dataset) -> tuple[Dataset | None, str]:
    """The construction the metadata names, rebuilt from its parameters, if it reproduces the data.

    Returns the rebuilt data set (whose metadata may then be used) and one line saying what
    happened, or None and the reason its certificates are ignored.
    """
    family, params = dataset.metadata.get("family"), dataset.metadata.get("params")
    if not family or not isinstance(params, dict):
        return None, "no construction named in the metadata: only certificates derived from the architecture are used"
    try:
        rebuilt = construct(str(family), **params)
    except (InputError, TypeError, ValueError) as err:
        return None, f"the metadata's construction {family!r} does not rebuild ({err}): its certificates are ignored"
    if (rebuilt.x.shape == dataset.x.shape and rebuilt.y.shape == dataset.y.shape
            and np.array_equal(rebuilt.x, dataset.x) and np.array_equal(rebuilt.y, dataset.y)):
        return rebuilt, f"certificates of {family} recomputed from its parameters (X and Y reproduced exactly)"
    return None, (f"X, Y differ from {family} rebuilt from the metadata's parameters: the file's certificates are "
                  f"ignored")


def count_dataset(dataset: Dataset, architecture: Architecture, levels: Sequence[float], kappa: float = 0.0,
                  settings: SampleSettings = SampleSettings(), k: int = 8,
                  sample: LevelSample | None = None, finder="dss") -> ComponentCount:
    """Bounds on N_lambda for ``dataset`` under ``architecture`` at each level (from ``sample``
    instead of fresh descent when given; see
    :func:`sublevel.checks.counting.components.count_components`).

    ``finder``: a path finder (or its registered name; default Dynamic String Sampling, "dss")
    for a second pass over brackets still open after the segment graph and its bridges: paths
    certified below the level join components, and each component left apart is reported with
    the certified bracket [attained, upper] of the maximum of the lowest path tried from it
    (:attr:`ComponentCount.apart`).
    None skips the pass.

    Raises
    ------
    InputError
        If ``dataset`` is not a :class:`Dataset`, ``architecture`` not an :class:`Architecture`
        (a string such as ``"2-8-1"`` is refused: it does not say the activation), a level not
        a finite number,
        or the data do not fit the architecture.
    """
    if not isinstance(dataset, Dataset):
        raise InputError(f"dataset must be a sublevel Dataset (Dataset(X, Y) or Dataset.load(path)), "
                         f"got {type(dataset).__name__}")
    levels = check_levels(levels, nonnegative=False)
    if isinstance(finder, str):
        from sublevel.checks.paths import get_finder
        finder = get_finder(finder)
    problem = dataset.problem(architecture, kappa)
    rebuilt, note = rebuilt_construction(dataset)
    separators = chain_separators(problem) if is_scalar_chain(problem) else linear_separators(problem)
    floor, points = None, None
    if rebuilt is not None:
        points = named_points(rebuilt, architecture)
        if kappa == 0:
            separators += separators_for(rebuilt.metadata, architecture)
            if rebuilt.default_architecture() == architecture and rebuilt.metadata.get("loss_floor") is not None:
                value = float(rebuilt.metadata["loss_floor"])
                floor = value - FLOOR_ROUNDING * abs(value)
    notes = [note]
    whole_space = None
    if is_scalar_chain(problem):
        whole_space = lambda level: (chain_count(problem, level),) * 2  # noqa: E731
        notes.append(f"exact count for every level: {architecture.spec} {architecture.activation_name} chain without "
                     f"bias (proof in sublevel.checks.counting.chains)")
    elif ridge_boxes.applies(problem):
        whole_space = lambda level: ridge_boxes.ridge_box_bounds(problem, level)  # noqa: E731
        notes.append(f"proven bounds for every level from certified boxes holding all of Omega(lambda) (ridge "
                     f"kappa = {kappa:g} makes the loss coercive; proof in sublevel.checks.counting.ridge_boxes)")
    for found in recheck_floors(problem, separators, levels, () if points is None else list(points)):
        note = f"re-checked by a search of its zero set: {found.describe()}"
        if note not in notes:  # the chain proof and the construction may name the same separator
            notes.append(note)
    return count_components(problem, levels, settings, separators, floor, points, k, sample=sample, finder=finder,
                            whole_space=whole_space, notes=notes)
