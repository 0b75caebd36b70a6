"""The experiments of Li, Xu, Taylor, Studer & Goldstein (NeurIPS 2018, arXiv:1712.09913) at a
scale that runs on two CPU cores, on MNIST-1D (generated offline) instead of CIFAR-10.

- ResNet-(6n+2) with and without shortcuts at several depths (paper Fig. 5), and a wide
  variant (Fig. 6): 2-D filter-normalised slices around the trained weights, their sublevel
  components estimated on the grid (:mod:`sublevel.checks.landscapes.quantify`) and |lambda_min /
  lambda_max| Hessian maps (Fig. 7), summarised in one table.
- A VGG-9-like net trained with a small and a large batch, with and without weight decay:
  1-D interpolation between the small- and large-batch solutions (loss and accuracy, train
  and test, BatchNorm statistics recomputed; Fig. 2 / 3), weight histograms and weight-norm
  growth (Fig. 2), and the PCA plane of the small-batch trajectory (Fig. 9).

Trained weights are cached as .npz in a cache folder and every surface is a resumable file
there, so an interrupted run continues where it stopped. :func:`run_all` computes and writes the
results JSON; it returns a :class:`LandscapeSuite` that
:func:`sublevel.figures.landscape_plots.draw_suite` turns into the figures (this module draws
nothing).
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tqdm import tqdm

from sublevel.checks.landscapes.directions import parameters_of, random_direction
from sublevel.checks.landscapes.evaluation import SliceEvaluator
from sublevel.checks.landscapes.hessian import HessianEvaluator
from sublevel.checks.landscapes.interpolation import interpolate
from sublevel.checks.landscapes.models import VGG, ResNet
from sublevel.checks.landscapes.quantify import ratio_statistics, slice_components
from sublevel.checks.landscapes.surfaces import Grid, Surface, compute_surface
from sublevel.checks.landscapes.trajectories import pca_directions
from sublevel.constructions.image_data import ImageData, mnist1d
from sublevel.constructions.storage import read_npz, write_json, write_npz


@dataclass(frozen=True)
class Scale:
    """Sizes of one run of the suite (see :data:`SCALES`)."""

    samples: int           # MNIST-1D signals generated (80% train)
    depths: tuple[int, ...]
    width: int             # ResNet base width (channels w, 2w, 4w)
    wide_width: int        # the wide variant, at the middle depth
    epochs: int
    grid: int              # points per axis of the 2-D loss slices
    eval_samples: int      # training samples the slices and Hessians are evaluated on
    hessian_grid: int
    hessian_products: int  # Hessian-vector products per end per point (budget)
    vgg_width: int
    batch_small: int
    batch_large: int
    vgg_epochs: int


SCALES = {
    "quick": Scale(400, (8, 14), 2, 4, 3, 7, 64, 2, 100, 2, 16, 160, 3),
    "default": Scale(1500, (8, 20, 56), 4, 16, 6, 21, 128, 3, 300, 4, 32, 256, 15),
    "full": Scale(10000, (8, 20, 56, 110), 8, 32, 40, 51, 1000, 11, 1000, 8, 64, 4096, 60),
}


@dataclass(frozen=True)
class Trained:
    model: torch.nn.Module
    norms: list[float]            # ||theta||_2 after each epoch (epoch 0 = initialisation)
    trajectory: list[dict]        # parameters after each epoch
    test_error: float
    train_loss: float


def train(model: torch.nn.Module, data: ImageData, epochs: int, batch_size: int, lr: float = 0.05,
          weight_decay: float = 0.0, seed: int = 0) -> Trained:
    """SGD with momentum 0.9 and a cosine learning-rate decay; records norms and the trajectory."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    steps_per_epoch = -(-data.x_train.shape[0] // batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * steps_per_epoch)
    loss_fn = torch.nn.CrossEntropyLoss()
    norms = [float(torch.cat([p.detach().reshape(-1) for p in model.parameters()]).norm())]
    trajectory = [parameters_of(model)]
    for _ in range(epochs):
        model.train()
        order = torch.randperm(data.x_train.shape[0], generator=generator)
        for start in range(0, order.numel(), batch_size):
            index = order[start:start + batch_size]
            if index.numel() < 2:  # BatchNorm needs two samples
                continue
            optimizer.zero_grad()
            loss_fn(model(data.x_train[index]), data.y_train[index]).backward()
            optimizer.step()
            schedule.step()
        trajectory.append(parameters_of(model))
        norms.append(float(torch.cat([p.detach().reshape(-1) for p in model.parameters()]).norm()))
    model.eval()
    with torch.no_grad():
        test_error = float((model(data.x_test).argmax(1) != data.y_test).float().mean())
        train_loss = float(loss_fn(model(data.x_train), data.y_train))
    return Trained(model, norms, trajectory, test_error, train_loss)


