"""Freeman & Bruna's deep-linear claim (docs/claims.rst, section 1): strict width condition.

Property tests: random deep linear problems meeting n_l > min(n_0, n_L) show one certified
component at random levels, and the constructive path never rises above max(L_A, L_B).
Must-fail instance: the 1-1-1 net (non-strict condition) on G1 has two certified components.
"""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sublevel.checks.counting.components import count_components
from sublevel.checks.paths import get_finder
from sublevel.checks.counting.sampling import SampleSettings
from sublevel.checks.certify.segments import path_maximum
from sublevel.checks.verdicts.verify import verify
from sublevel.constructions import construct
from sublevel.constructions.linear_paths import deep_linear_path
from sublevel.theory import Architecture, InputError, Problem
from sublevel.theory.claims import get_claim
from sublevel.theory.linear_claims import nonstrict_width, strict_width


@st.composite
def strict_linear_problems(draw, max_depth=3):
    n0 = draw(st.integers(1, 2))
    n_out = draw(st.integers(1, 2))
    depth = draw(st.integers(2, max_depth))
    hidden = [min(n0, n_out) + draw(st.integers(1, 2)) for _ in range(depth - 1)]
    arch = Architecture((n0, *hidden, n_out), "linear", bias=False)
    g = torch.Generator().manual_seed(draw(st.integers(0, 10**6)))
    n = draw(st.integers(3, 8))
    x = torch.randn(n, n0, generator=g, dtype=torch.float64)
    y = x @ torch.randn(n0, n_out, generator=g, dtype=torch.float64) + 0.5 * torch.randn(n, n_out, generator=g, dtype=torch.float64)
    return Problem(arch, x, y)


def least_squares_loss(problem: Problem) -> float:
    solution = torch.linalg.lstsq(problem.x, problem.y).solution
    return float(((problem.x @ solution - problem.y) ** 2).sum() / problem.num_samples)


@given(strict_linear_problems(), st.floats(0.15, 1.5))
@settings(max_examples=4, deadline=None)
def test_strict_width_gives_one_certified_component(problem, fraction):
    assert strict_width(problem.architecture, 0.0)
    lowest = least_squares_loss(problem)
    at_zero = float((problem.y ** 2).sum() / problem.num_samples)
    level = lowest + fraction * (at_zero - lowest)
    # Levels up to and beyond L(0) include sets pinched at theta = 0 (as G1 at lambda = 1), which
    # straight segments between samples rarely cross: the path-finder pass joins them.
    result = count_components(problem, [level], SampleSettings(starts=24, steps=200, max_points=600),
                              finder=get_finder("dss"))
    (bracket,) = result.brackets
    assert bracket.points > 0
    assert (bracket.lower, bracket.sampled, bracket.upper) == (1, 1, None)


def trained(problem: Problem, theta: torch.Tensor) -> torch.Tensor:
    """Minimisers from the given starts (L-BFGS, float64): the hard case L_A = L_B = min L."""
    theta = theta.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([theta], max_iter=300, tolerance_grad=1e-13, tolerance_change=1e-16)

    def closure():
        optimizer.zero_grad()
        value = problem.loss(theta).sum()
        value.backward()
        return value

    optimizer.step(closure)
    return theta.detach()


@given(strict_linear_problems(max_depth=2), st.integers(0, 1000), st.booleans())
@settings(max_examples=8, deadline=None)
def test_constructive_path_stays_below_the_higher_endpoint(problem, seed, at_minima):
    theta_a, theta_b = problem.architecture.init(2, generator=torch.Generator().manual_seed(seed))
    if at_minima:
        theta_a, theta_b = trained(problem, torch.stack([theta_a, theta_b]))
    path = deep_linear_path(problem, theta_a, theta_b, seed=seed)
    assert torch.equal(path.beads[0], theta_a.to(torch.float64))
    assert torch.allclose(path.beads[-1], theta_b.to(torch.float64), rtol=0, atol=1e-12)
    bound = path_maximum(problem, path.beads)
    ceiling = float(torch.maximum(problem.loss(theta_a), problem.loss(theta_b)))
    assert float(bound.upper.max()) <= ceiling + 2e-6 * (1 + ceiling)
    assert path.min_singular_value > 0


