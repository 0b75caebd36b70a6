"""Image patches for a convexified CNN layer: extraction, normalisation, ZCA whitening, pooling.

Zhang, Liang & Wainwright (2017), arXiv:1609.01000, section 5: each image x is turned into P
patches z_p(x) (size s x s, given stride, all channels); every patch is centred and scaled, and
the patches are ZCA-whitened before the kernel feature map is applied. Layer outputs are
average-pooled before they become the next layer's input.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sublevel.theory.errors import InputError


def as_images(images) -> np.ndarray:
    """Validate a batch of images and return it as float64, shape (N, H, W, C).

    Accepts (N, H, W) (one channel), (N, H, W, C) or a list of equally shaped (H, W[, C])
    arrays. Raises :class:`InputError` for images of inconsistent size, a wrong number of
    dimensions, an empty batch or non-finite values.
    """
    if isinstance(images, (list, tuple)):
        shapes = {np.shape(image) for image in images}
        if len(shapes) > 1:
            raise InputError(f"images must all have the same size, got shapes {sorted(shapes)}")
    try:
        array = np.asarray(images, dtype=np.float64)
    except ValueError:
        raise InputError("images must all have the same size (got a ragged batch)") from None
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4:
        raise InputError(f"images must have shape (N, H, W) or (N, H, W, C), got {array.shape}")
    if array.shape[0] == 0:
        raise InputError("no images given")
    if not np.isfinite(array).all():
        raise InputError("images contain NaN or infinite values")
    return array


def patch_grid(height: int, width: int, size: int, stride: int) -> tuple[int, int]:
    """Number of patch positions (rows, columns); InputError if the patch does not fit."""
    if size < 1 or stride < 1:
        raise InputError(f"patch size and stride must be >= 1, got {size} and {stride}")
    if size > height or size > width:
        raise InputError(f"patch size {size} is larger than the image ({height} x {width})")
    return (height - size) // stride + 1, (width - size) // stride + 1


def extract_patches(images: np.ndarray, size: int, stride: int = 1) -> np.ndarray:
    """All s x s patches of every image, flattened: shape (N, rows, cols, s*s*C).

    Parameters
    ----------
    images : array of shape (N, H, W, C)
        As returned by :func:`as_images`.
    size, stride : int
        Patch side s and step between patch positions.

    Notes
    -----
    A strided view (no copy) until the final reshape; O(N P s^2 C) memory for the result.
    """
    n, h, w, c = images.shape
    rows, cols = patch_grid(h, w, size, stride)
    view = np.lib.stride_tricks.sliding_window_view(images, (size, size), axis=(1, 2))
    view = view[:, ::stride, ::stride][:, :rows, :cols]  # (N, rows, cols, C, s, s)
    return np.ascontiguousarray(view.transpose(0, 1, 2, 4, 5, 3)).reshape(n, rows, cols, size * size * c)


def unit_rows(x: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Scale every row (last axis) to unit l2 norm; rows with norm <= eps become 0."""
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.where(norm > eps, x / np.maximum(norm, eps), 0.0)


def normalise_patches(patches: np.ndarray) -> np.ndarray:
    """Per-patch mean removal and scaling to unit norm: z <- (z - mean z) / ||z - mean z||."""
    return unit_rows(patches - patches.mean(axis=-1, keepdims=True))


@dataclass(frozen=True)
class ZCAWhitener:
    """ZCA whitening z -> W (z - mu), W = U diag((lambda + eps)^(-1/2)) U^T.

    The covariance Sigma = U diag(lambda) U^T is estimated on (normalised) training patches;
    ``eps`` is relative to the mean eigenvalue, which keeps the noise directions from blowing up.
    Output rows are scaled back to unit norm so that <z, z'> <= 1, as the inverse-polynomial
    kernel requires (Zhang, Liang & Wainwright 2017, section 3.1).
    """

    mean: np.ndarray
    matrix: np.ndarray

    @classmethod
    def fit(cls, patches: np.ndarray, eps: float = 0.1) -> "ZCAWhitener":
        """Fit on a (n, d) array of patches."""
        mean = patches.mean(axis=0)
        cov = np.cov(patches - mean, rowvar=False).reshape(patches.shape[1], patches.shape[1])
        lam, u = np.linalg.eigh(cov)
        lam = np.clip(lam, 0, None)
        scale = 1.0 / np.sqrt(lam + eps * max(lam.mean(), 1e-12))
        return cls(mean, (u * scale) @ u.T)

    def __call__(self, patches: np.ndarray) -> np.ndarray:
        return unit_rows((patches - self.mean) @ self.matrix)


def average_pool(maps: torch.Tensor, pool: int) -> torch.Tensor:
    """Average pooling over pool x pool blocks of a (N, rows, cols, D) map (stride = pool).

    Pooling commutes with the layer's linear read-out tr(Z A), so it can be applied to the
    features Z before the solve. A trailing row/column that does not fill a block is dropped,
    unless the map is smaller than one block, in which case it is kept unpooled.
    """
    if pool <= 1 or maps.shape[1] < pool or maps.shape[2] < pool:
        return maps
    pooled = torch.nn.functional.avg_pool2d(maps.permute(0, 3, 1, 2), pool)
    return pooled.permute(0, 2, 3, 1)