def _cached_training(path: Path, factory, data: ImageData, keep_trajectory: bool = False, **options) -> Trained:
    """Train, or reload weights, buffers, norms (and the trajectory if kept) from ``path``."""
    model = factory()
    if path.exists():
        archive, meta = read_npz(path, "cached training run", ("steps",))
        state = {k[len("state/"):]: torch.as_tensor(archive[k]) for k in archive if k.startswith("state/")}
        model.load_state_dict(state)
        names = [name for name, _ in model.named_parameters()]
        steps = int(archive["steps"])
        trajectory = [{n: torch.as_tensor(archive[f"traj{t}/{n}"]) for n in names} for t in range(steps)]
        model.eval()
        return Trained(model, meta["norms"], trajectory, meta["test_error"], meta["train_loss"])
    result = train(model, data, **options)
    arrays = {f"state/{k}": v.detach().numpy() for k, v in model.state_dict().items()}
    kept = result.trajectory if keep_trajectory else []
    for t, point in enumerate(kept):
        arrays.update({f"traj{t}/{n}": v.numpy() for n, v in point.items()})
    meta = {"norms": result.norms, "test_error": result.test_error, "train_loss": result.train_loss,
            "options": {k: v for k, v in options.items()}}
    write_npz(path, meta, steps=len(kept), **arrays)
    return replace(result, trajectory=kept)


def _slice(model, data: ImageData, scale: Scale, stem: Path, title: str) -> tuple[Surface, Surface]:
    """The 2-D filter-normalised loss slice and the Hessian-ratio map around ``model``."""
    theta = parameters_of(model)
    directions = [random_direction(theta, seed=1), random_direction(theta, seed=2)]
    x, y = data.x_train[:scale.eval_samples], data.y_train[:scale.eval_samples]
    loss_fn = torch.nn.CrossEntropyLoss()
    meta = {"title": title, "directions": "filter-normalised, seeds 1 and 2", "data": f"mnist1d train[:{len(y)}]"}
    surface = compute_surface(SliceEvaluator(model, loss_fn, (x, y), directions),
                              Grid.regular(2, -1, 1, scale.grid),
                              path=f"{stem}_g{scale.grid}_s{scale.eval_samples}_loss.npz", metadata=meta)
    hessian = compute_surface(HessianEvaluator(model, loss_fn, (x, y), directions, products=scale.hessian_products),
                              Grid.regular(2, -1, 1, scale.hessian_grid),
                              path=f"{stem}_h{scale.hessian_grid}_p{scale.hessian_products}_s{scale.eval_samples}_hessian.npz",
                              metadata=dict(meta, products=scale.hessian_products), chunk_points=1)
    return surface, hessian


@dataclass
class LandscapeSuite:
    """What the suite computed, for drawing: ResNet slices and Hessian-ratio maps by title, the
    widths and depth that select the panels, and the VGG pieces (interpolation curves by weight
    decay, weight histograms and norms by run, the PCA-plane slice with the trajectory)."""

    results: dict[str, Any]
    surfaces: dict[str, Surface] = field(default_factory=dict)
    hessians: dict[str, Surface] = field(default_factory=dict)
    width: int = 0
    wide_width: int = 0
    deepest: int = 0
    interpolations: dict[str, tuple[np.ndarray, dict[str, np.ndarray], str]] = field(default_factory=dict)
    histograms: dict[str, np.ndarray] = field(default_factory=dict)
    norms: dict[str, list[float]] = field(default_factory=dict)
    pca: tuple[str, Surface, np.ndarray] | None = None


