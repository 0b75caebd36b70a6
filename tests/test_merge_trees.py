"""Merge trees: levels against brute force on random graphs, persistence, the pruned search
against all pairs, G1/G2 trees, GraphML and the disconnectivity figure, bad input."""
import itertools

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sublevel.checks.counting.merge_trees import find_minima, merge_tree, single_linkage
from sublevel.constructions import construct
from sublevel.figures.disconnectivity import save_disconnectivity, tree_layout
from sublevel.theory.errors import InputError


def random_graph(seed, m):
    rng = np.random.default_rng(seed)
    losses = rng.uniform(0, 1, m)
    edges = np.array([e for e in itertools.combinations(range(m), 2) if rng.uniform() < 0.5], dtype=int).reshape(-1, 2)
    weights = np.maximum(losses[edges[:, 0]], losses[edges[:, 1]]) + rng.exponential(0.5, len(edges)) if len(edges) \
        else np.zeros(0)
    return torch.as_tensor(losses), edges, weights


def brute_counts(losses, edges, weights, level):
    graph = nx.Graph()
    graph.add_nodes_from(i for i, loss in enumerate(losses) if loss <= level)
    graph.add_edges_from((i, j) for (i, j), w in zip(edges, weights) if w <= level)
    return nx.number_connected_components(graph)


def brute_minimax(m, edges, weights):
    """Minimax barrier between every pair by Floyd-Warshall on (min, max)."""
    d = np.full((m, m), np.inf)
    np.fill_diagonal(d, -np.inf)
    for (i, j), w in zip(edges, weights):
        d[i, j] = d[j, i] = min(d[i, j], w)
    for k in range(m):
        d = np.minimum(d, np.maximum(d[:, k:k + 1], d[k:k + 1, :]))
    return d


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 9))
def test_levels_match_brute_force_on_random_graphs(seed, m):
    losses, edges, weights = random_graph(seed, m)
    tree = single_linkage(torch.zeros(m, 1), losses, edges, weights)
    levels = sorted(set(losses.tolist()) | set(weights.tolist())) + [10.0]
    assert tree.counts(levels) == [brute_counts(losses.numpy(), edges, weights, lam) for lam in levels]
    # Merge levels of every pair are the brute-force minimax barriers.
    minimax = brute_minimax(m, edges, weights)
    np.fill_diagonal(minimax, losses.numpy())
    assert np.array_equal(tree.merge_levels(), minimax)
    # Persistence: classes alive at lambda are N_lambda.
    pairs = tree.persistence()
    for lam in levels:
        assert sum(b <= lam < d for b, d, _ in pairs) == tree.counts([lam])[0]


def g2_problem():
    data = construct("one-neuron")
    return data, data.problem(data.default_architecture())


def test_g2_tree_pruned_equals_all_pairs_and_ground_truth():
    data, problem = g2_problem()
    points = torch.tensor([[-1.0, 2.0], [-2.0, 1.0], [-0.5, 4.0], [1.0, 1.0], [2.0, 0.5]], dtype=torch.float64)
    fast = dict(steps=100, max_rounds=4)
    from sublevel.checks.paths import get_finder
    pruned = merge_tree(problem, points, get_finder("dss", **fast))
    full = merge_tree(problem, points, get_finder("dss", **fast), pairs="all")
    assert len(pruned.searched) < len(full.searched) == 10
    assert pruned.counts([0.4, 1.0, 2.2, 2.6]) == full.counts([0.4, 1.0, 2.2, 2.6]) == [0, 1, 2, 1]
    # The two valleys merge only on the wall w = 0, at (1 + a^2)/2 = 2.5 (certified, not below).
    assert max(w for w, _, _ in pruned.merges) >= 2.5 - 1e-9
    deaths = sorted(d for _, d, _ in pruned.persistence())
    assert deaths[-1] == float("inf") and deaths[-2] >= 2.5 - 1e-9


def test_g1_quadrants_merge_only_at_one():
    data = construct("scalar-linear")
    problem = data.problem(data.default_architecture())
    points = torch.tensor([[1.0, 1.0], [2.0, 0.5], [-1.0, -1.0], [-0.5, -2.0]], dtype=torch.float64)
    tree = merge_tree(problem, points, "dss")
    assert tree.counts([0.01, 0.5, 0.99]) == [2, 2, 2]
    assert tree.counts([1.0 + 1e-9]) == [1]


def test_find_minima_graphml_and_figure(tmp_path):
    data, problem = g2_problem()
    points, losses = find_minima(problem, starts=6, steps=200, lr=0.05)
    assert points.shape == (6, 2) and torch.allclose(problem.loss(points), losses)
    tree = merge_tree(problem, points, "linear")
    tree.write_graphml(tmp_path / "tree.graphml")
    graph = nx.read_graphml(tmp_path / "tree.graphml")
    assert graph.number_of_nodes() == 6 and graph.number_of_edges() >= 5
    x, height, parent, roots = tree_layout(tree)
    assert len(x) == 6 + len(tree.merges) and sorted(x[:6]) == list(map(float, range(6)))
    save_disconnectivity(tree, tmp_path / "g2.png", "G2")
    assert (tmp_path / "g2.png").stat().st_size > 1000


