"""Components of sublevel sets from sampled points, with rigorous bounds where a proof exists.

Points theta_i of Omega(lambda) (from :mod:`sublevel.checks.counting.sampling`) are nodes; a candidate edge
(i, j) gets weight w_ij = certified upper bound of max_t L on the segment [theta_i, theta_j]
(:mod:`sublevel.checks.certify.segments`). Two nodes are joined at level lambda when w_ij <= lambda. With
n(lambda) nodes and m(lambda) joining edges in a spanning forest of that graph, it has
n(lambda) - m(lambda) components; the forest is grown lazily
(:func:`~sublevel.checks.counting.kruskal.threshold_forest`): a segment is certified only when its
ends are not yet joined. (The merge tree of minima across all levels, 0-dimensional
persistence, is :mod:`sublevel.checks.counting.merge_trees`.)

Each level is counted on its own sample (:meth:`~sublevel.checks.counting.sampling.LevelSample.at`:
the points below it, thinned by seeded priorities), so its count never depends on which other
levels are asked. Candidate edges are the k nearest neighbours (scikit-learn) among that
level's points, a spanning tree of short edges, and consecutive points of each descent
trajectory, never all pairs.
Certification is lazy: edges are taken in order of max(L_i, L_j), a cheap lower bound of
their weight; an edge whose endpoints are already joined is skipped without computing its
segment, and the sweep stops past the highest level asked for.

Every count carries three numbers (:class:`Bracket`):

- ``lower``: a rigorous lower bound on N_lambda: the number of distinct sign patterns, among
  sampled points proven to lie in Omega(lambda), of separators whose proven floor exceeds
  lambda; or a whole-space bound (:data:`WholeSpaceBounds`), whichever is larger; 0 when
  nothing is proven.
- ``sampled``: the components of the certified graph over the sampled points: an *estimate*.
  Each edge is a path inside Omega(lambda), so ``sampled`` bounds from above only the number of
  components that hold sampled points; it cannot see a component no sampled point reached.
- ``upper``: a rigorous upper bound on N_lambda, or None. Only arguments that cover the whole
  parameter space give one: a whole-space bound, or lambda below a proven floor of the loss
  (upper 0). Sampling never does.

The status is ``exact`` when ``upper == lower``, ``bounded`` when both are rigorous and apart,
``lower bound`` with no upper bound and ``lower >= 1``, ``estimate`` otherwise.

All comparisons with a level are rigorous and scale-free. A point is a node only when a
rigorous upper bound of its loss (float64 rounding included) is <= lambda; an edge joins only
when the certified segment maximum is <= lambda; a separator separates only when its proven
floor is > lambda. A value within rounding of the level is therefore never joined: it is left
out, which can only lower ``sampled`` and ``lower``, never make a bound false. Anything that
contradicts a proof (lower > upper, a negative count, a certified edge between points with
different separator signs, a segment maximum below a loss on the segment) raises
:class:`~sublevel.theory.errors.Contradiction`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import networkx as nx
import numpy as np
import torch
from networkx.utils import UnionFind
from scipy.sparse.csgraph import minimum_spanning_tree
from sklearn.neighbors import NearestNeighbors

from sublevel.checks.counting.kruskal import spanning_forest, threshold_forest
from sublevel.checks.counting.sampling import LevelSample, SampleSettings, descend, merge_samples, sample_sublevel
from sublevel.checks.certify.segments import loss_upper_bounds, path_maximum, segment_maxima
from sublevel.constructions.certificates import Separator, sign_patterns
from sublevel.theory.bounds import Bracket
from sublevel.theory.errors import Contradiction, InputError
from sublevel.theory.levels import check_levels
from sublevel.theory.problems import Problem

Certifier = Callable[[Problem, torch.Tensor, torch.Tensor], torch.Tensor]
"""(problem, starts (E, P), ends (E, P)) -> certified upper bounds (E,) of L on each segment."""

WholeSpaceBounds = Callable[[float], tuple[int, "int | None"]]
"""level -> (lower, upper) bounds on N_level, proven by an argument that covers the whole
parameter space (upper None when the argument gives none), e.g. the exact counts of
:mod:`sublevel.checks.counting.chains` or the coercive boxes of :mod:`sublevel.checks.counting.ridge_boxes`."""


def exact_certifier(problem: Problem, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """Certified segment maxima: exact for one hidden layer, a rigorous bound deeper."""
    return segment_maxima(problem, start, end).upper


@dataclass
class MergeForest:
    """Certified single-linkage forest of sampled points.

    ``losses`` are rigorous upper bounds of the points' losses (a point is in Omega(lambda)
    when its entry is <= lambda). ``merges`` are (weight, i, j): at level >= weight the
    components of i and j are one, through a certified segment; every weight is at least the
    losses of its end points. ``certified_edges`` counts segments actually computed,
    ``candidate_edges`` the distinct candidates considered (both over all rounds).
    """

    points: torch.Tensor
    losses: torch.Tensor
    merges: list[tuple[float, int, int]] = field(default_factory=list)
    candidate_edges: int = 0
    certified_edges: int = 0
    path_edges: int = 0
    apart: list["Apart"] = field(default_factory=list)

    def counts(self, levels: Sequence[float]) -> list[int]:
        """Graph components among points below each level, from the one sweep."""
        losses = self.losses.numpy()
        weights = np.array([w for w, _, _ in self.merges])
        return [int((losses <= lam).sum()) - int((weights <= lam).sum()) for lam in levels]

    def labels(self, level: float) -> dict[int, int]:
        """Component representative of every point below ``level``, in the certified graph."""
        nodes = torch.nonzero(self.losses <= level).flatten().tolist()
        components = UnionFind(nodes)
        for weight, i, j in self.merges:
            if weight <= level:
                components.union(i, j)
        return {i: components[i] for i in nodes}

    def to_networkx(self) -> nx.Graph:
        """The forest as a NetworkX graph: node attribute ``loss`` (a rigorous upper bound of the
        point's loss), edge attribute ``barrier`` (a certified upper bound of the segment's
        maximum). Components read off it at a level are estimates of N_lambda."""
        graph = nx.Graph()
        for i, loss in enumerate(self.losses.tolist()):
            graph.add_node(i, loss=loss)
        for weight, i, j in self.merges:
            graph.add_edge(i, j, barrier=weight)
        return graph

    def write_graphml(self, path) -> None:
        from sublevel.constructions.storage import atomic_output

        with atomic_output(path) as tmp:
            nx.write_graphml(self.to_networkx(), tmp)


INTERIOR_CHECKS = (0.25, 0.5, 0.75)
"""Points of each certified segment where the loss is also computed: a certified maximum below
any of them (or below an end point) is a contradiction."""



def candidate_edges(sample: LevelSample, k: int = 8) -> np.ndarray:
    """Unique pairs (E, 2), i < j, among the points of one level's sample: k nearest neighbours
    (scikit-learn), a spanning tree of near pairs (:func:`spanning_edges`, so the candidate
    graph is connected; a kNN graph of clustered points often is not), and consecutive points
    of each descent trajectory. No all-pairs structure: O(M k) pairs for M points."""
    points = sample.points.numpy()
    pairs = [np.zeros((0, 2), dtype=int)]
    if len(points) >= 2:
        neighbours = NearestNeighbors(n_neighbors=min(k + 1, len(points))).fit(points)
        distances, nbr = neighbours.kneighbors(points)
        pairs.append(np.stack([np.repeat(np.arange(len(points)), nbr.shape[1]), nbr.ravel()], axis=1))
        pairs.append(spanning_edges(points, k, _without_self(distances, nbr)))
    traj = sample.trajectory.numpy()
    order = np.argsort(traj, kind="stable")
    same = (traj[order][1:] == traj[order][:-1]) & (traj[order][1:] >= 0)
    pairs.append(np.stack([order[:-1][same], order[1:][same]], axis=1))
    pairs = np.sort(np.concatenate(pairs), axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return np.unique(pairs, axis=0)


def _without_self(distances: np.ndarray, nbr: np.ndarray):
    """The sparse k-nearest-neighbour distance graph from a query of the fitted points
    themselves with k + 1 neighbours: each row drops the point itself (or, where coincident
    points hide it, its first column), as scikit-learn's ``kneighbors_graph()`` does, so the
    graph is that one without a second query."""
    from scipy.sparse import csr_matrix

    m, width = nbr.shape
    keep = nbr != np.arange(m)[:, None]
    keep[keep.all(axis=1), 0] = False
    return csr_matrix((distances[keep], nbr[keep], np.arange(0, m * (width - 1) + 1, width - 1)), shape=(m, m))


def spanning_edges(points: np.ndarray, k: int = 8, graph=None) -> np.ndarray:
    """Edges (M-1, 2) of a spanning tree of short edges, without all-pairs distances.

    The minimum spanning tree of the k-nearest-neighbour graph (scipy, sparse), its components
    then joined Boruvka-style: each round adds, for every component, a short edge to a point
    outside it (:func:`_shortest_outgoing`: the shortest among its points' 4k nearest
    neighbours, or the exact shortest by a search against all outside points where those hold
    none), which at least halves their number. A spanning tree of short edges, which is all the
    candidate graph needs; not always the Euclidean minimum spanning tree.
    Memory O(M k); time O(M k log M) per round, plus one search per enclosed component.
    """
    m = len(points)
    if m < 2:
        return np.zeros((0, 2), dtype=int)
    if graph is None:  # else the caller's kNN distance graph of the same points and k
        graph = NearestNeighbors(n_neighbors=min(k, m - 1)).fit(points).kneighbors_graph(mode="distance")
    graph = graph.copy()
    # Coincident points have distance 0, which csgraph reads as "no edge": nudge them.
    graph.data[graph.data == 0] = np.finfo(float).tiny
    tree = minimum_spanning_tree(graph).tocoo()
    edges = [np.stack([tree.row, tree.col], axis=1)]
    components = UnionFind(range(m))
    for i, j in edges[0]:
        components.union(int(i), int(j))
    near = None  # every point's 4k nearest neighbours, queried once for all rounds
    while True:
        labels = np.array([components[i] for i in range(m)])
        roots = np.unique(labels)
        if len(roots) == 1:
            break
        if near is None:
            near = NearestNeighbors(n_neighbors=min(4 * k, m - 1) + 1).fit(points).kneighbors(points)
        joins = _shortest_outgoing(points, labels, near)
        for i, j in joins:
            if components[i] != components[j]:
                components.union(i, j)
                edges.append(np.array([[i, j]]))
    return np.concatenate(edges).astype(int)


def _shortest_outgoing(points: np.ndarray, labels: np.ndarray, near: tuple[np.ndarray, np.ndarray]
                       ) -> list[tuple[int, int]]:
    """For every component (points with one label), a short edge (i, j) to another one.

    ``near`` holds every point's nearest neighbours (itself included: ``kneighbors`` of all
    points). A component's edge is the shortest from one of its points to the first outside
    point among that point's neighbours; a component none of whose points has an outside
    neighbour there gets its exact shortest outgoing edge (one nearest-neighbour search of its
    points against all points outside it). Every edge leaves its component, so Boruvka's rounds
    still at least halve the number of components.
    """
    distance, nbr = near
    own = labels
    outside = labels[nbr] != own[:, None]
    found = outside.any(axis=1)
    first = outside.argmax(axis=1)
    rows = np.flatnonzero(found)
    gaps = distance[rows, first[rows]]
    order = np.lexsort((gaps, own[rows]))
    ranked = own[rows][order]
    chosen = rows[order][np.r_[True, ranked[1:] != ranked[:-1]]] if len(rows) else rows
    joins = [(int(i), int(nbr[i, first[i]])) for i in chosen]
    for label in np.setdiff1d(np.unique(labels), own[chosen]):
        inside = np.flatnonzero(labels == label)
        others = np.flatnonzero(labels != label)
        gap, nearest = NearestNeighbors(n_neighbors=1).fit(points[others]).kneighbors(points[inside])
        best = int(np.argmin(gap[:, 0]))
        joins.append((int(inside[best]), int(others[nearest[best, 0]])))
    return joins


def merge_forest(problem: Problem, sample: LevelSample, level: float, k: int = 8,
                 certifier: Certifier = exact_certifier, batch: int = 64,
                 known: dict[tuple[int, int], float] | None = None,
                 seen: set[tuple[int, int]] | None = None) -> MergeForest:
    """The certified graph of one level's sample: a spanning forest of its candidate edges whose
    certified segment maximum is <= ``level``.

    ``known`` maps pairs of point ids (:attr:`LevelSample.ids`, smaller first) to segment
    maxima certified earlier, by this level or another drawn from the same sample; it is read
    and extended, so each segment is certified once. ``seen`` collects the candidate pairs
    (by ids) over all calls.

    Notes
    -----
    :func:`~sublevel.checks.counting.kruskal.threshold_forest` with lower bounds
    max(L_i, L_j) <= w_ij: a segment is certified only when its ends are not yet joined (in
    batches of ``batch``), so a component's inner edges are never computed once it is
    connected. The forest's merge weights are certified maxima (each <= ``level``); they are
    not a minimum spanning forest, so they say nothing about lower levels.
    """
    exact = problem.to(device="cpu", dtype=torch.float64)
    pairs = candidate_edges(sample, k)
    losses = loss_upper_bounds(exact, sample.points).numpy()
    computed = sample.losses.numpy()
    ids = sample.ids.numpy()
    keys = [(int(min(ids[i], ids[j])), int(max(ids[i], ids[j]))) for i, j in pairs]
    if seen is not None:
        seen.update(keys)
    forest = MergeForest(sample.points, torch.from_numpy(losses), candidate_edges=len(pairs))
    known = {} if known is None else known
    ii, jj = pairs[:, 0], pairs[:, 1]
    done = np.array([key in known for key in keys], dtype=bool)
    lower = np.array([known.get(key, max(losses[i], losses[j])) for key, (i, j) in zip(keys, pairs)], dtype=float)

    def certify(chunk: np.ndarray) -> np.ndarray:
        bounds = np.asarray(certifier(exact, sample.points[ii[chunk]], sample.points[jj[chunk]]).tolist(), dtype=float)
        a, b = sample.points[ii[chunk]], sample.points[jj[chunk]]
        inside = exact.loss(torch.cat([a + t * (b - a) for t in INTERIOR_CHECKS])).reshape(len(INTERIOR_CHECKS), -1)
        seen_on = np.maximum(np.maximum(computed[ii[chunk]], computed[jj[chunk]]), inside.max(0).values.numpy())
        # Rounding: the float64 losses may exceed an exact maximum by a few ulps of the loss.
        if (bounds < seen_on * (1 - 1e-12)).any():
            k = int(np.argmax(bounds < seen_on * (1 - 1e-12)))
            raise Contradiction(f"certified segment maximum {bounds[k]:.17g} is below the loss {seen_on[k]:.17g} "
                                f"computed at a point of the segment")
        forest.certified_edges += len(chunk)
        weights = np.maximum(bounds, lower[chunk])
        known.update({keys[e]: float(w) for e, w in zip(chunk, weights)})
        return weights

    forest.merges = threshold_forest(lower, ii, jj, len(losses), certify, level, known=done, batch=batch)
    return forest


@dataclass(frozen=True)
class Apart:
    """A component of the certified graph at ``level`` that a path finder could not join to
    another: ``node`` is its lowest sampled point (loss ``loss``). Of the paths the finder built
    from it to other components, the one with the lowest certified upper bound: its maximum lies
    in [``attained``, ``closest``] (a loss attained on it, and the certified upper bound, above
    the level, else the path would have joined them); both None when no path was searched
    (``reason`` says why). The bracket is about that path only: other paths may stay lower, so
    the component may still be joined to another one."""

    level: float
    node: int
    loss: float
    closest: float | None
    finder: str
    reason: str = ""
    attained: float | None = None

    def describe(self) -> str:
        head = f"component of point {self.node} (loss {self.loss:.4g}): "
        if self.closest is None:
            return head + self.reason
        bracket = (f"its maximum is in [{self.attained:.4g}, {self.closest:.4g}] (a loss computed at a point of it, "
                   f"up to float64 rounding, and a certified upper bound)")
        # 'at least' only with a margin far above the rounding of one computed loss (1e-11 relative)
        if self.attained > self.level + 1e-9 * max(abs(self.attained), abs(self.level)):
            return (head + f"the lowest {self.finder} path tried to another component reaches at least "
                    f"{self.attained:.4g} > {self.level:.6g}; {bracket}; other paths were not tried")
        return (head + f"no {self.finder} path tried to another component is certified below {self.level:.6g}: "
                f"for the lowest, {bracket}")

    def to_json(self) -> dict:
        return {"level": self.level, "node": self.node, "loss": self.loss, "closest": self.closest,
                "attained": self.attained, "finder": self.finder, "reason": self.reason}


@dataclass(frozen=True)
class ComponentCount:
    """Brackets per level, the forest each level's count came from, and notes on what was
    proven how. ``certified_edges`` and ``candidate_edges`` count distinct segments over all
    levels (a segment certified for one level is reused by the others)."""

    brackets: list[Bracket]
    forests: tuple[MergeForest, ...]
    notes: tuple[str, ...] = ()
    certified_edges: int = 0
    candidate_edges: int = 0

    @property
    def forest(self) -> MergeForest:
        """The forest of the highest level (its sample is the largest)."""
        return self.forests[-1]

    @property
    def path_edges(self) -> int:
        return sum(forest.path_edges for forest in self.forests)

    @property
    def apart(self) -> list[Apart]:
        """Components left apart after the path finders' pass, every level."""
        return [record for forest in self.forests for record in forest.apart]

    def to_json(self) -> dict:
        return {
            "levels": [b.level for b in self.brackets],
            "components": [b.best for b in self.brackets],
            "lower": [b.lower for b in self.brackets],
            "sampled": [b.sampled for b in self.brackets],
            "upper": [b.upper for b in self.brackets],
            "exact": [b.exact for b in self.brackets],
            "status": [b.status for b in self.brackets],
            "points": [b.points for b in self.brackets],
            "candidate_edges": self.candidate_edges,
            "certified_edges": self.certified_edges,
            "path_edges": self.path_edges,
            "apart": [record.to_json() for record in self.apart],
            "notes": list(self.notes),
        }


