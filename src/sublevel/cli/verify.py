"""Run every registered claim on its default instances and print the verdict table.

Columns: claim, instance, predicted, observed, verdict. Must-fail instances (a claim applied
to a known counterexample, e.g. the non-strict deep-linear claim on the 1-1-1 net) are
expected to come out refuted; that is not a failure. The exit status is 1 when any row
contradicts its claim (or a must-fail instance does not fail), else 0.
"""
from __future__ import annotations

import argparse
import json

HELP = "run the registered claims on their default instances (the main job)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--claim", action="append", metavar="ID", help="run only this claim (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON object")
    parser.add_argument("--out", metavar="FILE.json", help="also write the rows and their evidence as JSON")


def run(args: argparse.Namespace) -> int:
    import sys
    import time
    from collections import Counter

    from sublevel.checks.verdicts.verify import iter_rows
    from sublevel.constructions.storage import write_json

    rows, start = [], time.monotonic()
    for index, total, row in iter_rows(args.claim):
        rows.append(row)
        print(f"[{index}/{total}, {time.monotonic() - start:.0f} s] {row.claim} | {row.instance}: {row.verdict}",
              file=sys.stderr, flush=True)
        if not args.json:
            flag = ("CONTRADICTION" if row.contradiction else "expected (must-fail instance)" if row.expected == "refuted"
                    else "as expected" if row.expected else
                    "(on this instance: an empirical claim, not a theorem)" if row.empirical and row.verdict == "refuted"
                    else "")
            print(f"{row.claim} | {row.instance}\n  predicted: {row.predicted}\n  observed:  {row.observed}\n"
                  f"  verdict:   {row.verdict} {flag}".rstrip(), flush=True)
    report = {"rows": [row.to_json() for row in rows], "contradictions": sum(row.contradiction for row in rows)}
    if args.out:
        write_json(args.out, report)
    if args.json:
        print(json.dumps(report))
    else:
        tally = Counter(row.verdict + (" (must-fail, expected)" if row.expected == "refuted" and not row.contradiction
                                       else " (empirical claim, on its instance)" if row.empirical
                                       and row.verdict == "refuted" else "")
                        for row in rows)
        print(f"{len(rows)} rows: " + ", ".join(f"{n} {verdict}" for verdict, n in sorted(tally.items()))
              + f"; {report['contradictions']} contradictions")
    return 1 if report["contradictions"] else 0
