"""Run an experiment behind a verdict, save its results (JSON) and draw its figure (PNG).

  sublevel experiment energy-gap [--widths 2,4,8,16,32,64] [--pairs 5] [--inputs 1,2] [--seeds 0,1,2]
                                 [--samples 64] [--cache-dir results/energy_gap] [--no-budget-check]
      two-layer ReLU nets on quadratic-teacher data sets (one per seed): minimax-path gap between
      trained minima, hidden units aligned first (permutation barriers reported apart), against
      the width m; per n the log-log slope with its 95% interval over data seeds and pairs, next
      to -1/n (Freeman & Bruna 2017, Thm 2.4); resumable (finished (n, seed, m) units are kept)
  sublevel experiment quadratic-sweep [--inputs 3,4,5] [--samples 6,10,30] [--seeds 0,1,2,3,4] [--starts 100]
                                      [--cache-dir results/quadratic]
      one-hidden-layer quadratic nets: the fraction of starts ending at a verified spurious local
      minimum against the width p (1 .. n(n+1)/2 + 1), with its 95% interval over data seeds, and
      every width threshold of the lecture and the literature marked tight, loose or contradicted
      on these instances; resumable (finished (n, N, seed, p) units are kept)

Results go to --out (default figures/<name>.json, beside the figure drawn from them) and the
figure to --figure (default figures/<name>.png); both are written atomically. Same seed, same
result.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from sublevel.cli.options import comma_list, positive_ints, seed, subcommands
from sublevel.theory.errors import InputError

HELP = "run the energy-gap or quadratic-threshold experiment; write JSON results and a figure"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    experiments = subcommands(parser, "experiment", "EXPERIMENT")
    gap = experiments.add_parser("energy-gap", help="energy gap eps_emp(m) of two-layer ReLU nets vs width m")
    gap.add_argument("--widths", default="2,4,8,16,32,64", help="hidden widths m (default: 2,4,8,16,32,64)")
    gap.add_argument("--pairs", type=int, default=5, help="pairs of trained minima per width (default: 5)")
    gap.add_argument("--inputs", default="1,2", help="input dimensions n of the teacher data (default: 1,2)")
    gap.add_argument("--seeds", type=comma_list(seed), default=(0, 1, 2),
                     help="data seeds, one teacher data set each (default: 0,1,2)")
    gap.add_argument("--samples", type=int, default=64, help="number of samples N (default: 64)")
    gap.add_argument("--seed", type=int, default=0, help="seed of the descents and path finders (default: 0)")
    gap.add_argument("--cache-dir", default="results/energy_gap",
                     help="finished (n, seed, m) units, for resuming (default: results/energy_gap)")
    gap.add_argument("--no-budget-check", action="store_true",
                     help="skip the rerun of the first seed with every path finder's budget doubled")
    sweep = experiments.add_parser("quadratic-sweep", help="spurious minima of quadratic nets vs width p")
    sweep.add_argument("--inputs", default="3,4,5", help="input dimensions n (default: 3,4,5)")
    sweep.add_argument("--samples", default="6,10,30", help="sample counts N, one panel each (default: 6,10,30)")
    sweep.add_argument("--seeds", type=comma_list(seed), default=(0, 1, 2, 3, 4),
                       help="data seeds (default: 0,1,2,3,4)")
    sweep.add_argument("--widths", help="widths p, list or range, for every n (default: 1 .. n(n+1)/2 + 1 per n)")
    sweep.add_argument("--starts", type=int, default=100, help="random starts per width and seed (default: 100)")
    sweep.add_argument("--cache-dir", default="results/quadratic",
                       help="finished (n, N, seed, p) units, for resuming (default: results/quadratic)")
    for sub, name in ((gap, "energy_gap"), (sweep, "quadratic_thresholds")):
        sub.add_argument("--out", default=f"figures/{name}.json", help=f"results JSON (default: figures/{name}.json)")
        sub.add_argument("--figure", default=f"figures/{name}.png", help=f"figure PNG (default: figures/{name}.png)")


def run(args: argparse.Namespace) -> int:
    from sublevel.constructions.storage import write_json

    from sublevel.figures.saving import check_figure_path

    for target in (args.out, args.figure):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    check_figure_path(args.figure)  # before the experiment runs, not after
    if args.experiment == "energy-gap":
        from sublevel.checks.experiments.energy_gap import EnergyGapSettings, energy_gap_study
        from sublevel.figures.energy_gap import draw_study as draw

        if args.samples < 1 or args.pairs < 1:
            raise InputError("samples and pairs must be >= 1")
        report = energy_gap_study(positive_ints(args.inputs), list(args.seeds),
                                  EnergyGapSettings(widths=positive_ints(args.widths), pairs=args.pairs, seed=args.seed),
                                  samples=args.samples, cache_dir=args.cache_dir,
                                  budget_check=not args.no_budget_check)
        def line(n, r) -> str:
            if r["slope"] is None:
                return f"n = {n}: slope undefined (fewer than two widths with a positive gap)"
            interval = r["slope_interval_95"]
            bracket = "" if interval is None else f", 95% interval [{interval[0]:.3f}, {interval[1]:.3f}]"
            return (f"n = {n}: fitted slope {r['slope']:.3f}{bracket} (estimated, from certified per-pair upper "
                    f"bounds) vs -1/n = {-1 / int(n):.3f}")

        summary = "\n".join(line(n, r) for n, r in report["inputs"].items())
    else:
        from sublevel.checks.experiments.quadratic_sweep import quadratic_study
        from sublevel.figures.quadratic_thresholds import draw_study as draw

        inputs = positive_ints(args.inputs)
        widths = None if args.widths is None else {n: positive_ints(args.widths) for n in inputs}
        report = quadratic_study(inputs, positive_ints(args.samples), list(args.seeds), args.starts, widths,
                                 cache_dir=args.cache_dir)
        summary = "\n".join(
            f"n = {p['inputs']}, N = {p['samples']}: "
            + (f"no spurious minimum seen from p = {p['edge']} (observed)" if p["edge"] is not None
               else "spurious minima seen up to the widest p")
            + "; " + ", ".join(f"{claim.replace('quadratic-', '')} {status}"
                               for claim, status in p["threshold_status"].items() if status != "untested")
            for p in report["panels"])
    write_json(args.out, report)
    draw(report, args.figure)
    print(summary)
    print(f"wrote {args.out} and {args.figure}")
    return 0
