"""Empirical claims (Li et al., convexified CNN): the paired-comparison verdict rule, and each
claim's runner on its instance and on its must-fail."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sublevel.checks.verdicts.measured_runners  # noqa: F401 - registers the runners
from sublevel.checks.verdicts.paired import PairedComparison
from sublevel.checks.verdicts.verify import RUNNERS
from sublevel.theory.claims import Verdict, get_claim


@settings(max_examples=50, deadline=None)
@given(shift=st.floats(0.5, 10.0), scale=st.floats(1e-3, 1e3), pairs=st.integers(5, 30), seed=st.integers(0, 1000))
def test_paired_interval_reads_a_clear_difference_and_not_a_symmetric_one(shift, scale, pairs, seed):
    """Differences shift + N(0, 0.1) (times a scale): supported, and refuted when negated; the
    same values with both signs: inconclusive. Scale-free: the verdict ignores the unit."""
    rng = np.random.default_rng(seed)
    d = scale * (shift + 0.1 * rng.standard_normal(pairs))
    assert PairedComparison.of(d).verdict is Verdict.SUPPORTED
    assert PairedComparison.of(-d).verdict is Verdict.REFUTED
    comparison = PairedComparison.of(np.concatenate([d, -d]))
    assert comparison.verdict is Verdict.INCONCLUSIVE and comparison.low < 0 < comparison.high


def test_too_few_pairs_or_no_difference_is_inconclusive():
    assert PairedComparison.of([1.0, 2.0]).verdict is Verdict.INCONCLUSIVE
    assert PairedComparison.of([0.0] * 5).verdict is Verdict.INCONCLUSIVE


def _rows(claim_id):
    claim = get_claim(claim_id)
    return {instance.expect: RUNNERS[claim.kind](claim, instance) for instance in claim.instances}


def test_filter_normalisation_invariance_and_its_must_fail():
    rows = _rows("li-filter-normalisation")
    assert rows[None].verdict == "supported" and rows[None].evidence["relative_difference"] < 1e-12
    assert rows[Verdict.REFUTED].verdict == "refuted" and rows[Verdict.REFUTED].evidence["relative_difference"] > 0.1


def test_skip_connections_rows():
    rows = _rows("li-skip-connections")
    assert rows[Verdict.REFUTED].verdict == "refuted" and not rows[Verdict.REFUTED].contradiction
    assert rows[None].verdict in ("supported", "inconclusive", "refuted") and not rows[None].contradiction


def test_ccnn_ordering_rows_are_findings_not_contradictions():
    rows = _rows("ccnn-table-1-ordering")
    assert rows[Verdict.REFUTED].verdict == "refuted" and not rows[Verdict.REFUTED].contradiction
    main = rows[None]
    assert main.empirical and not main.contradiction
    assert set(main.evidence) == {"depth_1", "depth_2"}


@pytest.mark.parametrize("claim_id", ["li-weight-decay-norm", "li-batch-size", "li-weight-histograms"])
def test_paired_training_claims_and_their_must_fails(claim_id):
    claim = get_claim(claim_id)
    rows = [RUNNERS[claim.kind](claim, instance) for instance in claim.instances]
    for instance, row in zip(claim.instances, rows):
        assert not row.contradiction and len(row.evidence["differences"]) == 6
        if instance.expect is Verdict.REFUTED:
            assert row.verdict == "refuted"
