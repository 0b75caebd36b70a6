"""ReLU claims: Prop 2.3 as a property test, and every claim's runner on a must-fail instance.

Must-fail instances: a global minimum offered as spurious, the lemma with its correction
removed or divided by 10 (inside its hypotheses: a two-point distribution at right angles needs
a sixth of the correction), the lecture's bound with no constant on labels scaled by 2; their
runners must say refuted.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from sublevel.checks.verdicts.kernel_inequality import bounds_empirical, bounds_gaussian
import sublevel.checks.verdicts.relu_runners  # noqa: F401 - registers the runners
from sublevel.checks.verdicts.verify import RUNNERS, verify
from sublevel.theory.claims import Verdict, get_claim

SLACK = 1e-12


def unit_pair(seed: int, n: int, angle: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal(n)
    w1 /= np.linalg.norm(w1)
    other = rng.standard_normal(n)
    other -= (other @ w1) * w1
    other /= np.linalg.norm(other)
    return w1, np.cos(angle) * w1 + np.sin(angle) * other


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 6), angle=st.floats(0.0, 3.1),
       samples=st.integers(1, 40), shift=st.floats(-2, 2), gaussian=st.booleans())
def test_prop_2_3_holds_for_random_distributions_and_angles(seed, n, angle, samples, shift, gaussian):
    w1, w2 = unit_pair(seed, n, angle)
    rng = np.random.default_rng(seed + 1)
    if gaussian:
        m = rng.standard_normal((n, n))
        bounds = bounds_gaussian(m @ m.T + 0.05 * np.eye(n), w1, w2)
    else:
        bounds = bounds_empirical(rng.standard_normal((samples, n)) * rng.exponential(1.0, n) + shift, w1, w2)
    assert bounds.lower <= bounds.value + SLACK
    assert bounds.value <= bounds.upper + SLACK


def test_prop_2_3_upper_bound_is_tight_at_angle_zero():
    w1, _ = unit_pair(0, 3, 0.0)
    bounds = bounds_gaussian(np.eye(3), w1, w1)
    assert bounds.value == pytest.approx(bounds.upper, abs=1e-12) == pytest.approx(0.5, abs=1e-12)


def rows_of(claim_id: str, must_fail: bool):
    claim = get_claim(claim_id)
    instances = [i for i in claim.instances if (i.expect is not None) == must_fail]
    return [RUNNERS[claim.kind](claim, instance) for instance in instances]


@pytest.mark.parametrize("claim_id", ["relu-kernel-inequality", "relu-nearly-connected-literal"])
def test_cheap_must_fail_instances_are_refuted(claim_id):
    for row in rows_of(claim_id, must_fail=True):
        assert row.verdict == Verdict.REFUTED.value and not row.contradiction


def test_kernel_claim_holds_on_its_instances():
    assert [row.verdict for row in rows_of("relu-kernel-inequality", must_fail=False)] == ["supported"]


def test_spurious_point_claims():
    claim = get_claim("relu-spurious-minima")
    cheap = [i for i in claim.instances if "point" in i.options]
    rows = {i.name: RUNNERS[claim.kind](claim, i) for i in cheap}
    for name, row in rows.items():
        expected = "refuted" if "must fail" in name else "supported"
        assert row.verdict == expected, (name, row.observed)


def test_disconnection_claim_and_its_must_fail_instance():
    rows = rows_of("relu-disconnection", must_fail=False) + rows_of("relu-disconnection", must_fail=True)
    assert [row.verdict for row in rows] == ["proven", "refuted"]
    assert not any(row.contradiction for row in rows)


def test_energy_gap_and_safran_shamir_runs():
    for claim_id in ("relu-nearly-connected", "relu-spurious-minima"):
        assert not any(row.contradiction for row in verify([claim_id]))


@settings(max_examples=50, deadline=None)
@given(scale=st.floats(1e-3, 1e3), factor=st.floats(0.0, 0.16), n=st.integers(2, 5))
def test_two_points_at_right_angles_need_a_sixth_of_the_correction(scale, factor, n):
    """X uniform on {c e_1, c e_2}, w1 = e_1, w2 = e_2: [w1, w2] = 0, ||w_m||^2 = c^2/2,
    ||Sigma|| = c^2/2, so upper - value = c^2/4 = correction / 6 at every scale c. The lemma holds
    there (factor 1), and any correction factor below 1/6 is violated: the must-fail of the claim
    lies inside its own hypotheses (any distribution)."""
    eye = np.eye(n)
    x = scale * eye[:2]
    bounds = bounds_empirical(x, eye[0], eye[1])
    assert bounds.value == 0.0
    assert (bounds.upper - bounds.value) / bounds.correction == pytest.approx(1 / 6, rel=1e-12)
    assert bounds.lower <= bounds.value
    assert bounds.value < bounds.upper - factor * bounds.correction


def test_adversarial_search_finds_the_tight_case_and_refutes_a_tenth():
    from sublevel.checks.verdicts.kernel_inequality import tightest_lower_bound

    tight = tightest_lower_bound(searches=8)
    assert 0.16 < tight.ratio <= 1 / 6 + 1e-9
    rows = {row.instance: row for row in rows_of("relu-kernel-inequality", must_fail=True)}
    tenth = rows["correction divided by 10, must fail"]
    assert tenth.verdict == "refuted" and any(v.get("adversarial") for v in tenth.evidence["violations"])


@settings(max_examples=50, deadline=None)
@given(rate=st.floats(0.3, 2.0), scale=st.floats(1e-3, 1e3), noise=st.floats(0.0, 0.05), seed=st.integers(0, 100))
def test_bootstrap_slope_interval_finds_a_falling_trend_and_not_a_flat_one(rate, scale, noise, seed):
    """Gaps ~ scale * m^-rate (a few percent noise, 6 pairs per width): the 95% interval holds the
    rate and lies below 0; the same gaps at every width: the interval contains 0."""
    from sublevel.checks.experiments.energy_gap import bootstrap_slope_interval

    rng = np.random.default_rng(seed)
    widths = [2, 4, 8, 16, 32]
    falling = [[scale * m ** -rate * (1 + noise * rng.standard_normal()) for _ in range(6)] for m in widths]
    low, high = bootstrap_slope_interval(widths, falling, seed, resamples=400)
    assert high < 0 and low - 0.1 <= -rate <= high + 0.1
    values = list(scale * rng.uniform(0.5, 1.5, 6))
    flat = [list(rng.permutation(values)) for _ in widths]
    low, high = bootstrap_slope_interval(widths, flat, seed, resamples=400)
    assert low < 0 < high


@settings(max_examples=25, deadline=None)
@given(rate=st.floats(0.3, 2.0), spread=st.floats(0.0, 0.5), seed=st.integers(0, 100), clusters=st.integers(2, 5))
def test_cluster_bootstrap_holds_the_rate_across_data_seeds_and_not_a_flat_trend(rate, spread, seed, clusters):
    """Each data seed c scales all its gaps by its own factor (a cluster effect): the interval
    over clusters still holds the rate and lies below 0; equal gaps at every width do not."""
    from sublevel.checks.experiments.energy_gap import cluster_bootstrap_slope

    rng = np.random.default_rng(seed)
    widths = [2, 4, 8, 16, 32]
    factors = np.exp(spread * rng.standard_normal(clusters))
    falling = [[[f * m ** -rate * (1 + 0.03 * rng.standard_normal()) for _ in range(4)] for m in widths]
               for f in factors]
    low, high = cluster_bootstrap_slope(widths, falling, seed, resamples=300)
    assert high < 0 and low - 0.15 <= -rate <= high + 0.15
    values = [f * rng.uniform(0.5, 1.5, 4) for f in factors]  # the same pairs' gaps at every width
    flat = [[list(rng.permutation(v)) for _ in widths] for v in values]
    low, high = cluster_bootstrap_slope(widths, flat, seed, resamples=300)
    assert low < 0 < high


@pytest.mark.parametrize("align", [True, False])
def test_energy_gap_factors_out_permutations(monkeypatch, align):
    """Every pair made of a minimum and its own permuted copy: aligned, the gap is 0 (they are
    one minimum) while the straight line between them as trained crosses a barrier, reported
    apart; not aligned (the must-fail side), the gap is that barrier or less, and positive."""
    import torch

    from sublevel.checks.counting.symmetries import permute_layer
    from sublevel.checks.experiments import energy_gap as module
    from sublevel.constructions.registry import construct
    from sublevel.theory.networks import Architecture

    data = construct("teacher", arch="2-4-1", activation="quadratic", samples=24, seed=0)
    real_descend = module.descend

    def twins(loss, starts, settings):
        minima = real_descend(loss, starts, settings)
        half = len(minima) // 2
        arch = Architecture((2, 3, 1), "relu", bias=False)
        order = torch.tensor([[2, 0, 1]] * half)
        return torch.cat([minima[:half], permute_layer(arch, minima[:half].clone(), 1, order)])

    monkeypatch.setattr(module, "descend", twins)
    settings = module.EnergyGapSettings(widths=(3,), pairs=2, finders=(("linear", ()),), align=align)
    rows = module.gap_rows(data, 3, settings)
    assert all(r.raw_linear_gap > 1e-3 for r in rows)
    if align:
        assert all(r.gap <= 1e-9 * max(1.0, r.loss_a) for r in rows)
    else:
        assert all(r.gap > 1e-3 for r in rows)


def test_energy_gap_study_resumes_from_its_units_and_draws_its_intervals(tmp_path, monkeypatch):
    """Finished (n, seed, m) units are read back instead of recomputed (a kill loses at most the
    unit in progress), the same settings give the same numbers, and the figure is drawn."""
    from sublevel.checks.experiments import energy_gap as module
    from sublevel.figures.energy_gap import draw_study

    settings = module.EnergyGapSettings(widths=(2, 3), pairs=2, finders=(("linear", ()),))
    first = module.energy_gap_study([1, 2], [0, 1], settings, samples=12, cache_dir=str(tmp_path / "c"),
                                    progress=False)
    assert set(first["inputs"]) == {1, 2} and len(list((tmp_path / "c").iterdir())) == 2 * 2 * 2 + 2 * 2

    def unreachable(*args, **kwargs):
        raise AssertionError("a finished unit was recomputed")

    monkeypatch.setattr(module, "gap_rows", unreachable)
    again = module.energy_gap_study([1, 2], [0, 1], settings, samples=12, cache_dir=str(tmp_path / "c"),
                                    progress=False)
    assert again == first
    report = first["inputs"][2]
    assert len(report["mean_gap_interval_95"]) == 2 and report["budget_check"][0]["width"] == 2
    assert all(low <= mean <= high for (low, high), mean in zip(report["mean_gap_interval_95"], report["mean_gaps"]))
    draw_study(first, tmp_path / "g.png")
    assert (tmp_path / "g.png").stat().st_size > 1000
