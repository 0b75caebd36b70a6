"""Kruskal's algorithm, plain and with lazily certified weights: the one sweep behind the
certified forests of sampled points (:mod:`sublevel.checks.counting.components`) and the merge
trees of minima (:mod:`sublevel.checks.counting.merge_trees`).

The number of components of a graph at level lambda, for every lambda at once, is read off a
minimum spanning forest: with n(lambda) nodes below lambda and m(lambda) forest edges of weight
<= lambda there are n(lambda) - m(lambda) components (0-dimensional persistence, single
linkage). Union-find is networkx's.
"""
from __future__ import annotations

import heapq
import math
from typing import Callable

import numpy as np
from networkx.utils import UnionFind


def spanning_forest(weights: np.ndarray, ii: np.ndarray, jj: np.ndarray, nodes: int) -> list[int]:
    """Edge indices of a minimum spanning forest of the graph (ii[e], jj[e]) with ``weights``,
    in increasing weight (ties by index). O(E log E)."""
    components = UnionFind(range(nodes))
    chosen = []
    for e in np.argsort(np.asarray(weights), kind="stable"):
        i, j = int(ii[e]), int(jj[e])
        if components[i] != components[j]:
            components.union(i, j)
            chosen.append(int(e))
            if len(chosen) == nodes - 1:
                break
    return chosen


def lazy_kruskal(lower: np.ndarray, ii: np.ndarray, jj: np.ndarray, nodes: int,
                 certify: Callable[[np.ndarray], np.ndarray], *, known: np.ndarray | None = None,
                 tolerance: float | None = None, stop: float = math.inf, batch: int = 64,
                 speculative: bool = False) -> list[tuple[float, int, int]]:
    """Kruskal's sweep where an edge's weight is computed only when it could still join two
    components.

    Parameters
    ----------
    lower : float array (E,)
        A lower bound of each edge's weight (e.g. max(L_i, L_j) for a barrier between i and j),
        or the weight itself where ``known`` is True.
    ii, jj : int arrays (E,)
        End points, in 0..nodes-1.
    certify : callable (chunk of edge indices) -> weights (len(chunk),)
        Computes weights, each >= its lower bound, many edges at a time.
    known : bool array (E,), optional
        Edges whose ``lower`` entry already is their weight.
    tolerance : float or None
        None: every computed weight goes back into the heap, and the sweep is exactly Kruskal's
        on the weights. A number: an edge whose weight is within ``tolerance`` of its lower
        bound joins at once (fewer heap rounds; the forest's merge level of every pair is then
        within ``tolerance`` of the exact one and never below it).
    stop : float
        Edges whose key exceeds ``stop`` are never taken (the sweep ends there).
    batch : int
        Edges certified per call: the smallest uncertified one and the next ones whose ends lie
        in different components.
    speculative : bool
        Take into a batch only edges that would still join distinct components if every edge
        before them in the batch joined: fewer wasted computations when each costs a path
        search, more (and smaller) calls when each is cheap.

    Returns
    -------
    list of (weight, i, j)
        The edges that joined two components, in the order they did (in increasing weight when
        ``tolerance`` is None).

    Notes
    -----
    Keys start at lower bounds, so when the smallest key in the heap is a computed weight it is
    the smallest weight left, and Kruskal's order is kept while only edges that can still merge
    two components are ever computed.
    """
    known = np.zeros(len(ii), dtype=bool) if known is None else known
    heap = [(float(lower[e]), bool(known[e]), int(e)) for e in range(len(ii))]
    heapq.heapify(heap)
    components = UnionFind(range(nodes))
    merges: list[tuple[float, int, int]] = []
    while heap and heap[0][0] <= stop and len(merges) < nodes - 1:
        key, done, e = heapq.heappop(heap)
        i, j = int(ii[e]), int(jj[e])
        if components[i] == components[j]:
            continue
        if done:
            components.union(i, j)
            merges.append((key, i, j))
            continue
        trial = UnionFind()
        trial.union(components[i], components[j])
        chunk, deferred = [e], []
        while heap and len(chunk) < batch and not heap[0][1] and heap[0][0] <= stop:
            item = heapq.heappop(heap)
            a, b = components[int(ii[item[2]])], components[int(jj[item[2]])]
            if a == b:
                continue
            if speculative:
                if trial[a] == trial[b]:
                    deferred.append(item)
                    continue
                trial.union(a, b)
            chunk.append(item[2])
        chunk_array = np.array(chunk)
        weights = np.maximum(np.asarray(certify(chunk_array), dtype=float), lower[chunk_array])
        for k in np.argsort(weights, kind="stable"):
            e2, weight = int(chunk_array[k]), float(weights[k])
            i2, j2 = int(ii[e2]), int(jj[e2])
            if tolerance is None or weight > lower[e2] + tolerance:
                heapq.heappush(heap, (weight, True, e2))
            elif components[i2] != components[j2]:
                components.union(i2, j2)
                merges.append((weight, i2, j2))
        for item in deferred:
            heapq.heappush(heap, item)
    return merges


def threshold_forest(lower: np.ndarray, ii: np.ndarray, jj: np.ndarray, nodes: int,
                     certify: Callable[[np.ndarray], np.ndarray], level: float, *,
                     known: np.ndarray | None = None, batch: int = 64) -> list[tuple[float, int, int]]:
    """A spanning forest of the graph of edges whose weight is <= ``level``, computing a weight
    only for an edge whose ends are not yet joined.

    Edges are taken in increasing ``lower`` (a lower bound of the weight; edges with
    ``lower > level`` cannot join and are never computed). A batch holds edges that would
    still join distinct components if every edge before them in the batch joined; an edge
    that batch makes redundant waits for the next one. An edge joins when its weight is
    <= ``level``. The components are those of Kruskal's sweep stopped at ``level`` (both are the
    components of the same graph), but an edge inside a component already joined is never
    computed, whatever its weight: far fewer computations when the weights lie above their
    lower bounds, which is where Kruskal's order must compute them all.

    Parameters
    ----------
    lower, ii, jj, nodes, certify, known, batch
        As for :func:`lazy_kruskal`.
    level : float

    Returns
    -------
    list of (weight, i, j)
        The joining edges, each of weight <= ``level``.
    """
    known = np.zeros(len(ii), dtype=bool) if known is None else known
    order = [int(e) for e in np.argsort(lower, kind="stable") if lower[e] <= level]
    components = UnionFind(range(nodes))
    merges: list[tuple[float, int, int]] = []
    waiting: list[int] = []
    position = 0
    while (position < len(order) or waiting) and len(merges) < nodes - 1:
        queue, waiting = waiting + order[position:position + 4 * batch], []
        position += 4 * batch
        trial = UnionFind()
        chunk = []
        for e in queue:
            a, b = components[int(ii[e])], components[int(jj[e])]
            if a == b:
                continue
            if known[e]:
                if lower[e] <= level:
                    components.union(a, b)
                    merges.append((float(lower[e]), int(ii[e]), int(jj[e])))
                continue
            if trial[a] == trial[b] or len(chunk) == batch:
                waiting.append(e)
                continue
            trial.union(a, b)
            chunk.append(e)
        if not chunk:
            continue
        chunk_array = np.array(chunk)
        weights = np.maximum(np.asarray(certify(chunk_array), dtype=float), lower[chunk_array])
        for e, weight in zip(chunk, weights):
            i, j = int(ii[e]), int(jj[e])
            if weight <= level and components[i] != components[j]:
                components.union(i, j)
                merges.append((float(weight), i, j))
    return merges
