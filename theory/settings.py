"""Hyper-parameter records: one validator for every frozen dataclass of settings.

A setting is declared with its bounds next to its default, in the manner of pydantic's
``Field(ge=...)``::

    @dataclass(frozen=True)
    class Sampler:
        starts: int = setting(64, ge=1)
        lr: float = setting(0.05, gt=0)
        kernel: str = setting("rbf", choices=("rbf", "linear"))

        def __post_init__(self) -> None:
            check_settings(self)

:func:`check_settings` then refuses, with one :class:`~sublevel.theory.errors.InputError`
naming the field, a value of the wrong type (a bool or a float where an int is declared, a
string where a number is, NaN or inf anywhere) or outside its bounds, before any work starts.
The type comes from the field's annotation: ``int``, ``float`` (ints accepted), ``str``,
``bool``, ``X | None`` and ``tuple[X, ...]``.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing
from typing import Any, Sequence

from sublevel.theory.errors import InputError


MAX_SEED = 2 ** 63 - 1
"""The largest seed accepted anywhere (numpy and torch both take it)."""


def setting(default: Any, *, ge: float | None = None, gt: float | None = None, le: float | None = None,
            choices: Sequence[Any] | None = None) -> Any:
    """A dataclass field with a default and bounds: ``ge`` (>=), ``gt`` (>), ``le`` (<=) for
    numbers (each entry of a tuple), ``choices`` for anything."""
    bounds = {"ge": ge, "gt": gt, "le": le, "choices": tuple(choices) if choices is not None else None}
    return dataclasses.field(default=default, metadata={"bounds": bounds})


def _describe(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _check_type(name: str, value: Any, hint: Any) -> None:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _check_type(name, value, options[0])
        if not any(_fits(value, option) for option in options):
            raise InputError(f"{name} must be {' or '.join(map(_describe, options))}, got {value!r}")
        return
    if origin is tuple:
        if not isinstance(value, tuple):
            raise InputError(f"{name} must be a tuple, got {value!r}")
        item = args[0] if args else Any
        for entry in value:
            _check_type(f"every entry of {name}", entry, item)
        return
    if not _fits(value, hint):
        raise InputError(f"{name} must be {'a finite number' if hint is float else _describe(hint)}, got {value!r}")


def _fits(value: Any, hint: Any) -> bool:
    if hint is Any:
        return True
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return (isinstance(value, numbers.Real) and not isinstance(value, bool)
                and math.isfinite(float(value)))
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # an annotation this validator does not read is left to the class


def _check_bounds(name: str, value: Any, bounds: dict, owner: str) -> None:
    if bounds["choices"] is not None and value not in bounds["choices"]:
        raise InputError(f"unknown {owner}.{name} {value!r}; choose one of {', '.join(map(repr, bounds['choices']))}")
    if value is None:
        return
    for entry in value if isinstance(value, tuple) else (value,):
        if not isinstance(entry, numbers.Real) or isinstance(entry, bool):
            continue
        if bounds["ge"] is not None and not entry >= bounds["ge"]:
            raise InputError(f"{name} must be >= {bounds['ge']}, got {entry!r}")
        if bounds["gt"] is not None and not entry > bounds["gt"]:
            raise InputError(f"{name} must be > {bounds['gt']}, got {entry!r}")
        if bounds["le"] is not None and not entry <= bounds["le"]:
            raise InputError(f"{name} must be <= {bounds['le']}, got {entry!r}")


def check_settings(record: Any) -> None:
    """Check every field of the dataclass instance ``record`` against its annotation and the
    bounds given to :func:`setting`.

    Raises
    ------
    InputError
        Naming the first field whose value has the wrong type or lies outside its bounds.
    """
    hints = typing.get_type_hints(type(record))
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        _check_type(field.name, value, hints.get(field.name, Any))
        bounds = field.metadata.get("bounds")
        if bounds:
            _check_bounds(field.name, value, bounds, type(record).__name__)
