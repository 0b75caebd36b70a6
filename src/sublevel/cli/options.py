"""Parsers for option values shared by several subcommands (levels, widths, devices)."""
from __future__ import annotations

import argparse
from typing import Callable, TypeVar

from sublevel.theory.errors import InputError

T = TypeVar("T")


def option_type(parse: Callable[[str], T]) -> Callable[[str], T]:
    """Use ``parse`` as an argparse ``type=`` so its InputError message reaches the user as is."""

    def parse_option(text: str) -> T:
        try:
            return parse(text)
        except InputError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    parse_option.__name__ = parse.__name__
    return parse_option


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
