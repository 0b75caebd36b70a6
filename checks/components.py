"""Components of sublevel sets from sampled points, as certified brackets.

Points theta_i of Omega(lambda_max) (from :mod:`checks.sampling`) are nodes; a candidate edge
(i, j) gets weight w_ij = certified upper bound of max_t L on the segment [theta_i, theta_j]
(:mod:`checks.segments`). Two nodes are joined at level lambda when w_ij <= lambda. The number
of components at every lambda then comes from one Kruskal sweep over edges in increasing
weight (0-dimensional persistence / single linkage): with n(lambda) nodes below lambda and
m(lambda) merges of weight <= lambda, the graph has n(lambda) - m(lambda) components.

Candidate edges are the k nearest neighbours (scikit-learn) among the points below each
requested level, plus consecutive points of each descent trajectory, never all pairs.
Certification is lazy: edges are taken in order of max(L_i, L_j), a cheap lower bound of
their weight; an edge whose endpoints are already joined is skipped without computing its
segment, and the sweep stops past the highest level asked for.

Every count is a bracket (DESIGN.md, "Counting components honestly"):

- ``upper``: components of the certified graph. Each edge is a path inside Omega(lambda), so
  this bounds from above the number of components of Omega(lambda) that hold sampled points.
  It cannot see components that no sampled point reached.
- ``lower``: a rigorous lower bound on N_lambda: the number of distinct sign patterns, among
  sampled points, of the construction's separators whose proven floor exceeds lambda
  (:mod:`constructions.certificates`); 1 when some point exists and no separator applies;
  0 with ``certified`` status when lambda is below a proven floor of the loss.

The bracket is ``certified`` when lower == upper, else a ``bracket``; with no sampled point
above a proven floor the count is ``estimated`` (nothing found, nothing proven).
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Callable, Sequence

import networkx as nx
import numpy as np
import torch
from networkx.utils import UnionFind
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import pdist, squareform
from sklearn.neighbors import NearestNeighbors

from checks.sampling import LevelSample, SampleSettings, descend, merge_samples, sample_sublevel
from checks.segments import segment_maxima
from constructions.certificates import Separator, sign_patterns
from theory.problems import Problem

Certifier = Callable[[Problem, torch.Tensor, torch.Tensor], torch.Tensor]
"""(problem, starts (E, P), ends (E, P)) -> certified upper bounds (E,) of L on each segment."""

LEVEL_SLACK = 1e-12
"""Relative float64 slack when comparing a certified segment maximum with a level
(w <= lambda + slack (1 + |lambda|)). Points are members when their float64 loss is <= lambda,
the same test sampling uses, so nodes and candidate edges always agree."""


def exact_certifier(problem: Problem, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """Certified segment maxima: exact for one hidden layer, a rigorous bound deeper."""
    return segment_maxima(problem, start, end).upper


def within(value: float | torch.Tensor, level: float):
    """value <= level up to :data:`LEVEL_SLACK`."""
    return value <= level + LEVEL_SLACK * (1.0 + abs(level))


@dataclass(frozen=True)
class Bracket:
    """Component count of Omega(level): lower <= N_level (rigorous), upper over sampled points."""

    level: float
    lower: int
    upper: int
    points: int
    status: str  # "certified" | "bracket" | "estimated"

    @property
    def exact(self) -> bool:
        return self.status == "certified"

    def describe(self) -> str:
        if self.exact:
            return f"{self.upper} (certified)"
        if self.status == "estimated":
            return f"{self.upper} (estimated: no point found)"
        return f"[{self.lower}, {self.upper}]"


@dataclass
class MergeForest:
    """Certified single-linkage forest of sampled points.

    ``merges`` are (weight, i, j): at level >= weight the components of i and j are one,
    through a certified segment. ``certified_edges`` counts segments actually computed,
    ``candidate_edges`` the candidates considered.
    """

    points: torch.Tensor
    losses: torch.Tensor
    merges: list[tuple[float, int, int]] = field(default_factory=list)
    candidate_edges: int = 0
    certified_edges: int = 0
    path_edges: int = 0

    def counts(self, levels: Sequence[float]) -> list[int]:
        """Graph components among points below each level, from the one sweep."""
        losses = self.losses.numpy()
        weights = np.array([w for w, _, _ in self.merges])
        return [int((losses <= lam).sum()) - int(within(weights, lam).sum()) for lam in levels]

    def labels(self, level: float) -> dict[int, int]:
        """Component representative of every point below ``level``, in the certified graph."""
        nodes = torch.nonzero(self.losses <= level).flatten().tolist()
        components = UnionFind(nodes)
        for weight, i, j in self.merges:
            if within(weight, level):
                components.union(i, j)
        return {i: components[i] for i in nodes}

    def to_networkx(self) -> nx.Graph:
        """The forest as a NetworkX graph: node attribute ``loss``, edge attribute ``barrier``."""
        graph = nx.Graph()
        for i, loss in enumerate(self.losses.tolist()):
            graph.add_node(i, loss=loss)
        for weight, i, j in self.merges:
            graph.add_edge(i, j, barrier=weight)
        return graph

    def write_graphml(self, path) -> None:
        from constructions.storage import atomic_output

        with atomic_output(path) as tmp:
            nx.write_graphml(self.to_networkx(), tmp)


EMST_MAX_POINTS = 5000
"""Above this many points per level the Euclidean minimum spanning tree (dense distances) is skipped."""


def candidate_edges(sample: LevelSample, levels: Sequence[float], k: int = 8) -> np.ndarray:
    """Unique pairs (E, 2), i < j, among the points below each level: k nearest neighbours,
    the Euclidean minimum spanning tree (so the candidate graph is connected; a kNN graph of
    clustered points often is not), and consecutive points of each descent trajectory."""
    pairs = []
    points = sample.points.numpy()
    for level in levels:
        idx = sample.below(level).numpy()
        if len(idx) < 2:
            continue
        neighbours = NearestNeighbors(n_neighbors=min(k + 1, len(idx))).fit(points[idx])
        _, nbr = neighbours.kneighbors(points[idx])
        src = np.repeat(idx, nbr.shape[1])
        pairs.append(np.stack([src, idx[nbr.ravel()]], axis=1))
        pairs.append(idx[euclidean_mst(points[idx])])
    traj = sample.trajectory.numpy()
    order = np.argsort(traj, kind="stable")
    same = (traj[order][1:] == traj[order][:-1]) & (traj[order][1:] >= 0)
    pairs.append(np.stack([order[:-1][same], order[1:][same]], axis=1))
    pairs = np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=int)
    pairs = np.sort(pairs, axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return np.unique(pairs, axis=0)


def euclidean_mst(points: np.ndarray) -> np.ndarray:
    """Edges (m-1, 2) of the Euclidean minimum spanning tree (scipy), or none above
    :data:`EMST_MAX_POINTS` points."""
    if len(points) > EMST_MAX_POINTS:
        return np.zeros((0, 2), dtype=int)
    distances = squareform(pdist(points))
    # Coincident points have distance 0, which csgraph reads as "no edge": nudge them.
    distances[distances == 0] = np.finfo(float).tiny
    np.fill_diagonal(distances, 0)
    tree = minimum_spanning_tree(distances).tocoo()
    return np.stack([tree.row, tree.col], axis=1)


def merge_forest(problem: Problem, sample: LevelSample, levels: Sequence[float], k: int = 8,
                 certifier: Certifier = exact_certifier, batch: int = 64,
                 known: dict[tuple[int, int], float] | None = None) -> MergeForest:
    """Kruskal's sweep with lazily certified edges, up to the highest level.

    ``known`` maps pairs (i, j), i < j, to weights certified earlier for the same points (a
    sample that only grew by appending); it is read and extended, so repeated sweeps over a
    growing sample certify each segment once.

    Notes
    -----
    Keys start at max(L_i, L_j) <= w_ij, so when the smallest key in the heap is a certified
    weight it is the smallest weight left: the sweep is exactly Kruskal's on the certified
    weights, but only edges that can still merge two components are ever certified. Segments
    are certified ``batch`` at a time in one call.
    """
    exact = problem.to(device="cpu", dtype=torch.float64)
    pairs = candidate_edges(sample, levels, k)
    losses = sample.losses.numpy()
    forest = MergeForest(sample.points, sample.losses, candidate_edges=len(pairs))
    top = max(levels)
    known = {} if known is None else known
    heap = [(known.get((int(i), int(j)), max(losses[i], losses[j])), (int(i), int(j)) in known, int(i), int(j))
            for i, j in pairs]
    heapq.heapify(heap)
    components = UnionFind(range(len(losses)))
    while heap and within(heap[0][0], top):
        key, certified, i, j = heapq.heappop(heap)
        if components[i] == components[j]:
            continue
        if certified:
            components.union(i, j)
            forest.merges.append((key, i, j))
            continue
        todo = [(key, i, j)]
        while heap and len(todo) < batch and not heap[0][1]:
            key2, _, i2, j2 = heapq.heappop(heap)
            if components[i2] != components[j2]:
                todo.append((key2, i2, j2))
        a = torch.tensor([i for _, i, _ in todo])
        b = torch.tensor([j for _, _, j in todo])
        upper = certifier(exact, sample.points[a], sample.points[b]).tolist()
        forest.certified_edges += len(todo)
        for (key2, i2, j2), bound in zip(todo, upper):
            known[(i2, j2)] = max(key2, bound)
            heapq.heappush(heap, (known[(i2, j2)], True, i2, j2))
    return forest


@dataclass(frozen=True)
class ComponentCount:
    """Brackets per level, with the forest they came from."""

    brackets: list[Bracket]
    forest: MergeForest

    def to_json(self) -> dict:
        return {
            "levels": [b.level for b in self.brackets],
            "components": [b.upper for b in self.brackets],
            "lower": [b.lower for b in self.brackets],
            "upper": [b.upper for b in self.brackets],
            "exact": [b.exact for b in self.brackets],
            "status": [b.status for b in self.brackets],
            "points": [b.points for b in self.brackets],
            "candidate_edges": self.forest.candidate_edges,
            "certified_edges": self.forest.certified_edges,
            "path_edges": self.forest.path_edges,
        }


def brackets(forest: MergeForest, problem: Problem, levels: Sequence[float],
             separators: Sequence[Separator] = (), loss_floor: float | None = None) -> list[Bracket]:
    """Lower and upper counts per level (see the module docstring for their meaning)."""
    uppers = forest.counts(levels)
    out = []
    for level, upper in zip(levels, uppers):
        below = torch.nonzero(forest.losses <= level).flatten()
        if loss_floor is not None and level < loss_floor:
            out.append(Bracket(level, 0, 0, 0, "certified"))
            continue
        if len(below) == 0:
            out.append(Bracket(level, 0, 0, 0, "estimated"))
            continue
        patterns = sign_patterns(list(separators), problem.architecture, forest.points[below], level)
        lower = max(1, len(torch.unique(patterns, dim=0))) if patterns.shape[1] else 1
        status = "certified" if lower == upper else "bracket"
        out.append(Bracket(level, lower, upper, len(below), status))
    return out


def bridge_gaps(problem: Problem, sample: LevelSample, forest: MergeForest, found: Sequence[Bracket],
                settings: SampleSettings) -> LevelSample | None:
    """New points between components the certified graph has not joined yet.

    For every level whose bracket is open (upper > lower), the Euclidean minimum spanning tree
    of the points below it is cut by the component labels; from the midpoint of each crossing
    tree edge, descent runs until it is below the level (as Freeman & Bruna's Dynamic String
    Sampling inserts a trained bead between two beads). Returns the points found, or None.
    """
    found_points = []
    next_id = int(sample.trajectory.max()) + 1 if len(sample.trajectory) else 0
    for bracket in found:
        if bracket.status != "bracket":
            continue
        labels = forest.labels(bracket.level)
        nodes = np.array(sorted(labels))
        tree = nodes[euclidean_mst(sample.points[nodes].numpy())]
        crossing = [(i, j) for i, j in tree if labels[i] != labels[j]]
        if not crossing:
            continue
        pairs = torch.tensor(crossing)
        midpoints = (sample.points[pairs[:, 0]] + sample.points[pairs[:, 1]]) / 2
        bridge = descend(problem, midpoints.to(problem.dtype), bracket.level, settings, next_id)
        next_id += len(crossing)
        found_points.append(bridge)
    if not found_points:
        return None
    merged = found_points[0]
    for extra in found_points[1:]:
        merged = merge_samples(merged, extra)
    return merged


def join_with_paths(problem: Problem, forest: MergeForest, found: Sequence[Bracket], finder,
                    separators: Sequence[Separator] = (), max_pairs: int = 64) -> int:
    """Second pass: a path finder (:mod:`checks.paths`) between components left apart.

    For every open bracket, the lowest point of each graph component below its level stands
    for the component; pairs of these (nearest first, at most ``max_pairs``, skipping pairs
    whose separator sign patterns differ: those are proven apart) are searched in one batched
    ``finder.batch`` call with the level as target. A path certified below the level becomes
    an edge weighted by its certified maximum, and the forest's merges are recomputed by
    Kruskal over the old merges and the new edges. Returns the number of edges added.
    """
    new = []
    for bracket in found:
        if bracket.status != "bracket":
            continue
        lowest: dict[int, int] = {}
        for node, root in forest.labels(bracket.level).items():
            if root not in lowest or forest.losses[node] < forest.losses[lowest[root]]:
                lowest[root] = node
        reps = sorted(lowest.values())
        points = forest.points[reps]
        patterns = sign_patterns(list(separators), problem.architecture, points, bracket.level)
        pairs = [(a, b) for a in range(len(reps)) for b in range(a + 1, len(reps))
                 if torch.equal(patterns[a], patterns[b])]
        pairs = sorted(pairs, key=lambda ab: float((points[ab[0]] - points[ab[1]]).norm()))[:max_pairs]
        if not pairs:
            continue
        paths = finder.batch(problem, points[[a for a, _ in pairs]], points[[b for _, b in pairs]], bracket.level)
        new += [(path.maximum, reps[a], reps[b]) for (a, b), path in zip(pairs, paths) if path.inside(bracket.level)]
    if new:
        components = UnionFind(range(len(forest.losses)))
        merges = []
        for weight, i, j in sorted(forest.merges + new):
            if components[i] != components[j]:
                components.union(i, j)
                merges.append((weight, i, j))
        forest.merges = merges
        forest.path_edges += len(new)
    return len(new)


BRIDGE_SETTINGS = SampleSettings(steps=100, lr=0.01, record_every=5)
"""Descent from bridge midpoints: short and gentle, to stay near the gap it should close."""


def count_components(problem: Problem, levels: Sequence[float], settings: SampleSettings = SampleSettings(),
                     separators: Sequence[Separator] = (), loss_floor: float | None = None,
                     extra_points: torch.Tensor | None = None, k: int = 8,
                     certifier: Certifier = exact_certifier, bridge_rounds: int = 8,
                     sample: LevelSample | None = None, finder=None) -> ComponentCount:
    """Sample Omega(max level), build the certified forest and bracket N_lambda at each level.

    While some bracket is open, up to ``bridge_rounds`` rounds of :func:`bridge_gaps` add
    points between unjoined components and the forest is rebuilt. A ``sample`` drawn elsewhere
    (e.g. by the batched descent of :mod:`checks.sweeps.descent`) replaces the sampling step;
    ``extra_points`` are then ignored (they belong in that sample). With a path ``finder``
    (:mod:`checks.paths`), brackets still open get a second pass, :func:`join_with_paths`.

    Examples
    --------
    >>> from constructions import construct
    >>> data = construct("scalar-linear")
    >>> problem = data.problem(data.default_architecture())
    >>> from constructions.certificates import separators_for
    >>> seps = separators_for(data.metadata, problem.architecture)
    >>> [b.describe() for b in count_components(problem, [0.5, 1.5], separators=seps).brackets]
    ['2 (certified)', '1 (certified)']
    """
    levels = sorted(levels)
    if sample is None:
        sample = sample_sublevel(problem, max(levels), settings, extra_points)
    known: dict[tuple[int, int], float] = {}
    for round_ in range(bridge_rounds + 1):
        forest = merge_forest(problem, sample, levels, k, certifier, known=known)
        found = brackets(forest, problem, levels, separators, loss_floor)
        if round_ == bridge_rounds or all(b.status != "bracket" for b in found):
            break
        bridge = bridge_gaps(problem, sample, forest, found, BRIDGE_SETTINGS)
        if bridge is None:
            break
        sample = merge_samples(sample, bridge)
    forest.certified_edges = len(known)  # over all rounds
    if finder is not None and any(b.status == "bracket" for b in found):
        if join_with_paths(problem, forest, found, finder, separators):
            found = brackets(forest, problem, levels, separators, loss_floor)
    return ComponentCount(found, forest)
