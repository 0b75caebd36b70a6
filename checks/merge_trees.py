"""Merge trees of minima: barriers from certified path searches, single linkage, persistence.

Nodes are minima theta_1..theta_M (from many descent starts, :func:`find_minima`, or given).
The barrier between two minima is the certified maximum of the best path found between them
(:mod:`checks.paths`), never below the straight segment's certified maximum since both are
paths. The minimax (single-linkage) tree is the minimum spanning tree of these barriers: at
level lambda, minima i and j are in one component of the graph iff the tree path between
them has all barriers <= lambda. From one Kruskal sweep (:class:`MergeTree`) come
N_lambda for every lambda, the 0-dimensional persistence pairs (birth = a minimum's loss,
death = the barrier at which its basin merges into an older one, elder rule) and the
disconnectivity graph (:mod:`figures.disconnectivity`).

Pair selection (``pairs="mst"``, after AutoNEB, Draxler et al. 2018, arXiv:1803.00885): every
pair first gets the exact maximum of its straight segment (one cheap certified segment each,
batched); then repeatedly the minimum spanning tree of the current barriers is taken and its
edges that were not searched yet are searched by the finder (in one batched call), until the
tree consists of searched edges only. Kruskal's union-find skips every pair whose ends the
tree already joins, so such pairs are never searched (early exit). ``pairs="all"`` searches every pair: the baseline of
``bench/merge_tree_bench.py``. Barriers of unsearched pairs stay upper bounds, so the pruned
tree's merge levels are >= the all-pairs tree's; the benchmark reports how far they differ.

Every count from a merge tree is over the given minima (an upper bound on how many
components of Omega(lambda) hold them): paths prove connection, failures prove nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import networkx as nx
import numpy as np
import torch
from networkx.utils import UnionFind

from checks.components import MergeForest, within
from checks.paths.base import PathFinder, check_endpoints, get_finder, train_beads
from checks.segments import segment_maxima
from theory.errors import InputError
from theory.problems import Problem


def find_minima(problem: Problem, starts: int = 64, steps: int = 500, lr: float = 0.01, init_scale: float = 1.0,
                seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """End points of ``starts`` batched Adam runs from random initialisations (seeded).

    Returns points (S, P) and their float64 losses (S,). These are approximate minima:
    descent stopped after ``steps`` steps (or at zero loss).
    """
    if starts < 1 or steps < 0 or not lr > 0 or not init_scale > 0:
        raise InputError("starts must be >= 1, steps >= 0, lr and init_scale > 0")
    problem = problem.to(dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    theta = problem.architecture.init(starts, init_scale, generator, device=problem.device)
    points, losses, _ = train_beads(problem, theta, torch.zeros(starts, dtype=torch.float64, device=problem.device),
                                    steps, lr)
    return points.cpu(), losses.cpu()


@dataclass
class MergeTree(MergeForest):
    """Single-linkage tree of minima with certified barriers.

    Extends :class:`~checks.components.MergeForest` (``points``, ``losses``, ``merges`` in
    Kruskal order, ``counts(levels)``) with every barrier computed (``barriers``, keyed
    (i, j), i < j, with ``searched`` marking the pairs a finder searched), the finder used and
    the work spent (``evaluations``: single-vector loss evaluations plus one per certified
    segment).
    """

    barriers: dict[tuple[int, int], float] = field(default_factory=dict)
    searched: set[tuple[int, int]] = field(default_factory=set)
    finder: str = ""
    exact: bool = True
    evaluations: int = 0

    def breakpoints(self) -> list[float]:
        """Every level at which N_lambda changes: the minima's losses and the merge levels."""
        return sorted(set(self.losses.tolist()) | {w for w, _, _ in self.merges})

    def persistence(self) -> list[tuple[float, float, int]]:
        """0-dimensional persistence pairs (birth, death, minimum), elder rule.

        When two basins merge at barrier w, the one whose lowest minimum is higher dies at w;
        basins that never merge die at inf. Sorted by birth.
        """
        components = UnionFind(range(len(self.losses)))
        losses = self.losses.tolist()
        lowest = {i: i for i in range(len(losses))}
        pairs = []
        for weight, i, j in self.merges:
            ri, rj = components[i], components[j]
            old, young = sorted((lowest[ri], lowest[rj]), key=lambda n: (losses[n], n))
            pairs.append((losses[young], weight, young))
            components.union(ri, rj)
            lowest[components[ri]] = old
        dead = {node for _, _, node in pairs}
        pairs += [(losses[n], float("inf"), n) for n in range(len(losses)) if n not in dead]
        return sorted(pairs)

    def to_networkx(self) -> nx.Graph:
        """Nodes: minima (``loss``); edges: every barrier computed (``barrier``, ``searched``:
        found by the finder rather than the straight segment alone, ``in_tree``)."""
        graph = nx.Graph(finder=self.finder, certificate="exact" if self.exact else "interval bound")
        for i, loss in enumerate(self.losses.tolist()):
            graph.add_node(i, loss=loss)
        tree = {(min(i, j), max(i, j)) for _, i, j in self.merges}
        for (i, j), weight in self.barriers.items():
            graph.add_edge(i, j, barrier=weight, searched=(i, j) in self.searched, in_tree=(i, j) in tree)
        return graph

    def to_json(self) -> dict:
        levels = self.breakpoints()
        return {"minima": len(self.losses), "finder": self.finder,
                "certificate": "exact" if self.exact else "interval bound",
                "levels": levels, "components": self.counts(levels),
                "persistence": [[b, d] for b, d, _ in self.persistence()],
                "searches": len(self.searched), "pairs": len(self.losses) * (len(self.losses) - 1) // 2,
                "evaluations": self.evaluations}


