"""What is claimed: architectures, batched losses, problems and the registry of claims.

Nothing in :mod:`theory` imports from :mod:`constructions` or :mod:`checks`.
"""
from theory.errors import InputError
from theory.networks import ACTIVATIONS, Architecture, LayerView
from theory.problems import Problem

__all__ = ["ACTIVATIONS", "Architecture", "InputError", "LayerView", "Problem"]
