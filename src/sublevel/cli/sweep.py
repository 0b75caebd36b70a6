"""Count sublevel components over families x widths x seeds, resumably, in parallel.

SPEC is a TOML file (see checks/sweeps/spec.py for the format; default: the shipped
linear vs ReLU-adversarial vs quadratic spec). Every task (family, width, seed) is keyed by
a hash of its whole configuration and the package version; finished tasks are rows of an
SQLite database, so an interrupted sweep (even kill -9) resumes where it stopped and a
finished one does no work. Tasks run on a local process pool (one worker per core) or on a
running Dask cluster (--scheduler). The descent of all seeds of one width is one batched
computation on --device; certification is float64 on the CPU.

Examples:
  sublevel sweep                                  # the default spec, into default.db
  sublevel sweep my.toml --db my.db --workers 2
  sublevel sweep my.toml --scheduler tcp://127.0.0.1:8786
  sublevel plot my.db
"""
from __future__ import annotations

import argparse

HELP = "run a width sweep from a TOML spec into a resumable SQLite store"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", nargs="?", metavar="SPEC", help="TOML spec (default: the shipped default spec)")
    parser.add_argument("--db", metavar="FILE.db", help="results database (default: SWEEP_NAME.db)")
    parser.add_argument("--workers", type=int, help="local worker processes (default: number of cores)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run on the Dask cluster with this scheduler address")
    parser.add_argument("--scheduler-file", metavar="FILE",
                        help="run on the Dask cluster whose scheduler wrote FILE (`dask scheduler --scheduler-file`)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="device of the batched descent")
    parser.add_argument("--batch", type=int, metavar="K", help="at most K seeds per batched group (default: all)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--shard", metavar="I/N", help="run only shard I of N (a SLURM job array: "
                        "--shard $((SLURM_ARRAY_TASK_ID+1))/N, one database per shard, then `sublevel merge`)")
    parser.add_argument("--retries", type=int, default=2, metavar="N",
                        help="run a task group that raised at most N more times (default 2); its errors are "
                             "recorded in the database")


def run(args: argparse.Namespace) -> int:
    import os

    import torch

    from sublevel.checks.sweeps.executors import make_executor
    from sublevel.checks.sweeps.runner import run_sweep
    from sublevel.checks.sweeps.spec import DEFAULT_SPEC, load_spec
    from sublevel.checks.sweeps.store import ResultStore
    from sublevel.theory.errors import InputError

    spec = load_spec(args.spec or DEFAULT_SPEC)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: CUDA is not available on this machine")
    if args.batch is not None and args.batch < 1:
        raise InputError(f"--batch must be >= 1, got {args.batch}")
    if args.retries < 0:
        raise InputError(f"--retries must be >= 0, got {args.retries}")
    shard = (1, 1)
    if args.shard:
        try:
            shard = tuple(int(part) for part in args.shard.split("/"))
            if len(shard) != 2:
                raise ValueError
        except ValueError:
            raise InputError(f"--shard must look like 2/8, got {args.shard!r}") from None
    db = args.db or f"{spec.name}.db"
    if args.scheduler and args.scheduler_file:
        raise InputError("give --scheduler or --scheduler-file, not both")
    if args.scheduler_file and not os.path.isfile(args.scheduler_file):
        raise InputError(f"--scheduler-file {args.scheduler_file}: no such file")
    scheduler = f"file:{args.scheduler_file}" if args.scheduler_file else args.scheduler
    executor = make_executor(args.workers, scheduler, args.device)
    try:
        with ResultStore(db) as store:
            summary = run_sweep(spec, store, executor, args.device, args.batch, progress=not args.quiet,
                                retries=args.retries, shard=shard)
    except BaseException:
        executor.close(abandon=True)  # interrupted or failed: finished rows are in the store
        raise
    executor.close()
    print(f"sweep {spec.name}: {summary.total} tasks, {summary.skipped} already in {db}, {summary.ran} run now "
          f"on {executor} ({args.device}) in {summary.seconds:.1f} s")
    if summary.elsewhere:
        print(f"{summary.elsewhere} pending tasks are leased by another sweep on {db}; rerun after it ends "
              f"(or after its leases expire, if it died) to see them all")
    if summary.failed:
        print(f"{summary.failed} tasks failed {args.retries + 1} times and were given up (errors are in {db}, table "
              f"failures)" + (f"; first error: {summary.errors[0]}" if summary.errors else ""))
    print("rows hold per level: lower and upper (proven bounds on N_lambda; upper null where none is proven), "
          "sampled (components of the certified graph over sampled points: an estimate), status. Draw them with "
          "`sublevel plot " + db + "`.")
    return 1 if summary.failed else 0
