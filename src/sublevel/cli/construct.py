"""Write a data set of a registered family to an .npz file.

Examples:
  sublevel construct scalar-linear --target 1 --out g1.npz
  sublevel construct one-neuron --a 2 --out g2.npz
  sublevel construct teacher --arch 2-4-1 --activation relu --samples 64 --seed 3 --out t.npz

Run `sublevel construct FAMILY --help` for a family's options.
"""
from __future__ import annotations

import argparse

from sublevel.cli.options import subcommands

HELP = "write a data set (ground truths, adversarial constructions, random data) to .npz"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from sublevel.constructions.registry import all_families

    families = subcommands(parser, "family", "FAMILY")
    for family in all_families().values():
        sub = families.add_parser(family.name, help=family.help, description=family.help)
        for param in family.params:
            sub.add_argument(f"--{param.name}", type=param.type, default=param.default,
                             help=f"{param.help} (default: {param.default})")
        sub.add_argument("--out", required=True, metavar="FILE.npz", help="output file (written atomically)")


def run(args: argparse.Namespace) -> int:
    from sublevel.constructions.registry import get_family

    family = get_family(args.family)
    values = {param.name: getattr(args, param.name) for param in family.params}
    dataset = family(**values)
    dataset.save(args.out)
    print(f"wrote {args.out}: family {family.name}, N = {dataset.num_samples}, "
          f"n_0 = {dataset.x.shape[1]}, n_L = {dataset.y.shape[1]}")
    return 0