def merge_tree(problem: Problem, points, finder: PathFinder | str = "dss", *, pairs: str = "mst",
               tolerance: float = 1e-3, batch: int = 512) -> MergeTree:
    """Certified single-linkage tree of the minima ``points`` (M, P).

    Parameters
    ----------
    problem : Problem
    points : tensor (M, P)
        The minima (any points: the tree is over them).
    finder : PathFinder or str
        Path finder (or its registered name) for the barrier of a pair.
    tolerance : float
        The finder's target for pair (i, j) is max(L_i, L_j) + tolerance: a search stops once
        its path is certified below that (the lowest any path can reach is max(L_i, L_j)).
    pairs : {"mst", "all"}
        ``"mst"``: straight segments for every pair, finder searches only on edges of the
        current minimum spanning tree (see the module docstring); ``"all"``: search every pair.
    batch : int
        Pairs per batched finder call.

    Returns
    -------
    MergeTree

    Raises
    ------
    InputError
        On bad points (length != P, NaN/inf) or an unknown ``pairs`` mode or finder.

    Notes
    -----
    Cost: M(M-1)/2 certified segments, plus the finder on (at most a few times) M - 1 edges
    for ``"mst"`` or on all M(M-1)/2 pairs for ``"all"``.
    """
    if pairs not in ("mst", "all"):
        raise InputError(f"pairs must be 'mst' or 'all', got {pairs!r}")
    if not tolerance >= 0:
        raise InputError(f"tolerance must be >= 0, got {tolerance}")
    if isinstance(finder, str):
        finder = get_finder(finder)
    problem = problem.to(dtype=torch.float64)
    points, _, _ = check_endpoints(problem, points, points)
    points = points.cpu()
    m = points.shape[0]
    losses = problem.loss(points.to(problem.device)).cpu()
    ii, jj = np.triu_indices(m, k=1)
    bound = segment_maxima(problem, points[ii].to(problem.device), points[jj].to(problem.device))
    weights = bound.upper.cpu().numpy().copy()
    tree = MergeTree(points, losses, candidate_edges=len(ii), finder=getattr(finder, "name", str(finder)),
                     exact=bound.exact, evaluations=len(ii))
    searched = np.zeros(len(ii), dtype=bool)
    floor = np.maximum(losses.numpy()[ii], losses.numpy()[jj])
    while True:
        todo = np.flatnonzero(~searched) if pairs == "all" else \
            np.array([e for e in _kruskal(weights, ii, jj, m) if not searched[e]], dtype=int)
        if len(todo) == 0:
            break
        for start in range(0, len(todo), batch):
            chunk = todo[start:start + batch]
            target = torch.as_tensor(floor[chunk] + tolerance)
            found = finder.batch(problem, points[ii[chunk]].to(problem.device), points[jj[chunk]].to(problem.device),
                                 target)
            for e, path in zip(chunk, found):
                weights[e] = min(weights[e], path.maximum)
                tree.evaluations += path.evaluations
                tree.exact &= path.exact
                tree.searched.add((int(ii[e]), int(jj[e])))
            searched[chunk] = True
    return single_linkage(points, losses, np.stack([ii, jj], axis=1), weights, searched, tree)


def single_linkage(points: torch.Tensor, losses: torch.Tensor, edges: np.ndarray, weights: np.ndarray,
                   keep: np.ndarray | None = None, tree: MergeTree | None = None) -> MergeTree:
    """The single-linkage tree of a weighted graph on the minima (Kruskal).

    Parameters
    ----------
    points, losses : (M, P), (M,)
    edges : int array (E, 2)
        Pairs (i, j), i < j, with a certified barrier.
    weights : float array (E,)
        Barrier of each edge (>= max(L_i, L_j)).
    keep : bool array (E,), optional
        Edges to record in ``barriers`` besides the tree edges (default: all).
    tree : MergeTree, optional
        Filled in place (work counters kept); a new one by default.

    Notes
    -----
    O(E log E) for the sort plus near-linear union-find.
    """
    tree = tree if tree is not None else MergeTree(points, losses, candidate_edges=len(edges))
    ii, jj = edges[:, 0], edges[:, 1]
    chosen = _kruskal(weights, ii, jj, len(losses))
    tree.merges = [(float(weights[e]), int(ii[e]), int(jj[e])) for e in chosen]
    tree.certified_edges = len(tree.searched)
    kept = set(chosen) | set(np.flatnonzero(keep if keep is not None else np.ones(len(edges), bool)).tolist())
    tree.barriers = {(int(ii[e]), int(jj[e])): float(weights[e]) for e in sorted(kept)}
    return tree


def _kruskal(weights: np.ndarray, ii: np.ndarray, jj: np.ndarray, m: int) -> list[int]:
    """Edge indices of a minimum spanning forest, in increasing weight (ties by index)."""
    components = UnionFind(range(m))
    chosen = []
    for e in np.argsort(weights, kind="stable"):
        i, j = int(ii[e]), int(jj[e])
        if components[i] != components[j]:
            components.union(i, j)
            chosen.append(int(e))
            if len(chosen) == m - 1:
                break
    return chosen
