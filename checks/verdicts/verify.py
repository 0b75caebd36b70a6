"""Run registered claims on their default instances: the engine of ``sublevel verify``.

Each claim ``kind`` has a runner here that turns an :class:`~sublevel.theory.claims.Instance` into an
observation and a verdict. A row is a *contradiction* when the verdict is ``refuted`` but the
instance was not a must-fail one, or when a must-fail instance did not come out refuted
(then the check could not fail, which is a bug in the machinery).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Iterable, Iterator

from sublevel.checks.counting.datasets import count_dataset
from sublevel.checks.counting.sampling import SampleSettings
from sublevel.constructions.registry import construct
from sublevel.theory.claims import Claim, Instance, Verdict, all_claims, get_claim
from sublevel.theory.errors import Contradiction


CONTRADICTION = "contradiction"
"""The verdict of a row whose computation raised :class:`~sublevel.theory.errors.Contradiction`."""


@dataclass(frozen=True)
class Row:
    """One line of the verdict table."""

    claim: str
    instance: str
    predicted: str
    observed: str
    verdict: str
    expected: str | None
    applies: bool
    evidence: dict
    empirical: bool = False

    @property
    def contradiction(self) -> bool:
        """The machinery disagrees with itself: a runner's contradiction, a must-fail instance that
        did not fail, or a theorem refuted (an empirical claim refuted on its instance is a
        finding instead)."""
        if self.verdict == CONTRADICTION:
            return True
        if self.expected is not None:
            return self.verdict != self.expected
        return self.verdict == Verdict.REFUTED.value and not self.empirical

    def to_json(self) -> dict:
        return dict(asdict(self), contradiction=self.contradiction)

    @classmethod
    def of(cls, claim: Claim, instance: Instance, observed: str, verdict: Verdict, evidence: dict,
           applies: bool | None = None) -> "Row":
        """The row of ``claim`` on ``instance``; ``applies`` defaults to the claim's own
        hypothesis check on the instance's architecture and kappa."""
        if applies is None:
            applies = claim.applies(instance.architecture(), instance.kappa)
        return cls(claim=claim.id, instance=instance.name, predicted=claim.prediction, observed=observed,
                   verdict=verdict.value, expected=instance.expect.value if instance.expect else None,
                   applies=applies, evidence=evidence, empirical=claim.empirical)


Runner = Callable[[Claim, Instance], Row]
RUNNERS: dict[str, Runner] = {}

def runner(kind: str) -> Callable[[Runner], Runner]:
    """Register the runner for claims of ``kind``."""

    def decorate(function: Runner) -> Runner:
        RUNNERS[kind] = function
        return function

    return decorate


@runner("components")
def run_components(claim: Claim, instance: Instance) -> Row:
    """Count components at the instance's levels and judge the claim's bound on them."""
    dataset = construct(instance.family, **instance.params)
    arch = instance.architecture()
    settings = SampleSettings(**instance.options.get("sampling", {}))
    count = count_dataset(dataset, arch, instance.levels, instance.kappa, settings)
    verdict = claim.judge(count.brackets)
    recheck_proven(verdict, count.brackets, claim.max_components)
    return Row.of(claim, instance, "; ".join(f"lambda={b.level:g}: {b.describe()}" for b in count.brackets),
                  verdict, count.to_json())


def recheck_proven(verdict: Verdict, brackets, max_components: int) -> None:
    """A ``proven`` connectivity verdict must rest on proven upper bounds at every level; a
    ``refuted`` one on a proven lower bound above the claim. Checked apart from the judging
    rule, so that a wrong rule is a contradiction instead of a printed proof.

    Raises
    ------
    Contradiction
        When the verdict is not backed by the brackets' proven bounds.
    """
    if verdict is Verdict.PROVEN and not all(b.upper is not None and b.upper <= max_components for b in brackets):
        raise Contradiction("a 'proven' verdict without a proven upper bound <= "
                            f"{max_components} at every level: {[(b.level, b.upper) for b in brackets]}")
    if verdict is Verdict.REFUTED and not any(b.lower > max_components for b in brackets):
        raise Contradiction(f"a 'refuted' verdict without a proven lower bound above {max_components}")


def iter_rows(claim_ids: Iterable[str] | None = None) -> Iterator[tuple[int, int, Row]]:
    """(index, total, row) for every instance of the chosen claims, as each one finishes."""
    # The runner modules register further claim kinds on import (add new ones here).
    from sublevel.checks.verdicts import measured_runners, quadratic_runners, relu_runners  # noqa: F401

    if isinstance(claim_ids, str):
        claim_ids = [claim_ids]  # one claim id, not its letters
    chosen = [get_claim(c) for c in claim_ids] if claim_ids else list(all_claims().values())
    jobs = [(claim, instance) for claim in chosen for instance in claim.instances]
    for index, (claim, instance) in enumerate(jobs, start=1):
        try:
            row = RUNNERS[claim.kind](claim, instance)
        except Contradiction as err:  # the machinery disagrees with itself: a row, never a result
            row = Row(claim=claim.id, instance=instance.name, predicted=claim.prediction,
                      observed=f"internal contradiction: {err}", verdict=CONTRADICTION,
                      expected=instance.expect.value if instance.expect else None, applies=True, evidence={})
        yield index, len(jobs), row


def verify(claim_ids: Iterable[str] | None = None) -> list[Row]:
    """Rows for every instance of the chosen claims (all registered claims by default)."""
    return [row for _, _, row in iter_rows(claim_ids)]


@runner("ground-truth")
def run_ground_truth(claim: Claim, instance: Instance) -> Row:
    """Count at the instance's levels and compare with the known counts: refuted when a proven
    bound excludes the truth or an exact count differs from it, proven when every count is
    exact and equal to it, supported when the truth only lies within the bounds.

    With ``forge_labels: f`` the labels are multiplied by f while the metadata still names the
    original construction, as an edited file would: its certificates must be ignored (the
    truth is that of the scaled labels)."""
    dataset = construct(instance.family, **instance.params)
    if "forge_labels" in instance.options:
        from sublevel.constructions.datasets import Dataset

        dataset = Dataset(dataset.x, dataset.y * instance.options["forge_labels"], dataset.metadata)
    settings = SampleSettings(**instance.options.get("sampling", {}))
    count = count_dataset(dataset, instance.architecture(), instance.levels, instance.kappa, settings)
    truth = instance.options["truth"]
    wrong = [(b, n) for b, n in zip(count.brackets, truth)
             if b.lower > n or (b.upper is not None and b.upper < n)]
    if wrong:
        verdict = Verdict.REFUTED
    elif all(b.exact for b in count.brackets):
        verdict = Verdict.PROVEN
    else:
        verdict = Verdict.SUPPORTED
    if verdict is Verdict.PROVEN and not all(b.lower == n and b.upper == n for b, n in zip(count.brackets, truth)):
        raise Contradiction("a 'proven' ground truth whose proven bounds do not both equal the known count")
    observed = "; ".join(f"lambda={b.level:.15g}: {b.describe()} (truth {n})" for b, n in zip(count.brackets, truth))
    return Row.of(claim, instance, observed, verdict, dict(count.to_json(), truth=list(truth)))
