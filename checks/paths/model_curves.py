"""Low-loss curves between two trained models of any architecture, with any loss and data.

``connect(model_a, model_b, loss_fn, data)`` joins the two parameter vectors by

* ``"linear"``: theta(t) = (1 - t) theta_A + t theta_B;
* ``"bezier"``: the quadratic Bezier curve (1 - t)^2 theta_A + 2 t (1 - t) theta_C + t^2 theta_B;
* ``"polychain"``: theta_A -> theta_C -> theta_B, two segments;

where the bend theta_C is trained as Garipov, Izmailov, Podoprikhin, Vetrov & Wilson do ("Loss
surfaces, mode connectivity, and fast ensembling of DNNs", NeurIPS 2018, arXiv:1802.10026):
starting at the midpoint, Adam on L(theta(t)) with a fresh t ~ U(0, 1) for every minibatch,
BatchNorm layers in training mode (batch statistics). The curve is then evaluated at ``points``
values of t, with BatchNorm running statistics recomputed at every t by a pass over the data
(Garipov et al.'s procedure), in eval mode.

What is proven and what is not: for an arbitrary model nothing bounds the loss between the
evaluated points, so every value here is an *estimate* (``certified`` is False, and the output
says so per segment). Certified paths exist for the package's own fully connected nets: the
finders of :mod:`sublevel.checks.paths` on a :class:`~sublevel.theory.problems.Problem`.
"""
from __future__ import annotations

import copy
import os
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch.func import functional_call

from sublevel.checks.landscapes.directions import difference, parameters_of
from sublevel.checks.landscapes.evaluation import LossFn, as_batches
from sublevel.checks.landscapes.interpolation import has_batchnorm, model_metrics, recompute_batchnorm
from sublevel.checks.paths.adam import Adam
from sublevel.theory.errors import InputError

CURVES = ("linear", "bezier", "polychain")


@dataclass(frozen=True)
class ModelPath:
    """Loss (and accuracy) along a curve between two models, sampled at ``t``.

    ``endpoints`` holds each model's own metrics (eval mode, its own BatchNorm statistics);
    ``notes`` says what is an estimate and where the curve's ends differ from the models.
    """

    curve: str
    t: list[float]
    loss: list[float]
    accuracy: list[float] | None
    endpoints: dict[str, dict[str, float]]
    batchnorm: str
    training_steps: int
    notes: list[str] = field(default_factory=list)
    certified: bool = False

    @property
    def maximum(self) -> float:
        """The largest sampled loss (an estimate of the curve's maximum, from below)."""
        return float(max(self.loss))

    @property
    def barrier(self) -> float:
        """Sampled maximum minus the larger of the two models' own losses (an estimate)."""
        return self.maximum - max(self.endpoints["a"]["loss"], self.endpoints["b"]["loss"])

    def describe(self) -> str:
        lines = [f"{self.curve} curve, {len(self.t)} points (BatchNorm: {self.batchnorm}): largest sampled loss "
                 f"{self.maximum:.6g}, barrier {self.barrier:.6g} above the worse model (estimates, not certified)"]
        return "\n".join(lines + [f"note: {note}" for note in self.notes])

    def to_json(self) -> dict:
        return asdict(self)

    def save(self, path: str | os.PathLike) -> None:
        from sublevel.constructions.storage import write_json

        if not os.fspath(path).lower().endswith(".json"):
            raise InputError(f"cannot save a path as {path}: use .json")
        write_json(path, self.to_json())

    def plot(self, path: str | os.PathLike) -> None:
        """Loss (and accuracy) along t, the two models' own losses dashed; atomically."""
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        from sublevel.figures.saving import check_figure_path, save_figure

        path = check_figure_path(path)
        fig = Figure(figsize=(5.5, 3.5))
        ax = fig.subplots()
        ax.plot(self.t, self.loss, "o-", color="C0", markersize=3, label="loss (sampled)")
        for label, style in (("a", "--"), ("b", ":")):
            ax.axhline(self.endpoints[label]["loss"], color="0.4", linestyle=style, linewidth=0.8,
                       label=f"model {label.upper()} as trained")
        ax.set_xlabel("t (curve parameter)")
        ax.set_ylabel("loss")
        if self.accuracy is not None:
            twin = ax.twinx()
            twin.plot(self.t, self.accuracy, color="C1", linewidth=1, label="accuracy")
            twin.set_ylabel("accuracy", color="C1")
        ax.set_title(f"{self.curve} curve: sampled at {len(self.t)} points (not certified)", fontsize=9)
        ax.legend(fontsize=7, loc="upper left", frameon=False)
        fig.tight_layout()
        save_figure(fig, path)


