"""Loss-landscape figures: contour, filled contour, heat map, 3-D surface, 1-D curves,
interpolation plots, weight histograms and norms, side-by-side comparisons
(the figure types of Li, Xu, Taylor, Studer & Goldstein, NeurIPS 2018, arXiv:1712.09913).

All functions either draw into a given axes or build a ``matplotlib.figure.Figure`` (without
pyplot, so importing or calling them never switches the backend of a notebook) and write it
atomically.
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from sublevel.checks.landscapes.surfaces import Surface
from sublevel.figures.saving import save_figure
from sublevel.theory.errors import InputError

KINDS = ("contour", "filled", "heatmap", "surface3d")


def draw_surface(ax, surface: Surface, kind: str = "contour", metric: str = "loss", levels: int = 25,
                 path: np.ndarray | None = None) -> None:
    """Draw one metric of a 2-D surface on ``ax``; uncomputed points are left blank.

    ``kind``: ``contour`` (lines), ``filled`` (filled contours), ``heatmap`` or ``surface3d``
    (``ax`` must then be a 3-D axes). ``path`` (T, 2) overlays a trajectory (PCA coordinates).
    """
    if kind not in KINDS:
        raise InputError(f"unknown plot kind {kind!r} (known: {', '.join(KINDS)})")
    if len(surface.grid.axes) != 2:
        raise InputError("this plot needs a 2-D surface; use draw_curve for a 1-D one")
    if metric not in surface.values:
        raise InputError(f"the surface has no metric {metric!r} (has: {', '.join(surface.values)})")
    from matplotlib.colors import LogNorm

    a, b = surface.grid.axes
    z = np.where(surface.mask, surface.values[metric], np.nan).T  # rows = b, columns = a
    aa, bb = np.meshgrid(a, b)
    finite = z[np.isfinite(z)]
    # losses span decades between the minimum and the slice's corners: log-spaced levels and a
    # log colour scale keep the basin visible (the paper plots log-scaled surfaces likewise)
    log = bool(finite.size and finite.min() > 0 and finite.max() > finite.min())
    label = f"{metric} (log scale)" if log and kind != "surface3d" else metric
    if kind in ("contour", "filled") and log:
        levels = np.geomspace(finite.min(), finite.max(), levels)
    norm = LogNorm(finite.min(), finite.max()) if log else None
    if kind == "contour":
        lines = ax.contour(aa, bb, z, levels=levels, cmap="viridis", norm=norm, linewidths=0.8)
        labelled = lines.levels[:: max(1, len(lines.levels) // 5)]
        ax.clabel(lines, labelled, fontsize=6, fmt=lambda v: f"{v:.3g}")
        ax.figure.colorbar(lines, ax=ax, label=label, ticks=labelled, format="%.3g")
    elif kind == "filled":
        filled = ax.contourf(aa, bb, z, levels=levels, cmap="viridis", norm=norm)
        ax.figure.colorbar(filled, ax=ax, label=label, ticks=filled.levels[:: max(1, len(filled.levels) // 6)],
                           format="%.3g")
    elif kind == "heatmap":
        half_a = (a[-1] - a[0]) / max(1, a.size - 1) / 2  # cells centred on the grid points
        half_b = (b[-1] - b[0]) / max(1, b.size - 1) / 2
        image = ax.imshow(z, origin="lower", aspect="auto", cmap="viridis", norm=norm,
                          extent=(a[0] - half_a, a[-1] + half_a, b[0] - half_b, b[-1] + half_b))
        ax.figure.colorbar(image, ax=ax, label=label)
    else:
        # clipped at the 90th percentile, as the paper clips its 3-D plots: the corners' large
        # values would otherwise flatten the basin into the floor
        top = float(np.quantile(finite, 0.9)) if finite.size else 1.0
        ax.plot_surface(aa, bb, np.minimum(z, top), cmap="viridis", linewidth=0, antialiased=True)
        ax.set_zlabel(f"{metric} (clipped at {top:.3g})")
    if path is not None and kind != "surface3d":
        ax.plot(path[:, 0], path[:, 1], "r.-", markersize=4, linewidth=1)
    ax.set_xlabel(r"$\alpha$ (direction $\delta$)")
    ax.set_ylabel(r"$\beta$ (direction $\eta$)")


def draw_curve(ax, surface: Surface, metrics: Sequence[str] = ("loss",)) -> None:
    """Plot metrics of a 1-D surface against its coefficient."""
    (a,) = surface.grid.axes
    for metric in metrics:
        ax.plot(a[surface.mask], surface.values[metric][surface.mask], label=metric)
    ax.set_xlabel(r"$\alpha$ (direction $\delta$)")
    ax.legend(loc="best", frameon=False)


def save_png(fig, out: str | os.PathLike) -> None:
    """Write ``fig`` as PNG atomically (whatever the suffix) and close it."""
    save_figure(fig, out, format="png", dpi=110, bbox_inches="tight")


def plot_surface(surface: Surface, out: str | os.PathLike, kind: str = "contour", metric: str = "loss",
                 title: str | None = None) -> None:
    """One surface to one PNG (a curve for 1-D surfaces)."""
    if kind == "surface3d" and len(surface.grid.axes) == 2:
        fig = Figure(figsize=(5, 4))
        ax = fig.add_subplot(projection="3d")
    else:
        fig = Figure(figsize=(5, 4))
        ax = fig.subplots()
    if len(surface.grid.axes) == 1:
        draw_curve(ax, surface, (metric,))
    else:
        draw_surface(ax, surface, kind, metric)
    ax.set_title(title or surface.metadata.get("title", metric))
    save_png(fig, out)


def plot_grid(surfaces: Mapping[str, Surface], out: str | os.PathLike, kind: str = "contour",
              metric: str = "loss", columns: int = 3, paths: Mapping[str, np.ndarray] | None = None) -> None:
    """Several 2-D surfaces side by side, titled by their keys (e.g. skip vs no-skip by depth)."""
    columns = max(1, min(columns, len(surfaces)))
    rows = -(-len(surfaces) // columns)
    projection = {"projection": "3d"} if kind == "surface3d" else {}
    fig = Figure(figsize=(4.2 * columns, 3.6 * rows))
    for k, (title, surface) in enumerate(surfaces.items()):
        ax = fig.add_subplot(rows, columns, k + 1, **projection)
        draw_surface(ax, surface, kind, metric, path=(paths or {}).get(title))
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    save_png(fig, out)


def plot_interpolation(alphas: np.ndarray, curves: Mapping[str, np.ndarray], out: str | os.PathLike,
                       title: str = "") -> None:
    """Loss (left axis, solid) and accuracy (right axis, dashed) along an interpolation."""
    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    right = ax.twinx()
    for key, values in curves.items():
        target, style = (right, "--") if key.endswith("accuracy") else (ax, "-")
        target.plot(alphas, values, style, label=key)
    ax.set_xlabel("alpha (0: small batch, 1: large batch)")
    ax.set_ylabel("loss")
    right.set_ylabel("accuracy")
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], fontsize=7, loc="upper center")
    ax.set_title(title, fontsize=10)
    save_png(fig, out)


def plot_weights(histograms: Mapping[str, np.ndarray], norms: Mapping[str, Sequence[float]],
                 out: str | os.PathLike) -> None:
    """Weight histograms of final models (left) and weight norm over epochs (right)."""
    fig = Figure(figsize=(9, 3.6))
    left, right = fig.subplots(1, 2)
    for label, weights in histograms.items():
        left.hist(weights, bins=80, histtype="step", density=True, label=label)
    left.set_xlabel("weight value")
    left.legend(fontsize=7)
    for label, series in norms.items():
        right.plot(np.arange(len(series)), series, label=label)
    right.set_xlabel("epoch")
    right.set_ylabel("||theta||_2")
    right.legend(fontsize=7)
    fig.tight_layout()
    save_png(fig, out)


def draw_suite(suite, out_dir: str | os.PathLike) -> list[str]:
    """The figures of a :class:`~sublevel.checks.experiments.landscapes.LandscapeSuite` into
    ``out_dir``: ResNet slices by depth, skip vs no skip at the largest depth, the wide
    variant, Hessian-ratio maps, a 3-D surface, VGG interpolations, weights and the PCA plane
    (Li et al. 2018, Figs. 2, 3, 5, 6, 7, 9). Returns the files written."""
    from pathlib import Path

    out = Path(out_dir)
    written = []

    def grid(surfaces, name, **options):
        plot_grid(surfaces, out / name, **options)
        written.append(str(out / name))

    narrow = {k: v for k, v in suite.surfaces.items() if f" w{suite.width} " in k}
    grid(narrow, "landscape_resnet_depths.png", kind="contour", columns=2)
    pair = {k: v for k, v in narrow.items() if k.startswith(f"ResNet-{suite.deepest} ")}
    grid(pair, "landscape_skip_vs_noskip.png", kind="contour", columns=2)
    grid({k: v for k, v in suite.surfaces.items() if f" w{suite.wide_width} " in k}, "landscape_resnet_wide.png",
         kind="contour", columns=2)
    grid({k: v for k, v in suite.hessians.items() if k in pair}, "landscape_hessian_ratio.png", kind="heatmap",
         metric="ratio", columns=2)
    plot_surface(next(iter(pair.values())), out / "landscape_surface3d.png", kind="surface3d")
    written.append(str(out / "landscape_surface3d.png"))
    for wd, (alphas, curves, title) in suite.interpolations.items():
        plot_interpolation(alphas, curves, out / f"landscape_vgg_interpolation_wd{wd}.png", title=title)
        written.append(str(out / f"landscape_vgg_interpolation_wd{wd}.png"))
    if suite.histograms:
        plot_weights(suite.histograms, suite.norms, out / "landscape_vgg_weights.png")
        written.append(str(out / "landscape_vgg_weights.png"))
    if suite.pca is not None:
        label, surface, coordinates = suite.pca
        grid({label: surface}, "landscape_vgg_pca.png", kind="contour", columns=1, paths={label: coordinates})
    return written
