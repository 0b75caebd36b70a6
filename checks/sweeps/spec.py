"""Sweep specifications: a TOML file naming families, widths, seeds, data, levels and method.

A spec has one ``[sweep]`` table, an optional ``[sampling]`` table and one ``[[family]]``
table per curve of the figure::

    [sweep]
    name = "default"
    seeds = [0, 1, 2]            # each seed is a data seed (when the data family has one)
    method = "sampled-graph"     # and the seed of the descent starts
    dtype = "float64"            # descent precision; certification is always float64 on the CPU

    [sampling]                   # SampleSettings fields, plus the kNN candidate count
    starts = 32
    steps = 200
    neighbours = 8

    [[family]]
    label = "linear"             # the curve's name in the store and the figure
    data = "teacher"             # a registered data family (`sublevel construct --help`)
    params = { arch = "2-1-1", activation = "linear", samples = 32 }
    activation = "linear"
    hidden_layers = 1            # networks n_0 - w - ... - w - n_L, w from `widths`
    bias = false
    kappa = 0.0
    widths = [1, 2, 4]
    levels = [0.01, 0.1]
    relative_levels = false      # true: levels are fractions of L(0) = (1/N) sum ||y_mu||^2

n_0 and n_L come from the data (one construction per family while parsing, which also checks
its parameters). Every mistake (malformed TOML, unknown key or family, bad data parameters,
empty or non-positive widths, bad levels) raises one :class:`~sublevel.theory.errors.InputError` that
names the file and the entry.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sublevel.checks.counting.sampling import SampleSettings
from sublevel.constructions.registry import check_param, get_family
from sublevel.theory.errors import InputError
from sublevel.theory.levels import check_levels
from sublevel.theory.networks import ACTIVATIONS

METHODS = ("sampled-graph",)
"""Counting methods a spec may name: batched descent + certified merge forest (:mod:`sublevel.checks.counting.components`)."""

DTYPES = ("float64", "float32")

DEFAULT_SPEC = Path(__file__).with_name("default.toml")
"""The shipped spec behind the README figure: linear vs ReLU-adversarial vs quadratic."""


@dataclass(frozen=True)
class FamilySpec:
    """One curve: a data construction and a network family swept over hidden widths."""

    label: str
    data: str
    params: tuple[tuple[str, Any], ...]
    activation: str
    hidden_layers: int
    bias: bool
    kappa: float
    widths: tuple[int, ...]
    levels: tuple[float, ...]
    relative_levels: bool = False
    io: tuple[int, int] = (1, 1)
    """(n_0, n_L), read from one construction of the data when the spec is parsed."""


@dataclass(frozen=True)
class SweepSpec:
    """A whole sweep: families x widths x seeds, one counting method and one sampling budget."""

    name: str
    seeds: tuple[int, ...]
    method: str
    dtype: str
    sampling: SampleSettings
    neighbours: int
    families: tuple[FamilySpec, ...]


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a TOML spec.

    Raises
    ------
    InputError
        One line naming the file and the offending entry.
    FileNotFoundError
        If the file does not exist.
    """
    path = Path(path)
    with open(path, "rb") as handle:
        try:
            data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"{path}: not valid TOML: {err}") from None
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text (TOML files are UTF-8)") from None
    try:
        return parse_spec(data)
    except InputError as err:
        raise InputError(f"{path}: {err}") from None