def brackets(forest: MergeForest, problem: Problem, levels: Sequence[float],
             separators: Sequence[Separator] = (), loss_floor: float | None = None,
             whole_space: WholeSpaceBounds | None = None) -> list[Bracket]:
    """``lower``, ``sampled`` and ``upper`` per level (see the module docstring for their meaning).

    ``loss_floor`` must be a proven lower bound of L over the whole parameter space and
    ``whole_space`` proven bounds (:data:`WholeSpaceBounds`); the separators' floors must be proven.

    Raises
    ------
    Contradiction
        When a component of the certified graph holds points with different sign patterns of
        separators whose floor exceeds the level (a certified edge crossed a proven separator),
        or when the bounds disagree (:class:`Bracket`).
    """
    sampled_counts = forest.counts(levels)
    out = []
    for level, sampled in zip(levels, sampled_counts):
        labels = forest.labels(level)
        below = torch.tensor(sorted(labels), dtype=torch.long)
        lower, upper = 0, None
        if len(below):
            patterns = sign_patterns(list(separators), problem.architecture, forest.points[below], level)
            distinct = {}
            for node, row in zip(below.tolist(), map(tuple, patterns.tolist())):
                if distinct.setdefault(labels[node], row) != row:
                    raise Contradiction(f"level {level:.17g}: a certified edge joins points on both sides of a "
                                        f"proven separator")
            lower = len(set(distinct.values()))
        if level < 0 or (loss_floor is not None and level < loss_floor):
            upper = 0  # L >= 0 everywhere (square loss, ridge >= 0), and L >= loss_floor: Omega is empty
        if whole_space is not None:
            proven_lower, proven_upper = whole_space(level)
            lower = max(lower, proven_lower)
            if proven_upper is not None:
                upper = proven_upper if upper is None else min(upper, proven_upper)
        out.append(Bracket(level, lower, sampled, upper, len(below)))
    return out


