"""Registry of data-set families: ``sublevel construct FAMILY [--PARAM VALUE ...]``.

A family is a plain function returning a :class:`~sublevel.constructions.datasets.Dataset`, registered
with the parameters the CLI exposes. Families must be deterministic given their ``seed``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from sublevel.constructions.datasets import Dataset
from sublevel.theory.errors import InputError


@dataclass(frozen=True)
class Param:
    """One option of a family: ``--name VALUE`` with a type, default and help line."""

    name: str
    type: type
    default: Any
    help: str


@dataclass(frozen=True)
class Family:
    name: str
    help: str
    build: Callable[..., Dataset]
    params: tuple[Param, ...]

    def __call__(self, **values) -> Dataset:
        known = {p.name for p in self.params}
        unknown = set(values) - known
        if unknown:
            raise InputError(f"family {self.name} has no option(s) {', '.join(sorted(unknown))}")
        kwargs = {p.name: check_param(self.name, p, values.get(p.name, p.default)) for p in self.params}
        dataset = self.build(**kwargs)
        meta = dict(dataset.metadata)
        meta.setdefault("family", self.name)
        meta.setdefault("params", kwargs)
        return Dataset(dataset.x, dataset.y, meta)


MAX_SAMPLES = 10_000_000
"""Most samples a family may generate (refused before allocating anything)."""

SEED_LIMIT = 2 ** 63
"""Seeds are non-negative and below 2^63 (numpy and torch generators take 64-bit seeds)."""


def check_param(family: str, param: Param, value: Any) -> Any:
    """``value`` converted to the parameter's type and checked where the name says what it is:
    a ``seed`` in [0, 2^63), ``samples`` in [1, MAX_SAMPLES], ``bias`` 0 or 1, floats finite.

    Raises
    ------
    InputError
        On a value of the wrong type or out of range.
    """
    try:
        if param.type is int and (isinstance(value, bool) or (isinstance(value, float) and not value.is_integer())):
            raise ValueError
        converted = param.type(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{family}: --{param.name} must be {param.type.__name__}, got {value!r}") from None
    if param.type is float and not math.isfinite(converted):
        raise InputError(f"{family}: --{param.name} must be finite, got {value!r}")
    if param.name == "seed" and not 0 <= converted < SEED_LIMIT:
        raise InputError(f"{family}: --seed must be in [0, 2^63), got {value!r}")
    if param.name == "samples" and not 1 <= converted <= MAX_SAMPLES:
        raise InputError(f"{family}: --samples must be in [1, {MAX_SAMPLES:,}], got {value!r}")
    if param.name == "bias" and converted not in (0, 1):
        raise InputError(f"{family}: --bias must be 0 or 1, got {value!r}")
    return converted


FAMILIES: dict[str, Family] = {}


def positive(name: str, value: int) -> int:
    """``value`` if it is >= 1, else :class:`InputError` naming the parameter."""
    if value < 1:
        raise InputError(f"{name} must be >= 1, got {value}")
    return value


def register(name: str, help: str, *params: Param) -> Callable[[Callable[..., Dataset]], Callable[..., Dataset]]:
    """Decorator: register ``build`` as family ``name`` with CLI options ``params``."""

    def decorate(build: Callable[..., Dataset]) -> Callable[..., Dataset]:
        FAMILIES[name] = Family(name, help, build, tuple(params))
        return build

    return decorate


def get_family(name: str) -> Family:
    _load_builtin_families()
    if name not in FAMILIES:
        raise InputError(f"unknown family {name!r} (known: {', '.join(sorted(FAMILIES))})")
    return FAMILIES[name]


def construct(name: str, **values) -> Dataset:
    """Build a data set of family ``name``; ``values`` override the defaults."""
    return get_family(name)(**values)


def all_families() -> dict[str, Family]:
    _load_builtin_families()
    return dict(FAMILIES)


def _load_builtin_families() -> None:
    """Import the modules whose import registers the built-in families (add new ones here);
    imported on first use, since they import this module."""
    from sublevel.constructions import (ground_truths, random_data, relu_permutation, safran_shamir,  # noqa: F401
                                        teacher_mixture, venturi)
