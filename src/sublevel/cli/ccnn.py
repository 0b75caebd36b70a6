"""Convexified CNNs (Zhang, Liang & Wainwright 2017, arXiv:1609.01000).

Examples:
  sublevel ccnn table                      # the default table (digits analogues, 5 seeds)
  sublevel ccnn table --quick --markdown t.md --json t.json
  sublevel ccnn table --mnist ~/mnist --mnist-samples 3000
  sublevel ccnn agree                      # projected gradient vs cvxpy on small programs

An interrupted table keeps its finished cells in FILE.json.resume; the same command resumes.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from sublevel.cli.options import comma_list, subcommands

HELP = "convexified CNNs: the MNIST-variations table and the solver's agreement with cvxpy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from sublevel.constructions.mnist_variations import VARIATIONS

    actions = subcommands(parser, "action", "ACTION")
    table = actions.add_parser("table", help="CNN-1 / CCNN-1 / CNN-2 / CCNN-2 errors on the five variations")
    table.add_argument("--quick", action="store_true", help="small setting for tests (2 variations, 1 seed)")
    table.add_argument("--variations", type=comma_list(str), help=f"comma list from {','.join(VARIATIONS)}")
    table.add_argument("--seeds", type=comma_list(int), help="comma list of seeds (default 0,1,2,3,4)")
    table.add_argument("--mnist", metavar="DIR", help="directory with the MNIST IDX files (else sklearn digits)")
    table.add_argument("--mnist-samples", type=int, default=3000, help="MNIST images used (default 3000)")
    table.add_argument("--radius", type=float, help="nuclear-norm radius R of every CCNN layer")
    table.add_argument("--features", type=int, help="kernel feature dimension m")
    table.add_argument("--kernel", choices=("rbf", "invpoly"), help="kernel of the CCNN features")
    table.add_argument("--patch-size", type=int, help="first-layer patch size (default 5)")
    table.add_argument("--workers", type=int, default=2,
                       help="processes, one torch thread each; cells run in parallel (default 2)")
    table.add_argument("--markdown", default="ccnn_table.md", metavar="FILE.md", help="markdown output")
    table.add_argument("--json", default="ccnn_table.json", metavar="FILE.json", help="JSON output")
    agree = actions.add_parser("agree", help="projected gradient vs cvxpy on small instances")
    agree.add_argument("--json", metavar="FILE.json", help="also write the figures as JSON")


def _table(args: argparse.Namespace) -> int:
    from sublevel.checks.experiments.ccnn_table import TableConfig, run_table, write_outputs
    from sublevel.theory.errors import InputError

    overrides = {key: value for key, value in (
        ("variations", args.variations), ("seeds", args.seeds), ("mnist_dir", args.mnist),
        ("radius", args.radius), ("n_features", args.features), ("kernel", args.kernel),
        ("patch_size", args.patch_size)) if value is not None}
    overrides["mnist_samples"] = args.mnist_samples
    config = TableConfig.quick(**overrides) if args.quick else TableConfig(**overrides)
    config.validate()
    if args.workers < 1:
        raise InputError(f"--workers must be >= 1, got {args.workers}")
    for target in (args.markdown, args.json):  # fail now, not after the table has run
        folder = Path(target).parent
        if Path(target).is_dir() or not folder.is_dir():
            raise InputError(f"cannot write {target}: {'it is a directory' if Path(target).is_dir() else 'no such folder'}")
    from tqdm import tqdm

    total = len(config.variations) * len(config.seeds) * 4
    with tqdm(total=total, desc="ccnn table", unit="fit", leave=False) as bar:
        result = run_table(config, lambda message: (bar.set_postfix_str(message), bar.update()),
                           checkpoint=f"{args.json}.resume", workers=args.workers)
    write_outputs(result, args.markdown, args.json)
    Path(f"{args.json}.resume").unlink(missing_ok=True)
    print(result.markdown(), end="")
    print(f"wrote {args.markdown} and {args.json}; seconds per model: "
          + ", ".join(f"{m} {s:.0f}" for m, s in result.seconds.items()))
    return 0


def _agree(args: argparse.Namespace) -> int:
    import json

    from sublevel.checks.ccnn.agreement import agreement_report

    rows = agreement_report()
    print(f"{'N':>4} {'P':>3} {'m':>3} {'K':>2} {'R':>5}  {'F (FISTA)':>12} {'F (cvxpy)':>12} "
          f"{'rel. diff':>9} {'max ||A||*':>10}  {'PG s':>7} {'cvxpy s':>7} {'ratio':>6}")
    for r in rows:
        print(f"{r['n']:>4} {r['p']:>3} {r['m']:>3} {r['k']:>2} {r['radius']:>5g}  {r['fista']:>12.8f} "
              f"{r['cvxpy']:>12.8f} {r['relative_difference']:>9.1e} {r['max_nuclear_norm']:>10.6f}  "
              f"{r['pg_seconds']:>7.3f} {r['cvxpy_seconds']:>7.3f} {r['time_ratio']:>6.3f}")
    if args.json:
        from sublevel.constructions.storage import write_json

        write_json(args.json, rows, indent=2)
    worst = max(r["relative_difference"] for r in rows)
    print(f"worst relative difference {worst:.1e} (tolerance 1e-4)")
    return 0 if worst <= 1e-4 else 1


def run(args: argparse.Namespace) -> int:
    return _table(args) if args.action == "table" else _agree(args)