def bridge_gaps(problem: Problem, sample: LevelSample, forest: MergeForest, bracket: Bracket,
                settings: SampleSettings, first_trajectory: int) -> LevelSample | None:
    """New points between components the certified graph has not joined yet, at one level.

    If the bracket is open (:attr:`Bracket.open`), a spanning tree of short edges
    (:func:`spanning_edges`) of the points below the level is cut by the component labels; from
    the midpoint of each crossing edge, descent runs until it is below the level (as Freeman &
    Bruna's Dynamic String Sampling inserts a trained bead between two beads). Returns the
    points found (every one kept), or None.
    """
    if not bracket.open:
        return None
    labels = forest.labels(bracket.level)
    nodes = np.array(sorted(labels))
    tree = nodes[spanning_edges(sample.points[nodes].numpy())]
    crossing = [(i, j) for i, j in tree if labels[i] != labels[j]]
    if not crossing:
        return None
    pairs = torch.tensor(crossing)
    midpoints = (sample.points[pairs[:, 0]] + sample.points[pairs[:, 1]]) / 2
    return descend(problem, midpoints.to(problem.dtype), bracket.level, settings, first_trajectory)


def join_with_paths(problem: Problem, forest: MergeForest, found: Sequence[Bracket], finder,
                    separators: Sequence[Separator] = (), max_pairs: int = 64) -> int:
    """Second pass: a path finder (:mod:`sublevel.checks.paths`) between components left apart.

    For every open bracket, the lowest point of each graph component below its level stands
    for the component; pairs of these (nearest first, at most ``max_pairs``, skipping pairs
    whose separator sign patterns differ: those are proven apart) are searched in one batched
    ``finder.batch`` call with the level as target. A path certified below the level becomes
    an edge weighted by its certified maximum, and the forest's merges are recomputed by
    Kruskal over the old merges and the new edges. The finder's word is not taken: every path
    is certified again here (:func:`sublevel.checks.certify.segments.path_maximum`), the edge
    weighs that certificate, and a loss attained on the path above the maximum the finder
    reported is a :class:`~sublevel.theory.errors.Contradiction`. Components
    still apart afterwards are recorded in ``forest.apart`` (:class:`Apart`: for the path tried
    from each with the lowest certified upper bound, its certified bracket [attained, upper],
    or why none was tried). Returns the number of edges added.
    """
    added = 0
    for bracket in found:
        if not bracket.open:
            continue
        new, failed = [], []
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
        searched = {reps[a] for pair in pairs for a in pair}
        proven = {reps[a] for a in range(len(reps)) if not any(torch.equal(patterns[a], patterns[b])
                                                               for b in range(len(reps)) if b != a)}
        paths = finder.batch(problem, points[[a for a, _ in pairs]], points[[b for _, b in pairs]],
                             bracket.level) if pairs else []
        for (a, b), path in zip(pairs, paths):
            # The finder's word is not taken: its beads are certified again here, and the edge
            # (or the record of a component left apart) uses this certificate. Two certificates
            # of one path may differ in the last bits (rounding bounds summed in another order);
            # a loss *attained* on the path above the finder's certified maximum is a contradiction.
            recheck = path_maximum(problem, path.beads)
            attained, upper = float(recheck.lower.max()), float(recheck.upper.max())
            if attained > path.maximum + 1e-12 * abs(path.maximum):
                raise Contradiction(f"level {bracket.level:.17g}: a {path.finder} path reported maximum "
                                    f"{path.maximum:.17g}, but the loss on it reaches {attained:.17g}")
            if upper > bracket.level:
                failed.append((upper, attained, reps[a], reps[b]))
                continue
            new.append((max(upper, float(forest.losses[reps[a]]), float(forest.losses[reps[b]])), reps[a], reps[b]))
        if new:
            edges = sorted(forest.merges + new)
            weights, ii, jj = (np.array(column) for column in zip(*edges))
            forest.merges = [edges[e] for e in spanning_forest(weights, ii, jj, len(forest.losses))]
            forest.path_edges += len(new)
            added += len(new)
        forest.apart = _apart(forest, bracket.level, failed, searched, proven, getattr(finder, "name", "path"))
    return added


