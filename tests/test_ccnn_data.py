"""MNIST-variation analogues and the IDX reader (constructions.mnist_variations / idx_files)."""
import gzip
import struct

import numpy as np
import pytest

from sublevel.constructions.idx_files import load_mnist, read_idx
from sublevel.constructions.mnist_variations import VARIATIONS, apply_variation, digits_variation, mnist_variation
from sublevel.theory.errors import InputError


def _write_idx(path, array, code):
    """An IDX file written byte by byte from the format's definition (independent of the reader)."""
    dtype = {0x08: ">u1", 0x0D: ">f4", 0x0C: ">i4"}[code]
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    data = header + np.asarray(array, dtype=dtype).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as handle:
        handle.write(data)


@pytest.mark.parametrize("code", [0x08, 0x0D, 0x0C])
def test_read_idx_round_trip(tmp_path, code):
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4) % 200
    _write_idx(tmp_path / "a.idx", array, code)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), array)


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x05abc")
    with pytest.raises(InputError, match="magic"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 5) + b"abc")
    with pytest.raises(InputError, match="5"):
        read_idx(tmp_path / "short")


def _tiny_mnist(directory, n=30, gz=False):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28))
    labels = np.arange(n) % 10
    suffix = ".gz" if gz else ""
    _write_idx(directory / f"train-images-idx3-ubyte{suffix}", images, 0x08)
    _write_idx(directory / f"train-labels-idx1-ubyte{suffix}", labels, 0x08)
    return images, labels


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_from_tiny_idx_files(tmp_path, gz):
    images, labels = _tiny_mnist(tmp_path, gz=gz)
    x, y = load_mnist(tmp_path, "train")
    np.testing.assert_allclose(x, images / 255.0)
    np.testing.assert_array_equal(y, labels)
    with pytest.raises(FileNotFoundError):
        load_mnist(tmp_path, "test")


def test_mnist_variations_apply_to_idx_data(tmp_path):
    _tiny_mnist(tmp_path)
    for variation in VARIATIONS:
        split = mnist_variation(tmp_path, variation, seed=1, test_fraction=1 / 3)
        assert split.x_train.shape[1:] == (28, 28) and len(split.x_train) + len(split.x_test) == 30
        again = mnist_variation(tmp_path, variation, seed=1, test_fraction=1 / 3)
        np.testing.assert_array_equal(split.x_test, again.x_test)


def test_digit_variations_are_deterministic_and_differ():
    basic = digits_variation("basic", seed=0)
    assert basic.x_train.shape[1:] == (16, 16)
    assert 0.0 <= basic.x_train.min() and basic.x_train.max() <= 1.0
    for variation in VARIATIONS[1:]:
        a, b = digits_variation(variation, seed=0), digits_variation(variation, seed=0)
        np.testing.assert_array_equal(a.x_train, b.x_train)
        np.testing.assert_array_equal(a.y_train, basic.y_train)  # same split for the same seed
        assert not np.allclose(a.x_train, basic.x_train)
        assert 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0
    assert not np.array_equal(digits_variation("rot", seed=1).x_train, digits_variation("rot", seed=0).x_train)


def test_variation_semantics():
    rng = np.random.default_rng(0)
    blank = np.zeros((4, 16, 16))
    noisy = apply_variation(blank, "rand", rng)
    assert noisy.std() > 0.2  # the background became noise
    digit = np.zeros((1, 16, 16))
    digit[0, 2:14, 7:9] = 1.0  # a vertical bar
    turned = apply_variation(np.repeat(digit, 20, 0), "rot", np.random.default_rng(1))
    np.testing.assert_allclose(turned.sum(axis=(1, 2)), digit.sum(), rtol=0.25)  # mass kept
    assert not np.allclose(turned[0], turned[1])
    with pytest.raises(InputError, match="unknown variation"):
        apply_variation(blank, "blur", rng)
