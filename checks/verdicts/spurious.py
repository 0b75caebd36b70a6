"""Spurious local minima, detected honestly and reported with their evidence.

A point theta counts as a *spurious local minimum* only when all of these were observed:

1. **critical**: ||grad L(theta)|| <= ``gradient_tol``;
2. **no descent direction found**, by a documented test:
   - P <= ``hessian_max_params``: the exact Hessian (``torch.func.hessian``) has smallest
     eigenvalue >= -``curvature_tol`` (``numpy.linalg.eigvalsh``);
   - larger P: the smallest eigenvalue from restarted Lanczos on Hessian-vector products
     (:mod:`sublevel.checks.curvature.spectrum`), with its residual as an error bound;
   - always, in addition: the loss at theta + r d for ``probes`` random unit directions d and
     for +-(the lowest eigenvector), at every radius r of ``radii``, never falls below
     L(theta) by more than ``descent_tol`` (relative). Probes matter where the loss has kinks
     (ReLU): autograd's Hessian is that of one smooth piece;
   - for points that passed everything else (escape probes): from theta + ``escape_radius`` d for ``escapes`` of
     those directions, ``escape_steps`` of batched Adam; an end point below L(theta) - ``margin``
     is a descent path. This sees degenerate saddles, where the Hessian is positive semi-definite
     and the way down is of third or fourth order (a quadratic net's unit with a_j = 0 and
     w_j = 0 changes the output only at order |a_j| |w_j|^2);
3. **spurious**: L(theta) > best + ``margin`` for the best known minimum ``best`` (certified
   when the caller knows the global minimum, else the lowest loss found).

Passing these tests is evidence, not proof: a second-order test cannot see a descent path of
higher order and probes are finitely many. Failing 1 or 2 is a certain refutation of "theta is a
local minimum" (up to the tolerances). A spurious *valley* needs more (a non-strict minimum can
sit on a plateau that leads down); claims that speak of valleys say so.

Local minima are found by :func:`descend`: batched Adam from many starts, then L-BFGS per
start in float64 (scipy) to drive the gradient far below the criticality tolerance.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch
from scipy.optimize import minimize

from sublevel.checks.curvature.spectrum import extreme_eigenpairs, hessian_vector_product
from sublevel.checks.paths.adam import Adam
from sublevel.theory.errors import InputError

LossFn = Callable[[torch.Tensor], torch.Tensor]
"""Batched loss: parameters (K, P) float64 -> losses (K,), differentiable (autograd and torch.func)."""


@dataclass(frozen=True)
class ProbeSettings:
    """Tolerances and budgets of :func:`examine` (see the module docstring)."""

    gradient_tol: float = 1e-6
    curvature_tol: float = 1e-6
    hessian_max_params: int = 400
    probes: int = 256
    radii: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1)
    descent_tol: float = 1e-10
    margin: float = 1e-4
    escapes: int = 16
    escape_radius: float = 1e-2
    escape_steps: int = 200
    escape_lr: float = 1e-2
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.gradient_tol, self.curvature_tol, self.margin) < 0 or self.probes < 0:
            raise InputError("tolerances, margin and probe count must be >= 0")
        if not self.radii or min(self.radii) <= 0:
            raise InputError("probe radii must be > 0")


@dataclass(frozen=True)
class MinimumEvidence:
    """What was observed at one point (every number is float64-evaluated; ``curvature`` is
    exact for the Hessian method and an estimate for Lanczos)."""

    loss: float
    gradient_norm: float
    curvature: float
    curvature_method: str
    probe_decrease: float
    probes: int
    escape_decrease: float | None
    best_known: float
    critical: bool
    descent_found: bool
    spurious: bool

    @property
    def local_minimum(self) -> bool:
        return self.critical and not self.descent_found

    def to_json(self) -> dict:
        return dict(asdict(self), local_minimum=self.local_minimum)

    def describe(self) -> str:
        kind = "spurious local minimum" if self.spurious else ("local minimum" if self.local_minimum else
                                                               ("critical point with descent" if self.critical else "not critical"))
        return (f"{kind}: L = {self.loss:.6g} (best known {self.best_known:.6g}), |grad| = {self.gradient_norm:.2e}, "
                f"lowest curvature {self.curvature:.2e} ({self.curvature_method}), "
                f"largest probe decrease {max(self.probe_decrease, 0.0):.2e} over {self.probes} probes"
                + ("" if self.escape_decrease is None else
                   f", largest escape decrease {max(self.escape_decrease, 0.0):.2e}"))


def _scalar(loss_fn: LossFn) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda t: loss_fn(t.unsqueeze(0))[0]


def lowest_curvature(loss_fn: LossFn, theta: torch.Tensor, settings: ProbeSettings) -> tuple[float, torch.Tensor, str]:
    """Smallest Hessian eigenvalue and its eigenvector: exact (small P) or from Hessian-vector
    products (:func:`sublevel.checks.curvature.spectrum.extreme_eigenpairs`), then with the
    residual that bounds its error."""
    f = _scalar(loss_fn)
    p = theta.numel()
    if p <= settings.hessian_max_params:
        hessian = torch.func.hessian(f)(theta).detach().numpy()
        values, vectors = np.linalg.eigh((hessian + hessian.T) / 2)
        return float(values[0]), torch.as_tensor(vectors[:, 0]), "Hessian eigenvalues"
    low, _ = extreme_eigenpairs(hessian_vector_product(f, theta), p, ends="bottom", tol=1e-8,
                                max_products=20 * p, seed=settings.seed, dtype=theta.dtype)
    state = "converged" if low.all_converged else "NOT converged"
    return (float(low.values[0]), torch.as_tensor(low.vectors[:, 0]),
            f"Lanczos on Hessian-vector products ({state}: residual {low.residuals[0]:.1e}, an error bound up to float64 "
            f"rounding)")


def examine(loss_fn: LossFn, theta: torch.Tensor, best_known: float, settings: ProbeSettings = ProbeSettings()) -> MinimumEvidence:
    """Test whether ``theta`` is a (spurious) local minimum of ``loss_fn``.

    Parameters
    ----------
    loss_fn : callable (K, P) -> (K,)
    theta : tensor (P,)
    best_known : float
        Loss of the best known minimum (the global minimum when known).
    settings : ProbeSettings

    Returns
    -------
    MinimumEvidence

    Notes
    -----
    Cost: one gradient, one Hessian (P^2 memory) or O(P) Hessian-vector products, and
    (probes + 2) * len(radii) loss evaluations in one batch, ``escape_steps`` batched
    loss-and-gradient evaluations of ``escapes`` points. Deterministic given ``settings.seed``.
    """
    theta = torch.as_tensor(theta, dtype=torch.float64).detach().flatten()
    point = theta.clone().requires_grad_(True)
    value = _scalar(loss_fn)(point)
    (grad,) = torch.autograd.grad(value, point)
    loss, grad_norm = float(value.detach()), float(grad.norm())
    curvature, lowest, method = lowest_curvature(loss_fn, theta, settings)
    generator = torch.Generator().manual_seed(settings.seed)
    directions = torch.randn(settings.probes, theta.numel(), generator=generator, dtype=torch.float64)
    directions = torch.cat([directions / directions.norm(dim=1, keepdim=True), lowest[None], -lowest[None]])
    radii = torch.as_tensor(settings.radii, dtype=torch.float64)
    probes = (theta + radii[:, None, None] * directions[None]).reshape(-1, theta.numel())
    with torch.no_grad():
        decrease = loss - float(loss_fn(probes).min())
    critical = grad_norm <= settings.gradient_tol
    descent = curvature < -settings.curvature_tol or decrease > settings.descent_tol * max(1.0, abs(loss))
    above = loss > best_known + settings.margin
    # Escape probes cost descent steps; they can only demote a point that passed everything else.
    escape = (loss - escape_minimum(loss_fn, theta + settings.escape_radius * directions[: settings.escapes], settings)
              if critical and not descent and above else None)
    descent = descent or (escape is not None and escape > settings.margin)
    spurious = critical and not descent and above
    return MinimumEvidence(loss, grad_norm, curvature, method, decrease, len(probes), escape, float(best_known),
                           critical, descent, spurious)


def escape_minimum(loss_fn: LossFn, starts: torch.Tensor, settings: ProbeSettings) -> float:
    """Lowest loss reached by ``escape_steps`` of batched Adam from each start (inf if none)."""
    if not len(starts):
        return float("inf")
    theta = batched_adam(loss_fn, starts, settings.escape_steps, settings.escape_lr)
    with torch.no_grad():
        return float(loss_fn(theta).min())


def batched_adam(loss_fn: LossFn, starts: torch.Tensor, steps: int, lr: float) -> torch.Tensor:
    """End points (K, P) of ``steps`` Adam steps from each start: the losses of different starts
    are independent, so one backward pass of their sum gives every gradient."""
    theta = starts.clone().requires_grad_(True)
    adam = Adam(theta.data, lr=lr)
    for _ in range(steps):
        theta.grad = None
        loss_fn(theta).sum().backward()
        adam.step(theta.grad)
    return theta.detach()


@dataclass(frozen=True)
class DescentSettings:
    """Batched Adam (``adam_steps`` at ``lr``), then L-BFGS per start (at most
    ``lbfgs_iterations``, until every gradient entry is below ``gradient_tol``)."""

    adam_steps: int = 300
    lr: float = 0.02
    lbfgs_iterations: int = 1000
    gradient_tol: float = 1e-10

    def __post_init__(self) -> None:
        if self.adam_steps < 0 or self.lbfgs_iterations < 0 or not self.lr > 0:
            raise InputError("descent steps must be >= 0 and lr > 0")


def descend(loss_fn: LossFn, starts: torch.Tensor, settings: DescentSettings = DescentSettings()) -> torch.Tensor:
    """End points (K, P) of descent from each start (K, P): batched Adam, then L-BFGS per start.

    The losses of different starts are independent, so one backward pass of their sum gives
    every Adam gradient. L-BFGS (scipy, float64) then runs on each start separately: run on
    the sum, one start stuck at a ReLU kink makes the shared line search fail for all of them.
    It stops when every gradient entry is below ``gradient_tol``, when no progress is possible
    (ftol = 0) or when the iteration budget is spent. Deterministic.
    """
    theta = batched_adam(loss_fn, torch.as_tensor(starts, dtype=torch.float64), settings.adam_steps, settings.lr)
    if not settings.lbfgs_iterations:
        return theta
    f = _scalar(loss_fn)

    def value_and_grad(flat: np.ndarray) -> tuple[float, np.ndarray]:
        point = torch.as_tensor(flat, dtype=torch.float64).requires_grad_(True)
        value = f(point)
        (grad,) = torch.autograd.grad(value, point)
        return float(value.detach()), grad.numpy()

    options = {"maxiter": settings.lbfgs_iterations, "gtol": settings.gradient_tol, "ftol": 0.0, "maxcor": 30}
    ends = [minimize(value_and_grad, row.numpy(), jac=True, method="L-BFGS-B", options=options).x for row in theta]
    return torch.as_tensor(np.stack(ends))


@dataclass(frozen=True)
class SpuriousSearch:
    """Evidence at every descent end point (``ends``, (K, P)), with the best known minimum
    they were judged against."""

    evidence: tuple[MinimumEvidence, ...]
    best_known: float
    best_certified: bool
    ends: torch.Tensor

    @property
    def spurious(self) -> list[MinimumEvidence]:
        return [e for e in self.evidence if e.spurious]

    def distinct_spurious_losses(self, rtol: float = 1e-6) -> list[float]:
        """Losses of the spurious minima found, merged when within ``rtol`` of each other."""
        out: list[float] = []
        for value in sorted(e.loss for e in self.spurious):
            if not out or value > out[-1] * (1 + rtol) + rtol:
                out.append(value)
        return out

    def summary(self) -> str:
        certified = "certified global minimum" if self.best_certified else "lowest loss found (estimated)"
        found = self.distinct_spurious_losses()
        return (f"{len(self.spurious)}/{len(self.evidence)} descent end points are spurious local minima "
                f"(losses {', '.join(f'{v:.4g}' for v in found) or 'none'}; best known {self.best_known:.6g}, {certified})")

    def to_json(self) -> dict:
        return {"best_known": self.best_known, "best_certified": self.best_certified,
                "spurious_losses": self.distinct_spurious_losses(),
                "points": [e.to_json() for e in self.evidence]}


def search(loss_fn: LossFn, starts: torch.Tensor, global_minimum: float | None = None,
           descent: DescentSettings = DescentSettings(), probes: ProbeSettings = ProbeSettings()) -> SpuriousSearch:
    """Descend from every start and examine every end point.

    ``global_minimum``, when the caller can certify it, is the reference; otherwise the lowest
    loss among the end points is (then "spurious" means "above the best found").
    """
    ends = descend(loss_fn, starts, descent)
    with torch.no_grad():
        lowest = float(loss_fn(ends).min())
    best = lowest if global_minimum is None else global_minimum
    evidence = tuple(examine(loss_fn, end, best, probes) for end in ends)
    return SpuriousSearch(evidence, best, global_minimum is not None, ends)