def _apart(forest: MergeForest, level: float, failed: list[tuple[float, float, int, int]], searched: set[int],
           proven: set[int], finder: str) -> list[Apart]:
    """One :class:`Apart` per component still apart at ``level``, with its closest failed path."""
    labels = forest.labels(level)
    if len(set(labels.values())) < 2:
        return []
    lowest: dict[int, int] = {}
    for node, root in labels.items():
        if root not in lowest or forest.losses[node] < forest.losses[lowest[root]]:
            lowest[root] = node
    closest: dict[int, tuple[float, float]] = {}  # root -> (upper, attained) of its lowest failed path
    for upper, attained, a, b in failed:
        if labels[a] != labels[b]:
            for root in (labels[a], labels[b]):
                closest[root] = min(closest.get(root, (np.inf, np.inf)), (upper, attained))
    out = []
    for root, node in sorted(lowest.items(), key=lambda item: item[1]):
        loss = float(forest.losses[node])
        if root in closest:
            upper, attained = closest[root]
            out.append(Apart(level, node, loss, float(upper), finder, attained=float(attained)))
        elif node in proven:
            out.append(Apart(level, node, loss, None, finder, "proven apart from every other component (its "
                                                              "separator signs differ), no path searched"))
        else:
            reason = "no path searched: not among the nearest pairs" if node not in searched else \
                "no path from it to a component still apart was searched"
            out.append(Apart(level, node, loss, None, finder, reason))
    return out


