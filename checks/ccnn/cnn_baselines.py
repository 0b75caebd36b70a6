"""ReLU CNN baselines of the same shape as a CCNN, trained with torch (the CNN-1 / CNN-2 rows).

Zhang, Liang & Wainwright (2017), arXiv:1609.01000, section 5.1: the CNN baselines have the
CCNN's architecture with the RKHS filters replaced by ordinary filters followed by ReLU. Here
layer l is conv(s_l x s_l, r filters, stride) -> ReLU -> average pool, and a linear read-out of
the last pooled map gives the class scores, as the CCNN's tr(Z(x) A_k) does. Trained with Adam
on the softmax loss; a non-convex problem, so the result depends on the seed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from sublevel.checks.ccnn.estimator import check_labels
from sublevel.checks.ccnn.patches import as_images, patch_grid


@dataclass(frozen=True)
class CNNSpec:
    """Layers (patch sizes), filters per layer r, stride, pool, and Adam's settings."""

    patch_sizes: tuple[int, ...] = (5,)
    filters: int = 16
    stride: int = 1
    pool: int = 2
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-2
    weight_decay: float = 1e-4


def build_cnn(spec: CNNSpec, image_shape: tuple[int, int, int], n_classes: int) -> nn.Sequential:
    """conv -> ReLU -> pool per layer, then a linear map of the flattened last map to K scores."""
    h, w, c = image_shape
    layers: list[nn.Module] = []
    for size in spec.patch_sizes:
        rows, cols = patch_grid(h, w, size, spec.stride)
        layers += [nn.Conv2d(c, spec.filters, size, spec.stride), nn.ReLU()]
        if spec.pool > 1 and rows >= spec.pool and cols >= spec.pool:
            layers.append(nn.AvgPool2d(spec.pool))
            rows, cols = rows // spec.pool, cols // spec.pool
        h, w, c = rows, cols, spec.filters
    layers += [nn.Flatten(), nn.Linear(h * w * c, n_classes)]
    return nn.Sequential(*layers)


def _tensor(images: np.ndarray) -> torch.Tensor:
    # Same per-image standardisation for train and test: no statistics leak from the test set.
    x = torch.as_tensor(images, dtype=torch.float32).permute(0, 3, 1, 2)
    return (x - x.mean(dim=(1, 2, 3), keepdim=True)) / (x.std(dim=(1, 2, 3), keepdim=True) + 1e-6)


@dataclass
class CNNClassifier:
    """Train a :func:`build_cnn` network; ``predict`` / ``score`` as in scikit-learn."""

    spec: CNNSpec
    seed: int = 0

    def fit(self, images, labels) -> "CNNClassifier":
        x = as_images(images)
        y, k = check_labels(labels)
        torch.manual_seed(self.seed)
        self.network_ = build_cnn(self.spec, x.shape[1:], k)
        optimiser = torch.optim.Adam(self.network_.parameters(), lr=self.spec.learning_rate,
                                     weight_decay=self.spec.weight_decay)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, self.spec.epochs)
        xt, yt = _tensor(x), torch.as_tensor(y)
        generator = torch.Generator().manual_seed(self.seed)
        self.network_.train()
        for _ in range(self.spec.epochs):
            for idx in torch.randperm(len(xt), generator=generator).split(self.spec.batch_size):
                optimiser.zero_grad()
                nn.functional.cross_entropy(self.network_(xt[idx]), yt[idx]).backward()
                optimiser.step()
            schedule.step()
        return self

    def predict(self, images) -> np.ndarray:
        self.network_.eval()
        with torch.no_grad():
            return self.network_(_tensor(as_images(images))).argmax(1).numpy()

    def score(self, images, labels) -> float:
        return float(np.mean(self.predict(images) == np.asarray(labels)))
