"""What is claimed: architectures, batched losses, problems and the registry of claims.

Nothing in :mod:`sublevel.theory` imports from :mod:`sublevel.constructions` or
:mod:`sublevel.checks`. The names below are imported on first use, so that importing
:mod:`sublevel.theory.errors` (as the command line does before parsing) does not load torch.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sublevel.theory.errors import Contradiction, InputError
    from sublevel.theory.networks import ACTIVATIONS, Architecture, LayerView
    from sublevel.theory.problems import Problem

_PUBLIC = {
    "ACTIVATIONS": "sublevel.theory.networks",
    "Architecture": "sublevel.theory.networks",
    "LayerView": "sublevel.theory.networks",
    "Problem": "sublevel.theory.problems",
    "InputError": "sublevel.theory.errors",
    "Contradiction": "sublevel.theory.errors",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sublevel.theory' has no attribute {name!r}")