def parse_spec(data: dict) -> SweepSpec:
    """Validate a spec already read from TOML (see the module docstring for the format)."""
    _known(data, {"sweep", "sampling", "family"}, "top level")
    sweep = _table(data, "sweep")
    _known(sweep, {"name", "seeds", "method", "dtype"}, "[sweep]")
    name = sweep.get("name", "sweep")
    if not isinstance(name, str) or not name:
        raise InputError("[sweep] name must be a non-empty string")
    seeds = _int_list(sweep.get("seeds", [0]), "[sweep] seeds", minimum=0)
    method = sweep.get("method", METHODS[0])
    if method not in METHODS:
        raise InputError(f"[sweep] unknown method {method!r} (known: {', '.join(METHODS)})")
    dtype = sweep.get("dtype", "float64")
    if dtype not in DTYPES:
        raise InputError(f"[sweep] dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    sampling = dict(data.get("sampling", {}))
    settings_fields = {f.name for f in fields(SampleSettings)} - {"seed"}
    _known(sampling, settings_fields | {"neighbours"}, "[sampling]")
    neighbours = sampling.pop("neighbours", 8)
    if not isinstance(neighbours, int) or neighbours < 1:
        raise InputError(f"[sampling] neighbours must be an integer >= 1, got {neighbours!r}")
    settings = SampleSettings(**sampling)
    families = data.get("family")
    if not isinstance(families, list) or not families:
        raise InputError("the spec needs at least one [[family]] table")
    parsed = tuple(_family(entry, i) for i, entry in enumerate(families, start=1))
    labels = [f.label for f in parsed]
    if len(set(labels)) != len(labels):
        raise InputError(f"family labels must be distinct, got {labels}")
    return SweepSpec(name, seeds, method, dtype, settings, neighbours, parsed)


def _family(entry: Any, index: int) -> FamilySpec:
    where = f"[[family]] #{index}"
    if not isinstance(entry, dict):
        raise InputError(f"{where} must be a table")
    _known(entry, {"label", "data", "params", "activation", "hidden_layers", "bias", "kappa", "widths", "levels",
                   "relative_levels"}, where)
    for key in ("data", "widths", "levels"):
        if key not in entry:
            raise InputError(f"{where} needs {key!r}")
    data = entry["data"]
    try:
        family = get_family(str(data))
    except InputError as err:
        raise InputError(f"{where}: {err}") from None
    params = entry.get("params", {})
    if not isinstance(params, dict):
        raise InputError(f"{where} params must be a table")
    known_params = {p.name for p in family.params}
    unknown = set(params) - known_params
    if unknown:
        raise InputError(f"{where}: family {data} has no option(s) {', '.join(sorted(unknown))}")
    if "seed" in params:
        raise InputError(f"{where}: the data seed comes from [sweep] seeds, remove params.seed")
    for param in family.params:
        if param.name in params:
            check_param(data, param, params[param.name])
    activation = entry.get("activation", "linear")
    if activation not in ACTIVATIONS:
        raise InputError(f"{where}: unknown activation {activation!r} (known: {', '.join(sorted(ACTIVATIONS))})")
    hidden = entry.get("hidden_layers", 1)
    if not isinstance(hidden, int) or isinstance(hidden, bool) or hidden < 1:
        raise InputError(f"{where}: hidden_layers must be an integer >= 1, got {hidden!r}")
    bias = entry.get("bias", False)
    if not isinstance(bias, bool):
        raise InputError(f"{where}: bias must be true or false, got {bias!r}")
    kappa = entry.get("kappa", 0.0)
    if not isinstance(kappa, (int, float)) or isinstance(kappa, bool) or not math.isfinite(kappa) or kappa < 0:
        raise InputError(f"{where}: kappa must be a number >= 0, got {kappa!r}")
    widths = _int_list(entry["widths"], f"{where} widths", minimum=1)
    levels = entry["levels"]
    if not isinstance(levels, list):
        raise InputError(f"{where} levels must be a non-empty list of numbers")
    levels = check_levels(levels, f"{where} levels")
    relative = entry.get("relative_levels", False)
    if not isinstance(relative, bool):
        raise InputError(f"{where}: relative_levels must be true or false, got {relative!r}")
    label = entry.get("label", f"{activation}/{data}")
    if not isinstance(label, str) or not label:
        raise InputError(f"{where} label must be a non-empty string")
    try:
        dataset = family(**params)
    except InputError as err:
        raise InputError(f"{where}: {err}") from None
    return FamilySpec(label, str(data), tuple(sorted(params.items())), activation, hidden, bias, float(kappa),
                      tuple(sorted(set(widths))), tuple(sorted(float(v) for v in levels)), relative,
                      (dataset.x.shape[1], dataset.y.shape[1]))


def _table(data: dict, key: str) -> dict:
    value = data.get(key)
    if not isinstance(value, dict):
        raise InputError(f"the spec needs a [{key}] table")
    return value


def _known(table: dict, allowed: set[str], where: str) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(allowed))})")


def _int_list(values: Any, where: str, minimum: int) -> tuple[int, ...]:
    if not isinstance(values, list) or not values:
        raise InputError(f"{where} must be a non-empty list of integers")
    for value in values:
        if not isinstance(value, int) or isinstance(value, bool):
            raise InputError(f"{where} must be integers, got {value!r}")
        if value < minimum:
            word = "positive" if minimum == 1 else f">= {minimum}"
            raise InputError(f"{where} must be {word}, got {value}")
    return tuple(values)
