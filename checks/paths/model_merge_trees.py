"""Merge trees over many trained torch models: which minima a low-loss curve joins, and at what loss.

``merge_models(models, loss_fn, data)`` is the question "are these minima connected, and at
what loss?" asked of M models at once (Garipov et al., NeurIPS 2018, arXiv:1802.10026;
Draxler et al., ICML 2018, arXiv:1803.00885):

1. every model is aligned to the first by weight matching
   (:mod:`sublevel.checks.paths.alignment`), so the barriers below are not permutation
   barriers; the straight-line maximum between the *unaligned* models is kept beside them, so
   the part of each barrier that was only a permutation is reported apart;
2. every pair (i, j) is joined by :func:`~sublevel.checks.paths.model_curves.connect` (AutoNEB by
   default) and weighed by the largest sampled loss on the curve, at least max(L_i, L_j);
3. the single-linkage tree (Kruskal on those weights,
   :func:`~sublevel.checks.counting.kruskal.spanning_forest`, the merge tree of the package's
   certified minima too) gives the level at which any two minima first lie in one connected
   set of the curves found, and the 0-dimensional persistence pairs.

What is proven: nothing. A merge level here is the largest *sampled* loss on curves that were
found: the true maximum along those curves may be higher between samples, and better curves
may exist (a merge level is an estimate, neither bound). Certified merge trees exist for the
package's own fully connected nets (:func:`sublevel.checks.counting.merge_trees.merge_tree`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import torch

from sublevel.checks.counting.kruskal import spanning_forest
from sublevel.checks.counting.merge_trees import merge_levels, persistence
from sublevel.checks.landscapes.evaluation import LossFn, as_batches
from sublevel.checks.landscapes.interpolation import model_metrics
from sublevel.checks.paths.alignment import align
from sublevel.checks.paths.model_curves import CURVES, connect
from sublevel.theory.errors import InputError


@dataclass(frozen=True)
class ModelMergeTree:
    """Single-linkage tree of M models over the curves found between every pair.

    Attributes
    ----------
    losses : list of float
        Each model's own loss (eval mode, its own BatchNorm statistics).
    barriers : (M, M) list of lists
        Largest sampled loss on the curve found between i and j (aligned models); diagonal:
        the losses.
    raw_linear : (M, M) list of lists
        Largest sampled loss on the straight line between the models as given (not aligned).
    merges : list of (weight, i, j)
        The tree's edges in increasing weight.
    alignment : list of str
        How each model was aligned to model 0.
    curve : str
        The curve family of :func:`~sublevel.checks.paths.model_curves.connect` used.
    """

    losses: list[float]
    barriers: list[list[float]]
    raw_linear: list[list[float]]
    merges: list[tuple[float, int, int]]
    alignment: list[str]
    curve: str
    notes: list[str] = field(default_factory=list)
    certified: bool = False

    def merge_levels(self) -> np.ndarray:
        """(M, M): the level at which models i and j first lie in one set of joined curves (estimates)."""
        return merge_levels(np.asarray(self.losses), self.merges)

    def persistence(self) -> list[tuple[float, float, int]]:
        """(birth, death, model) pairs, elder rule, from the estimated merge levels."""
        return persistence(list(self.losses), self.merges)

    def describe(self) -> str:
        lines = [f"{len(self.losses)} models, {self.curve} curves between every pair; merge levels are the largest "
                 f"sampled losses on the curves found (estimates, not certified)"]
        lines += [f"model {i}: loss {loss:.6g}; {how}" for i, (loss, how) in enumerate(zip(self.losses, self.alignment))]
        for weight, i, j in self.merges:
            lines.append(f"models {i} and {j} join at {weight:.6g} (straight line between the unaligned models: "
                         f"{self.raw_linear[i][j]:.6g})")
        return "\n".join(lines + [f"note: {note}" for note in self.notes])

    def to_json(self) -> dict:
        return {"losses": self.losses, "barriers": self.barriers, "raw_linear": self.raw_linear,
                "merges": [list(m) for m in self.merges], "alignment": self.alignment, "curve": self.curve,
                "persistence": [[b, d, n] for b, d, n in self.persistence()], "notes": self.notes,
                "certified": self.certified}

    def save(self, path: str | os.PathLike) -> None:
        from sublevel.constructions.storage import write_json

        if not os.fspath(path).lower().endswith(".json"):
            raise InputError(f"cannot save a merge tree as {path}: use .json")
        write_json(path, self.to_json())

    def plot(self, path: str | os.PathLike) -> None:
        """A dendrogram on the loss axis (leaves at the models' own losses); atomically."""
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        from sublevel.figures.saving import check_figure_path, save_figure

        path = check_figure_path(path)
        m = len(self.losses)
        x = {i: float(i) for i in range(m)}
        y = {i: self.losses[i] for i in range(m)}
        root = {i: i for i in range(m)}

        def find(i):
            while root[i] != i:
                i = root[i]
            return i

        fig = Figure(figsize=(5.5, 3.5))
        ax = fig.subplots()
        ax.scatter(range(m), self.losses, color="C0", zorder=3, label="model (own loss)")
        for weight, i, j in self.merges:
            ri, rj = find(i), find(j)
            for r in (ri, rj):
                ax.plot([x[r], x[r]], [y[r], weight], color="0.3", linewidth=1)
            ax.plot([x[ri], x[rj]], [weight, weight], color="0.3", linewidth=1)
            new = max(root) + 1
            root[new] = new
            root[ri] = root[rj] = new
            x[new], y[new] = (x[ri] + x[rj]) / 2, weight
        ax.set_xticks(range(m))
        ax.set_xlabel("model")
        ax.set_ylabel("loss")
        ax.set_title(f"merge tree over {self.curve} curves (sampled maxima, not certified)", fontsize=9)
        ax.legend(fontsize=7, frameon=False, loc="upper left")
        fig.tight_layout()
        save_figure(fig, path)


def merge_models(models: list[torch.nn.Module], loss_fn: LossFn, data, curve: str = "autoneb",
                 align_units: bool = True, seed: int = 0, **options) -> ModelMergeTree:
    """The merge tree of ``models`` (same architecture) over curves between every pair.

    Parameters
    ----------
    models : list of torch.nn.Module
        At least two; none is modified.
    loss_fn, data :
        As for :func:`~sublevel.checks.paths.model_curves.connect`.
    curve : one of :data:`~sublevel.checks.paths.model_curves.CURVES`
    align_units : bool
        Align every model to model 0 first (weight matching); where the architecture has no
        permutation rule the models are used as given and the tree says so.
    options :
        Passed to :func:`~sublevel.checks.paths.model_curves.connect` (``points``, ``steps``, ...).

    Cost: M (M - 1) / 2 curves, each trained and evaluated, plus as many straight lines.
    """
    if len(models) < 2:
        raise InputError(f"a merge tree needs at least two models, got {len(models)}")
    if curve not in CURVES:
        raise InputError(f"unknown curve {curve!r} (known: {', '.join(CURVES)})")
    reference = next(models[0].parameters())
    batches = as_batches(data, "data").to(reference.dtype, reference.device)
    example = batches[0][0]
    aligned, how = [models[0]], ["reference"]
    for model in models[1:]:
        if align_units:
            result = align(models[0], model, example, seed=seed)
            aligned.append(result.model)
            how.append(result.describe())
        else:
            aligned.append(model)
            how.append("not aligned (not requested)")
    m = len(models)
    barriers = np.zeros((m, m))
    raw = np.zeros((m, m))
    losses = [model_metrics(model, loss_fn, batches)["loss"] for model in models]
    for i in range(m):
        for j in range(i + 1, m):
            path = connect(aligned[i], aligned[j], loss_fn, batches, curve=curve, seed=seed, **options)
            line = connect(models[i], models[j], loss_fn, batches, curve="linear",
                           points=options.get("points", 41))
            barriers[i, j] = barriers[j, i] = max(path.maximum, path.endpoints["a"]["loss"],
                                                 path.endpoints["b"]["loss"])
            raw[i, j] = raw[j, i] = max(line.maximum, line.endpoints["a"]["loss"], line.endpoints["b"]["loss"])
    np.fill_diagonal(barriers, losses)
    np.fill_diagonal(raw, losses)
    ii, jj = np.triu_indices(m, 1)
    chosen = spanning_forest(barriers[ii, jj], ii, jj, m)
    merges = [(float(barriers[ii[e], jj[e]]), int(ii[e]), int(jj[e])) for e in chosen]
    notes = ["merge levels are the largest sampled losses on the curves found: between samples the loss is not "
             "bounded and other curves may lie lower (estimates, neither bound)"]
    if align_units and any(h.startswith("not aligned") for h in how[1:]):
        notes.append("some models could not be aligned: their barriers may include permutation barriers")
    return ModelMergeTree(losses, barriers.tolist(), raw.tolist(), merges, how, curve, notes)
