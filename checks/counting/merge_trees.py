"""Merge trees of minima: barriers from certified path searches, single linkage, persistence.

Nodes are minima theta_1..theta_M (from many descent starts, :func:`find_minima`, or given).
The barrier between two minima is the certified maximum of the best path found between them
(:mod:`sublevel.checks.paths`), never below the straight segment's certified maximum since both are
paths. The minimax (single-linkage) tree is the minimum spanning tree of these barriers: at
level lambda, minima i and j are in one component of the graph iff the tree path between
them has all barriers <= lambda. From one Kruskal sweep (:class:`MergeTree`) come
N_lambda for every lambda, the 0-dimensional persistence pairs (birth = a minimum's loss,
death = the barrier at which its basin merges into an older one, elder rule) and the
disconnectivity graph (:mod:`sublevel.figures.disconnectivity`).

Pair selection (``pairs="mst"``): Kruskal's algorithm with lazily computed weights, as in
:func:`sublevel.checks.counting.components.merge_forest`. Every pair enters a heap keyed by the lower bound
max(L_i, L_j) <= barrier; the smallest key is popped; a pair whose ends are already joined is
dropped without a search (union-find early exit); otherwise it is searched with target
max(L_i, L_j) + tolerance L(0) (L(0) = mean ||y||^2, so the tolerance is scale-free), batched with the next pairs that would join different components
if every search in the batch succeeded (pairs that would not are put back). A search that
reaches its target joins its ends at once; one that does not goes back into the heap with its
certified barrier. Every pair dropped unsearched was joined through barriers at most its own
lower bound + tolerance L(0), so the merge level of every pair of minima (:meth:`MergeTree.merge_levels`)
is within ``tolerance L(0)`` of the one that searching *all* pairs gives (``pairs="all"``), and
never below it. The finders seed their
randomness per pair, so a pair's barrier does not depend on its batch.

A pair's barrier is the smaller certified maximum of the finder's path and the straight
segment (both are paths).

Every count from a merge tree is over the given minima (an upper bound on how many
components of Omega(lambda) hold them): paths prove connection, failures prove nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import torch
from networkx.utils import UnionFind
from tqdm import tqdm

from sublevel.checks.counting.components import MergeForest
from sublevel.checks.paths.base import PathFinder, check_endpoints, get_finder, train_beads
from sublevel.checks.certify.segments import segment_maxima
from sublevel.checks.counting.kruskal import lazy_kruskal, spanning_forest
from sublevel.theory.errors import InputError
from sublevel.theory.problems import Problem


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

    Extends :class:`~sublevel.checks.counting.components.MergeForest` (``points``, ``losses``, ``merges`` in
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

    def merge_levels(self) -> np.ndarray:
        """(M, M) matrix: the level at which minima i and j first lie in one component of the
        graph (:func:`merge_levels`)."""
        return merge_levels(self.losses.numpy(), self.merges)

    def persistence(self) -> list[tuple[float, float, int]]:
        """0-dimensional persistence pairs (birth, death, minimum), elder rule (:func:`persistence`)."""
        return persistence(self.losses.tolist(), self.merges)

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
               tolerance: float = 1e-3, batch: int = 64, progress: bool = False) -> MergeTree:
    """Certified single-linkage tree of the minima ``points`` (M, P).

    Parameters
    ----------
    problem : Problem
    points : tensor (M, P)
        The minima (any points: the tree is over them).
    finder : PathFinder or str
        Path finder (or its registered name) for the barrier of a pair.
    tolerance : float
        Relative to L(0) = (1/N) sum_mu ||y_mu||^2, so that it means the same for data at any
        scale: the finder's target for pair (i, j) is max(L_i, L_j) + tolerance L(0), and a
        search stops once its path is certified below that (the lowest any path can reach is
        max(L_i, L_j)).
    pairs : {"mst", "all"}
        ``"mst"``: lazy Kruskal, searching only pairs that can still change the tree (see
        the module docstring); ``"all"``: search every pair, then Kruskal.
    batch : int
        Pairs per batched finder call (larger: fewer calls, but ``"mst"`` may search pairs
        that a smaller batch would have found joined).
    progress : bool
        Show a tqdm bar of searched pairs on stderr.

    Returns
    -------
    MergeTree

    Raises
    ------
    InputError
        On bad points (length != P, NaN/inf) or an unknown ``pairs`` mode or finder.

    Notes
    -----
    Cost: one straight segment and one finder search per searched pair: all M(M-1)/2 pairs
    for ``"all"``; for ``"mst"`` the pairs popped before their ends are joined, at least
    M - 1, typically a small multiple of M when barriers sit close above the minima.
    """
    if pairs not in ("mst", "all"):
        raise InputError(f"pairs must be 'mst' or 'all', got {pairs!r}")
    if not tolerance >= 0:
        raise InputError(f"tolerance must be >= 0, got {tolerance}")
    if isinstance(finder, str):
        finder = get_finder(finder)
    problem = problem.to(dtype=torch.float64)
    points, _, losses = check_endpoints(problem, points, points)  # with no level: the endpoints' losses
    m = points.shape[0]
    losses = losses.cpu()
    ii, jj = np.triu_indices(m, k=1)
    floor = np.maximum(losses.numpy()[ii], losses.numpy()[jj])
    slack = tolerance * float(problem.y.square().sum() / problem.num_samples)
    weights = floor.copy()
    searched = np.zeros(len(ii), dtype=bool)
    tree = MergeTree(points.cpu(), losses, candidate_edges=len(ii), finder=getattr(finder, "name", str(finder)))
    bar = tqdm(total=len(ii), desc="pairs searched", unit="pair", disable=not progress, leave=False)

    def search(chunk: np.ndarray) -> None:
        a, b = points[ii[chunk]], points[jj[chunk]]
        straight = segment_maxima(problem, a, b)
        found = finder.batch(problem, a, b, torch.as_tensor(floor[chunk] + slack))
        tree.evaluations += len(chunk) + sum(path.evaluations for path in found)
        tree.exact &= straight.exact and all(path.exact for path in found)
        weights[chunk] = np.minimum(straight.upper.cpu().numpy(), [path.maximum for path in found])
        searched[chunk] = True
        tree.searched.update((int(ii[e]), int(jj[e])) for e in chunk)
        bar.update(len(chunk))

    if pairs == "all":
        for start in range(0, len(ii), batch):
            search(np.arange(start, min(start + batch, len(ii))))
    else:
        lazy_kruskal(floor, ii, jj, m, lambda chunk: search(chunk) or weights[chunk], tolerance=slack, batch=batch,
                     speculative=True)
    bar.close()
    # Only searched pairs have certified barriers; the tree is built from them alone.
    done = np.flatnonzero(searched)
    return single_linkage(tree.points, losses, np.stack([ii[done], jj[done]], axis=1), weights[done], tree=tree)


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
    chosen = spanning_forest(weights, ii, jj, len(losses))
    tree.merges = [(float(weights[e]), int(ii[e]), int(jj[e])) for e in chosen]
    tree.certified_edges = len(tree.searched)
    kept = set(chosen) | set(np.flatnonzero(keep if keep is not None else np.ones(len(edges), bool)).tolist())
    tree.barriers = {(int(ii[e]), int(jj[e])): float(weights[e]) for e in sorted(kept)}
    return tree


def merge_levels(losses: np.ndarray, merges: list[tuple[float, int, int]]) -> np.ndarray:
    """(M, M) matrix: the level at which minima i and j first lie in one component, given the
    single-linkage ``merges`` (weight, i, j) in increasing weight: the highest weight on their
    tree path (inf if never joined; the diagonal holds the minima's losses). An ultrametric,
    from one pass over the merges."""
    m = len(losses)
    levels = np.full((m, m), np.inf)
    np.fill_diagonal(levels, losses)
    components = UnionFind(range(m))
    members = {i: [i] for i in range(m)}
    for weight, i, j in merges:
        ri, rj = components[i], components[j]
        a, b = members.pop(ri), members.pop(rj)
        levels[np.ix_(a, b)] = weight
        levels[np.ix_(b, a)] = weight
        components.union(ri, rj)
        members[components[ri]] = a + b
    return levels


def persistence(losses: list[float], merges: list[tuple[float, int, int]]) -> list[tuple[float, float, int]]:
    """0-dimensional persistence pairs (birth, death, minimum) of single-linkage ``merges``,
    elder rule: when two basins merge at weight w, the one whose lowest minimum is higher dies
    at w; basins that never merge die at inf. Sorted by birth."""
    components = UnionFind(range(len(losses)))
    lowest = {i: i for i in range(len(losses))}
    pairs = []
    for weight, i, j in merges:
        ri, rj = components[i], components[j]
        old, young = sorted((lowest[ri], lowest[rj]), key=lambda n: (losses[n], n))
        pairs.append((losses[young], weight, young))
        components.union(ri, rj)
        lowest[components[ri]] = old
    dead = {node for _, _, node in pairs}
    pairs += [(losses[n], float("inf"), n) for n in range(len(losses)) if n not in dead]
    return sorted(pairs)
