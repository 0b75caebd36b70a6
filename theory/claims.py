"""Claims: what the lecture states, with hypotheses and a prediction that can fail.

A :class:`Claim` says what is claimed (statement, symbols, reference, hypotheses), when it
applies to a problem, and what it predicts. It does not run anything: the machinery that
observes (sampling, certified segments, path finders) lives in :mod:`sublevel.checks`, which looks up
the runner for the claim's ``kind`` and hands the observation back to :meth:`Claim.judge`.

Each claim lists default :class:`Instance` s, the problems ``sublevel verify`` runs. An
instance outside the claim's hypotheses, or of a deliberately false variant, carries
``expect = Verdict.REFUTED``: a must-fail instance shows that the check can fail.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from sublevel.theory.bounds import Bracket
from sublevel.theory.errors import InputError
from sublevel.theory.networks import Architecture


class Verdict(str, enum.Enum):
    """Outcome of checking a claim on one instance.

    ``proven``: a certificate covers the claim on the instance. ``refuted``: a certified
    counterexample. ``supported``: evidence only (searches that found no counterexample, sampled
    counts); the row states its strength. ``inconclusive``: neither. A row whose verdict differs
    from an instance's expected one is a contradiction (exit status 1 of ``sublevel verify``).
    """

    PROVEN = "proven"
    SUPPORTED = "supported"
    REFUTED = "refuted"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Instance:
    """A problem a claim is checked on: a registered data family and an architecture.

    ``options`` carries settings for the runner (e.g. sampling budget); ``expect`` is the
    verdict the instance must give (``REFUTED`` for must-fail instances, else ``None``).
    """

    name: str
    family: str
    params: dict[str, Any]
    widths: str
    activation: str = "linear"
    bias: bool = False
    levels: tuple[float, ...] = ()
    kappa: float = 0.0
    options: dict[str, Any] = field(default_factory=dict)
    expect: Verdict | None = None

    def architecture(self) -> Architecture:
        return Architecture.parse(self.widths, self.activation, self.bias)


@dataclass(frozen=True)
class Claim:
    """A statement of the lecture with its hypotheses and its falsifiable prediction.

    Parameters
    ----------
    id : str
        Short stable name, e.g. ``"deep-linear-strict"``.
    statement, reference, hypotheses : str
    symbols : dict
        Meaning of each symbol in the statement.
    kind : str
        Which runner of :mod:`sublevel.checks.verdicts.verify` observes it (``"components"``, ...).
    applies : callable (Architecture, kappa) -> bool
        Whether a problem meets the hypotheses.
    max_components : int or None
        For ``components`` claims: the most components Omega(lambda) may have.
    instances : tuple of Instance
    empirical : bool
        A claim about trained models (measured with uncertainty), not a theorem: refuted on an
        instance is a finding about that instance, not an internal inconsistency of the package.
        A theorem refuted outside a must-fail instance can only mean a bug: a contradiction.
    """

    id: str
    statement: str
    reference: str
    hypotheses: str
    symbols: dict[str, str]
    kind: str
    applies: Callable[[Architecture, float], bool]
    instances: tuple[Instance, ...]
    prediction: str
    max_components: int | None = None
    empirical: bool = False

    def judge(self, observed: Sequence[Bracket]) -> Verdict:
        """Verdict of a ``components`` claim from the bounds observed at each level.

        Refuted when a proven lower bound exceeds ``max_components`` at some level; proven when
        at every level a proven upper bound is at most ``max_components``; supported (evidence
        only) when at every level the certified graph over sampled points has at most
        ``max_components`` components and some level has sampled points; inconclusive otherwise.
        """
        if self.max_components is None:
            raise InputError(f"claim {self.id} is not a components claim")
        if any(b.lower > self.max_components for b in observed):
            return Verdict.REFUTED
        if observed and all(b.upper is not None and b.upper <= self.max_components for b in observed):
            return Verdict.PROVEN
        if all(b.sampled <= self.max_components for b in observed) and any(b.points for b in observed):
            return Verdict.SUPPORTED
        return Verdict.INCONCLUSIVE


CLAIMS: dict[str, Claim] = {}

def register(claim: Claim) -> Claim:
    CLAIMS[claim.id] = claim
    return claim


def all_claims() -> dict[str, Claim]:
    """Every registered claim, by id, in registration order."""
    # The claim modules register on import (add new ones here); they import this module.
    from sublevel.theory import (ground_truth_claims, linear_claims, measured_claims,  # noqa: F401
                                 quadratic_claims, relu_claims)

    return dict(CLAIMS)


def get_claim(claim_id: str) -> Claim:
    claims = all_claims()
    if claim_id not in claims:
        raise InputError(f"unknown claim {claim_id!r} (known: {', '.join(claims)})")
    return claims[claim_id]
