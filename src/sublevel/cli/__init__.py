"""sublevel: computational checks of theorems about the sublevel sets of neural-network losses.

Each subcommand lives in its own module under :mod:`sublevel.cli` and exposes ``HELP``
(one line), ``add_arguments(parser)`` and ``run(args) -> int``. Command modules import their
heavy dependencies inside ``run`` so that ``sublevel --help`` stays fast.

Mistakes a user can make end as one line on stderr and exit status 2 (``InputError``, a bad
option, a missing file); anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import os
import sys

from sublevel.cli import (ccnn, construct, count, experiment, grid_count, landscape, merge, merge_tree,  # noqa: I001
                          path, plot, sweep, verify)

from sublevel.theory.errors import Contradiction, InputError

COMMANDS = {
    "construct": construct,
    "count": count,
    "verify": verify,
    "sweep": sweep,
    "plot": plot,
    "merge": merge,
    "landscape": landscape,
    "ccnn": ccnn,
    "merge-tree": merge_tree,
    "path": path,
    "grid-count": grid_count,
    "experiment": experiment,
}
"""Subcommand name -> its module in :mod:`sublevel.cli` (add new ones here)."""

EXIT_USAGE = 2
EXIT_CONTRADICTION = 3
"""Two of the package's own results disagree (:class:`~sublevel.theory.errors.Contradiction`): a bug, never a result."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line, like every other user error."""

    def error(self, message: str):  # noqa: D102 - argparse API
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand; with ``only``, the options of that subcommand alone are
    built (the others keep their name and help line), which keeps ``sublevel --help`` and the
    start of every command from importing what other commands need."""
    parser = _Parser(prog="sublevel", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"sublevel {_version()}")
    parser.add_argument("--threads", dest="torch_threads", type=int, default=1, metavar="N",
                        help="torch CPU threads (default 1: the batched evaluations are many mid-sized "
                             "operations, measured 2-3x faster single-threaded on two cores)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, module in COMMANDS.items():
        command = sub.add_parser(name, help=module.HELP, description=module.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        if only is None or only == name:
            module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("sublevel")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _command_of(argv: list[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is not a global option)."""
    words = iter(argv)
    for word in words:
        if word == "--threads":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(only=_command_of(argv) or "")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # usage errors and --help: a status, not an exception, for callers
        return int(exit_.code or 0)
    if args.torch_threads < 1:
        print(f"sublevel: error: --threads must be >= 1, got {args.torch_threads}", file=sys.stderr)
        return EXIT_USAGE
    import torch

    torch.set_num_threads(args.torch_threads)
    try:
        return int(args._run(args) or 0)
    except InputError as err:
        print(f"sublevel {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (FileNotFoundError, IsADirectoryError, PermissionError) as err:
        print(f"sublevel {args.command}: error: {err.strerror}: {err.filename}", file=sys.stderr)
        return EXIT_USAGE
    except Contradiction as err:
        print(f"sublevel {args.command}: contradiction: {err}", file=sys.stderr)
        return EXIT_CONTRADICTION
    except KeyboardInterrupt:
        print(f"sublevel {args.command}: interrupted; finished work is kept", file=sys.stderr)
        return 130


def console() -> None:
    """The ``sublevel`` program: :func:`main`, and after an interrupt (status 130) an exit that
    skips the interpreter's clean-up. At exit Python joins the threads of a process pool, and
    the standard library's pool has had deadlocks there once a worker is terminated (CPython
    gh-94777, gh-125451); one test run saw the program outlive its interrupt by seconds. The
    finished work is already committed."""
    code = main()
    if code == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    sys.exit(code)


if __name__ == "__main__":
    console()
