"""Small real classification data for landscape experiments, with no download.

- :func:`mnist1d`: MNIST-1D (Greydanus 2020), generated offline by the ``mnist1d`` package from
  its built-in templates: 40-sample 1-D signals of 10 digit classes, shaped (N, 1, 40).
- :func:`digits`: scikit-learn's bundled 8 x 8 handwritten digits, shaped (N, 1, 8, 8), in [0, 1].
- :func:`cifar10_folder`: CIFAR-10 from a folder the user supplies, in one of three forms:
  numpy (``train_images.npy``, ``train_labels.npy``, ``test_images.npy``,
  ``test_labels.npy``; images (N, 32, 32, 3) or (N, 3, 32, 32) uint8), PNG
  (``train/<class>/*.png`` and ``test/<class>/*.png``, classes in sorted order), or the
  original python-pickle batches (``data_batch_1`` .. ``data_batch_5``, ``test_batch``).
  Pickles can run code when loaded, so that form is read only with ``allow_pickle=True``.
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sublevel.theory.errors import InputError

CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclass(frozen=True)
class ImageData:
    """Train and test inputs (float32, channels first) and integer labels (int64)."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    def __post_init__(self) -> None:
        for split, x, y in (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test)):
            if x.shape[0] != y.shape[0]:
                raise InputError(f"{self.name}: {split} has {x.shape[0]} inputs but {y.shape[0]} labels")
            if x.shape[0] == 0:
                raise InputError(f"{self.name}: the {split} split is empty")
            if not torch.isfinite(x).all():
                raise InputError(f"{self.name}: {split} inputs hold NaN or infinite values")

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    def subset(self, train: int, test: int) -> "ImageData":
        """The first ``train`` / ``test`` samples of each split."""
        return ImageData(self.name, self.x_train[:train], self.y_train[:train], self.x_test[:test], self.y_test[:test])


def mnist1d(num_samples: int = 4000, seed: int = 0) -> ImageData:
    """MNIST-1D with ``num_samples`` signals (80% train, 20% test), generated offline."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        raise InputError("MNIST-1D needs the mnist1d package: pip install 'sublevel[landscapes]'") from None

    args = get_dataset_args()
    args.num_samples = int(num_samples)
    args.seed = int(seed)
    data = make_dataset(args)
    as_x = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32)).unsqueeze(1)  # noqa: E731
    as_y = lambda a: torch.as_tensor(np.asarray(a, dtype=np.int64))  # noqa: E731
    return ImageData("mnist1d", as_x(data["x"]), as_y(data["y"]), as_x(data["x_test"]), as_y(data["y_test"]))


def digits(test_fraction: float = 0.25, seed: int = 0) -> ImageData:
    """scikit-learn's 1,797 8 x 8 digits, shuffled with ``seed`` and split."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    order = np.random.default_rng(seed).permutation(len(bunch.target))
    x = torch.as_tensor(bunch.images[order] / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.as_tensor(bunch.target[order], dtype=torch.int64)
    n_test = int(round(test_fraction * len(y)))
    return ImageData("digits", x[n_test:], y[n_test:], x[:n_test], y[:n_test])


def cifar10_folder(folder: str | os.PathLike, allow_pickle: bool = False) -> ImageData:
    """CIFAR-10 from ``folder`` (numpy, PNG or, with ``allow_pickle``, python-pickle form).

    Raises
    ------
    FileNotFoundError
        If ``folder`` does not exist.
    InputError
        If no known form is found, only the pickle form is found and ``allow_pickle`` is
        False, or the files are malformed.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(2, "No such directory", str(root))
    if (root / "train_images.npy").exists():
        splits = [_numpy_split(root, split) for split in ("train", "test")]
    elif (root / "train").is_dir():
        splits = [_png_split(root / split) for split in ("train", "test")]
    elif (root / "data_batch_1").exists():
        if not allow_pickle:
            raise InputError(f"{root} holds CIFAR-10 python-pickle batches; loading a pickle can run code, "
                             "so pass allow_pickle=True (CLI: --allow-pickle) if you trust these files")
        names = sorted(p.name for p in root.glob("data_batch_*"))
        train = [_pickle_batch(root / name) for name in names]
        splits = [(np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train])),
                  _pickle_batch(root / "test_batch")]
    else:
        raise InputError(f"{root}: no CIFAR-10 files found (expected train_images.npy, train/<class>/*.png "
                         "or data_batch_1)")
    (x_train, y_train), (x_test, y_test) = [(_images(x, root), _labels(y, root)) for x, y in splits]
    return ImageData("cifar10", x_train, y_train, x_test, y_test)


def _numpy_split(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        return (np.load(root / f"{split}_images.npy", allow_pickle=False),
                np.load(root / f"{split}_labels.npy", allow_pickle=False))
    except (ValueError, OSError) as err:
        raise InputError(f"{root}: cannot read the {split} arrays ({err})") from None


def _png_split(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    from matplotlib.image import imread

    if not directory.is_dir():
        raise InputError(f"{directory} is missing (PNG form needs train/ and test/)")
    classes = sorted(p.name for p in directory.iterdir() if p.is_dir())
    images, labels = [], []
    for label, name in enumerate(classes):
        for file in sorted((directory / name).glob("*.png")):
            try:
                image = imread(file)
            except (OSError, ValueError, SyntaxError) as err:
                raise InputError(f"{file}: cannot read as PNG ({err})") from None
            images.append(np.round(image[..., :3] * 255).astype(np.uint8))
            labels.append(label)
    if not images:
        raise InputError(f"{directory}: no PNG files in class folders")
    return np.stack(images), np.asarray(labels)


def _pickle_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as handle:
        batch = pickle.load(handle, encoding="bytes")  # only reached with allow_pickle=True
    data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return data, np.asarray(batch[b"labels"])


def _images(array: np.ndarray, root: Path) -> torch.Tensor:
    array = np.asarray(array)
    if array.ndim != 4 or 3 not in (array.shape[1], array.shape[-1]):
        raise InputError(f"{root}: images must be (N, 32, 32, 3) or (N, 3, 32, 32), got {array.shape}")
    if array.shape[1] != 3:
        array = array.transpose(0, 3, 1, 2)
    scale = 255.0 if array.dtype == np.uint8 else 1.0
    return torch.as_tensor(np.ascontiguousarray(array), dtype=torch.float32) / scale


def _labels(array: np.ndarray, root: Path) -> torch.Tensor:
    array = np.asarray(array).reshape(-1)
    if array.dtype.kind not in "iu" or (array.size and (array.min() < 0 or array.max() > 9)):
        raise InputError(f"{root}: labels must be integers 0..9")
    return torch.as_tensor(array.astype(np.int64))
