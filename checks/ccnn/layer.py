"""One convexified convolutional layer: patches -> kernel features -> pooled Z(x) -> convex solve.

Zhang, Liang & Wainwright (2017), arXiv:1609.01000, Algorithm 1 (one layer) and Algorithm 2
(greedy layer-wise training): fit the whitening and the feature map phi on training patches,
solve the nuclear-norm-constrained softmax program for A, then take a rank-r factorisation
A ~ U V^T. The columns of U (top-r left singular vectors of the m x KP matrix A, i.e. the
right singular vectors of the KP x m orientation used in docs/claims.rst, section 8) are r filters in
feature space: the layer's output map at patch p is
h_j(x)_p = <phi(z_p(x)), U_j>, average-pooled, and it is the input of the next layer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sublevel.checks.ccnn.features import KERNELS, FeatureSource, KernelFeatures
from sublevel.checks.ccnn.nuclear import NuclearProblem, SolverResult, class_scores, solve_fista, solve_sgd
from sublevel.checks.ccnn.patches import ZCAWhitener, average_pool, extract_patches, normalise_patches, patch_grid
from sublevel.theory.settings import check_settings, setting

SOLVERS = ("sgd", "fista")


@dataclass(frozen=True)
class LayerSpec:
    """Hyper-parameters of one layer (patch size s, stride, pool, kernel, m, gamma, R, r)."""

    patch_size: int = setting(5, ge=1)
    stride: int = setting(1, ge=1)
    pool: int = setting(2, ge=1)
    kernel: str = setting("rbf", choices=KERNELS)
    n_features: int = setting(500, ge=1)
    gamma: float = setting(1.0, gt=0)
    radius: float = setting(300.0, gt=0)
    rank: int = setting(16, ge=1)

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass(frozen=True)
class SolverSpec:
    """How the convex program is solved: ``sgd`` (projected SGD) or ``fista`` (full batch)."""

    name: str = setting("sgd", choices=SOLVERS)
    epochs: int = setting(10, ge=1)
    batch_size: int = setting(64, ge=1)
    learning_rate: float = setting(1.0, gt=0)
    max_iter: int = setting(500, ge=1)

    def __post_init__(self) -> None:
        check_settings(self)

    def solve(self, problem: NuclearProblem, seed: int, on_epoch=None) -> SolverResult:
        if self.name == "fista":
            return solve_fista(problem, max_iter=self.max_iter, tol=1e-9, dtype=torch.float32)
        return solve_sgd(problem, self.epochs, self.batch_size, self.learning_rate, seed, on_epoch=on_epoch)


# Patches used to fit the whitening and the feature map: enough for a d x d covariance.
_FIT_PATCHES = 20000
_BATCH = 128


@dataclass(frozen=True)
class PatchFeatures:
    """x -> phi(whiten(normalise(z_p(x)))) for every patch p: the layer's fixed feature map."""

    spec: LayerSpec
    whitener: ZCAWhitener
    features: KernelFeatures

    @classmethod
    def fit(cls, images: np.ndarray, spec: LayerSpec, seed: int = 0) -> "PatchFeatures":
        """Fit the whitening and the kernel feature map on patches of (a sample of) ``images``."""
        n, h, w, c = images.shape
        rows, cols = patch_grid(h, w, spec.patch_size, spec.stride)
        rng = np.random.default_rng(seed)
        sample = images[rng.choice(n, size=min(n, max(1, _FIT_PATCHES // (rows * cols))), replace=False)]
        d = spec.patch_size ** 2 * c
        patches = normalise_patches(extract_patches(sample, spec.patch_size, spec.stride).reshape(-1, d))
        whitener = ZCAWhitener.fit(patches)
        return cls(spec, whitener, KernelFeatures.fit(whitener(patches), spec.kernel, spec.n_features,
                                                      spec.gamma, seed))

    def pooled_count(self, height: int, width: int) -> int:
        """P, the number of pooled patch positions of an H x W image."""
        rows, cols = patch_grid(height, width, self.spec.patch_size, self.spec.stride)
        return int(np.prod(average_pool(torch.zeros(1, rows, cols, 1), self.spec.pool).shape[1:3]))

    def unpooled(self, images: np.ndarray) -> torch.Tensor:
        """phi(z_p(x)) for every patch: (N, rows, cols, m) float32."""
        patches = extract_patches(images, self.spec.patch_size, self.spec.stride)
        n, rows, cols, d = patches.shape
        flat = self.whitener(normalise_patches(patches.reshape(-1, d)))
        return torch.from_numpy(self.features(flat)).reshape(n, rows, cols, -1)

    def pooled(self, images: np.ndarray) -> torch.Tensor:
        """Z(x): pooled features, shape (N, P, m)."""
        z = average_pool(self.unpooled(images), self.spec.pool)
        return z.reshape(z.shape[0], -1, z.shape[3])


@dataclass(frozen=True)
class CCNNLayer:
    """A fitted layer: its feature map, the solution ``a`` of the convex program (m x KP), its
    top-r left singular vectors ``filters`` (m x r) and the solver's report."""

    maps: PatchFeatures
    a: torch.Tensor
    filters: torch.Tensor
    n_classes: int
    result: SolverResult

    @classmethod
    def fit(cls, images: np.ndarray, labels: np.ndarray, n_classes: int, spec: LayerSpec,
            solver: SolverSpec, seed: int = 0, max_cache_bytes: int = 1 << 30, on_epoch=None) -> "CCNNLayer":
        """Algorithm 1: fit the feature map, solve for A over streamed features, factor A."""
        maps = PatchFeatures.fit(images, spec, seed)
        shape = (maps.pooled_count(*images.shape[1:3]), maps.features.dimension)
        source = FeatureSource(lambda idx: maps.pooled(images[idx]), len(images), shape, max_cache_bytes, _BATCH)
        problem = NuclearProblem(source, labels, n_classes, (shape[1], shape[0]), spec.radius)
        result = solver.solve(problem, seed, on_epoch)
        a = result.a.to(torch.float32)
        u, _, _ = torch.linalg.svd(a, full_matrices=False)
        return cls(maps, a, u[:, :spec.rank].contiguous(), n_classes, result)

    def transform(self, images: np.ndarray) -> np.ndarray:
        """Next layer's input: pooled filter responses <phi(z_p(x)), U_j>, (N, rows', cols', r)."""
        out = [average_pool(self.maps.unpooled(images[s:s + _BATCH]) @ self.filters, self.maps.spec.pool)
               for s in range(0, len(images), _BATCH)]
        return torch.cat(out).numpy().astype(np.float64)

    def scores(self, images: np.ndarray) -> torch.Tensor:
        """Class scores tr(Z(x) A_k), (N, K)."""
        return torch.cat([class_scores(self.maps.pooled(images[s:s + _BATCH]), self.a, self.n_classes)
                          for s in range(0, len(images), _BATCH)])
