"""Draw the figure "components against width" from a sweep database.

For every family and level: the median over seeds of the upper bound (components of the
certified graph over sampled points, estimated) with its min-max spread, the median of the
rigorous lower bound, and the widths where registered claims start to apply. Writes
OUT.png and OUT.pdf (by default beside the database: my.db -> my.png, my.pdf) and prints the
numbers it drew.

Example:
  sublevel sweep && sublevel plot default.db --out figures/width_sweep
"""
from __future__ import annotations

import argparse

HELP = "plot component brackets against width from a sweep database (PNG + PDF)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("db", metavar="SWEEP.db", help="database written by `sublevel sweep`")
    parser.add_argument("--out", metavar="STEM",
                        help="output path without suffix (default: the database's path without .db)")
    parser.add_argument("--family", action="append", metavar="LABEL", help="only these families (repeatable)")
    parser.add_argument("--stale", action="store_true",
                        help="draw the stale rows (computed by other code) instead of the current ones")


def run(args: argparse.Namespace) -> int:
    from sublevel.checks.sweeps.store import ResultStore
    from sublevel.figures.width_sweep import draw, summarise
    from sublevel.theory.errors import InputError

    with ResultStore(args.db, readonly=True) as store:
        every = store.rows()
    if args.family:
        every = [row for row in every if row.family in set(args.family)]
    rows = [row for row in every if row.stale == args.stale]  # never a mix of stale and current rows
    if not rows:
        stale = sum(row.stale for row in every)
        hint = (f" ({stale} stale rows, computed by other code: rerun `sublevel sweep` on its spec, or plot them "
                f"with --stale)" if stale and not args.stale else "")
        raise InputError(f"{args.db}: no {'stale' if args.stale else 'current'} finished tasks"
                         f"{' for these families' if args.family else ''}{hint}")
    if len(rows) < len(every):
        print(f"{len(every) - len(rows)} {'current' if args.stale else 'stale'} rows left out (never mixed)")
    from pathlib import Path

    png, pdf = draw(rows, args.out or str(Path(args.db).with_suffix("")))
    print(f"{'family':<18} {'lambda':>8} {'w':>4} {'seeds':>5} {'lower':>6} {'sampled':>7} {'range':>7} "
          f"{'upper':>6} exact")
    for p in summarise(rows):
        upper = "-" if p.upper_median is None else f"{p.upper_median:.1f}"
        print(f"{p.family:<18} {p.level:>8.4g} {p.width:>4} {p.seeds:>5} {p.lower_median:>6.1f} {p.sampled_median:>7.1f} "
              f"{f'{p.sampled_min}-{p.sampled_max}':>7} {upper:>6} {p.exact}/{p.seeds}")
    print("lambda as in the spec (times L(0) = mean ||y||^2 for relative levels); medians over seeds with points "
          "below lambda; lower, upper: proven bounds on N_lambda (upper '-': not proven for every seed); sampled: "
          "components of the certified graph over sampled points (an estimate); exact: seeds where lower = upper.")
    print(f"wrote {png} and {pdf}")
    return 0
