"""Count connected components of sublevel sets Omega(lambda) = {theta : L(theta) <= lambda}.

Samples Omega(lambda) by batched descent from many random starts, joins sampled points by
segments whose maximum loss is certified (exact for one hidden layer, a rigorous bound
deeper), and reports three numbers per level:
  lower    a rigorous lower bound on N_lambda (separators with proven floors: derived from the
           architecture, or from a construction rebuilt from the file's metadata that
           reproduces X and Y exactly; a file's certificates are never trusted as such);
  sampled  components of the certified graph over the sampled points: an estimate, blind to
           components that no sampled point reached;
  upper    a rigorous upper bound on N_lambda from an argument covering all of parameter space
           (exact counts of bias-free 1-1-...-1 chains, a proven loss floor), or "-" if none.
Status: exact (lower = upper), bounded (both proven, apart), lower bound (no upper bound),
estimate (nothing proven). Exit status 3 when two results contradict each other.

Example:
  sublevel construct scalar-linear --out g1.npz
  sublevel count --data g1.npz --arch 1-1-1 --activation linear --no-bias --levels 0.5,1.5
"""
from __future__ import annotations

import argparse
import json

from sublevel.cli.options import add_problem_arguments, load_problem, option_type, positive_int
from sublevel.theory.levels import parse_levels

HELP = "count components of sublevel sets of a data set's loss, as certified brackets"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_problem_arguments(parser)
    parser.add_argument("--levels", required=True, type=option_type(parse_levels), help="comma-separated levels, e.g. 0.5,1.5")
    parser.add_argument("--starts", type=int, default=64, help="random descent starts (default: 64)")
    parser.add_argument("--steps", type=int, default=300, help="descent steps per start (default: 300)")
    parser.add_argument("--neighbours", type=positive_int, default=8, help="k of the k-nearest-neighbour candidate edges")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--paths", metavar="FINDER", default="dss",
                        help="second pass for open brackets: search paths between unjoined components with this "
                             "finder (linear, dss, autoneb, bezier; default dss; 'none' skips it); a path certified "
                             "below the level joins two components, and every component left apart is reported "
                             "with the certified bracket of the maximum of the lowest path tried from it")
    parser.add_argument("--graphml", metavar="FILE.graphml", help="write the certified merge forest of the highest level as GraphML")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def run(args: argparse.Namespace) -> int:
    from sublevel.checks.counting.datasets import count_dataset
    from sublevel.checks.paths import get_finder
    from sublevel.checks.counting.sampling import SampleSettings

    dataset, architecture, _ = load_problem(args)
    settings = SampleSettings(starts=args.starts, steps=args.steps, seed=args.seed)
    finder = None if args.paths == "none" else get_finder(args.paths)
    count = count_dataset(dataset, architecture, args.levels, args.kappa, settings, args.neighbours, finder=finder)
    if args.graphml:
        count.forest.write_graphml(args.graphml)
    if args.json:
        print(json.dumps(dict(count.to_json(), architecture=architecture.spec, activation=architecture.activation_name,
                              bias=architecture.bias, data=args.data)))
        return 0
    print(f"data {args.data}, architecture {architecture.spec} {architecture.activation_name} "
          f"{'with' if architecture.bias else 'without'} bias; {len(count.forest.losses)} sampled points at the highest level, "
          f"{count.certified_edges} segments certified of {count.candidate_edges} candidates"
          + (f", {count.path_edges} edges from {args.paths} paths" if finder is not None else ""))
    for note in count.notes:
        print(f"note: {note}")
    print(f"{'lambda':>10}  {'lower':>5}  {'sampled':>7}  {'upper':>5}  {'points':>6}  status")
    for b in count.brackets:
        upper = "-" if b.upper is None else str(b.upper)
        print(f"{b.level:>10.6g}  {b.lower:>5}  {b.sampled:>7}  {upper:>5}  {b.points:>6}  {b.describe()}")
    for record in count.apart:
        print(f"apart at {record.level:.6g}: {record.describe()}")
    print("lower, upper: proven bounds on N_lambda (upper '-': none proven); sampled: components of the certified "
          "graph over sampled points, an estimate; exact only when lower = upper."
          + (" apart: a component the path finder did not join; a path maximum above the level proves nothing "
             "about other paths." if count.apart else ""))
    return 0
