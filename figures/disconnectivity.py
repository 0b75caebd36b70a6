"""Disconnectivity graphs (Becker & Karplus 1997; the energy-landscape community's pele/disconnectionDPS).

The merge tree of minima drawn against the loss axis: every minimum is a leaf hanging from its
own loss, basins join at the certified barrier where the single-linkage tree merges them,
and the root continues upwards. Reading a horizontal line at height lambda, the number of
branches it crosses is N_lambda over the minima shown. Leaves are ordered so that in every
merge the branch holding the lower minimum comes first.
"""
from __future__ import annotations

from typing import Sequence

from matplotlib.figure import Figure
from networkx.utils import UnionFind

from sublevel.checks.counting.merge_trees import MergeTree


def tree_layout(tree: MergeTree) -> tuple[list[float], list[float], list[int | None], int]:
    """x positions, heights and parents of the leaves (0..M-1) and merge nodes (M..), and the root.

    Heights: a leaf's loss, a merge node's barrier. Several roots (a forest) hang under a
    virtual root with parent None.
    """
    losses = tree.losses.tolist()
    m = len(losses)
    height, parent = list(losses), [None] * m
    children: list[list[int]] = [[] for _ in range(m)]
    lowest = list(losses)
    components = UnionFind(range(m))
    node_of = {i: i for i in range(m)}
    for weight, i, j in tree.merges:
        a, b = node_of[components[i]], node_of[components[j]]
        node = len(height)
        height.append(weight)
        parent.append(None)
        children.append(sorted((a, b), key=lambda n: lowest[n]))
        lowest.append(min(lowest[a], lowest[b]))
        parent[a] = parent[b] = node
        components.union(i, j)
        node_of[components[i]] = node
    roots = sorted({node_of[components[i]] for i in range(m)}, key=lambda n: lowest[n])
    x = [0.0] * len(height)
    cursor = 0
    stack = [(r, False) for r in reversed(roots)]
    while stack:  # iterative post-order: leaves get consecutive x, merges the mean of their children
        node, done = stack.pop()
        if node < m:
            x[node] = float(cursor)
            cursor += 1
        elif done:
            x[node] = sum(x[c] for c in children[node]) / len(children[node])
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(children[node]))
    return x, height, parent, roots


def disconnectivity_figure(tree: MergeTree, title: str = "", log: bool = False,
                           floors: Sequence[tuple[float, str]] = ()) -> Figure:
    """A matplotlib Figure of the disconnectivity graph of ``tree``.

    Parameters
    ----------
    tree : MergeTree
    title : str
    log : bool
        Logarithmic loss axis (useful when minima sit near zero loss).
    floors : sequence of (level, label)
        Proven lower bounds on barriers (a construction's separator floors), drawn dashed: no
        merge between basins on different sides of a separator may appear below its floor.
    """
    x, height, parent, roots = tree_layout(tree)
    m = len(tree.losses)
    top = max(height) if height else 1.0
    bottom = min(height) if height else 0.0
    stem = top + 0.08 * (top - bottom or 1.0) if not log else top * 1.5
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    for node, up in enumerate(parent):
        if up is None:
            ax.plot([x[node], x[node]], [height[node], stem], color="black", lw=1)
            continue
        ax.plot([x[node], x[node], x[up]], [height[node], height[up], height[up]], color="black", lw=1)
    ax.scatter(x[:m], height[:m], s=8, color="tab:blue", zorder=3, label="minimum")
    for level, label in floors:
        ax.axhline(level, ls="--", lw=1, color="tab:red", label=label)
    if floors:
        ax.legend(loc="center right", fontsize=8)
    if log:
        ax.set_yscale("log")
    ax.set_xticks([])
    ax.set_ylabel("loss (merge levels: proven upper bounds of the paths found; an estimate of the barriers)")
    ax.set_xlabel(f"{m} minima, {len(roots)} component(s) at the top; finder: {tree.finder}, "
                  f"{'exact' if tree.exact else 'interval-bound'} segment maxima")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def save_disconnectivity(tree: MergeTree, path, title: str = "", log: bool = False,
                         floors: Sequence[tuple[float, str]] = ()) -> None:
    """Write the figure to ``path`` (format from the suffix: .png, .pdf, .svg), atomically."""
    from sublevel.figures.saving import save_figure

    save_figure(disconnectivity_figure(tree, title, log, floors), path)