def connect(model_a: torch.nn.Module, model_b: torch.nn.Module, loss_fn: LossFn, data, curve: str = "bezier",
            points: int = 41, steps: int = 300, lr: float = 0.01, seed: int = 0) -> ModelPath:
    """A curve from ``model_a`` (t = 0) to ``model_b`` (t = 1) and the loss along it.

    Parameters
    ----------
    model_a, model_b : torch.nn.Module
        The same architecture (parameter names and shapes); neither is modified.
    loss_fn : callable (outputs, targets) -> batch-mean loss.
    data : (X, Y) tensors or an iterable of (X, Y) batches
        Trains the bend (minibatches in turn) and evaluates the curve (all samples).
    curve : "linear", "bezier" or "polychain"
    points : int
        Values of t evaluated, evenly spaced on [0, 1].
    steps, lr : int, float
        Adam steps and learning rate for the bend (ignored for "linear").
    seed : int
        Seed of the t draws.

    Raises
    ------
    InputError
        On different architectures, an unknown curve, fewer than 2 points, negative steps, a
        non-positive learning rate, or data the models cannot run on.
    """
    if curve not in CURVES:
        raise InputError(f"unknown curve {curve!r} (known: {', '.join(CURVES)})")
    if isinstance(points, bool) or not isinstance(points, int) or points < 2:
        raise InputError(f"points must be an integer >= 2, got {points!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0 or not (isinstance(lr, float) and lr > 0):
        raise InputError(f"need steps >= 0 and lr > 0, got steps={steps!r}, lr={lr!r}")
    theta_a = parameters_of(model_a)
    theta_b = {name: theta_a[name] + d for name, d in difference(theta_a, parameters_of(model_b)).items()}
    batches = as_batches(data, "data")
    has_bn = has_batchnorm(model_a)
    endpoints = {label: model_metrics(model, loss_fn, batches) for label, model in (("a", model_a), ("b", model_b))}
    bend = {name: (theta_a[name] + theta_b[name]) / 2 for name in theta_a}
    if curve != "linear" and steps:
        bend = _train_bend(model_a, loss_fn, batches, theta_a, theta_b, bend, curve, steps, lr, seed)
    ts = np.linspace(0.0, 1.0, points)
    rows = [model_metrics(_model_with(model_a, _point(curve, float(t), theta_a, bend, theta_b), batches, has_bn),
                          loss_fn, batches) for t in ts]
    notes = [f"every value is the loss at one of {points} points of the curve; between them the loss is not "
             f"bounded (an arbitrary model has no certificate here)"]
    if has_bn:
        notes.append("BatchNorm running statistics recomputed at every t by a pass over the data (eval mode after)")
        for label, t_end, row in (("a", 0.0, rows[0]), ("b", 1.0, rows[-1])):
            if not np.isclose(row["loss"], endpoints[label]["loss"], rtol=1e-6, atol=1e-12):
                notes.append(f"the curve's loss at t = {t_end:g} is {row['loss']:.6g} with recomputed statistics, "
                             f"model {label.upper()} as trained has {endpoints[label]['loss']:.6g}")
    accuracy = [row["accuracy"] for row in rows] if "accuracy" in rows[0] else None
    return ModelPath(curve, ts.tolist(), [row["loss"] for row in rows], accuracy, endpoints,
                     "recompute" if has_bn else "none", steps if curve != "linear" else 0, notes)


def _point(curve: str, t: float, a: dict, c: dict, b: dict) -> dict:
    """theta(t) on the curve (differentiable in the bend ``c``)."""
    if curve == "linear":
        return {name: torch.lerp(a[name], b[name], t) for name in a}
    if curve == "bezier":
        return {name: (1 - t) ** 2 * a[name] + 2 * t * (1 - t) * c[name] + t ** 2 * b[name] for name in a}
    if t <= 0.5:  # polychain
        return {name: a[name] + 2 * t * (c[name] - a[name]) for name in a}
    return {name: c[name] + (2 * t - 1) * (b[name] - c[name]) for name in a}


def _train_bend(model, loss_fn, batches, a, b, bend, curve, steps, lr, seed) -> dict:
    """Adam on the bend, one minibatch and one t ~ U(0, 1) per step, train-mode BatchNorm."""
    names = list(bend)
    flat = torch.cat([bend[name].reshape(-1) for name in names]).detach().clone()
    sizes, shapes = [bend[name].numel() for name in names], [bend[name].shape for name in names]
    adam = Adam(flat, lr=lr)
    work = copy.deepcopy(model).train()
    buffers = {name: value.clone() for name, value in work.named_buffers()}
    generator = torch.Generator().manual_seed(seed)
    for step in range(steps):
        x, y = batches.batches[step % len(batches.batches)]
        t = float(torch.rand((), generator=generator, dtype=torch.float64))
        c = flat.clone().requires_grad_(True)
        views = {name: part.view(shape) for name, part, shape in zip(names, torch.split(c, sizes), shapes)}
        loss = loss_fn(functional_call(work, (_point(curve, t, a, views, b), buffers), (x,)), y)
        (grad,) = torch.autograd.grad(loss, c)
        adam.step(grad)
    return {name: part.view(shape) for name, part, shape in zip(names, torch.split(flat, sizes), shapes)}


def _model_with(model: torch.nn.Module, params: dict, batches, has_bn: bool) -> torch.nn.Module:
    """A copy of ``model`` holding ``params``, with BatchNorm statistics recomputed on the data."""
    copy_ = copy.deepcopy(model)
    with torch.no_grad():
        for name, p in copy_.named_parameters():
            p.copy_(params[name])
    if has_bn:
        recompute_batchnorm(copy_, batches)
    return copy_.eval()
