"""Merge tree of a data set's minima: certified barriers, persistence, disconnectivity graph.

Finds minima by batched descent from many random starts (plus the data set's named points that
fit the architecture), joins pairs by a path finder whose every segment maximum is certified
(exact for one hidden layer, a rigorous bound deeper), and builds the single-linkage tree. It
prints N_lambda at every level where it changes and the persistence pairs (birth = a minimum's
loss, death = the barrier where its basin merges into an older one), and writes the tree as
GraphML and the disconnectivity graph as a figure. Counts are over the minima found: a path
proves a connection, a failed search proves nothing, so each count is an upper bound on the
number of components of Omega(lambda) holding these minima.

With --modulo-symmetry, minima are first mapped to canonical forms (hidden-unit permutations
matched to the best minimum, ReLU rescaling, quadratic sign flips) and the tree is over the
canonical forms: counts of components up to symmetry.

Example:
  sublevel construct one-neuron --a 2 --out g2.npz
  sublevel merge-tree --data g2.npz --arch 1-1-1 --activation relu --no-bias --figure g2.png --graphml g2.graphml
"""
from __future__ import annotations

import argparse

from sublevel.cli.options import add_problem_arguments, load_problem
import json

HELP = "merge tree of minima with certified barriers: N_lambda, persistence, GraphML, disconnectivity graph"

FIGURE_FORMATS = ("png", "pdf", "svg")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_problem_arguments(parser)
    parser.add_argument("--finder", default="dss", help="path finder: linear, dss, autoneb or bezier (default: dss)")
    parser.add_argument("--pairs", default="mst", choices=("mst", "all"),
                        help="mst: lazy Kruskal searching only pairs that can change the tree (default); all: every pair")
    parser.add_argument("--tolerance", type=float, default=1e-3,
                        help="a search stops when its path is certified below max(L_i, L_j) + tolerance * L(0), "
                             "L(0) = mean ||y||^2 (relative, so scale-free; default: 1e-3)")
    parser.add_argument("--starts", type=int, default=32, help="random descent starts (default: 32)")
    parser.add_argument("--steps", type=int, default=1000, help="descent steps per start (default: 1000)")
    parser.add_argument("--lr", type=float, default=0.02, help="descent learning rate (default: 0.02)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--modulo-symmetry", action="store_true",
                        help="build the tree over canonical forms of the minima (counts up to symmetry)")
    parser.add_argument("--graphml", metavar="FILE.graphml", help="write the tree (all barriers computed) as GraphML")
    parser.add_argument("--figure", metavar="FILE.png", help="write the disconnectivity graph (.png, .pdf or .svg)")
    parser.add_argument("--log", action="store_true", help="logarithmic loss axis in the figure")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def run(args: argparse.Namespace) -> int:
    import math

    import torch

    from sublevel.checks.counting.datasets import named_points, rebuilt_construction
    from sublevel.checks.counting.merge_trees import find_minima, merge_tree
    from sublevel.checks.paths import get_finder
    from sublevel.theory.errors import InputError

    if args.figure and args.figure.rsplit(".", 1)[-1].lower() not in FIGURE_FORMATS:
        raise InputError(f"--figure must end in one of {', '.join('.' + f for f in FIGURE_FORMATS)}, got {args.figure}")
    if not math.isfinite(args.tolerance) or args.tolerance < 0:
        raise InputError(f"--tolerance must be finite and >= 0, got {args.tolerance}")
    dataset, architecture, problem = load_problem(args)
    finder = get_finder(args.finder)
    points, _ = find_minima(problem, starts=args.starts, steps=args.steps, lr=args.lr, seed=args.seed)
    rebuilt, note = rebuilt_construction(dataset)
    named = named_points(rebuilt, architecture) if rebuilt is not None else None
    if named is not None:
        points = torch.cat([points, named])
    mode = "raw"
    if args.modulo_symmetry:
        from sublevel.checks.counting.symmetries import canonicalise

        reference = points[int(torch.argmin(problem.loss(points)))]
        points = canonicalise(architecture, points, reference, rescale_units=args.kappa == 0)
        mode = "modulo symmetry"
    tree = merge_tree(problem, points, finder, pairs=args.pairs, tolerance=args.tolerance, progress=True)
    if args.graphml:
        tree.write_graphml(args.graphml)
    if args.figure:
        from sublevel.checks.counting.chains import chain_separators
        from sublevel.constructions.certificates import separators_for
        from sublevel.figures.disconnectivity import save_disconnectivity

        title = f"{dataset.metadata.get('family', args.data)}: {architecture.spec} {architecture.activation_name} ({mode})"
        proven = chain_separators(problem) + (separators_for(rebuilt.metadata, architecture) if rebuilt else [])
        floors = [(sep.floor, f"proven floor of the {sep.kind} separator")
                  for sep in dict.fromkeys(proven)] if args.kappa == 0 else []
        save_disconnectivity(tree, args.figure, title, args.log, floors)
    if args.json:
        print(json.dumps(dict(tree.to_json(), counts=mode, data=args.data, architecture=architecture.spec,
                              activation=architecture.activation_name, bias=architecture.bias)))
        return 0
    certificate = "exact" if tree.exact else "interval-bound"
    print(f"data {args.data}, architecture {architecture.spec} {architecture.activation_name} "
          f"{'with' if architecture.bias else 'without'} bias; {len(tree.losses)} minima ({mode}); finder "
          f"{tree.finder}, {len(tree.searched)} of {tree.candidate_edges} pairs searched, {tree.evaluations} evaluations")
    print(f"note: {note}")
    print(f"{'lambda':>12}  components holding these minima (an estimate of N_lambda: a barrier is a proven upper "
          f"bound of the path found, {certificate} segment maxima; the true barrier may be lower)")
    levels = tree.breakpoints()
    previous = None
    for level, count in zip(levels, tree.counts(levels)):
        if count != previous:
            print(f"{level:>12.8g}  {count}")
        previous = count
    pairs = tree.persistence()
    lasting = [(b, d, n) for b, d, n in pairs if d > b]
    print(f"persistence pairs (birth = minimum's loss, death = certified merge barrier); "
          f"{len(pairs) - len(lasting)} of zero length not shown:")
    for birth, death, node in lasting:
        print(f"  minimum {node:>4}: [{birth:.8g}, {death:.8g})")
    return 0