def test_bad_input():
    _, problem = g2_problem()
    with pytest.raises(InputError):
        merge_tree(problem, torch.tensor([[float("nan"), 1.0], [1.0, 1.0]]), "linear")
    with pytest.raises(InputError):
        merge_tree(problem, torch.ones(3, 5), "linear")
    with pytest.raises(InputError):
        merge_tree(problem, torch.ones(3, 2), "linear", pairs="some")


def test_cli_writes_graphml_and_figure(tmp_path, capsys):
    from sublevel.cli import main

    data = tmp_path / "perm.npz"
    assert main(["construct", "relu-permutation", "--out", str(data)]) == 0
    capsys.readouterr()
    graphml, figure = tmp_path / "t.graphml", tmp_path / "t.png"
    args = ["merge-tree", "--data", str(data), "--arch", "2-2-1", "--activation", "relu", "--no-bias",
            "--finder", "linear", "--starts", "4", "--steps", "100"]
    assert main(args + ["--graphml", str(graphml), "--figure", str(figure)]) == 0
    out = capsys.readouterr().out
    assert "(raw)" in out and "persistence pairs" in out
    assert nx.read_graphml(graphml).number_of_nodes() == 6 and figure.stat().st_size > 1000
    assert main(args + ["--modulo-symmetry", "--json"]) == 0
    import json
    report = json.loads(capsys.readouterr().out)
    assert report["counts"] == "modulo symmetry" and report["minima"] == 6


@pytest.mark.parametrize("extra", [["--figure", "x.gif"], ["--tolerance", "-1"], ["--finder", "warp"]])
def test_cli_bad_input_one_line_exit_2(tmp_path, capsys, extra):
    from sublevel.cli import main

    data = tmp_path / "g2.npz"
    assert main(["construct", "one-neuron", "--out", str(data)]) == 0
    capsys.readouterr()
    code = main(["merge-tree", "--data", str(data), "--arch", "1-1-1", "--activation", "relu", "--no-bias",
                 "--starts", "2", "--steps", "10"] + extra)
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "error" in err


class TableFinder:
    """A deterministic fake finder: the barrier of a pair is looked up in a table (keyed by
    the endpoints' coordinates), so a pair's answer does not depend on its batch."""

    name = "table"

    def __init__(self, table):
        self.table = table

    def batch(self, problem, starts, ends, level=None):
        from sublevel.checks.paths import Path

        out = []
        for a, b in zip(starts, ends):
            key = tuple(sorted([tuple(a.tolist()), tuple(b.tolist())]))
            weight = torch.tensor([self.table[key]], dtype=torch.float64)
            out.append(Path(torch.stack([a, b]).cpu(), weight, weight, True, self.name, 1))
        return out


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10**6), st.integers(3, 14), st.sampled_from([0.0, 0.05, 0.2]))
def test_lazy_kruskal_is_within_tolerance_of_all_pairs(seed, m, tolerance):
    rng = np.random.default_rng(seed)
    data = construct("scalar-linear")
    problem = data.problem(data.default_architecture())
    losses = rng.uniform(0, 0.5, m)
    w1 = rng.uniform(0.5, 2.0, m)
    points = torch.as_tensor(np.stack([w1, (1 + np.sqrt(losses)) / w1], axis=1))
    losses = problem.loss(points).numpy()
    table = {}
    for i, j in itertools.combinations(range(m), 2):
        key = tuple(sorted([tuple(points[i].tolist()), tuple(points[j].tolist())]))
        table[key] = max(losses[i], losses[j]) + rng.exponential(0.3) * (rng.uniform() < 0.6) + 5.0 * (rng.uniform() < 0.2)
    pruned = merge_tree(problem, points, TableFinder(table), tolerance=tolerance, batch=3)
    full = merge_tree(problem, points, TableFinder(table), pairs="all", tolerance=tolerance)
    gap = pruned.merge_levels() - full.merge_levels()
    finite = np.isfinite(full.merge_levels())
    assert np.isfinite(pruned.merge_levels())[finite].all()
    assert (gap[finite] >= -1e-12).all() and (gap[finite] <= tolerance + 1e-12).all()
    assert len(pruned.searched) <= len(full.searched) == m * (m - 1) // 2


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), nodes=st.integers(2, 30), edges=st.integers(0, 80),
       level=st.floats(1e-3, 1.0), batch=st.integers(1, 8), above=st.sampled_from([2.0 ** -52, 1e-12, 1e-9]))
