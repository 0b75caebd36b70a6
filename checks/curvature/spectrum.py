"""Hessian spectra from Hessian-vector products, with a residual bound on every eigenvalue.

The Hessian is never formed. ``H v`` is the pullback of the gradient map at theta applied to
v (``torch.func.vjp`` of ``torch.func.grad``; H = H^T makes it the product): the forward and
first backward pass are recorded once per point and every product is one more backward pass.
On tanh MLPs of 353 to 7,946 parameters (N = 200) that took 0.53 to 0.60 of the time of
forward-over-reverse (``torch.func.jvp`` of the gradient, recomputing the forward pass each
time), which also fails on ``nn.MSELoss`` (its fused backward has no forward-mode derivative);
forward-over-reverse is kept as the fallback for models whose double backward is not
implemented.

Extreme eigenvalues come from implicitly restarted Lanczos (ARPACK, ``scipy.sparse.linalg.eigsh``)
on a :class:`~scipy.sparse.linalg.LinearOperator` of those products: the top end directly, the
bottom end as the top of ``s I - H`` with the shift s = lambda_max (no shift-and-invert, which
would need solves), which converges where ``which="SA"`` on an indefinite Hessian often does
not. Each returned pair (theta, v) carries its residual ||H v - theta v|| (||v|| = 1): for a
symmetric H some eigenvalue lies within the residual of theta (Parlett, "The Symmetric
Eigenvalue Problem", Thm 4.5.1), so a pair is ``converged`` when the residual is below the
requested tolerance times the spectral scale. A pair that is not is reported as such, never as
a value.

The trace is Hutchinson's estimator with Rademacher vectors (Hutchinson 1990; its standard
error is returned), the spectral density stochastic Lanczos quadrature (Golub & Meurant 2010;
Ghorbani, Krishnan & Xiao, ICML 2019, arXiv:1901.10159): Gauss quadrature nodes and weights of
k Lanczos steps from each of m random unit vectors, smoothed by a Gaussian.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from scipy.linalg import eigh_tridiagonal
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

from sublevel.theory.errors import InputError

MatVec = Callable[[torch.Tensor], torch.Tensor]
"""v -> H v for a symmetric H, on flat float64 vectors."""


def hessian_vector_product(loss: Callable[[torch.Tensor], torch.Tensor], at: torch.Tensor,
                           keep_graph: bool = True) -> MatVec:
    """v -> (Hessian of ``loss`` at ``at``) v for a scalar ``loss`` of a flat parameter vector:
    reverse-over-reverse (Pearlmutter's trick with plain autograd: the gradient is recorded
    once with ``create_graph=True``, each product is one backward pass through it, as PyHessian
    does; torch.func's ``vjp`` of ``grad`` measured 2x slower per product on a small CNN), or
    forward-over-reverse where double backward is not implemented (decided on the first
    product). ``keep_graph=False`` records the gradient again for every product: twice the
    work, but no graph is held between products (for data streamed batch by batch)."""
    from torch.func import grad, jvp

    state: dict[str, object] = {}

    def forward_over_reverse(v: torch.Tensor) -> torch.Tensor:
        return jvp(grad(loss), (at,), (v,))[1]

    def reverse_over_reverse(v: torch.Tensor) -> torch.Tensor:
        if "graph" not in state:
            theta = at.detach().requires_grad_(True)
            with torch.enable_grad():
                (gradient,) = torch.autograd.grad(loss(theta), theta, create_graph=True)
            state["graph"] = (theta, gradient)
        theta, gradient = state["graph"] if keep_graph else state.pop("graph")
        (product,) = torch.autograd.grad(gradient, theta, grad_outputs=v, retain_graph=keep_graph)
        return product

    def product(v: torch.Tensor) -> torch.Tensor:
        if "how" not in state:
            try:
                out = reverse_over_reverse(v)
                state["how"] = reverse_over_reverse
                return out
            except RuntimeError:
                state["how"] = forward_over_reverse
        return state["how"](v)

    return product


@dataclass(frozen=True)
class Eigenpairs:
    """Ritz pairs of a symmetric operator, ascending, each with its residual.

    ``values`` (k,), ``vectors`` (P, k) with unit columns, ``residuals`` (k,) = ||H v - theta v||,
    ``converged`` (k,) residual <= tolerance x ``scale``, ``scale`` the spectral scale used
    (the largest absolute eigenvalue found), ``products`` the Hessian-vector products spent.
    """

    values: np.ndarray
    vectors: np.ndarray
    residuals: np.ndarray
    converged: np.ndarray
    scale: float
    products: int

    @property
    def all_converged(self) -> bool:
        return bool(self.converged.all())


class _Counted:
    def __init__(self, matvec: MatVec, size: int, dtype: torch.dtype, device) -> None:
        self.matvec, self.size, self.dtype, self.device, self.products = matvec, size, dtype, device, 0

    def __call__(self, v: np.ndarray) -> np.ndarray:
        self.products += 1
        tensor = torch.as_tensor(np.ascontiguousarray(v).reshape(-1), dtype=self.dtype, device=self.device)
        return self.matvec(tensor).detach().to("cpu", torch.float64).numpy()


def _ritz(counted: _Counted, k: int, shift: float | None, tol: float, max_products: int,
          start: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The k largest Ritz pairs of H (or of shift I - H, mapped back): Lanczos with full
    re-orthogonalisation, stopped as soon as the residuals of all k Ritz pairs are below tol
    times the largest |Ritz value| (the estimates |beta_m s_m,i| screen each step; the true
    residuals are then computed at no product; an end that converges in a few steps costs a few
    products); if the step cap (memory: the Krylov basis is kept) or the
    budget is reached first, ARPACK's restarted Lanczos goes on from the best Ritz vector.
    Returns (values, vectors, residuals): the Lanczos path computes each residual
    ||H v - theta v|| from the kept products H q_j (H v = sum_j s_j H q_j, no further product);
    after ARPACK they are None and the caller spends one product per pair on them."""
    size = counted.size

    def apply(v: np.ndarray) -> np.ndarray:
        return counted(v) if shift is None else shift * np.ravel(v) - counted(v)

    cap = int(min(max_products, size, max(2 * k + 2, min(64, _KRYLOV_BYTES // (16 * size)))))
    entered = counted.products
    basis = np.empty((cap, size))  # q_j, rows; preallocated so no step copies the basis
    images = np.empty((cap, size))  # H q_j (or (shift I - H) q_j), kept for the residuals
    basis[0] = start / np.linalg.norm(start)
    alphas, betas = [], []
    values = vectors = residuals = None
    steps = 0
    for step in range(cap):
        steps = step + 1
        w = apply(basis[step])
        images[step] = w
        alphas.append(float(w @ basis[step]))
        stacked = basis[:steps]
        w = w - stacked.T @ (stacked @ w)
        w = w - stacked.T @ (stacked @ w)  # twice is enough (Kahan-Parlett)
        beta = float(np.linalg.norm(w))
        theta, s = eigh_tridiagonal(np.array(alphas), np.array(betas)) if betas else (np.array(alphas), np.ones((1, 1)))
        if len(theta) >= k:
            wanted = np.argsort(theta)[-k:]
            estimate = np.abs(beta * s[-1, wanted])
            # the scale the caller judges by: the largest |eigenvalue| among those found (for the
            # bottom end, theta = shift - lambda and the shift is the top eigenvalue)
            magnitude = np.abs(theta[wanted]).max() if shift is None else max(abs(shift),
                                                                               np.abs(shift - theta[wanted]).max())
            target = tol * max(magnitude, np.finfo(float).tiny)
            if np.all(estimate <= target) or beta == 0:  # then the true residuals, at no product
                found, ritz = theta[wanted], stacked.T @ s[:, wanted]
                norms = np.linalg.norm(ritz, axis=0)
                ritz = ritz / norms
                true = np.linalg.norm(images[:steps].T @ (s[:, wanted] / norms) - found * ritz, axis=0)
                # the sum over kept products rounds differently from a fresh product: add a bound
                true = true + 4 * steps * np.finfo(float).eps * float(np.abs(theta).max())
                if np.all(true <= target) or beta == 0 or step == cap - 1:
                    values, vectors, residuals = found, ritz, true
                    break
        if beta == 0 or step == cap - 1:
            break
        betas.append(beta)
        basis[step + 1] = w / beta
    if values is None:  # not converged within the cap: ARPACK from the best Ritz vector found
        theta, s = eigh_tridiagonal(np.array(alphas), np.array(betas[:len(alphas) - 1])) if len(alphas) > 1 \
            else (np.array(alphas), np.ones((1, 1)))
        best = basis[:steps].T @ s[:, np.argmax(theta)]
        operator = LinearOperator((size, size), matvec=apply, dtype=np.float64)
        ncv = min(size, max(2 * k + 1, 8))
        left = max(max_products - (counted.products - entered), ncv)
        try:
            values, vectors = eigsh(operator, k=k, which="LA", v0=best, tol=tol / 10, ncv=ncv,
                                    maxiter=max(1, left // ncv))
        except ArpackNoConvergence as err:  # partial results; their residuals will say so
            values, vectors = err.eigenvalues, err.eigenvectors
    if shift is not None:  # (shift I - H) v - theta v = -(H v - (shift - theta) v): the same residual
        values = shift - values
    return np.asarray(values, dtype=np.float64), np.asarray(vectors, dtype=np.float64), residuals


_KRYLOV_BYTES = 2 ** 28
"""The Lanczos basis and its images kept for early stopping stay under 256 MiB together (then
ARPACK restarts)."""


def extreme_eigenpairs(matvec: MatVec, size: int, k: int = 1, ends: str = "both", tol: float = 1e-8,
                       max_products: int = 2000, seed: int = 0, dtype: torch.dtype = torch.float64,
                       device="cpu") -> tuple[Eigenpairs | None, Eigenpairs | None]:
    """(bottom k, top k) eigenpairs of the symmetric operator ``matvec`` on R^size.

    Parameters
    ----------
    ends : "both", "top" or "bottom"
        Which ends to compute; the bottom end needs the top eigenvalue (its shift) either way.
    tol : float
        A pair is converged when its residual ||H v - theta v|| is at most ``tol`` times the
        largest absolute eigenvalue found.
    max_products : int
        Budget of Hessian-vector products per end (ARPACK restarts until it is spent).

    Returns
    -------
    (Eigenpairs or None, Eigenpairs or None)
        None for an end not asked. Values within ``residuals`` of true eigenvalues.
    """
    if ends not in ("both", "top", "bottom"):
        raise InputError(f"ends must be 'both', 'top' or 'bottom', got {ends!r}")
    if not 1 <= k < size:
        raise InputError(f"k must be in [1, {size - 1}] for an operator on R^{size}, got {k}")
    counted = _Counted(matvec, size, dtype, device)
    start = np.random.default_rng(seed).standard_normal(size)
    top_k = k if ends != "bottom" else 1
    top_values, top_vectors, top_residuals = _ritz(counted, top_k, None, tol, max_products, start)
    top_products = counted.products
    bottom = None
    if ends != "top":
        shift = float(np.max(top_values)) if len(top_values) else 0.0  # no top: no shift, "LA" of -H
        values, vectors, residuals = _ritz(counted, k, shift, tol, max_products, start)
        bottom = (values, vectors, residuals, counted.products - top_products)
    found = np.concatenate([top_values, bottom[0] if bottom else np.zeros(0)])
    scale = float(np.max(np.abs(found))) if len(found) else 1.0
    scale = scale if scale > 0 else 1.0
    top = _pairs(counted, top_values, top_vectors, top_residuals, top_products, scale, tol) \
        if ends != "bottom" else None
    low = _pairs(counted, *bottom, scale=scale, tol=tol) if bottom else None
    return low, top


def _pairs(counted: _Counted, values: np.ndarray, vectors: np.ndarray, residuals: np.ndarray | None,
           products: int, scale: float, tol: float) -> Eigenpairs:
    if len(values) == 0:  # ARPACK ran out of budget before any pair: report one unknown pair
        return Eigenpairs(np.full(1, np.nan), np.zeros((counted.size, 1)), np.full(1, np.inf), np.zeros(1, bool),
                          scale, products)
    order = np.argsort(values)
    values, vectors = values[order], vectors[:, order]
    norms = np.linalg.norm(vectors, axis=0, keepdims=True)
    vectors = vectors / norms
    if residuals is None:  # one product per pair
        residuals = np.array([np.linalg.norm(counted(vectors[:, i]) - values[i] * vectors[:, i])
                              for i in range(len(values))])
        products += len(values)
    else:
        residuals = np.asarray(residuals)[order]
    return Eigenpairs(values, vectors, residuals, residuals <= tol * scale, scale, products)


def hutchinson_trace(matvec: MatVec, size: int, samples: int = 100, seed: int = 0,
                     dtype: torch.dtype = torch.float64, device="cpu", method: str = "hutch++") -> tuple[float, float]:
    """(estimate, standard error) of tr H from ``samples`` products with H.

    ``method="hutchinson"``: the mean of z^T H z over ``samples`` Rademacher vectors z
    (Hutchinson 1990), standard error from their spread.

    ``method="hutch++"`` (default): Hutch++ (Meyer, Musco, Musco & Woodruff, "Hutch++: optimal
    stochastic trace estimation", SOSA 2021, arXiv:2010.09649, Algorithm 1). With
    k = samples // 3: Q is an orthonormal basis of H S for k Rademacher columns S, and

        tr H = tr(Q^T H Q) + tr(P H P),   P = I - Q Q^T,

    the first term computed exactly (k products), the second by Hutchinson with k vectors P g
    (k products). The standard error is that of the second term's mean; the first has none.
    Where a few eigenvalues dominate (Hessians of trained nets), the deflated remainder is
    small and the error is far below plain Hutchinson's for the same products.
    """
    if method not in ("hutch++", "hutchinson"):
        raise InputError(f"unknown trace method {method!r} (known: hutch++, hutchinson)")
    least = 6 if method == "hutch++" else 2
    if samples < least:
        raise InputError(f"the {method} trace needs at least {least} products for its error, got {samples}")
    generator = torch.Generator().manual_seed(seed)

    def rademacher(columns: int) -> torch.Tensor:
        return (torch.randint(0, 2, (size, columns), generator=generator) * 2 - 1).to(dtype=dtype, device=device)

    if method == "hutchinson":
        z = rademacher(samples)
        values = np.array([float(torch.dot(z[:, i], matvec(z[:, i]))) for i in range(samples)])
        return float(values.mean()), float(values.std(ddof=1) / np.sqrt(samples))
    k = min(samples // 3, size)
    sketch = torch.stack([matvec(column) for column in rademacher(k).T], dim=1)
    q, _ = torch.linalg.qr(sketch)
    terms = np.array([float(torch.dot(q[:, i], matvec(q[:, i]))) for i in range(q.shape[1])])
    g = rademacher(k)
    g = g - q @ (q.T @ g)
    values = np.array([float(torch.dot(g[:, i], matvec(g[:, i]))) for i in range(k)])
    # where Q spans (nearly) everything the remainder is rounding noise: a rounding bound of the
    # exact part keeps the error bar honest then
    rounding = 4 * size * torch.finfo(dtype).eps * float(np.abs(terms).sum() + np.abs(values).mean())
    return float(terms.sum() + values.mean()), float(values.std(ddof=1) / np.sqrt(k)) + rounding


def lanczos_tridiagonal(matvec: MatVec, start: torch.Tensor, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(alphas, betas) of k <= ``steps`` Lanczos steps from ``start`` with full
    re-orthogonalisation (stops early on an invariant subspace)."""
    if steps < 1:
        raise InputError(f"Lanczos needs at least one step, got {steps}")
    q = start / start.norm()
    basis, alphas, betas = [q], [], []
    for step in range(steps):
        w = matvec(basis[-1])
        alphas.append(float(torch.dot(w, basis[-1])))
        stacked = torch.stack(basis)
        w = w - stacked.T @ (stacked @ w)
        w = w - stacked.T @ (stacked @ w)
        beta = float(w.norm())
        if step == steps - 1 or beta <= 1e-10 * max(1.0, abs(alphas[-1])):
            break
        betas.append(beta)
        basis.append(w / beta)
    return np.array(alphas), np.array(betas[:len(alphas) - 1])


def spectral_density(matvec: MatVec, size: int, steps: int = 80, vectors: int = 10, seed: int = 0,
                     dtype: torch.dtype = torch.float64, device="cpu") -> tuple[np.ndarray, np.ndarray]:
    """Stochastic Lanczos quadrature: (nodes, weights), each (vectors * k,), whose weights sum to
    1 (divide by the vector count done here); smooth with :func:`smoothed_density`."""
    from scipy.linalg import eigh_tridiagonal

    generator = torch.Generator().manual_seed(seed)
    nodes, weights = [], []
    for _ in range(vectors):
        start = torch.randn(size, generator=generator, dtype=torch.float64).to(dtype=dtype, device=device)
        alphas, betas = lanczos_tridiagonal(matvec, start, steps)
        theta, q = eigh_tridiagonal(alphas, betas) if len(alphas) > 1 else (alphas, np.ones((1, 1)))
        nodes.append(theta)
        weights.append(q[0] ** 2 / vectors)
    return np.concatenate(nodes), np.concatenate(weights)


def smoothed_density(nodes: np.ndarray, weights: np.ndarray, grid: np.ndarray, width: float) -> np.ndarray:
    """sum_j w_j N(grid; node_j, width^2): the density of :func:`spectral_density` on ``grid``."""
    z = (grid[:, None] - nodes[None, :]) / width
    return (np.exp(-0.5 * z * z) / (width * np.sqrt(2 * np.pi))) @ weights
