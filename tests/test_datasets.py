"""Dataset files: round trip, validation on load, never unpickling, atomic writes."""
import json

import numpy as np
import pytest

from sublevel.constructions import Dataset, construct
from sublevel.theory import InputError


def test_round_trip(tmp_path):
    data = construct("one-neuron", a=3.0)
    path = tmp_path / "g2.npz"
    data.save(path)
    back = Dataset.load(path)
    np.testing.assert_array_equal(back.x, data.x)
    np.testing.assert_array_equal(back.y, data.y)
    assert back.metadata["family"] == "one-neuron"
    assert back.metadata["params"] == {"a": 3.0}
    assert back.points()["theta_global"].tolist() == [-1.0, 3.0]


def test_families_are_deterministic():
    a, b = construct("teacher", seed=5), construct("teacher", seed=5)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.y, construct("teacher", seed=6).y)


def test_object_arrays_are_refused_not_unpickled(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, X=np.array([object()], dtype=object), Y=np.zeros((1, 1)))
    with pytest.raises(InputError, match="cannot read"):
        Dataset.load(path)


@pytest.mark.parametrize("content, message", [
    (b"not a zip file at all", "cannot read"),
    (b"PK\x03\x04 truncated", "cannot read"),
])
def test_corrupt_files(tmp_path, content, message):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        Dataset.load(path)


def test_validation_on_load(tmp_path):
    path = tmp_path / "nan.npz"
    np.savez(path, X=np.array([[np.nan]]), Y=np.zeros((1, 1)), metadata=np.array(json.dumps({})))
    with pytest.raises(InputError, match="NaN or inf"):
        Dataset.load(path)
    np.savez(path, X=np.zeros((3, 1)), Y=np.zeros((2, 1)))
    with pytest.raises(InputError, match="3 samples but Y has 2"):
        Dataset.load(path)
    np.savez(path, Y=np.zeros((2, 1)))
    with pytest.raises(InputError, match="missing X"):
        Dataset.load(path)
    with pytest.raises(FileNotFoundError):
        Dataset.load(tmp_path / "absent.npz")


def test_failed_save_leaves_no_file(tmp_path):
    class Unserialisable:
        pass

    path = tmp_path / "out.npz"
    with pytest.raises(InputError):
        Dataset(np.zeros((1, 1)), np.zeros((1, 1)), {"x": Unserialisable()}).save(path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_get_the_users_umask(tmp_path, umask, mode):
    """Atomic writes go through mkstemp (0600); the final file must get what the umask gives."""
    import os

    from sublevel.constructions import construct

    old = os.umask(umask)
    try:
        construct("one-neuron").save(tmp_path / "g2.npz")
    finally:
        os.umask(old)
    assert (tmp_path / "g2.npz").stat().st_mode & 0o777 == mode