def run_all(scale: Scale, out_dir: str | os.PathLike = "figures",
            cache_dir: str | os.PathLike | None = None, progress: bool = False) -> LandscapeSuite:
    """Run the suite; write ``landscape_results.json`` into ``out_dir`` (a tqdm bar of the
    training runs on stderr with ``progress``).

    Trained weights and surfaces go to ``cache_dir`` (default ``<out_dir>/landscape_runs``).
    """
    out = Path(out_dir)
    runs = Path(cache_dir) if cache_dir is not None else out / "landscape_runs"
    runs.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    data = mnist1d(scale.samples, seed=0)
    table, surfaces, hessians = [], {}, {}
    configs = [(d, scale.width, skip) for d in scale.depths for skip in (True, False)]
    middle = scale.depths[len(scale.depths) // 2]
    configs += [(middle, scale.wide_width, skip) for skip in (True, False)]
    runs_bar = tqdm(total=len(configs) + 4, desc="landscape runs", unit="run", disable=not progress)
    for depth, width, skip in configs:
        name = f"resnet{depth}_w{width}_{'skip' if skip else 'noskip'}_n{scale.samples}_e{scale.epochs}"
        torch.manual_seed(depth * 100 + width)
        trained = _cached_training(runs / f"{name}.npz",
                                   lambda: ResNet(depth, width, skip, in_channels=1, num_classes=10, dims=1),
                                   data, epochs=scale.epochs, batch_size=scale.batch_small, seed=0)
        title = f"ResNet-{depth} w{width} {'skip' if skip else 'no skip'}"
        surface, hessian = _slice(trained.model, data, scale, runs / name, title)
        surfaces[title], hessians[title] = surface, hessian
        components = slice_components(surface)
        table.append({"model": title, "depth": depth, "width": width, "skip": skip,
                      "test_error": trained.test_error, "train_loss": trained.train_loss,
                      "slice_min_loss": float(surface.values["loss"].min()),
                      "component_quantiles": components["quantiles"],
                      "components_estimated_on_grid": components["components"],
                      "hessian_ratio": ratio_statistics(hessian)})
        runs_bar.update(1)
    suite = LandscapeSuite({}, surfaces, hessians, scale.width, scale.wide_width, max(scale.depths))
    vgg = _vgg_experiments(scale, data, runs, suite, runs_bar)
    runs_bar.close()
    results = {"scale": asdict(scale), "table": table, "vgg": vgg,
               "note": "components are estimated on the grid (4-neighbour labelling of grid points "
                       "below each quantile level of the slice); neither bound is certified"}
    write_json(out / "landscape_results.json", results)
    suite.results = results
    return suite


def _vgg_experiments(scale: Scale, data: ImageData, runs: Path, suite: LandscapeSuite, bar) -> dict[str, Any]:
    """Small vs large batch, weight decay 0 vs 5e-4: interpolation, weights, PCA trajectory
    (the drawable pieces go into ``suite``)."""
    summary, histograms, norms, trained_models = {}, {}, {}, {}
    for wd in (0.0, 5e-4):
        for batch in (scale.batch_small, scale.batch_large):
            name = f"vgg_w{scale.vgg_width}_b{batch}_wd{wd:g}_n{scale.samples}_e{scale.vgg_epochs}"
            torch.manual_seed(7)
            trained = _cached_training(runs / f"{name}.npz",
                                       lambda: VGG(scale.vgg_width, in_channels=1, num_classes=10, dims=1),
                                       data, keep_trajectory=(wd == 0.0 and batch == scale.batch_small),
                                       epochs=scale.vgg_epochs, batch_size=batch, weight_decay=wd, seed=0)
            label = f"batch {batch}, wd {wd:g}"
            trained_models[(wd, batch)] = trained
            summary[label] = {"test_error": trained.test_error, "train_loss": trained.train_loss,
                              "final_weight_norm": trained.norms[-1]}
            histograms[label] = torch.cat([p.detach().reshape(-1) for n, p in trained.model.named_parameters()
                                           if p.dim() > 1]).numpy()
            norms[label] = trained.norms
            bar.update(1)
        small, large = trained_models[(wd, scale.batch_small)], trained_models[(wd, scale.batch_large)]
        curve = interpolate(small.model, large.model, torch.nn.CrossEntropyLoss(),
                            {"train": (data.x_train[:scale.eval_samples * 4], data.y_train[:scale.eval_samples * 4]),
                             "test": (data.x_test, data.y_test)},
                            alphas=np.linspace(-0.5, 1.5, 2 * scale.grid - 1),
                            batchnorm="recompute", statistics_data=(data.x_train, data.y_train))
        suite.interpolations[f"{wd:g}"] = (curve.alphas, curve.curves, f"VGG-9 w{scale.vgg_width}: batch "
                                            f"{scale.batch_small} (0) to {scale.batch_large} (1), wd {wd:g}")
        summary[f"interpolation wd {wd:g}"] = {k: [float(v.min()), float(v.max())] for k, v in curve.curves.items()}
        summary[f"interpolation wd {wd:g} endpoints as trained"] = curve.endpoints
        if curve.notes:
            summary[f"interpolation wd {wd:g} notes"] = list(curve.notes)
    suite.histograms, suite.norms = histograms, norms
    small = trained_models[(0.0, scale.batch_small)]
    pca = pca_directions(small.trajectory)
    x, y = data.x_train[:scale.eval_samples], data.y_train[:scale.eval_samples]
    reach = float(np.abs(pca.coordinates).max()) * 1.2
    surface = compute_surface(SliceEvaluator(small.model, torch.nn.CrossEntropyLoss(), (x, y), list(pca.directions)),
                              Grid.regular(2, -reach, reach, scale.grid),
                              path=runs / f"vgg_w{scale.vgg_width}_n{scale.samples}_e{scale.vgg_epochs}_g{scale.grid}_pca_loss.npz",
                              metadata={"title": "VGG-9 PCA plane"})
    suite.pca = (f"PCA plane, explained {pca.explained_variance_ratio.sum():.0%}", surface, pca.coordinates)
    summary["pca_explained_variance_ratio"] = pca.explained_variance_ratio.tolist()
    return summary
