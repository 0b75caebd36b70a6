"""Low-loss paths between parameter points, each with a certified maximum.

``Path`` and the ``PathFinder`` protocol live in :mod:`sublevel.checks.paths.base`; one finder per
module, registered by name: ``linear``, ``dss`` (Dynamic String Sampling), ``autoneb`` and
``bezier``. ``get_finder("dss", steps=100)`` builds one by name.
"""
from sublevel.checks.paths.base import (FINDERS, BatchedFinder, Path, PathFinder, certify_paths, check_endpoints,
                               finder_names, get_finder, register_finder)

__all__ = ["FINDERS", "BatchedFinder", "Path", "PathFinder", "certify_paths", "check_endpoints",
           "finder_names", "get_finder", "register_finder"]
