"""A scikit-learn classifier for convexified CNNs (one or more layers, trained greedily).

Zhang, Liang & Wainwright (2017), "Convexified Convolutional Neural Networks", ICML,
arXiv:1609.01000, Algorithms 1 and 2. Layer l solves the convex program of
:mod:`sublevel.checks.ccnn.nuclear` on the features of its input; its top-r filters produce the input of
layer l + 1; the last layer's A gives the class scores tr(Z(x) A_k).

Examples
--------
>>> from sklearn.model_selection import cross_val_score
>>> from sublevel.constructions.mnist_variations import digits_variation
>>> data = digits_variation("basic", seed=0)
>>> model = CCNNClassifier(n_features=100, epochs=2)
>>> scores = cross_val_score(model, data.x_train[:300], data.y_train[:300], cv=2)
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from sublevel.checks.ccnn.layer import CCNNLayer, LayerSpec, SolverSpec
from sublevel.checks.ccnn.patches import as_images
from sublevel.theory.errors import InputError


def check_labels(labels, n_classes: int | None = None) -> tuple[np.ndarray, int]:
    """Labels as int64 in 0..K-1 and K; InputError for other values.

    K is ``n_classes`` when given, else max(label) + 1.
    """
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0:
        raise InputError(f"labels must be a non-empty one-dimensional array, got shape {y.shape}")
    if not (np.issubdtype(y.dtype, np.integer) or (np.issubdtype(y.dtype, np.floating)
                                                   and np.all(np.isfinite(y)) and np.all(y == np.round(y)))):
        raise InputError("labels must be integers 0..K-1")
    y = y.astype(np.int64)
    k = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if y.min() < 0 or y.max() >= k:
        raise InputError(f"labels must lie in 0..{k - 1}, got values from {y.min()} to {y.max()}")
    return y, k


class CCNNClassifier(ClassifierMixin, BaseEstimator):
    """Convexified CNN classifier with the scikit-learn estimator API.

    Parameters
    ----------
    n_layers : int
        Number of convexified layers, trained greedily (Algorithm 2).
    patch_size, upper_patch_size : int
        Patch side of the first layer and of every later layer.
    stride, pool : int
        Patch stride and average-pooling block of every layer.
    kernel : {"rbf", "invpoly"}
        Random Fourier features of exp(-gamma ||z - z'||^2), or Nystroem features of
        1 / (2 - <z, z'>).
    n_features : int
        m, the feature dimension.
    gamma : float
        RBF bandwidth parameter (patches have unit norm, so ||z - z'||^2 <= 4).
    radius : float
        R, the nuclear-norm bound of every layer's A.
    rank : int
        r, the number of filters passed from one layer to the next.
    solver : {"sgd", "fista"}
        Projected SGD or full-batch accelerated projected gradient.
    epochs, batch_size, learning_rate : projected-SGD settings; the step in epoch e is
        learning_rate / (L sqrt(e + 1)), L an estimate of the Lipschitz constant of the gradient.
    n_classes : int or None
        K; labels must lie in 0..K-1 (default: max label + 1).
    image_shape : tuple or None
        (H, W) or (H, W, C) to reshape flat rows of X; None when X already holds images.
    max_cache_bytes : int
        Features larger than this are recomputed per batch instead of kept.
    random_state : int
        Seed of the whitening sample, the feature maps and the SGD order.

    Attributes
    ----------
    layers_ : list of :class:`sublevel.checks.ccnn.layer.CCNNLayer`
    classes_ : ndarray, 0..K-1
    """

    def __init__(self, n_layers: int = 1, patch_size: int = 5, upper_patch_size: int = 3, stride: int = 1,
                 pool: int = 2, kernel: str = "rbf", n_features: int = 500, gamma: float = 1.0,
                 radius: float = 300.0, rank: int = 16, solver: str = "sgd", epochs: int = 8,
                 batch_size: int = 64, learning_rate: float = 20.0, n_classes: int | None = None,
                 image_shape: tuple | None = None, max_cache_bytes: int = 1 << 30, random_state: int = 0):
        self.n_layers = n_layers
        self.patch_size = patch_size
        self.upper_patch_size = upper_patch_size
        self.stride = stride
        self.pool = pool
        self.kernel = kernel
        self.n_features = n_features
        self.gamma = gamma
        self.radius = radius
        self.rank = rank
        self.solver = solver
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.n_classes = n_classes
        self.image_shape = image_shape
        self.max_cache_bytes = max_cache_bytes
        self.random_state = random_state

    def _images(self, x) -> np.ndarray:
        if self.image_shape is not None:
            x = np.asarray(x, dtype=np.float64)
            try:
                x = x.reshape((len(x), *self.image_shape))
            except ValueError:
                raise InputError(f"rows of X do not reshape to image_shape {self.image_shape}") from None
        return as_images(x)

    def _fitted_images(self, x) -> np.ndarray:
        images = self._images(x)
        if images.shape[1:] != self.image_shape_:
            raise InputError(f"images must be {self.image_shape_[:2]} like the training images, "
                             f"got {images.shape[1:3]}")
        return images

    def _layer_spec(self, depth: int) -> LayerSpec:
        return LayerSpec(self.patch_size if depth == 0 else self.upper_patch_size, self.stride, self.pool,
                         self.kernel, self.n_features, self.gamma, self.radius, self.rank)

    def fit(self, X, y, on_epoch=None) -> "CCNNClassifier":
        """Train the layers one at a time; ``on_epoch(layer, epoch, seconds)`` reports progress."""
        if self.n_layers < 1:
            raise InputError(f"n_layers must be >= 1, got {self.n_layers}")
        images = self._images(X)
        shape = images.shape[1:]
        labels, k = check_labels(y, self.n_classes)
        if len(labels) != len(images):
            raise InputError(f"{len(images)} images but {len(labels)} labels")
        specs = [self._layer_spec(depth) for depth in range(self.n_layers)]  # validate before work
        solver = SolverSpec(self.solver, self.epochs, self.batch_size, self.learning_rate)
        self.layers_ = []
        for depth, spec in enumerate(specs):
            report = None if on_epoch is None else (lambda e, s, d=depth: on_epoch(d, e, s))
            layer = CCNNLayer.fit(images, labels, k, spec, solver, self.random_state + depth,
                                  self.max_cache_bytes, report)
            self.layers_.append(layer)
            if depth + 1 < self.n_layers:
                images = layer.transform(images)
        self.classes_ = np.arange(k)
        self.image_shape_ = shape
        return self

    def staged_decision_function(self, X):
        """Class scores (N, K) of the network cut after layer 1, 2, ..., n_layers, in turn.

        Greedy training makes layer l's own A a classifier on layer l's input, so the model cut
        after layer l is exactly the l-layer CCNN trained with the same settings.
        """
        images = self._fitted_images(X)
        for depth, layer in enumerate(self.layers_):
            yield layer.scores(images).numpy()
            if depth + 1 < len(self.layers_):
                images = layer.transform(images)

    def staged_predict(self, X):
        """Predictions of the network cut after each layer (see :meth:`staged_decision_function`)."""
        for scores in self.staged_decision_function(X):
            yield self.classes_[scores.argmax(axis=1)]

    def decision_function(self, X) -> np.ndarray:
        """Class scores of the top layer, (N, K)."""
        images = self._fitted_images(X)
        for layer in self.layers_[:-1]:
            images = layer.transform(images)
        return self.layers_[-1].scores(images).numpy()

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.decision_function(X).argmax(axis=1)]
