"""The Hessian spectrum of any torch model's loss in one call: extreme eigenvalues with their
residuals, the trace and the spectral density.

``hessian_spectrum(model, loss_fn, data)`` evaluates the model in eval mode (BatchNorm with its
running statistics) on the loss averaged over all batches, at the model's own parameters, and
returns a :class:`HessianSpectrum` that says for every eigenvalue whether it converged (its
residual ||H v - theta v|| bounds its distance to an eigenvalue of the Hessian), what is an
estimate (the trace, by Hutch++ with its standard error; the density, by
stochastic Lanczos quadrature: Ghorbani, Krishnan & Xiao, "An investigation into neural net
optimization via Hessian eigenvalue density", ICML 2019; Yao et al., "PyHessian", 2020), and
saves itself (.json, .npz) and draws itself. Everything comes from the one implementation in
:mod:`sublevel.checks.curvature.spectrum`.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np
import torch

from sublevel.checks.curvature.spectrum import (extreme_eigenpairs, hutchinson_trace,
                                                smoothed_density, spectral_density)
from sublevel.theory.errors import InputError


@dataclass(frozen=True)
class HessianSpectrum:
    """Extreme eigenvalues (ascending), residuals and convergence flags at both ends, the trace
    estimate with its standard error, and the density's quadrature nodes and weights.

    ``converged`` means ``residual <= tol * scale`` (``scale`` the largest absolute eigenvalue
    found). Every value, converged or not, lies within its residual of *some* eigenvalue of the
    Hessian (a symmetric matrix); that it is the k-th smallest or largest is what Lanczos finds,
    not proven: an extreme eigenvalue whose eigenvector the start vector barely touches can be
    missed. An unconverged value is reported with its residual, and :meth:`describe` marks it.
    """

    parameters: int
    bottom: list[float]
    bottom_residuals: list[float]
    bottom_converged: list[bool]
    top: list[float]
    top_residuals: list[float]
    top_converged: list[bool]
    scale: float
    tol: float
    trace: float
    trace_error: float
    density_nodes: list[float]
    density_weights: list[float]
    products: int

    @property
    def converged(self) -> bool:
        return all(self.bottom_converged) and all(self.top_converged)

    def describe(self) -> str:
        def values(vals, res, ok):
            if not vals:
                return "not computed"
            return ", ".join(f"{v:.6g} (+-{r:.1e}{'' if c else ', NOT CONVERGED'})" for v, r, c in zip(vals, res, ok))

        trace = (f"{self.trace:.6g} +- {self.trace_error:.2g} (Hutch++ estimate and its standard error)"
                 if np.isfinite(self.trace) else "not computed")
        density = (f"stochastic Lanczos quadrature, {len(self.density_nodes)} nodes (an estimate)"
                   if self.density_nodes else "not computed")
        return (f"Hessian of {self.parameters} parameters ({self.products} Hessian-vector products)\n"
                f"  smallest eigenvalues found: {values(self.bottom, self.bottom_residuals, self.bottom_converged)}\n"
                f"  largest eigenvalues found:  {values(self.top, self.top_residuals, self.top_converged)}\n"
                f"  (each within its +- residual of an eigenvalue of the Hessian; Lanczos finds the ends, "
                f"it does not prove them)\n"
                f"  trace: {trace}\n"
                f"  eigenvalue density: {density}")

    def to_json(self) -> dict:
        return asdict(self)

    def save(self, path: str | os.PathLike) -> None:
        """Write to ``.json`` or ``.npz`` (atomically; read back with :meth:`load`)."""
        from sublevel.constructions.storage import write_json, write_npz

        suffix = os.path.splitext(os.fspath(path))[1].lower()
        if suffix == ".json":
            write_json(path, self.to_json())
        elif suffix == ".npz":
            write_npz(path, metadata={"kind": "hessian-spectrum"},
                      **{key: np.asarray(value) for key, value in self.to_json().items()})
        else:
            raise InputError(f"cannot save a Hessian spectrum as {path}: use .json or .npz")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "HessianSpectrum":
        """Read a file written by :meth:`save` (never unpickles)."""
        import json

        from sublevel.constructions.storage import read_npz

        if os.fspath(path).lower().endswith(".json"):
            with open(path) as handle:
                fields = json.load(handle)
        else:
            arrays, _ = read_npz(path, "Hessian spectrum", tuple(cls.__dataclass_fields__))
            fields = {key: arrays[key].tolist() for key in cls.__dataclass_fields__}
        try:
            return cls(**{key: fields[key] for key in cls.__dataclass_fields__})
        except KeyError as err:
            raise InputError(f"{path} is not a Hessian spectrum file (no {err})") from None

    def plot(self, path: str | os.PathLike, bins: int = 400) -> None:
        """The smoothed density (log scale) with the extreme eigenvalues marked; atomically."""
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        from sublevel.figures.saving import check_figure_path, save_figure

        path = check_figure_path(path)
        nodes, weights = np.asarray(self.density_nodes), np.asarray(self.density_weights)
        ends = self.bottom + self.top
        low, high = min(list(nodes) + ends), max(list(nodes) + ends)
        span = max(high - low, 1e-12)
        grid = np.linspace(low - 0.05 * span, high + 0.05 * span, bins)
        density = smoothed_density(nodes, weights, grid, width=span / 100)
        fig = Figure(figsize=(6, 3.6))
        ax = fig.subplots()
        ax.semilogy(grid, np.maximum(density, 1e-12), color="C0")
        for value, ok in zip(self.bottom + self.top, self.bottom_converged + self.top_converged):
            ax.axvline(value, color="C3" if ok else "0.6", linestyle="-" if ok else ":", linewidth=0.8)
        ax.set_xlabel(r"eigenvalue $\lambda$ of $\nabla^2 L(\theta)$")
        ax.set_ylabel("density")
        ax.set_title(f"Hessian of {self.parameters} parameters: density (SLQ estimate, blue); extreme\n"
                     f"eigenvalues (red: converged, grey dotted: not converged)", fontsize=9)
        fig.tight_layout()
        save_figure(fig, path)


def hessian_spectrum(model: torch.nn.Module, loss_fn, data, k: int = 3, tol: float = 1e-6, products: int = 300,
                     trace_samples: int = 100, density_steps: int = 60, density_vectors: int = 5,
                     seed: int = 0, stream: bool | None = None, ends: str = "both") -> HessianSpectrum:
    """Extreme eigenvalues (k at each end), trace and density of the loss Hessian of ``model``.

    Parameters
    ----------
    model : torch.nn.Module
        Not modified; evaluated in eval mode, its mode restored afterwards.
    loss_fn : callable (outputs, targets) -> scalar, e.g. ``torch.nn.CrossEntropyLoss()``.
    data : (X, Y) tensors or an iterable of (X, Y) batches
        The loss is averaged over all samples.
    k : int
        Eigenvalues at each end.
    tol, products
        Residual tolerance (relative to the largest absolute eigenvalue) and the budget of
        Hessian-vector products per end, as in :func:`~sublevel.checks.curvature.spectrum.extreme_eigenpairs`.
    trace_samples, density_steps, density_vectors, seed
        Hessian-vector products of the Hutch++ trace (0: no trace, reported NaN); Lanczos steps
        and start vectors of the density (0 vectors: no density); the seed of all.
    ends : "both", "top" or "bottom"
        Which ends of the spectrum to compute (an end not computed is an empty list).
    stream : bool, optional
        Keep the data in host memory and move one batch at a time to the model's device, each
        Hessian-vector product summed over the batches (default: on an accelerator when the
        data exceed 1 GiB). The values are the same; each product costs two passes per batch.

    Raises
    ------
    InputError
        On bad data, a model that cannot run on it, ``k`` not below the parameter count, or
        non-positive budgets.
    """
    from sublevel.checks.landscapes.directions import flatten
    from sublevel.checks.landscapes.hessian import HessianEvaluator

    for name, value, least in (("products", products, 1), ("trace_samples", trace_samples, 0),
                               ("density_steps", density_steps, 1), ("density_vectors", density_vectors, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise InputError(f"{name} must be an integer >= {least}, got {value!r}")
    if 0 < trace_samples < 6:
        raise InputError(f"trace_samples must be 0 (no trace) or at least 6 (Hutch++), got {trace_samples}")
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise InputError(f"tol must be in (0, 1), got {tol!r}")
    evaluator = HessianEvaluator(model, loss_fn, data, [], products=products, tol=tol, seed=seed, stream=stream)
    at = flatten(evaluator.origin)
    size = at.numel()
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < size:
        raise InputError(f"k must be an integer in [1, {size - 1}] for {size} parameters, got {k!r}")
    was_training = model.training
    model.eval()
    try:
        matvec = evaluator.hessian_product(at)
        counted = {"products": 0}

        def product(v: torch.Tensor) -> torch.Tensor:
            counted["products"] += 1
            return matvec(v)

        try:
            low, high = extreme_eigenpairs(product, size, k=k, ends=ends, tol=tol, max_products=products, seed=seed,
                                           dtype=at.dtype, device=at.device)
        except RuntimeError as err:
            raise InputError(f"the model's loss has no Hessian-vector product here: {err}") from None
        trace, error = (hutchinson_trace(product, size, samples=trace_samples, seed=seed, dtype=at.dtype,
                                         device=at.device) if trace_samples else (float("nan"), float("nan")))
        nodes, weights = (spectral_density(product, size, steps=density_steps, vectors=density_vectors, seed=seed,
                                           dtype=at.dtype, device=at.device) if density_vectors
                          else (np.zeros(0), np.zeros(0)))
    finally:
        model.train(was_training)

    def listed(pairs, what):
        return getattr(pairs, what).tolist() if pairs is not None else []

    return HessianSpectrum(
        parameters=size,
        bottom=listed(low, "values"), bottom_residuals=listed(low, "residuals"), bottom_converged=listed(low, "converged"),
        top=listed(high, "values"), top_residuals=listed(high, "residuals"), top_converged=listed(high, "converged"),
        scale=float((low if low is not None else high).scale), tol=float(tol), trace=trace, trace_error=error,
        density_nodes=nodes.tolist(), density_weights=weights.tolist(), products=counted["products"])
