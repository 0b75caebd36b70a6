"""Kernel feature maps of patches, and features streamed in batches.

Zhang, Liang & Wainwright (2017), arXiv:1609.01000, sections 3.1 and 5: the filters of a CCNN
live in the RKHS of a kernel k on patches; in practice k is replaced by an m-dimensional
feature map phi with <phi(z), phi(z')> ~ k(z, z'):

- ``rbf``: random Fourier features of k(z, z') = exp(-gamma ||z - z'||^2) (Rahimi & Recht
  2007), via :class:`sklearn.kernel_approximation.RBFSampler`;
- ``invpoly``: Nystroem features of the inverse-polynomial kernel k(z, z') = 1 / (2 - <z, z'>)
  on unit-norm patches (the paper's kernel for which its learning guarantee holds), via
  :class:`sklearn.kernel_approximation.Nystroem` with ``kernel="precomputed"``: we pass the
  m x m kernel of m sampled patches to ``fit`` and the n x m kernel against them to
  ``transform``, both computed with one matrix product.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from sklearn.kernel_approximation import Nystroem, RBFSampler

from sublevel.theory.errors import InputError

KERNELS = ("rbf", "invpoly")


def inverse_polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = 1 / (2 - <x, y>) for rows of x and y with ||x||, ||y|| <= 1; shape (n_x, n_y)."""
    return 1.0 / (2.0 - np.clip(x @ y.T, -1.0, 1.0))


@dataclass(frozen=True)
class KernelFeatures:
    """A fitted feature map phi: R^d -> R^m for one of :data:`KERNELS`."""

    kind: str
    approximation: RBFSampler | Nystroem
    basis: np.ndarray | None  # the sampled patches of the Nystroem approximation

    @classmethod
    def fit(cls, patches: np.ndarray, kind: str = "rbf", n_components: int = 500, gamma: float = 1.0,
            seed: int = 0) -> "KernelFeatures":
        """Fit on an (n, d) array of unit-norm training patches."""
        if kind not in KERNELS:
            raise InputError(f"unknown kernel {kind!r}; choose one of {', '.join(KERNELS)}")
        if n_components < 1:
            raise InputError(f"the feature dimension must be >= 1, got {n_components}")
        if kind == "rbf":
            sampler = RBFSampler(gamma=gamma, n_components=n_components, random_state=seed)
            return cls(kind, sampler.fit(patches[:1]), None)
        rng = np.random.default_rng(seed)
        basis = patches[rng.choice(len(patches), size=min(n_components, len(patches)), replace=False)]
        nystroem = Nystroem(kernel="precomputed", n_components=len(basis), random_state=seed)
        return cls(kind, nystroem.fit(inverse_polynomial_kernel(basis, basis)), basis)

    @property
    def dimension(self) -> int:
        return int(self.approximation.n_components if self.basis is None else len(self.basis))

    def __call__(self, patches: np.ndarray) -> np.ndarray:
        """phi of every row of an (n, d) array; returns (n, m) float32."""
        if self.basis is not None:
            return self.approximation.transform(inverse_polynomial_kernel(patches, self.basis)).astype(np.float32)
        # RBFSampler.transform's sqrt(2/m) cos(X W + b), in float32 torch: 3x faster than float64 numpy.
        sampler = self.approximation
        w = torch.as_tensor(sampler.random_weights_, dtype=torch.float32)
        b = torch.as_tensor(sampler.random_offset_, dtype=torch.float32)
        z = torch.cos(torch.as_tensor(patches, dtype=torch.float32) @ w + b)
        return (z * math.sqrt(2.0 / sampler.n_components)).numpy()


class FeatureSource:
    """Features Z of N samples, kept in memory only when they fit.

    ``compute(indices)`` returns the (b, P, m) features of the samples ``indices``. If N P m
    float32 numbers fit in ``max_cache_bytes`` they are computed once, ``batch_size`` samples at
    a time, and kept; otherwise every request is recomputed ``batch_size`` samples at a time, so
    memory stays O(request P m + batch_size P_unpooled m) whatever N is (the reference
    implementation needed about 10 GB for MNIST).

    Calling the object with an index array returns that batch; it is the ``batch`` argument of
    :class:`sublevel.checks.ccnn.nuclear.NuclearProblem`.
    """

    def __init__(self, compute: Callable[[np.ndarray], torch.Tensor], n_samples: int,
                 sample_shape: tuple[int, int], max_cache_bytes: int = 1 << 30, batch_size: int = 256):
        self.compute = compute
        self.batch_size = batch_size
        self._cache = None
        if 4 * n_samples * sample_shape[0] * sample_shape[1] <= max_cache_bytes:
            self._cache = torch.cat([compute(np.arange(s, min(s + batch_size, n_samples)))
                                     for s in range(0, n_samples, batch_size)])

    def __call__(self, indices: np.ndarray) -> torch.Tensor:
        if self._cache is not None:
            return self._cache[torch.as_tensor(indices)]
        # A large request (a full-objective pass asks for 1024 samples) is still computed
        # batch_size samples at a time: the unpooled features are the big intermediate.
        indices = np.asarray(indices)
        return torch.cat([self.compute(indices[s:s + self.batch_size])
                          for s in range(0, len(indices), self.batch_size)])