def test_constructive_path_refuses_the_non_strict_width():
    data = construct("scalar-linear")
    problem = data.problem(data.default_architecture())
    with pytest.raises(InputError, match="strict width condition fails"):
        deep_linear_path(problem, torch.tensor([1.0, 1.0]), torch.tensor([-1.0, -1.0]))


def test_g1_segment_between_branches_crosses_the_certified_floor():
    """Must-fail for the non-strict form: quadrants I and III of G1 are separated at level 1."""
    data = construct("scalar-linear")
    problem = data.problem(data.default_architecture())
    bound = path_maximum(problem, torch.tensor([[1.0, 1.0], [-1.0, -1.0]]))
    assert float(bound.upper.max()) >= 1.0


def test_hypotheses():
    assert strict_width(Architecture((2, 3, 1), "linear", False), 0.0)
    assert not strict_width(Architecture((1, 1, 1), "linear", False), 0.0)
    assert nonstrict_width(Architecture((1, 1, 1), "linear", False), 0.0)
    assert not strict_width(Architecture((2, 3, 1), "relu", False), 0.0)
    assert not strict_width(Architecture((2, 3, 1), "linear", False), 0.1)


def test_verify_refutes_the_non_strict_form_as_expected():
    """G1, linear teachers with square layers (2-1-1, 2-2-2, depth 3 2-2-2-2) and 3-1-2 with a
    width-one layer: each refuted by a proven lower bound >= 2 from the architecture's own
    separators."""
    rows = verify(["deep-linear-nonstrict"])
    assert len(rows) == 5
    for row in rows:
        assert row.verdict == "refuted" and row.expected == "refuted" and not row.contradiction
        assert row.evidence["lower"][0] >= 2
    assert rows[0].evidence["lower"][0] == 2 and rows[3].evidence["lower"][0] == 4


def test_judge_can_fail():
    from sublevel.theory.bounds import Bracket as ComponentBracket
    from sublevel.theory.claims import Verdict

    claim = get_claim("deep-linear-strict")
    assert claim.judge([ComponentBracket(0.5, 2, 2, None, 10)]) is Verdict.REFUTED
    assert claim.judge([ComponentBracket(0.5, 2, 1, 2, 10)]) is Verdict.REFUTED
    assert claim.judge([ComponentBracket(0.5, 1, 3, None, 10)]) is Verdict.INCONCLUSIVE
    assert claim.judge([ComponentBracket(0.5, 0, 0, None, 0)]) is Verdict.INCONCLUSIVE
    assert claim.judge([ComponentBracket(0.5, 1, 1, None, 10)]) is Verdict.SUPPORTED
    assert claim.judge([ComponentBracket(0.5, 1, 3, 1, 10)]) is Verdict.PROVEN
    assert claim.judge([ComponentBracket(0.5, 1, 1, 1, 10), ComponentBracket(0.7, 1, 1, None, 10)]) is Verdict.SUPPORTED


def test_a_proven_or_refuted_verdict_without_its_bounds_is_a_contradiction():
    """The verdict is re-checked apart from the judging rule: 'proven' needs proven upper
    bounds at every level, 'refuted' a proven lower bound above the claim."""
    from sublevel.checks.verdicts.verify import recheck_proven
    from sublevel.theory.bounds import Bracket
    from sublevel.theory.claims import Verdict
    from sublevel.theory.errors import Contradiction

    sampled_only = [Bracket(0.5, 1, 1, None, 10)]
    with pytest.raises(Contradiction):
        recheck_proven(Verdict.PROVEN, sampled_only, 1)
    with pytest.raises(Contradiction):
        recheck_proven(Verdict.REFUTED, sampled_only, 1)
    recheck_proven(Verdict.SUPPORTED, sampled_only, 1)
    recheck_proven(Verdict.PROVEN, [Bracket(0.5, 1, 1, 1, 10)], 1)
    recheck_proven(Verdict.REFUTED, [Bracket(0.5, 2, 2, None, 10)], 1)
