"""Merge tree of many minima: MST-guided pair selection against all-pairs path search.

For M minima of a two-layer ReLU net (descent from M random starts on teacher data), build
the certified merge tree twice in one run: ``pairs="mst"`` (lazy Kruskal: pairs popped by
their lower bound max(L_i, L_j), union-find skipping pairs already joined, speculative batches
of 64 searches) and ``pairs="all"`` (the finder on every pair, batches of 1024). Prints loss
evaluations and wall time of each and their ratios, and checks that the trees agree within the
tolerance (merge levels, and N_lambda sandwiched at every breakpoint).

    python bench/merge_tree_bench.py                 # 200 minima (several minutes on 2 cores)
    python bench/merge_tree_bench.py --minima 40     # quick look
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from sublevel.checks.counting.merge_trees import find_minima, merge_tree
from sublevel.checks.paths import get_finder
from sublevel.constructions import construct
from sublevel.theory.networks import Architecture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minima", type=int, default=200)
    parser.add_argument("--arch", default="2-6-1")
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--finder", default="dss")
    parser.add_argument("--tolerance", type=float, default=4.5e-3,
                        help="relative to L(0) (default 4.5e-3: 1e-3 absolute on the default data, L(0) = 0.22)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: small batched calls are slower with more on a busy machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = construct("teacher", arch="2-4-1", activation="relu", samples=args.samples, seed=args.seed)
    problem = data.problem(Architecture.parse(args.arch, "relu", bias=True))
    points, losses = find_minima(problem, starts=args.minima, steps=1000, lr=0.02, seed=args.seed)
    print(f"{args.minima} minima of {args.arch} relu on {args.samples} teacher samples: loss "
          f"{float(losses.min()):.3g} .. {float(losses.max()):.3g}; finder {args.finder}, tolerance {args.tolerance}")
    finder = get_finder(args.finder, steps=100, max_rounds=4)
    results = {}
    for pairs, batch in (("mst", 64), ("all", 1024)):
        start = time.perf_counter()
        tree = merge_tree(problem, points, finder, pairs=pairs, tolerance=args.tolerance, batch=batch)
        results[pairs] = (tree, time.perf_counter() - start)
        print(f"  pairs={pairs}: {len(tree.searched):6d} searches, {tree.evaluations:10d} evaluations, "
              f"{results[pairs][1]:8.1f} s")
    (pruned, t_pruned), (full, t_full) = results["mst"], results["all"]
    # Guarantee when a pair's barrier does not depend on its batch: for every pair of minima,
    # merge level (all) <= merge level (mst) <= merge level (all) + tolerance.
    gap = pruned.merge_levels() - full.merge_levels()
    finite = np.isfinite(gap)
    dw = np.abs(np.array([w for w, _, _ in pruned.merges]) - np.array([w for w, _, _ in full.merges])).max()
    shared = [(pruned.barriers[e], full.barriers[e]) for e in pruned.searched]
    drift = max(abs(a - b) for a, b in shared)
    changed = sum(abs(a - b) > 1e-9 for a, b in shared)
    print(f"ratio all/mst: evaluations {full.evaluations / pruned.evaluations:.1f}x, "
          f"wall time {t_full / t_pruned:.1f}x (same run, same machine, {args.threads} torch thread(s))")
    print(f"same tree up to the tolerance {args.tolerance}: pairwise merge levels mst - all in "
          f"[{gap[finite].min():.3g}, {gap[finite].max():.3g}]; sorted merge levels differ by <= {dw:.3g}")
    print(f"batch dependence: {changed} of {len(shared)} pairs searched in both runs got barriers differing by "
          f"> 1e-9 (largest difference {drift:.3g})")


if __name__ == "__main__":
    main()
