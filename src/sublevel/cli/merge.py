"""Merge sweep databases (one per shard of a job array, or from several machines) into one.

Rows are copied by task key; a key present in several inputs with the same configuration and
outcome is kept once, and a key whose outcomes disagree stops the merge with nothing written.

Example (a SLURM job array of 8 shards, then one merge):
  sublevel sweep my.toml --shard $((SLURM_ARRAY_TASK_ID + 1))/8 --db shard$SLURM_ARRAY_TASK_ID.db
  sublevel merge my.db shard*.db && sublevel plot my.db
"""
from __future__ import annotations

import argparse

HELP = "merge sweep databases (shards of a job array) into one, refusing disagreeing rows"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="OUT.db", help="database to merge into (created when missing)")
    parser.add_argument("inputs", nargs="+", metavar="IN.db", help="databases written by `sublevel sweep`")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sublevel.checks.sweeps.store import ResultStore
    from sublevel.theory.errors import InputError

    for path in args.inputs:
        if Path(path).resolve() == Path(args.out).resolve():
            raise InputError(f"{path} is the output database itself")
    with ResultStore(args.out) as out:
        for path in args.inputs:
            with ResultStore(path, readonly=True) as source:
                added, same = out.merge(source)
            print(f"{path}: {added} rows added, {same} already in {args.out}")
    return 0
