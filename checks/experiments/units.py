"""Resumable experiments: one JSON file per finished unit of work.

An experiment that sweeps a grid (input dimension x data seed x width, ...) runs each point as
a *unit* whose result is a JSON object. :func:`run_units` writes each finished unit atomically
to ``cache_dir`` under a name made of a tag (a hash of everything that shapes the results) and
the unit's own key, and on the next run reads finished units back instead of recomputing them,
so an interruption (even kill -9) loses at most the unit in progress. Progress is a tqdm bar.
The files are the package's own results being resumed, read as JSON (never unpickled); delete
the directory to recompute everything.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Callable, Hashable, Iterable

from sublevel.constructions.storage import write_json


def settings_tag(*parts: object) -> str:
    """A short hash of ``repr(parts)``: cached units of other settings never mix with these."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def run_units(units: Iterable[Hashable], compute: Callable[[Hashable], dict], name: Callable[[Hashable], str],
              cache_dir: str | None, tag: str, desc: str, progress: bool = True,
              summary: Callable[[Hashable, dict], str] | None = None) -> dict[Hashable, dict]:
    """Every unit's result, computed or read back from ``cache_dir`` (None: no cache).

    ``compute(unit)`` returns a JSON-able dict; ``name(unit)`` the unit's part of its file name;
    ``summary(unit, result)``, if given, a line shown beside the progress bar.
    """
    from tqdm import tqdm

    if cache_dir is not None:
        os.makedirs(cache_dir, exist_ok=True)
    done: dict[Hashable, dict] = {}
    bar = tqdm(list(units), desc=desc, disable=not progress)
    for unit in bar:
        path = None if cache_dir is None else os.path.join(cache_dir, f"{tag}_{name(unit)}.json")
        if path is not None and os.path.exists(path):
            with open(path) as handle:
                done[unit] = json.load(handle)
            continue
        done[unit] = compute(unit)
        if path is not None:
            write_json(path, done[unit])
        if summary is not None:
            bar.set_postfix_str(summary(unit, done[unit]))
    return done
