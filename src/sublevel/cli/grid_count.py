"""Proven bounds on the number of sublevel components inside a box, for 2- or 3-parameter problems or a
2-D slice of any problem.

Every cell of a grid gets rigorous interval bounds of the loss and its gradient; cells
undecided at a level are bisected. Each count gives proven bounds lower <= N_B <= upper on the
number N_B of components of Omega(lambda) *inside the box* (a component that leaves the box may
split into several pieces there, and components outside it are not seen); "unbounded" means
cells remain where a piece of Omega could hide. Status: exact (the bounds meet), bounded, or
lower bound.

With --slice A,B the box is in the plane theta = A + s (B - A) + t u, where u is a unit
vector orthogonal to B - A scaled to |B - A| (seeded); A and B are named points of the data
set. Otherwise the problem itself must have 2 or 3 parameters.

Example:
  sublevel construct one-neuron --a 2 --out g2.npz
  sublevel grid-count --data g2.npz --arch 1-1-1 --activation relu --no-bias --box=-3,3,-3,3 --levels 1,2.2,3
  sublevel construct relu-permutation --out perm.npz
  sublevel grid-count --data perm.npz --arch 2-2-1 --activation relu --no-bias --slice theta_A,theta_B \\
      --box=-0.5,1.5,-0.5,0.5 --levels 0.1
"""
from __future__ import annotations

import argparse
import json

from sublevel.cli.options import add_problem_arguments, load_problem
from sublevel.theory.levels import parse_levels

HELP = "proven bounds on component counts of sublevel sets inside a 2-D/3-D box (interval bounds, refined grid)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_problem_arguments(parser)
    parser.add_argument("--levels", required=True, help="comma-separated levels, e.g. 0.5,1.5")
    parser.add_argument("--box", required=True,
                        help="low,high per axis, e.g. --box=-3,3,-3,3 (write it with = when it starts with -)")
    parser.add_argument("--slice", metavar="A,B", help="two named points: count in the plane through them")
    parser.add_argument("--resolution", type=int, default=32, help="cells per axis of the initial grid (default: 32)")
    parser.add_argument("--depth", type=int, default=4, help="bisections of undecided cells (default: 4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the slice's second direction (default: 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def run(args: argparse.Namespace) -> int:
    import torch

    from sublevel.checks.certify.boxes import SliceLoss, count_box
    from sublevel.theory.errors import InputError

    levels = parse_levels(args.levels)
    try:
        box = [float(v) for v in args.box.split(",")]
    except ValueError:
        raise InputError(f"--box must be comma-separated numbers, got {args.box!r}") from None
    dataset, architecture, problem = load_problem(args)
    if args.slice:
        names = [n.strip() for n in args.slice.split(",")]
        named = dataset.points()
        if len(names) != 2 or any(n not in named for n in names):
            raise InputError(f"--slice needs two named points of the data set (known: {', '.join(sorted(named)) or 'none'})")
        a, b = (torch.as_tensor(named[n], dtype=torch.float64) for n in names)
        architecture.check_params(a)
        step = b - a
        if float(step.norm()) == 0:
            raise InputError("--slice points coincide")
        other = torch.randn(step.shape, generator=torch.Generator().manual_seed(args.seed), dtype=torch.float64)
        other = other - other.dot(step) / step.dot(step) * step
        f = SliceLoss(problem, a, torch.stack([step, other / other.norm() * step.norm()]))
    elif problem.num_params > 3:
        raise InputError(f"the problem has {problem.num_params} parameters; count on a slice with --slice A,B")
    else:
        f = SliceLoss.full(problem)
    if len(box) != 2 * f.dim:
        raise InputError(f"--box needs {2 * f.dim} numbers (low,high per axis), got {len(box)}")
    counts = count_box(f, box[0::2], box[1::2], levels, args.resolution, args.depth)
    if args.json:
        print(json.dumps({"levels": levels, "lower": [c.lower for c in counts], "upper": [c.upper for c in counts],
                          "status": [c.status for c in counts], "box": box, "slice": args.slice}))
        return 0
    print(f"data {args.data}, architecture {architecture.spec} {architecture.activation_name}; "
          f"{'slice through ' + args.slice if args.slice else 'all parameters'}, box {box}")
    print(f"{'lambda':>10}  {'lower':>5}  {'upper':>9}  {'in':>7}  {'undecided':>9}  {'suspect':>7}  count")
    for c in counts:
        upper = "unbounded" if c.upper is None else str(c.upper)
        print(f"{c.level:>10.6g}  {c.lower:>5}  {upper:>9}  {c.in_cells:>7}  {c.undecided_cells:>9}  "
              f"{c.suspect_cells:>7}  {c.describe()}")
    print("counts of components of Omega(lambda) inside the box; lower and upper are proven (interval bounds); "
          "they bound N_lambda only for components that lie inside the box")
    return 0
