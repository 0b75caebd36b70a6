"""One validator for every hyper-parameter record (sublevel.theory.settings)."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from sublevel.checks.ccnn.layer import LayerSpec, SolverSpec
from sublevel.checks.counting.sampling import SampleSettings
from sublevel.checks.experiments.ccnn_table import TableConfig
from sublevel.checks.paths.autoneb import AutoNEB
from sublevel.checks.paths.bezier import BezierCurve
from sublevel.checks.paths.string_sampling import DynamicStringSampling
from sublevel.theory.errors import InputError
from sublevel.theory.settings import check_settings, setting

RECORDS = [SampleSettings, AutoNEB, BezierCurve, DynamicStringSampling, LayerSpec, SolverSpec]


def _build(record, **values):
    made = record(**values)
    if hasattr(made, "validate"):
        made.validate()
    return made


@pytest.mark.parametrize("record", RECORDS + [TableConfig], ids=lambda r: r.__name__)
def test_defaults_are_valid_and_every_field_refuses_a_value_of_the_wrong_type(record):
    """A string where a number is declared (a number where a string is) is one InputError that
    names the field, for every field of every record: no record skips the validator."""
    _build(record)
    for field in dataclasses.fields(record):
        wrong = 3 if isinstance(getattr(record(), field.name), str) else "x"
        if field.name == "mnist_dir":
            continue  # a path: any string, or None
        with pytest.raises(InputError, match=field.name):
            _build(record, **{field.name: wrong})


@pytest.mark.parametrize("record, field, value", [
    (SampleSettings, "starts", 0), (SampleSettings, "starts", True), (SampleSettings, "steps", 2.5),
    (SampleSettings, "lr", 0.0), (SampleSettings, "lr", math.nan), (SampleSettings, "lr", True), (SampleSettings, "seed", -1),
    (SampleSettings, "seed", 2 ** 64), (AutoNEB, "steps", 1.5), (AutoNEB, "spring", -1.0),
    (AutoNEB, "jitter", -0.1), (BezierCurve, "samples", 0), (DynamicStringSampling, "alpha", 1.5),
    (DynamicStringSampling, "alpha", 0.0), (LayerSpec, "patch_size", -3), (LayerSpec, "kernel", "poly"),
    (LayerSpec, "radius", math.inf), (SolverSpec, "name", "adam"), (TableConfig, "seeds", (0, -2)),
    (TableConfig, "max_train", 0),
])
def test_values_outside_their_bounds_are_refused(record, field, value):
    with pytest.raises(InputError, match=field):
        _build(record, **{field: value})


def test_numpy_scalars_are_numbers():
    made = SampleSettings(starts=np.int64(8), lr=np.float32(0.1), seed=np.uint32(3))
    assert made.starts == 8


@given(low=st.floats(-1e6, 1e6), value=st.floats(allow_nan=True, allow_infinity=True))
def test_a_bound_admits_exactly_the_values_it_states(low, value):
    """ge / gt / le against the plain comparison, on floats drawn with NaN and infinities."""
    @dataclasses.dataclass(frozen=True)
    class Record:
        at_least: float = setting(low, ge=low)
        above: float = setting(low + 1.0, gt=low)
        at_most: float = setting(low, le=low)

    for name, admitted in (("at_least", value >= low), ("above", value > low), ("at_most", value <= low)):
        finite = math.isfinite(value)
        if finite and admitted:
            check_settings(Record(**{name: value}))
        else:
            with pytest.raises(InputError, match=name):
                check_settings(Record(**{name: value}))
