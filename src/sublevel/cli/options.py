"""Option parsers and argparse helpers shared by several subcommands (lists, problems, actions)."""
from __future__ import annotations

import argparse
from typing import Callable, TypeVar

from sublevel.theory.errors import InputError

T = TypeVar("T")

MAX_LIST = 10_000
"""Longest list of integers an option may expand to (a range like 1-10)."""


def option_type(parse: Callable[[str], T]) -> Callable[[str], T]:
    """Use ``parse`` as an argparse ``type=`` so its InputError message reaches the user as is."""

    def parse_option(text: str) -> T:
        try:
            return parse(text)
        except InputError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    parse_option.__name__ = parse.__name__
    return parse_option


def subcommands(parser: argparse.ArgumentParser, dest: str, metavar: str):
    """A required sub-choice of a subcommand (``sublevel ccnn table``, ``sublevel construct g1``)."""
    choices = parser.add_subparsers(dest=dest, metavar=metavar, parser_class=type(parser))
    choices.required = True
    return choices


def comma_list(kind: Callable[[str], T]) -> Callable[[str], tuple[T, ...]]:
    """An argparse ``type=`` for ``a,b,c``: a tuple of ``kind`` values."""

    def parse(text: str) -> tuple[T, ...]:
        try:
            return tuple(kind(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {kind.__name__}, got {text!r}") from None

    return parse


def positive_int(text: str) -> int:
    """An argparse ``type=`` for an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def seed(text: str) -> int:
    """An argparse ``type=`` for a random seed: an integer in [0, MAX_SEED] (use with
    :func:`comma_list` for several)."""
    from sublevel.theory.settings import MAX_SEED

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed must be in [0, {MAX_SEED}], got {value}")
    return value


def positive_ints(text: str) -> tuple[int, ...]:
    """``"2,4,8"`` or ``"1-10"`` -> a tuple of positive ints."""
    try:
        if "-" in text and "," not in text:
            low, high = (int(part) for part in text.split("-"))
            if high - low >= MAX_LIST:
                raise InputError(f"a range of more than {MAX_LIST:,} values is refused, got {text!r}")
            values = tuple(range(low, high + 1))
        else:
            values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InputError(f"expected integers like 2,4,8 or a range like 1-10, got {text!r}") from None
    if not values or min(values) < 1:
        raise InputError(f"expected positive integers, got {text!r}")
    from sublevel.theory.networks import MAX_WIDTH  # (here: `sublevel --help` must not import torch)

    if len(values) > MAX_LIST or max(values) > MAX_WIDTH:
        raise InputError(f"at most {MAX_LIST:,} values, each at most {MAX_WIDTH:,}, got {text!r}")
    return values


def add_problem_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that name a problem: data file, architecture, activation, bias, ridge."""
    parser.add_argument("--data", required=True, metavar="FILE.npz", help="data set written by `sublevel construct`")
    parser.add_argument("--arch", required=True, help="widths n_0-...-n_L, e.g. 1-1-1")
    parser.add_argument("--activation", default="linear", help="linear, relu or quadratic (default: linear)")
    parser.add_argument("--no-bias", action="store_true", help="networks without bias vectors")
    parser.add_argument("--kappa", type=float, default=0.0, help="ridge coefficient (default: 0)")


def load_problem(args: argparse.Namespace):
    """(dataset, architecture, problem) from :func:`add_problem_arguments`' options, validated
    (file, shapes, finite data, kappa) before any work starts."""
    from sublevel.constructions.datasets import Dataset
    from sublevel.theory.networks import Architecture

    architecture = Architecture.parse(args.arch, args.activation, not args.no_bias)
    dataset = Dataset.load(args.data)
    return dataset, architecture, dataset.problem(architecture, args.kappa)
