"""sublevel: computational checks of theorems about the sublevel sets of neural-network losses.

The package reads like the lecture it comes from: what is claimed (:mod:`sublevel.theory`),
what makes a claim bite (:mod:`sublevel.constructions`), how it is checked
(:mod:`sublevel.checks`) and what is drawn (:mod:`sublevel.figures`). The names below are the
curated public API; everything else is reachable through those four subpackages.

>>> import sublevel
>>> data = sublevel.construct("one-neuron", a=2.0)          # G2: a spurious valley
>>> counts = sublevel.count(data, data.default_architecture(), [1.0, 2.2, 3.0])
>>> [b.describe() for b in counts.brackets]
['1 (exact)', '2 (exact)', '1 (exact)']

Attributes are imported on first use, so ``import sublevel`` (and ``sublevel --help``) does
not pay for torch until something needs it.
"""
from __future__ import annotations

from importlib import import_module, metadata
from typing import TYPE_CHECKING, Any

try:
    __version__ = metadata.version("sublevel")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

if TYPE_CHECKING:
    from sublevel.checks.counting.components import ComponentCount, count_components
    from sublevel.checks.counting.datasets import count_dataset as count
    from sublevel.checks.counting.merge_trees import merge_tree
    from sublevel.checks.paths import Path, get_finder
    from sublevel.checks.counting.sampling import SampleSettings
    from sublevel.checks.certify.segments import loss_upper_bounds, path_maximum, segment_maxima
    from sublevel.checks.curvature.model_spectrum import HessianSpectrum, hessian_spectrum
    from sublevel.checks.landscapes.one_call import landscape
    from sublevel.checks.paths.alignment import Alignment, align
    from sublevel.checks.paths.model_curves import ModelPath, connect
    from sublevel.checks.paths.model_merge_trees import ModelMergeTree, merge_models
    from sublevel.checks.verdicts.verify import verify
    from sublevel.constructions.datasets import Dataset
    from sublevel.constructions.registry import construct
    from sublevel.theory.bounds import Bracket
    from sublevel.theory.claims import all_claims
    from sublevel.theory.errors import Contradiction, InputError
    from sublevel.theory.networks import Architecture
    from sublevel.theory.problems import Problem

_PUBLIC = {
    "Architecture": ("sublevel.theory.networks", "Architecture"),
    "Problem": ("sublevel.theory.problems", "Problem"),
    "InputError": ("sublevel.theory.errors", "InputError"),
    "Contradiction": ("sublevel.theory.errors", "Contradiction"),
    "all_claims": ("sublevel.theory.claims", "all_claims"),
    "Dataset": ("sublevel.constructions.datasets", "Dataset"),
    "construct": ("sublevel.constructions.registry", "construct"),
    "count": ("sublevel.checks.counting.datasets", "count_dataset"),
    "count_components": ("sublevel.checks.counting.components", "count_components"),
    "Bracket": ("sublevel.theory.bounds", "Bracket"),
    "ComponentCount": ("sublevel.checks.counting.components", "ComponentCount"),
    "SampleSettings": ("sublevel.checks.counting.sampling", "SampleSettings"),
    "segment_maxima": ("sublevel.checks.certify.segments", "segment_maxima"),
    "path_maximum": ("sublevel.checks.certify.segments", "path_maximum"),
    "loss_upper_bounds": ("sublevel.checks.certify.segments", "loss_upper_bounds"),
    "Path": ("sublevel.checks.paths", "Path"),
    "get_finder": ("sublevel.checks.paths", "get_finder"),
    "merge_tree": ("sublevel.checks.counting.merge_trees", "merge_tree"),
    "verify": ("sublevel.checks.verdicts.verify", "verify"),
    "hessian_spectrum": ("sublevel.checks.curvature.model_spectrum", "hessian_spectrum"),
    "HessianSpectrum": ("sublevel.checks.curvature.model_spectrum", "HessianSpectrum"),
    "landscape": ("sublevel.checks.landscapes.one_call", "landscape"),
    "connect": ("sublevel.checks.paths.model_curves", "connect"),
    "ModelPath": ("sublevel.checks.paths.model_curves", "ModelPath"),
    "align": ("sublevel.checks.paths.alignment", "align"),
    "Alignment": ("sublevel.checks.paths.alignment", "Alignment"),
    "merge_models": ("sublevel.checks.paths.model_merge_trees", "merge_models"),
    "ModelMergeTree": ("sublevel.checks.paths.model_merge_trees", "ModelMergeTree"),
}
"""Public name -> (module, attribute), resolved on first access (PEP 562)."""

__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        module, attribute = _PUBLIC[name]
        value = getattr(import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sublevel' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
