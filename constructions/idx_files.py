"""Read the IDX files that MNIST ships in (http://yann.lecun.com/exdb/mnist/), without pickle.

IDX layout: two zero bytes, one byte for the element type (0x08 uint8, 0x09 int8, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64), one byte for the number of dimensions d, then d
big-endian uint32 sizes, then the data in row-major order, big-endian. Files may be gzipped.
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from sublevel.theory.errors import InputError

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_SPLITS = {"train": "train", "test": "t10k"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in one IDX file (``.gz`` allowed); InputError if the file is malformed."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise InputError(f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise InputError(f"{path}: IDX header is truncated")
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise InputError(f"{path}: header says {shape} ({expected} bytes of data), "
                         f"file has {len(raw) - header} bytes")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find(directory: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(2, "No such file", str(directory / stem))


def mnist_files(directory: str | os.PathLike, split: str = "train") -> tuple[Path, Path]:
    """Paths of the images and labels IDX files of ``split`` in ``directory``.

    Looks for ``train-images-idx3-ubyte`` / ``train-labels-idx1-ubyte`` (``split="train"``) or
    the ``t10k-`` pair (``split="test"``), gzipped or not; FileNotFoundError if one is missing.
    """
    if split not in _SPLITS:
        raise InputError(f"split must be 'train' or 'test', got {split!r}")
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(2, "No such directory", str(directory))
    return (_find(directory, f"{_SPLITS[split]}-images-idx3-ubyte"),
            _find(directory, f"{_SPLITS[split]}-labels-idx1-ubyte"))


def load_mnist(directory: str | os.PathLike, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST images in [0, 1], shape (N, 28, 28), and integer labels (files: :func:`mnist_files`)."""
    image_file, label_file = mnist_files(directory, split)
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise InputError(f"{directory}: expected images (N, H, W) and N labels, "
                         f"got {images.shape} and {labels.shape}")
    return images.astype(np.float64) / 255.0, labels.astype(np.int64)