BRIDGE_SETTINGS = SampleSettings(steps=100, lr=0.01, record_every=5)
"""Descent from bridge midpoints: short and gentle, to stay near the gap it should close."""


def count_components(problem: Problem, levels: Sequence[float], settings: SampleSettings = SampleSettings(),
                     separators: Sequence[Separator] = (), loss_floor: float | None = None,
                     extra_points: torch.Tensor | None = None, k: int = 8,
                     certifier: Certifier = exact_certifier, bridge_rounds: int = 8,
                     sample: LevelSample | None = None, finder=None,
                     whole_space: WholeSpaceBounds | None = None, notes: Sequence[str] = ()) -> ComponentCount:
    """Sample Omega(max level), build the certified forest and bound N_lambda at each level.

    While some bracket is open, up to ``bridge_rounds`` rounds of :func:`bridge_gaps` add
    points between unjoined components and the forest is rebuilt. A ``sample`` drawn elsewhere
    (e.g. by the batched descent of :mod:`sublevel.checks.sweeps.descent`) replaces the sampling step;
    ``extra_points`` are then ignored (they belong in that sample). With a path ``finder``
    (:mod:`sublevel.checks.paths`), brackets still open get a second pass, :func:`join_with_paths`.
    ``separators``, ``loss_floor`` and ``whole_space`` must be proven (see :func:`brackets`);
    :func:`sublevel.checks.counting.datasets.count_dataset` derives them and should be preferred.

    Examples
    --------
    >>> from sublevel.constructions import construct
    >>> from sublevel.checks.counting.chains import chain_count, chain_separators
    >>> data = construct("scalar-linear")
    >>> problem = data.problem(data.default_architecture())
    >>> exact = lambda level: (chain_count(problem, level),) * 2
    >>> count = count_components(problem, [0.5, 1.5], separators=chain_separators(problem), whole_space=exact)
    >>> [b.describe() for b in count.brackets]
    ['2 (exact)', '1 (exact)']
    """
    levels = sorted(check_levels(levels, nonnegative=False))  # below 0 the count is simply 0
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"k (nearest neighbours per sampled point) must be an integer >= 1, got {k!r}")
    if sample is None:
        sample = sample_sublevel(problem, max(levels), settings, extra_points)
    known: dict[tuple[int, int], float] = {}
    seen: set[tuple[int, int]] = set()
    next_id = int(sample.ids.max()) + 1 if len(sample.ids) else 0
    next_trajectory = int(sample.trajectory.max()) + 1 if len(sample.trajectory) else 0
    found, forests = [], []
    for level in levels:
        own = sample.at(level, settings.max_points)
        for round_ in range(bridge_rounds + 1):
            forest = merge_forest(problem, own, level, k, certifier, known=known, seen=seen)
            (bracket,) = brackets(forest, problem, [level], separators, loss_floor, whole_space)
            if round_ == bridge_rounds or not bracket.open:
                break
            bridge = bridge_gaps(problem, own, forest, bracket, BRIDGE_SETTINGS, next_trajectory)
            if bridge is None:
                break
            own = merge_samples(own, bridge, next_id)
            next_id += len(bridge.ids)
            if len(bridge.trajectory):
                next_trajectory = int(bridge.trajectory.max()) + 1
        if finder is not None and bracket.open:
            if join_with_paths(problem, forest, [bracket], finder, separators):
                (bracket,) = brackets(forest, problem, [level], separators, loss_floor, whole_space)
        found.append(bracket)
        forests.append(forest)
    return ComponentCount(found, tuple(forests), tuple(notes), certified_edges=len(known), candidate_edges=len(seen))