def test_threshold_forest_gives_the_components_of_the_edges_below_the_level(seed, nodes, edges, level, batch,
                                                                            above):
    """Its components equal networkx's over the edges of weight <= level; every joining edge
    is <= level; no edge is computed twice; a known weight is used, never computed. A third of
    the weights sit exactly at the level or a relative ``above`` over it (rounding-sized), where
    a sloppy comparison would join."""
    import networkx as nx

    from sublevel.checks.counting.kruskal import threshold_forest

    rng = np.random.default_rng(seed)
    ii, jj = rng.integers(0, nodes, edges), rng.integers(0, nodes, edges)
    weights = rng.uniform(0, 1, edges)
    edge_case = rng.uniform(size=edges) < 1 / 3
    weights[edge_case] = level * np.where(rng.uniform(size=int(edge_case.sum())) < 0.5, 1.0, 1.0 + above)
    known = rng.uniform(size=edges) < 0.3
    lower = np.where(known, weights, weights * rng.uniform(0, 1, edges))
    asked: list[int] = []

    def certify(chunk):
        asked.extend(chunk.tolist())
        return weights[chunk]

    merges = threshold_forest(lower, ii, jj, nodes, certify, level, known=known, batch=batch)
    assert len(asked) == len(set(asked)) and not known[asked].any()
    assert all(w <= level for w, _, _ in merges)
    ours, truth = nx.Graph(), nx.Graph()
    ours.add_nodes_from(range(nodes))
    truth.add_nodes_from(range(nodes))
    ours.add_edges_from((i, j) for _, i, j in merges)
    truth.add_edges_from((int(i), int(j)) for i, j, w in zip(ii, jj, weights) if w <= level)
    assert sorted(map(sorted, nx.connected_components(ours))) == sorted(map(sorted, nx.connected_components(truth)))
    assert len(merges) == nodes - nx.number_connected_components(truth)


def test_the_candidate_graph_reuses_the_knn_query_exactly():
    """candidate_edges hands spanning_edges the kNN graph built from its own query; it must be
    scikit-learn's kneighbors_graph(), coincident points included."""
    from sklearn.neighbors import NearestNeighbors

    from sublevel.checks.counting.components import _without_self

    rng = np.random.default_rng(0)
    for m, k in [(50, 8), (5, 8), (3, 8), (30, 3)]:
        points = rng.normal(size=(m, 4))
        points[1:min(m, 12)] = points[0]  # many coincident points: some rows miss themselves
        distances, nbr = NearestNeighbors(n_neighbors=min(k + 1, m)).fit(points).kneighbors(points)
        ours = _without_self(distances, nbr).toarray()
        theirs = NearestNeighbors(n_neighbors=min(k, m - 1)).fit(points).kneighbors_graph(mode="distance").toarray()
        np.testing.assert_array_equal(ours, theirs)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), clusters=st.integers(1, 12), size=st.integers(1, 40), dim=st.integers(1, 5),
       spread=st.sampled_from([1e-3, 0.1, 10.0]), width=st.sampled_from([2, 8, 10_000]))
def test_boruvka_joins_each_component_by_its_shortest_edge(seed, clusters, size, dim, spread, width):
    """_shortest_outgoing against brute force on clustered points with some labels shuffled:
    every component gets one edge leaving it; with neighbour lists of every point it is the
    exact shortest, and otherwise no longer than the shortest that the lists hold (or exact,
    for a component whose lists hold no outside point); spanning_edges is a spanning tree."""
    assume(clusters * size >= 2)
    from scipy.spatial.distance import cdist
    from sklearn.neighbors import NearestNeighbors

    from sublevel.checks.counting.components import _shortest_outgoing, spanning_edges

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)) * 10
    points = np.concatenate([c + spread * rng.normal(size=(size, dim)) for c in centres])
    labels = np.repeat(np.arange(clusters), size)
    flip = rng.random(len(points)) < 0.1
    labels[flip] = rng.integers(0, clusters, flip.sum())
    if len(np.unique(labels)) < 2:
        labels[0] = clusters
    distance = cdist(points, points)
    m = len(points)
    near = NearestNeighbors(n_neighbors=min(width, m - 1) + 1).fit(points).kneighbors(points)
    joins = _shortest_outgoing(points, labels, near)
    assert sorted(labels[i] for i, _ in joins) == sorted(np.unique(labels).tolist())
    listed = labels[near[1]] != labels[:, None]
    for i, j in joins:
        assert labels[i] != labels[j]
        inside = labels == labels[i]
        shortest = distance[np.ix_(inside, ~inside)].min()
        members = np.flatnonzero(inside)
        in_lists = [near[0][p][listed[p]].min() for p in members if listed[p].any()]
        # scikit-learn's brute-force distances expand |a - b|^2, hence the relative 1e-6
        if width >= m - 1 or not in_lists:
            assert distance[i, j] <= shortest * (1 + 1e-6) + 1e-12
        else:
            assert distance[i, j] <= min(in_lists) * (1 + 1e-6) + 1e-12
    tree = spanning_edges(points, k=3)
    graph = nx.Graph()
    graph.add_nodes_from(range(len(points)))
    graph.add_edges_from(map(tuple, tree))
    assert len(tree) == len(points) - 1 and nx.is_connected(graph)
