"""Offline data for landscape experiments and the CIFAR-10 folder loader on tiny written files."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from sublevel.constructions.image_data import cifar10_folder, digits, mnist1d
from sublevel.theory.errors import InputError


def test_digits_and_mnist1d_need_no_network():
    d = digits()
    assert d.x_train.shape[1:] == (1, 8, 8) and d.num_classes == 10
    m = mnist1d(num_samples=200)
    assert m.x_train.shape == (160, 1, 40) and m.x_test.shape == (40, 1, 40)


def _tiny(rng, n):
    return rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, size=n)


def test_cifar_numpy_form(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 5), ("test", 3)):
        x, y = _tiny(rng, n)
        np.save(tmp_path / f"{split}_images.npy", x)
        np.save(tmp_path / f"{split}_labels.npy", y)
    data = cifar10_folder(tmp_path)
    assert data.x_train.shape == (5, 3, 32, 32) and data.x_test.shape == (3, 3, 32, 32)
    assert float(data.x_train.max()) <= 1.0
    train = np.load(tmp_path / "train_images.npy")
    np.testing.assert_allclose(data.x_train[0, 0].numpy() * 255, train[0, :, :, 0], atol=1e-4)


def test_cifar_png_form(tmp_path):
    import matplotlib.image

    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        for name in ("airplane", "cat"):
            (tmp_path / split / name).mkdir(parents=True)
            image = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
            matplotlib.image.imsave(tmp_path / split / name / "0.png", image)
    data = cifar10_folder(tmp_path)
    assert data.x_train.shape == (2, 3, 32, 32)
    assert data.y_train.tolist() == [0, 1]


def test_cifar_pickle_form_needs_opt_in(tmp_path):
    rng = np.random.default_rng(2)
    for name, n in (("data_batch_1", 4), ("test_batch", 2)):
        x, y = _tiny(rng, n)
        with open(tmp_path / name, "wb") as handle:
            pickle.dump({b"data": x.transpose(0, 3, 1, 2).reshape(n, -1), b"labels": list(y)}, handle)
    with pytest.raises(InputError, match="allow_pickle"):
        cifar10_folder(tmp_path)
    data = cifar10_folder(tmp_path, allow_pickle=True)
    assert data.x_train.shape == (4, 3, 32, 32) and data.x_test.shape == (2, 3, 32, 32)


def test_cifar_missing_or_malformed(tmp_path):
    with pytest.raises(InputError, match="no CIFAR-10 files"):
        cifar10_folder(tmp_path)
    np.save(tmp_path / "train_images.npy", np.zeros((2, 5, 5)))
    np.save(tmp_path / "train_labels.npy", np.zeros(2, dtype=np.int64))
    np.save(tmp_path / "test_images.npy", np.zeros((2, 5, 5)))
    np.save(tmp_path / "test_labels.npy", np.zeros(2, dtype=np.int64))
    with pytest.raises(InputError, match="images must be"):
        cifar10_folder(tmp_path)
