"""Extreme Hessian eigenvalues over a slice, from Hessian-vector products, with residuals.

Li, Xu, Taylor, Studer & Goldstein (NeurIPS 2018, arXiv:1712.09913, Sec. 6 and Fig. 7) map
|lambda_min / lambda_max| of the full Hessian over a 2-D filter-normalised slice: near 0
where the loss is locally convex, large where negative curvature is comparable to the
positive one. The eigenvalues come from :func:`sublevel.checks.curvature.spectrum.extreme_eigenpairs`
(restarted Lanczos on Hessian-vector products, the bottom end shifted); a point whose pairs do
not reach the residual tolerance within the product budget gets NaN (drawn blank), never an
unconverged ratio: a 20-step Lanczos once read lambda_min = -8.4e-7 where the Hessian's is
-3.1e-4, a "convex" point that is not.
Cost: at most ``products`` Hessian-vector products (about 4 forward passes each) per end per point.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch.func import functional_call

from sublevel.checks.curvature.spectrum import extreme_eigenpairs, hessian_vector_product
from sublevel.checks.landscapes.directions import Params, fingerprint, flatten, unflatten
from sublevel.checks.landscapes.evaluation import LossFn, resolve_slice


class HessianEvaluator:
    """lambda_min, lambda_max and |lambda_min / lambda_max| at points theta_0 + c @ D, with the
    largest relative residual of the two pairs; all three values are NaN at a point whose
    residual exceeds ``tol``.

    Plugs into :func:`sublevel.checks.landscapes.surfaces.compute_surface`. The model is evaluated in
    eval mode (BatchNorm with running statistics), with the loss averaged over all batches.

    Parameters
    ----------
    model, loss_fn, data, directions, origin
        As for :class:`~sublevel.checks.landscapes.evaluation.SliceEvaluator`.
    products : int
        Budget of Hessian-vector products per end per point (default 300).
    tol : float
        Relative residual ||H v - theta v|| / max|theta| a pair must reach (default 1e-6): each
        eigenvalue is then within that much of the Hessian's (relative to its scale).
    seed : int
        Seed of the Lanczos start vector (the same at every point).
    stream : bool, optional
        Move one batch at a time to the model's device (see :meth:`hessian_product`); by
        default when the device is an accelerator and the data exceed 1 GiB.
    """

    metric_names = ("lambda_min", "lambda_max", "ratio", "residual")

    def __init__(self, model: torch.nn.Module, loss_fn: LossFn, data, directions: Sequence[Params],
                 origin: Params | None = None, products: int = 300, tol: float = 1e-6, seed: int = 0,
                 stream: bool | None = None):
        self.model = model
        self.loss_fn = loss_fn
        self.origin, self.directions, self.data, self.buffers = resolve_slice(model, data, directions, origin,
                                                                              stream)
        self.products = int(products)
        self.tol = float(tol)
        self.seed = int(seed)

    def fingerprint(self) -> str:
        tag = torch.tensor([float(self.products), self.tol, float(self.seed)])
        return fingerprint(self.origin, *self.directions, tag) + self.data.fingerprint()[:8]

    def _loss(self, flat: torch.Tensor, batches=None) -> torch.Tensor:
        """The sample-weighted mean loss over ``batches`` (default all) at the flat parameters."""
        params = unflatten(flat, self.origin)
        n = self.data.num_samples
        total = flat.new_zeros(())
        for x, y in (self.data if batches is None else batches):
            total = total + self.loss_fn(functional_call(self.model, (params, self.buffers), (x,)), y) * (x.shape[0] / n)
        return total

    def hessian_product(self, flat: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """v -> H v at the flat parameters ``flat`` (call with the model in eval mode).

        Data held on the device: one graph over all batches, recorded once. Streamed data
        (:meth:`~sublevel.checks.landscapes.evaluation.Batches.to`): each product sums the
        batches' products, each batch moved to the device, used and freed in turn, so memory
        holds one batch's graph at a time.
        """
        if not self.data.streamed:
            return hessian_vector_product(self._loss, flat)

        def streamed(v: torch.Tensor) -> torch.Tensor:
            total = torch.zeros_like(v)
            for index in range(len(self.data)):
                one = [self.data[index]]
                total += hessian_vector_product(lambda theta: self._loss(theta, one), flat, keep_graph=False)(v)
            return total

        return streamed

    def extremes(self, params: Params) -> tuple[float, float, float]:
        """(lambda_min, lambda_max, largest relative residual) of the Hessian of the loss at ``params``."""
        flat = flatten(params)
        was_training = self.model.training
        self.model.eval()
        try:
            low, high = extreme_eigenpairs(self.hessian_product(flat), flat.numel(), tol=self.tol,
                                           max_products=self.products, seed=self.seed, dtype=flat.dtype,
                                           device=flat.device)
        finally:
            self.model.train(was_training)
        residual = float(max(low.residuals.max(), high.residuals.max()) / low.scale)
        return float(low.values[0]), float(high.values[-1]), residual

    def __call__(self, coefficients: torch.Tensor) -> dict[str, torch.Tensor]:
        rows = []
        for c in torch.as_tensor(coefficients, dtype=torch.float64):
            params = {name: theta + sum(float(cj) * d[name] for cj, d in zip(c, self.directions))
                      for name, theta in self.origin.items()}
            low, high, residual = self.extremes(params)
            if not residual <= self.tol:  # unconverged (or NaN): no value, never a guess
                low = high = float("nan")
            rows.append((low, high, abs(low / high) if high != 0 else float("inf"), residual))
        values = torch.tensor(rows, dtype=torch.float64).reshape(-1, 4)
        return dict(zip(self.metric_names, values.T))
