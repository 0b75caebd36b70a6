"""Low-loss curves between two trained models of any architecture, with any loss and data.

``connect(model_a, model_b, loss_fn, data)`` joins the two parameter vectors by

* ``"linear"``: theta(t) = (1 - t) theta_A + t theta_B;
* ``"bezier"``: the quadratic Bezier curve (1 - t)^2 theta_A + 2 t (1 - t) theta_C + t^2 theta_B;
* ``"polychain"``: theta_A -> theta_C -> theta_B, two segments;
* ``"autoneb"``: a chain of pivots theta_A = p_0, p_1, ..., p_k = theta_B relaxed as a nudged
  elastic band, with a pivot inserted at the highest sampled point of every segment that rises
  above its ends (Draxler, Veschgini, Salmhofer & Hamprecht, "Essentially no barriers in neural
  network energy landscape", ICML 2018, arXiv:1803.00885); the NEB step is the one the
  certified chains of :class:`~sublevel.checks.paths.autoneb.AutoNEB` use.

The bend theta_C is trained as Garipov, Izmailov, Podoprikhin, Vetrov & Wilson do ("Loss
surfaces, mode connectivity, and fast ensembling of DNNs", NeurIPS 2018, arXiv:1802.10026):
starting at the midpoint, Adam on L(theta(t)) with a fresh t ~ U(0, 1) for every minibatch,
BatchNorm layers in training mode (batch statistics); AutoNEB pivots move the same way, one
minibatch per step. The curve is then evaluated at ``points`` values of t (and at every knot:
the bend of a polygonal chain, the pivots of a chain), with BatchNorm running statistics
recomputed at every t by a pass over the data (Garipov et al.'s procedure), in eval mode.

``align=True`` first permutes model B's hidden units towards model A (weight matching,
:mod:`sublevel.checks.paths.alignment`), so that a barrier of the straight line is not merely
the two models' different order of units.

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
from sublevel.checks.paths.alignment import Alignment
from sublevel.checks.paths.alignment import align as align_models
from sublevel.checks.paths.autoneb import neb_step
from sublevel.theory.errors import InputError

CURVES = ("linear", "bezier", "polychain", "autoneb")


@dataclass(frozen=True)
class ModelPath:
    """Loss (and accuracy) along a curve between two models, sampled at ``t``.

    ``endpoints`` holds each model's own metrics (eval mode, its own BatchNorm statistics);
    ``segments`` one record per piece of the curve between knots (``t`` range, sampled points,
    largest sampled loss, ``certified``: always False for an arbitrary model); ``notes`` says
    what is an estimate and where the curve's ends differ from the models.
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
    segments: list[dict] = field(default_factory=list)
    alignment: str = "not requested"

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
        lines += [f"segment t in [{s['t'][0]:.4g}, {s['t'][1]:.4g}]: largest of {s['points']} sampled losses "
                  f"{s['sampled_maximum']:.6g} (estimate)"
                  for s in self.segments]
        lines.append(f"alignment: {self.alignment}")
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
            points: int = 41, steps: int = 300, lr: float = 0.01, seed: int = 0, align: bool = False,
            cycles: int = 3, tolerance: float = 0.05) -> ModelPath:
    """A curve from ``model_a`` (t = 0) to ``model_b`` (t = 1) and the loss along it.

    Parameters
    ----------
    model_a, model_b : torch.nn.Module
        The same architecture (parameter names and shapes); neither is modified.
    loss_fn : callable (outputs, targets) -> batch-mean loss.
    data : (X, Y) tensors or an iterable of (X, Y) batches
        Trains the bend or the pivots (minibatches in turn) and evaluates the curve (all samples).
    curve : "linear", "bezier", "polychain" or "autoneb"
    points : int
        Values of t evaluated, evenly spaced on [0, 1] (plus every knot of the curve).
    steps, lr : int, float
        Adam steps and learning rate for the bend, or per AutoNEB cycle for the pivots (ignored
        for "linear").
    seed : int
        Seed of the t draws and of the alignment's sweep order.
    align : bool
        Permute model B's units towards model A first (weight matching); the curve then ends at
        the aligned copy, which computes the same function as model B.
    cycles, tolerance : int, float
        AutoNEB only: relax-then-insert cycles, starting from 3 interior pivots; a pivot is
        inserted in a segment whose largest sampled loss exceeds the larger loss at its ends by
        more than ``tolerance`` times max(L_A, L_B) (a scale-free threshold).

    Raises
    ------
    InputError
        On different architectures, an unknown curve, fewer than 2 points, negative steps or
        cycles, a non-positive learning rate or tolerance, or data the models cannot run on.
    """
    if curve not in CURVES:
        raise InputError(f"unknown curve {curve!r} (known: {', '.join(CURVES)})")
    if isinstance(points, bool) or not isinstance(points, int) or points < 2:
        raise InputError(f"points must be an integer >= 2, got {points!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0 or not (isinstance(lr, float) and lr > 0):
        raise InputError(f"need steps >= 0 and lr > 0, got steps={steps!r}, lr={lr!r}")
    if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 0 or not tolerance > 0:
        raise InputError(f"need cycles >= 0 and tolerance > 0, got cycles={cycles!r}, tolerance={tolerance!r}")
    theta_a = parameters_of(model_a)
    difference(theta_a, parameters_of(model_b))  # same names and shapes, finite
    reference = next(iter(theta_a.values()))
    batches = as_batches(data, "data").to(reference.dtype, reference.device)  # streamed when large
    has_bn = has_batchnorm(model_a)
    endpoints = {label: model_metrics(model, loss_fn, batches) for label, model in (("a", model_a), ("b", model_b))}
    alignment = "not requested"
    if align:
        aligned: Alignment = align_models(model_a, model_b, batches[0][0], seed=seed)
        model_b, alignment = aligned.model, aligned.describe()
    theta_b = {name: theta_a[name] + d for name, d in difference(theta_a, parameters_of(model_b)).items()}
    evaluate = _Evaluator(model_a, loss_fn, batches, has_bn)
    if curve == "autoneb":
        scale = max(abs(endpoints["a"]["loss"]), abs(endpoints["b"]["loss"]), 1e-300)
        chain = _autoneb(model_a, loss_fn, batches, theta_a, theta_b, evaluate, steps, cycles, lr,
                         tolerance * scale, seed)
        shape = _Chain(chain)
    else:
        bend = {name: (theta_a[name] + theta_b[name]) / 2 for name in theta_a}
        if curve != "linear" and steps:
            bend = _train_bend(model_a, loss_fn, batches, theta_a, theta_b, bend, curve, steps, lr, seed)
        shape = _Curve(curve, theta_a, bend, theta_b)
    ts = np.union1d(np.linspace(0.0, 1.0, points), shape.knots)
    rows = [evaluate(shape(float(t))) for t in ts]
    losses = [row["loss"] for row in rows]
    segments = [{"t": [float(lo), float(hi)], "points": int(((ts >= lo) & (ts <= hi)).sum()),
                 "sampled_maximum": float(max(loss for t, loss in zip(ts, losses) if lo <= t <= hi)),
                 "certified": False} for lo, hi in zip(shape.knots[:-1], shape.knots[1:])]
    notes = [f"every value is the loss at one of {len(ts)} points of the curve; between them the loss is not "
             f"bounded (an arbitrary model has no certificate here)"]
    if has_bn:
        notes.append("BatchNorm running statistics recomputed at every t by a pass over the data (eval mode after)")
    rtol = 100 * torch.finfo(theta_a[next(iter(theta_a))].dtype).eps  # a few roundings of the model's dtype
    for label, index in (("a", 0), ("b", -1)):
        if not np.isclose(losses[index], endpoints[label]["loss"], rtol=rtol, atol=1e-12):
            how = " with recomputed statistics" if has_bn else ""
            notes.append(f"the curve's loss at t = {ts[index]:g} is {losses[index]:.6g}{how}, model {label.upper()} "
                         f"as trained has "
                         f"{endpoints[label]['loss']:.6g}")
    accuracy = [row["accuracy"] for row in rows] if "accuracy" in rows[0] else None
    return ModelPath(curve, ts.tolist(), losses, accuracy, endpoints, "recompute" if has_bn else "none",
                     0 if curve == "linear" else steps * (max(cycles, 1) if curve == "autoneb" else 1), notes,
                     segments=segments, alignment=alignment)


class _Evaluator:
    """Metrics (eval mode, BatchNorm statistics recomputed when present) at a parameter point."""

    def __init__(self, model, loss_fn, batches, has_bn: bool):
        self.model, self.loss_fn, self.batches, self.has_bn = model, loss_fn, batches, has_bn

    def __call__(self, params: dict) -> dict[str, float]:
        return model_metrics(_model_with(self.model, params, self.batches, self.has_bn), self.loss_fn, self.batches)


class _Curve:
    """A Bezier curve, a polygonal chain with one bend, or the straight line, as t -> theta(t)."""

    def __init__(self, curve: str, a: dict, c: dict, b: dict):
        self.curve, self.a, self.c, self.b = curve, a, c, b
        self.knots = np.array([0.0, 0.5, 1.0]) if curve == "polychain" else np.array([0.0, 1.0])

    def __call__(self, t: float) -> dict:
        return _point(self.curve, t, self.a, self.c, self.b)


class _Chain:
    """The polygon through ``pivots``, parameterised by normalised arc length."""

    def __init__(self, pivots: list[dict]):
        self.pivots = pivots
        lengths = [float(sum((q[n] - p[n]).double().square().sum() for n in p)) ** 0.5
                   for p, q in zip(pivots[:-1], pivots[1:])]
        total = sum(lengths)
        knots = np.cumsum([0.0] + lengths) / total if total > 0 else np.linspace(0, 1, len(pivots))
        knots[-1] = 1.0
        self.knots = knots

    def __call__(self, t: float) -> dict:
        k = min(int(np.searchsorted(self.knots, t, side="right")) - 1, len(self.pivots) - 2)
        width = self.knots[k + 1] - self.knots[k]
        u = 0.0 if width <= 0 else (t - self.knots[k]) / width
        return {n: torch.lerp(self.pivots[k][n], self.pivots[k + 1][n], float(u)) for n in self.pivots[k]}


def _autoneb(model, loss_fn, batches, a: dict, b: dict, evaluate: _Evaluator, steps: int, cycles: int, lr: float,
             threshold: float, seed: int, pivots: int = 3, probes: int = 5, max_pivots: int = 17) -> list[dict]:
    """Draxler et al.'s AutoNEB on a torch model: relax, then insert a pivot at the highest
    sampled point of every segment rising more than ``threshold`` above its ends; repeat."""
    names = list(a)
    chain = [{n: torch.lerp(a[n], b[n], float(s)) for n in names} for s in np.linspace(0, 1, pivots + 2)]
    generator = torch.Generator().manual_seed(seed)
    for cycle in range(cycles):
        if steps:
            chain = _relax(model, loss_fn, batches, chain, steps, lr, generator)
        if cycle == cycles - 1:
            break
        ends = [evaluate(p)["loss"] for p in chain]
        grown = []
        for k, (p, q) in enumerate(zip(chain[:-1], chain[1:])):
            grown.append(p)
            us = np.linspace(0, 1, probes + 2)[1:-1]
            inner = [evaluate({n: torch.lerp(p[n], q[n], float(u)) for n in names})["loss"] for u in us]
            worst = int(np.argmax(inner))
            room = len(grown) + len(chain) - k <= max_pivots
            if inner[worst] > max(ends[k], ends[k + 1]) + threshold and room:
                grown.append({n: torch.lerp(p[n], q[n], float(us[worst])) for n in names})
        chain = grown + [chain[-1]]
    return chain


def _relax(model, loss_fn, batches, chain: list[dict], steps: int, lr: float, generator) -> list[dict]:
    """Adam on the NEB step of every interior pivot, one minibatch per step, train-mode BatchNorm."""
    names = list(chain[0])
    sizes, shapes = [chain[0][n].numel() for n in names], [chain[0][n].shape for n in names]
    flat = torch.stack([torch.cat([p[n].reshape(-1) for n in names]) for p in chain])
    moving = flat[1:-1].clone()
    adam = Adam(moving, lr=lr)
    work = copy.deepcopy(model).train()
    buffers = {name: value.clone() for name, value in work.named_buffers()}
    order = torch.randperm(len(batches), generator=generator).tolist()
    for step in range(steps):
        x, y = batches[order[step % len(order)]]
        grads = []
        for row in moving:
            c = row.clone().requires_grad_(True)
            views = {n: part.view(shape) for n, part, shape in zip(names, torch.split(c, sizes), shapes)}
            (grad,) = torch.autograd.grad(loss_fn(functional_call(work, (views, buffers), (x,)), y), c)
            grads.append(grad)
        full = torch.cat([flat[:1], moving, flat[-1:]])
        adam.step(neb_step(torch.stack(grads), full[:-2], moving, full[2:], spring=1.0))
    full = torch.cat([flat[:1], moving, flat[-1:]])
    return [{n: part.view(shape) for n, part, shape in zip(names, torch.split(row, sizes), shapes)} for row in full]


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
        x, y = batches[step % len(batches)]
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
