"""Extreme Hessian eigenvalues over a slice, by Lanczos on Hessian-vector products.

Li, Xu, Taylor, Studer & Goldstein (NeurIPS 2018, arXiv:1712.09913, Sec. 6 and Fig. 7) map
|lambda_min / lambda_max| of the full Hessian over a 2-D filter-normalised slice: near 0
where the loss is locally convex, large where negative curvature is comparable to the
positive one. The Hessian is never formed: the product

    H v = d/dt grad L(theta + t v) |_{t=0}

is one forward-over-reverse pass (``torch.func.jvp`` of ``torch.func.grad``) and Lanczos
with full re-orthogonalisation builds the tridiagonal T_k = Q_k^T H Q_k from k products. The
extreme eigenvalues of T_k (Ritz values) approach lambda_min and lambda_max from inside, the
extremes first (Saad, "Numerical Methods for Large Eigenvalue Problems", ch. 6).
Cost: ``iterations`` Hessian-vector products (about 4 forward passes each) per grid point.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch.func import functional_call, grad, jvp

from sublevel.checks.landscapes.directions import Params, fingerprint, flatten, unflatten
from sublevel.checks.landscapes.evaluation import LossFn, resolve_slice
from sublevel.theory.errors import InputError


def lanczos_extremes(matvec: Callable[[torch.Tensor], torch.Tensor], start: torch.Tensor,
                     iterations: int) -> tuple[float, float]:
    """(smallest, largest) Ritz value of the symmetric operator ``matvec`` after ``iterations`` steps.

    Parameters
    ----------
    matvec : callable
        v -> H v for a symmetric H.
    start : tensor (P,)
        Non-zero starting vector (a random one: a start orthogonal to an eigenvector never sees it).
    iterations : int
        Krylov dimension k >= 1 (stops early on an invariant subspace).
    """
    if iterations < 1:
        raise InputError(f"Lanczos needs at least one iteration, got {iterations}")
    q = start / start.norm()
    basis, alphas, betas = [q], [], []
    for step in range(iterations):
        w = matvec(basis[-1])
        alphas.append(torch.dot(w, basis[-1]))
        stacked = torch.stack(basis)
        w = w - stacked.T @ (stacked @ w)  # full re-orthogonalisation (k is small)
        w = w - stacked.T @ (stacked @ w)
        beta = w.norm()
        if step == iterations - 1 or beta <= 1e-10 * max(1.0, abs(float(alphas[-1]))):
            break
        betas.append(beta)
        basis.append(w / beta)
    k = len(alphas)
    tridiagonal = torch.diag(torch.stack(alphas).double())
    if k > 1:
        off = torch.stack(betas[:k - 1]).double()
        tridiagonal += torch.diag(off, 1) + torch.diag(off, -1)
    ritz = torch.linalg.eigvalsh(tridiagonal)
    return float(ritz[0]), float(ritz[-1])


class HessianEvaluator:
    """lambda_min, lambda_max and |lambda_min / lambda_max| at points theta_0 + c @ D.

    Plugs into :func:`sublevel.checks.landscapes.surfaces.compute_surface`. The model is evaluated in
    eval mode (BatchNorm with running statistics), with the loss averaged over all batches.

    Parameters
    ----------
    model, loss_fn, data, directions, origin
        As for :class:`~sublevel.checks.landscapes.evaluation.SliceEvaluator`.
    iterations : int
        Lanczos steps per point (default 20).
    seed : int
        Seed of the Lanczos start vector (the same at every point).
    """

    metric_names = ("lambda_min", "lambda_max", "ratio")

    def __init__(self, model: torch.nn.Module, loss_fn: LossFn, data, directions: Sequence[Params],
                 origin: Params | None = None, iterations: int = 20, seed: int = 0):
        self.model = model
        self.loss_fn = loss_fn
        self.origin, self.directions, self.data, self.buffers = resolve_slice(model, data, directions, origin)
        self.iterations = int(iterations)
        self.seed = int(seed)

    def fingerprint(self) -> str:
        tag = torch.tensor([float(self.iterations), float(self.seed)])
        return fingerprint(self.origin, *self.directions, tag) + self.data.fingerprint()[:8]

    def _loss(self, flat: torch.Tensor) -> torch.Tensor:
        params = unflatten(flat, self.origin)
        n = self.data.num_samples
        total = flat.new_zeros(())
        for x, y in self.data.batches:
            total = total + self.loss_fn(functional_call(self.model, (params, self.buffers), (x,)), y) * (x.shape[0] / n)
        return total

    def extremes(self, params: Params) -> tuple[float, float]:
        """(lambda_min, lambda_max) estimates of the Hessian of the loss at ``params``."""
        flat = flatten(params)
        gradient = grad(self._loss)
        generator = torch.Generator().manual_seed(self.seed)
        start = torch.randn(flat.shape, generator=generator, dtype=torch.float64).to(flat)
        was_training = self.model.training
        self.model.eval()
        try:
            return lanczos_extremes(lambda v: jvp(gradient, (flat,), (v,))[1], start, self.iterations)
        finally:
            self.model.train(was_training)

    def __call__(self, coefficients: torch.Tensor) -> dict[str, torch.Tensor]:
        rows = []
        for c in torch.as_tensor(coefficients, dtype=torch.float64):
            params = {name: theta + sum(float(cj) * d[name] for cj, d in zip(c, self.directions))
                      for name, theta in self.origin.items()}
            low, high = self.extremes(params)
            rows.append((low, high, abs(low / high) if high != 0 else float("inf")))
        values = torch.tensor(rows, dtype=torch.float64).reshape(-1, 3)
        return dict(zip(self.metric_names, values.T))
