"""Find low-loss paths between two parameter points and certify their maxima.

Each finder returns a piecewise-linear path whose every segment maximum is certified (exact
for nets with at most one hidden layer, a rigorous interval bound deeper). A path whose
certified maximum is <= LEVEL proves that both points lie in one component of Omega(LEVEL);
a path above it proves nothing. Points are comma-separated numbers or the name of one of the
data set's named points (e.g. theta_A).

Example:
  sublevel construct scalar-linear --out g1.npz
  sublevel path --data g1.npz --arch 1-1-1 --no-bias --start 1,1 --end=-1,-1 --level 0.5
  sublevel construct relu-permutation --out perm.npz
  sublevel path --data perm.npz --arch 2-2-1 --activation relu --no-bias --start theta_A --end theta_B
"""
from __future__ import annotations

import argparse

from sublevel.cli.options import add_problem_arguments, load_problem
import json

HELP = "find paths between two parameter points with every finder; print certified maxima"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_problem_arguments(parser)
    parser.add_argument("--start", required=True,
                        help="theta_A: comma-separated P numbers (write --start=-1,2 when it begins with -) or a named point")
    parser.add_argument("--end", required=True, help="theta_B: comma-separated P numbers or a named point")
    parser.add_argument("--finders", default="linear,dss,autoneb,bezier", help="comma-separated finder names")
    parser.add_argument("--level", type=float, help="target lambda (default: max(L_A, L_B))")
    parser.add_argument("--out", metavar="FILE.npz", help="write every path's beads and segment bounds (.npz)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def parse_point(text: str, named: dict):
    """A named point of the data set, or comma-separated numbers (length checked by the finder)."""
    import torch

    from sublevel.theory.errors import InputError

    if text in named:
        return torch.as_tensor(named[text], dtype=torch.float64)
    try:
        return torch.tensor([float(part) for part in text.split(",")], dtype=torch.float64)
    except ValueError:
        known = ", ".join(sorted(named)) or "none"
        raise InputError(f"point {text!r} is neither comma-separated numbers nor a named point "
                         f"(named points: {known})") from None


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from sublevel.theory.errors import InputError

    from sublevel.checks.paths import check_endpoints, get_finder
    from sublevel.constructions.storage import write_npz

    dataset, architecture, problem = load_problem(args)
    a, b = parse_point(args.start, dataset.points()), parse_point(args.end, dataset.points())
    level = float(check_endpoints(problem.to(dtype=torch.float64), a, b, args.level)[2][0])
    finders = [get_finder(name.strip()) for name in args.finders.split(",") if name.strip()]
    if not finders:
        raise InputError(f"--finders names no finder (got {args.finders!r})")
    paths = [finder(problem, a, b, args.level) for finder in finders]
    if args.out:
        arrays = {}
        for path in paths:
            arrays.update({f"{path.finder}_beads": path.beads.numpy(), f"{path.finder}_upper": path.upper.numpy(),
                           f"{path.finder}_lower": path.lower.numpy()})
        write_npz(args.out, **arrays)
    if args.json:
        print(json.dumps({"level": level, "paths": [dict(p.to_json(), inside=p.inside(level)) for p in paths]}))
        return 0
    print(f"level {level:.8g}; maxima are certified ({'exact' if all(p.exact for p in paths) else 'interval bound'})")
    print(f"{'finder':>8}  {'maximum':>12}  {'attained':>12}  {'segments':>8}  {'length':>7}  inside")
    for p in paths:
        print(f"{p.finder:>8}  {p.maximum:>12.8g}  {p.attained:>12.8g}  {p.num_segments:>8}  "
              f"{p.normalised_length:>7.3f}  {'yes (proven)' if p.inside(level) else 'no (nothing proven)'}")
    return 0

