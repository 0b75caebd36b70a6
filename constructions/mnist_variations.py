"""MNIST-variation analogues (Larochelle et al. 2007) built offline, for the CCNN table.

The five variations of Zhang, Liang & Wainwright (2017, arXiv:1609.01000, Table 1):

- ``basic``: the digits as they are;
- ``rand``: background pixels replaced by uniform noise on [0, 1] (x <- max(x, u));
- ``rot``: the digit rotated by an angle uniform on [0, 360) degrees;
- ``img``: a natural-image patch as background (x <- max(x, b)), patches cut at random from
  scikit-learn's two sample images (grey, downscaled by 2 so that their texture has roughly the
  scale of a stroke);
- ``img+rot``: rotation, then the image background.

Source images: scikit-learn's ``load_digits`` (1797 digits, 8 x 8, no download), bilinearly
upsampled to 16 x 16. Why 16: with the paper's 5 x 5 patches an 8 x 8 image has only 4 x 4 patch
positions, each covering most of the digit, so the convolutional structure the comparison is
about would be absent; 16 x 16 gives a 12 x 12 patch grid where a 5 x 5 patch covers about a
third of the digit's width, close to a 5 x 5 patch on a 20 x 20 MNIST digit. 28 x 28 adds no
information to an 8 x 8 source and costs 4x the patches (and features). Real MNIST (28 x 28,
from IDX files a user supplies, :mod:`sublevel.constructions.idx_files`) takes the same transforms.

Everything is deterministic given ``seed``: one numpy PCG64 generator per (variation, seed).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sublevel.theory.errors import InputError

VARIATIONS = ("basic", "rand", "rot", "img", "img+rot")


@dataclass(frozen=True)
class ImageSplit:
    """Train and test images (N, H, W) in [0, 1] with integer labels, and where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    variation: str
    seed: int
    source: str


def _check_variation(variation: str) -> str:
    if variation not in VARIATIONS:
        raise InputError(f"unknown variation {variation!r}; choose one of {', '.join(VARIATIONS)}")
    return variation


@lru_cache(maxsize=1)
def _sample_images_grey() -> tuple[np.ndarray, ...]:
    from scipy import ndimage  # here, not at import: ccnn's CLI options load this module
    from sklearn.datasets import load_sample_images

    return tuple(ndimage.zoom(image.mean(axis=2) / 255.0, 0.5, order=1)
                 for image in load_sample_images().images)


def natural_backgrounds(n: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """n random height x width grey patches from scikit-learn's sample images, in [0, 1]."""
    sources = _sample_images_grey()
    which = rng.integers(len(sources), size=n)
    out = np.empty((n, height, width))
    for i, k in enumerate(which):
        image = sources[k]
        top = rng.integers(image.shape[0] - height + 1)
        left = rng.integers(image.shape[1] - width + 1)
        out[i] = image[top:top + height, left:left + width]
    return out


def rotate(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rotate each image about its centre by an angle uniform on [0, 360) (bilinear, zero fill)."""
    from scipy import ndimage  # here, not at import: ccnn's CLI options load this module

    angles = rng.uniform(0.0, 360.0, size=len(images))
    return np.clip(np.stack([ndimage.rotate(image, angle, reshape=False, order=1, mode="constant")
                             for image, angle in zip(images, angles)]), 0.0, 1.0)


def apply_variation(images: np.ndarray, variation: str, rng: np.random.Generator) -> np.ndarray:
    """The ``variation`` of a stack of (N, H, W) images with values in [0, 1] (bright digits)."""
    _check_variation(variation)
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3:
        raise InputError(f"images must have shape (N, H, W), got {images.shape}")
    if variation in ("rot", "img+rot"):
        images = rotate(images, rng)
    if variation == "rand":
        images = np.maximum(images, rng.uniform(size=images.shape))
    if variation in ("img", "img+rot"):
        images = np.maximum(images, natural_backgrounds(len(images), *images.shape[1:], rng))
    return images


def _split(images, labels, variation, seed, source, test_fraction):
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng([seed, VARIATIONS.index(variation)])
    varied = apply_variation(images, variation, rng)
    x_train, x_test, y_train, y_test = train_test_split(
        varied, labels, test_size=test_fraction, stratify=labels, random_state=seed)
    return ImageSplit(x_train, y_train, x_test, y_test, variation, seed, source)


def digits_variation(variation: str, seed: int = 0, size: int = 16, test_fraction: float = 1 / 3) -> ImageSplit:
    """The ``variation`` of scikit-learn's digits at ``size`` x ``size``, split by ``seed``.

    Examples
    --------
    >>> split = digits_variation("rot", seed=1)
    >>> split.x_train.shape[1:], len(split.y_train) + len(split.y_test)
    ((16, 16), 1797)
    """
    from scipy import ndimage  # here, not at import: ccnn's CLI options load this module
    from sklearn.datasets import load_digits

    _check_variation(variation)
    if size < 8:
        raise InputError(f"size must be >= 8 (the digits are 8 x 8), got {size}")
    digits = load_digits()
    images = np.clip(ndimage.zoom(digits.images / 16.0, (1, size / 8, size / 8), order=1), 0.0, 1.0)
    return _split(images, digits.target.astype(np.int64), variation, seed, f"sklearn-digits-{size}", test_fraction)


def mnist_variation(directory: str | os.PathLike, variation: str, seed: int = 0,
                    n_samples: int | None = None, test_fraction: float = 1 / 3) -> ImageSplit:
    """The ``variation`` of real MNIST read from IDX files in ``directory`` (training split).

    ``n_samples`` (if given) takes a random subset first, which keeps the table's cost bounded.
    """
    from sublevel.constructions.idx_files import load_mnist

    _check_variation(variation)
    images, labels = load_mnist(directory, "train")
    if n_samples is not None and n_samples < len(images):
        keep = np.sort(np.random.default_rng(seed).choice(len(images), size=n_samples, replace=False))
        images, labels = images[keep], labels[keep]
    return _split(images, labels, variation, seed, f"mnist:{directory}", test_fraction)
