"""Quadratic width thresholds: one claim per threshold, the convex reference minimum, must-fail.

The global minimum of a quadratic net of width p >= n (trainable output weights) is the
least-squares fit over symmetric matrices: descent must reach it and never go below it. Every
threshold is its own claim with its own symbols; the lecture's "n > 2N" is registered in both
readings. The must-fail instance (N = 30 samples in R^4, p = 4) must come out refuted.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sublevel.checks.experiments.quadratic_sweep import convex_minimum, output_signs, quadratic_problem, search_width
from sublevel.checks.verdicts.spurious import DescentSettings
import sublevel.checks.verdicts.quadratic_runners  # noqa: F401 - registers the runner
from sublevel.checks.verdicts.verify import RUNNERS
from sublevel.theory.claims import Verdict, all_claims, get_claim
from sublevel.theory.quadratic_claims import THRESHOLDS

EXPECTED = {  # claim id -> T(n=4, N=10)
    "quadratic-intrinsic-dimension": 10,
    "quadratic-samples": 10,
    "quadratic-du-lee": 5,
    "quadratic-soltanolkotabi": 8,
    "quadratic-deep-fb": 300,
    "quadratic-lecture-samples": 21,
    "quadratic-lecture-inputs": 9,
}


def test_every_threshold_is_its_own_claim():
    claims = all_claims()
    assert set(EXPECTED) <= set(THRESHOLDS) and set(EXPECTED) <= set(claims)
    for claim_id, value in EXPECTED.items():
        assert THRESHOLDS[claim_id].width(4, 10) == value
        claim = claims[claim_id]
        assert claim.kind == "quadratic-threshold" and claim.symbols and claim.reference
        assert any(i.expect == Verdict.REFUTED for i in claim.instances)
    assert claims["quadratic-lecture-samples"].statement != claims["quadratic-lecture-inputs"].statement


def test_instances_test_what_each_claim_adds_on_data_of_its_own():
    """Each claim's main instance sits at p = T(n, N) <= n(n+1)/2 (below it unless the claim is
    Venturi et al.'s own), on data no other claim uses, and every must-fail has its own seed."""
    claims = all_claims()
    mains, must_fails = [], []
    for claim_id in EXPECTED:
        for instance in claims[claim_id].instances:
            n, hidden = instance.architecture().widths[0], instance.architecture().widths[1:-1]
            if instance.expect is None:
                if len(hidden) == 1:  # (Venturi et al.'s theorem is about one hidden layer)
                    assert hidden[0] <= n * (n + 1) // 2, instance.name
                    assert hidden[0] < n * (n + 1) // 2 or claim_id == "quadratic-intrinsic-dimension", instance.name
                mains.append(tuple(sorted(instance.params.items())))
            else:
                must_fails.append(instance.params["seed"])
    assert len(set(mains)) == len(mains) and len(set(must_fails)) == len(must_fails)
    deep = [i for i in claims["quadratic-deep-fb"].instances if len(i.architecture().widths) == 4]
    assert deep and deep[0].architecture().widths[1:3] == (12, 48)  # 3N^2, 3N^4 at N = 2


def test_a_false_threshold_inside_its_own_hypotheses_is_refuted():
    """p >= n - 1 is false: at p = 3 on 30 samples in R^4 descent ends in verified spurious minima."""
    claim = get_claim("quadratic-false-threshold")
    (instance,) = claim.instances
    row = RUNNERS[claim.kind](claim, instance)
    assert row.applies and row.verdict == Verdict.REFUTED.value and not row.contradiction


def test_convex_minimum_is_the_floor_and_is_reached():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((30, 3)), rng.standard_normal((30, 1))
    floor = convex_minimum(x, y)
    problem = quadratic_problem(x, y, 4)
    random = problem.architecture.init(500, generator=torch.Generator().manual_seed(0))
    assert float(problem.loss(random).min()) >= floor - 1e-12
    result = search_width(x, y, 4, 4, descent=DescentSettings(adam_steps=200, lbfgs_iterations=300))
    assert result.best_certified and min(e.loss for e in result.evidence) == pytest.approx(floor, abs=1e-8)


def test_output_signs_have_both_halves():
    assert output_signs(5).tolist() == [1, 1, 1, -1, -1]


def test_must_fail_instance_is_refuted():
    claim = get_claim("quadratic-soltanolkotabi")
    instance = next(i for i in claim.instances if i.expect is not None)
    row = RUNNERS[claim.kind](claim, instance)
    assert row.verdict == Verdict.REFUTED.value and not row.contradiction and not row.applies


@pytest.mark.parametrize("argv", [
    ["experiment", "quadratic-sweep", "--widths", "0-3"],
    ["experiment", "quadratic-sweep", "--samples", "ten"],
    ["experiment", "quadratic-sweep", "--starts", "0"],
    ["experiment", "energy-gap", "--pairs", "0"],
    ["experiment", "energy-gap", "--widths", "-2"],
])
def test_bad_experiment_options_exit_2(argv, tmp_path, capsys):
    from sublevel.cli import main

    out, figure = tmp_path / "r.json", tmp_path / "f.png"
    assert main([*argv, "--out", str(out), "--figure", str(figure)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not out.exists() and not figure.exists()


def test_quadratic_study_pools_seeds_with_intervals_resumes_and_classifies_thresholds(tmp_path, monkeypatch):
    from sublevel.checks.experiments import quadratic_sweep as module
    from sublevel.figures.quadratic_thresholds import draw_study

    options = dict(inputs=(2,), samples=(5,), seeds=(0, 1), starts=6, widths={2: (1, 2, 3, 4)},
                   cache_dir=str(tmp_path / "c"), progress=False)
    first = module.quadratic_study(**options)
    panel = first["panels"][0]
    for row in panel["rows"]:
        assert row["fraction"] == sum(row["spurious"]) / (6 * 2)
        assert row["interval_95"][0] <= row["fraction"] <= row["interval_95"][1]
    from sublevel.theory.quadratic_claims import THRESHOLDS

    for claim, status in panel["threshold_status"].items():
        value, threshold = panel["thresholds"][claim], THRESHOLDS[claim]
        if threshold.fixed_output or threshold.weight_decay:
            assert status == "outside its hypotheses"
            continue
        if value > 4:
            assert status == "untested"
            continue
        key, edge = ("spurious", panel["edge"]) if threshold.about == "minima" else \
            ("valley_candidates", panel["valley_edge"])
        seen = any((sum(r[key]) if isinstance(r[key], list) else r[key]) for r in panel["rows"] if r["width"] >= value)
        assert status.endswith("at or above it") == seen
        assert status != "tight" or value == edge
        assert status != "loose" or value > edge

    def unreachable(*args, **kwargs):
        raise AssertionError("a finished unit was recomputed")

    monkeypatch.setattr(module, "search_width", unreachable)
    assert module.quadratic_study(**options) == first
    draw_study(first, tmp_path / "q.png")
    assert (tmp_path / "q.png").stat().st_size > 1000


def test_fraction_interval_covers_its_data_and_collapses_without_spread():
    from sublevel.checks.experiments.quadratic_sweep import _fraction_interval

    assert _fraction_interval(np.array([0, 0, 0]), 50) == [0.0, 0.0]
    assert _fraction_interval(np.array([50, 50]), 50) == [1.0, 1.0]
    low, high = _fraction_interval(np.array([5, 25, 45]), 50)
    assert low < 0.5 < high and high - low > 0.3  # seeds that disagree give a wide interval
