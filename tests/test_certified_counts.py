"""Adversarial battery: a count that says ``exact`` is the truth, and proven bounds bracket it.

Every case has a known N_lambda, computed here independently of the package (closed forms for
one datum and for G2's two data, exact rationals): starved sampling, one start, data scaled by
1e-6 and 1e4, levels equal to minimum values, at the walls +- 1e-12 relative, above everything
sampled, deeper scalar chains (1-1-1-1 has 4 components below t^2, 1-1-1-1-1 has 8), forged
metadata. Each asserts lower <= N_lambda <= upper and equality wherever the status is exact.
"""
import json
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sublevel.cli import main
from sublevel.theory.bounds import Bracket
from sublevel.checks.counting.datasets import count_dataset
from sublevel.checks.certify.boxes import SliceLoss, count_box
from sublevel.checks.counting.sampling import SampleSettings
from sublevel.checks.counting.chains import chain_count
from sublevel.constructions import construct
from sublevel.constructions.datasets import Dataset
from sublevel.theory import Architecture
from sublevel.theory.errors import Contradiction
from sublevel.theory.problems import Problem

ONE_START = SampleSettings(starts=1, steps=100, max_points=200)
FAST = SampleSettings(starts=16, steps=150, max_points=400)


def assert_honest(bracket: Bracket, truth: int) -> None:
    assert bracket.lower <= truth, bracket
    if bracket.upper is not None:
        assert truth <= bracket.upper, bracket
    if bracket.status == "exact":
        assert bracket.lower == truth, bracket
    assert min(bracket.lower, bracket.sampled, bracket.points) >= 0


def one_datum_truth(depth: int, target: float, level: float) -> int:
    """N_lambda of (w_1 ... w_depth - t)^2 on the datum (1, t), exactly: the product must lie in
    [t - sqrt(lambda), t + sqrt(lambda)]; 2^(depth-1) orthants when that interval misses 0."""
    lam, t = Fraction(level), Fraction(target)
    if lam < 0:
        return 0
    return 1 if t * t <= lam else 2 ** (depth - 1)


def g2_truth(y1: float, y2: float, level: float) -> int:
    """N_lambda of v relu(w x) on data (1, y1), (-1, y2), y1, y2 > 0: on w > 0 the loss is
    ((p - y1)^2 + y2^2) / 2 (minimum y2^2 / 2), on w < 0 it is (y1^2 + (p - y2)^2) / 2 (minimum
    y1^2 / 2), on the line w = 0 it is (y1^2 + y2^2) / 2, which joins both branches."""
    lam, a, b = Fraction(level), Fraction(y1), Fraction(y2)
    wall = (a * a + b * b) / 2
    if lam >= wall:
        return 1
    return int(lam >= b * b / 2) + int(lam >= a * a / 2)


def scalar_chain(depth: int, activation: str = "linear") -> Architecture:
    return Architecture((1,) * (depth + 1), activation, bias=False)


# ------------------------------------------------------------------ the reported cases
def test_deep_chain_with_one_start_is_exact_4():
    """1-1-1-1 on (1, 1) at lambda = 0.5 with one start: truth 4 (sign patterns with w1 w2 w3 > 0)."""
    data = Dataset(np.array([[1.0]]), np.array([[1.0]]))
    (b,) = count_dataset(data, scalar_chain(3), [0.5], settings=ONE_START).brackets
    assert (b.lower, b.upper, b.status) == (4, 4, "exact")
    assert b.sampled <= 4


def test_five_layer_chain_has_8_components():
    data = Dataset(np.array([[1.0]]), np.array([[2.0]]))
    result = count_dataset(data, scalar_chain(4), [0.0, 1.0, 3.9, 4.0, 9.0], settings=FAST)
    assert [(b.lower, b.upper) for b in result.brackets] == [(8, 8)] * 3 + [(1, 1)] * 2


def test_large_target_default_settings():
    """Target 1e4 at lambda = 8.92e7 < 1e8: truth 2 (was '1 (certified)')."""
    data = construct("scalar-linear", target=1e4)
    (b,) = count_dataset(data, data.default_architecture(), [8.92e7]).brackets
    assert (b.lower, b.upper, b.status) == (2, 2, "exact")


@pytest.mark.parametrize("side, truth", [(-1, 2), (1, 1)])
def test_one_neuron_wall_plus_minus_1e12_relative(side, truth):
    a = 2.0
    data = construct("one-neuron", a=a)
    level = (1 + a * a) / 2 * (1 + side * 1e-12)
    (b,) = count_dataset(data, data.default_architecture(), [level], settings=FAST).brackets
    assert (b.lower, b.upper, b.status) == (truth, truth, "exact")


@pytest.mark.parametrize("family, params, levels, truths", [
    ("one-neuron", {"a": 2.0}, [0.5, 1.0], [1, 1]),
    ("one-neuron", {"a": 2.0}, [2.0, 2.5], [2, 1]),
    ("one-neuron", {"a": 2.0}, [2.0 * (1 - 1e-12), 2.2], [1, 2]),  # just below the spurious minimum
    ("scalar-linear", {}, [0.0, 0.5], [2, 2]),
    ("scalar-linear", {}, [1.0, 1e6], [1, 1]),
])
def test_levels_at_minimum_values_and_above_everything(family, params, levels, truths):
    """A level equal to a minimum value beside a higher one once printed upper bounds of -124."""
    data = construct(family, **params)
    result = count_dataset(data, data.default_architecture(), levels, settings=FAST)
    for bracket, truth in zip(result.brackets, truths):
        assert_honest(bracket, truth)
        assert bracket.status == "exact"


@pytest.mark.parametrize("scale", [1e-6, 1e-5, 1e4])
def test_scaled_labels_give_the_same_counts(scale):
    """Labels scaled by s, levels by s^2: the same exact counts and the same sampled counts."""
    data = construct("one-neuron", a=2.0)
    arch = data.default_architecture()
    levels = [1.0, 2.2, 3.0]
    plain = count_dataset(data, arch, levels, settings=FAST)
    scaled = count_dataset(Dataset(data.x, data.y * scale, {}), arch, [v * scale * scale for v in levels],
                           settings=FAST)
    assert [(b.lower, b.upper) for b in scaled.brackets] == [(1, 1), (2, 2), (1, 1)]
    assert [b.sampled for b in scaled.brackets] == [b.sampled for b in plain.brackets]


def test_scaled_labels_without_a_proof_keep_the_sampled_count():
    """On a net with no whole-space proof (2-2-1 ReLU, upper None), the estimate is scale-free too."""
    data = construct("relu-permutation", samples=16)
    arch = data.default_architecture()
    plain = count_dataset(data, arch, [0.05], settings=FAST)
    scaled = count_dataset(Dataset(data.x, data.y * 1e-5, {}), arch, [0.05e-10], settings=FAST)
    assert plain.brackets[0].upper is None and scaled.brackets[0].upper is None
    assert scaled.brackets[0].sampled == plain.brackets[0].sampled


# ------------------------------------------------------------------ property tests
scales = st.sampled_from([1e-6, 1e-3, 1.0, 3.0, 1e4])


@given(depth=st.integers(1, 4), target=st.floats(0.1, 10.0), scale=scales,
       where=st.sampled_from(["below-0", "zero", "inside", "wall-", "wall", "wall+", "above"]),
       fraction=st.floats(0.001, 0.999))
@settings(max_examples=60, deadline=None)
def test_chain_count_on_one_datum(depth, target, scale, where, fraction):
    t = target * scale
    wall = t * t
    level = {"below-0": -fraction * wall, "zero": 0.0, "inside": fraction * wall, "wall-": wall * (1 - 1e-12),
             "wall": wall, "wall+": wall * (1 + 1e-12), "above": wall / fraction}[where]
    problem = Problem(scalar_chain(depth), torch.tensor([[1.0]], dtype=torch.float64),
                      torch.tensor([[t]], dtype=torch.float64))
    assert chain_count(problem, level) == one_datum_truth(depth, t, level)


@given(y1=st.floats(0.2, 5.0), ratio=st.floats(1.05, 3.0), scale=scales,
       where=st.sampled_from(["low", "first-min", "between", "second-min", "valley", "wall-", "wall+", "high"]),
       fraction=st.floats(0.01, 0.99))
@settings(max_examples=60, deadline=None)
def test_one_neuron_count_on_two_data(y1, ratio, scale, where, fraction):
    """G2 with labels (y1, y2) scaled together: the chain count against the closed form."""
    a, b = y1 * scale, y1 * ratio * scale
    low, high, wall = a * a / 2, b * b / 2, (a * a + b * b) / 2
    level = {"low": fraction * low, "first-min": low, "between": low + fraction * (high - low), "second-min": high,
             "valley": high + fraction * (wall - high), "wall-": wall * (1 - 1e-12), "wall+": wall * (1 + 1e-12),
             "high": wall / fraction}[where]
    problem = Problem(Architecture((1, 1, 1), "relu", bias=False), torch.tensor([[1.0], [-1.0]], dtype=torch.float64),
                      torch.tensor([[a], [b]], dtype=torch.float64))
    assert chain_count(problem, level) == g2_truth(a, b, level)


@given(n=st.integers(1, 4), seed=st.integers(0, 10_000), activation=st.sampled_from(["linear", "relu"]),
       fraction=st.floats(0.05, 0.95))
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_chain_count_agrees_with_certified_boxes(n, seed, activation, fraction):
    """On random data the whole-space count must agree with an independent certified grid count
    of the 1-1-1 loss in a box that holds every component's low part (where the grid is exact)."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, 1)), rng.standard_normal((n, 1))
    problem = Problem(Architecture((1, 1, 1), activation, bias=False), torch.tensor(x), torch.tensor(y))
    low = float(problem.loss(torch.tensor([[1.0, 0.0]], dtype=torch.float64)))  # L(0)
    level = fraction * low
    radius = 4.0 * math.sqrt(max(1.0, float(np.abs(y).max() / np.abs(x).max())))
    (grid,) = count_box(SliceLoss.full(problem), [-radius] * 2, [radius] * 2, [level], resolution=48, depth=5)
    if grid.status == "exact":
        assert grid.lower == chain_count(problem, level)
    else:
        assert grid.lower <= chain_count(problem, level)


@given(scale=scales, fraction=st.floats(0.05, 0.95), seed=st.integers(0, 3))
@settings(max_examples=10, deadline=None)
def test_count_dataset_is_honest_with_one_start(scale, fraction, seed):
    """The whole pipeline with one start and scaled G2 data: never claims more than it proves."""
    data = construct("one-neuron", a=2.0)
    y1, y2 = 1.0 * scale, 2.0 * scale
    level = fraction * (y1 * y1 + y2 * y2) / 2 * 1.5
    result = count_dataset(Dataset(data.x, data.y * scale, {}), data.default_architecture(), [level],
                           settings=SampleSettings(starts=1, steps=80, seed=seed))
    assert_honest(result.brackets[0], g2_truth(y1, y2, level))
    assert result.brackets[0].status == "exact"


# ------------------------------------------------------------------ forged metadata
def test_forged_separator_is_not_believed(tmp_path, capsys):
    """A gaussian file claiming a coordinate separator with floor 1e9 once gave a 'rigorous' 2."""
    data = construct("gaussian", samples=16)
    forged = dict(data.metadata, separators=[{"kind": "coordinate", "floor": 1e9, "architecture": "2-2-1/relu/nobias",
                                              "index": 0, "proof": "trust me"}], loss_floor=1e9)
    path = tmp_path / "forged.npz"
    Dataset(data.x, data.y, forged).save(path)
    level = 1.5 * float(np.mean(data.y ** 2))  # above L(0): sampled points surely exist
    code = main(["count", "--data", str(path), "--arch", "2-2-1", "--activation", "relu", "--no-bias",
                 "--levels", str(level), "--json", "--starts", "8", "--steps", "60"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["lower"] == [1] and report["upper"] == [None] and report["status"] == ["lower bound"]
    assert any("recomputed" in note for note in report["notes"])


def test_forged_floor_of_a_real_construction_is_recomputed(tmp_path):
    """relu-permutation with its separator floor raised: the rebuilt (true) floor is used, so a
    level above rho* gets no lower bound of 2."""
    data = construct("relu-permutation", samples=16)
    true_floor = data.metadata["separators"][0]["floor"]
    meta = json.loads(json.dumps(data.metadata))
    meta["separators"][0]["floor"] = 1e9
    path = tmp_path / "perm.npz"
    Dataset(data.x, data.y, meta).save(path)
    level = 2 * true_floor
    result = count_dataset(Dataset.load(path), data.default_architecture(), [level], settings=FAST)
    assert result.brackets[0].lower == 1


def test_edited_data_lose_the_construction(tmp_path):
    """Y edited after construction: the metadata no longer describes the data, so its
    certificates are ignored; the architecture's own proof still gives the exact count."""
    data = construct("scalar-linear", target=1.0)
    edited = Dataset(data.x, data.y * 3.0, data.metadata)
    result = count_dataset(edited, data.default_architecture(), [4.0, 9.5], settings=FAST)
    assert any("ignored" in note for note in result.notes)
    assert [(b.lower, b.upper) for b in result.brackets] == [(2, 2), (1, 1)]


# ------------------------------------------------------------------ contradictions
def test_bracket_rejects_impossible_bounds():
    with pytest.raises(Contradiction):
        Bracket(0.5, 2, 2, 1, 10)
    with pytest.raises(Contradiction):
        Bracket(0.5, 0, -3, None, 10)
    assert Bracket(0.5, 1, 3, None, 10).status == "lower bound"
    assert Bracket(0.5, 0, 3, None, 10).status == "estimate"
    assert Bracket(0.5, 1, 3, 2, 10).status == "bounded"
    assert Bracket(0.5, 2, 1, 2, 10).status == "exact"


def test_cli_exits_3_on_a_contradiction(tmp_path, capsys, monkeypatch):
    """A broken whole-space proof (claims 1 component below t^2 where separators prove 2) must
    end in exit status 3 and one line, not in a printed bracket."""
    from sublevel.checks.counting import datasets

    monkeypatch.setattr(datasets, "chain_count", lambda problem, level: 1)
    path = tmp_path / "g1.npz"
    construct("scalar-linear").save(path)
    code = main(["count", "--data", str(path), "--arch", "1-1-1", "--activation", "linear", "--no-bias",
                 "--levels", "0.5", "--starts", "16", "--steps", "100"])
    out, err = capsys.readouterr()
    assert code == 3 and out == ""
    assert err.count("\n") == 1 and "contradiction" in err and "0.5" in err


def test_edge_across_a_separator_is_a_contradiction():
    """A certifier that joins everything (weight = the larger end point loss) crosses G1's
    proven separator: the count must refuse it."""
    from sublevel.checks.counting.components import count_components
    from sublevel.checks.counting.chains import chain_separators

    data = construct("scalar-linear")
    problem = data.problem(data.default_architecture())

    def liar(problem, start, end):
        return torch.maximum(problem.loss(start), problem.loss(end))

    with pytest.raises(Contradiction):
        count_components(problem, [0.5], FAST, chain_separators(problem), certifier=liar,
                         extra_points=torch.tensor([[1.0, 1.0], [-1.0, -1.0]], dtype=torch.float64))


# ------------------------------------------------------------------ rigorous point losses
def exact_loss(arch: Architecture, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> Fraction:
    """L(theta) in exact rational arithmetic on the float64 inputs (small nets only)."""
    act = {"linear": lambda v: v, "relu": lambda v: max(v, Fraction(0)), "quadratic": lambda v: v * v}
    views = arch.layers(theta.reshape(1, -1))
    total = Fraction(0)
    for xs, ys in zip(x.tolist(), y.tolist()):
        h = [Fraction(v) for v in xs]
        for index, view in enumerate(views):
            weight = [[Fraction(w) for w in row] for row in view.weight[0].tolist()]
            bias = [Fraction(b) for b in view.bias[0].tolist()] if view.bias is not None else [Fraction(0)] * len(weight)
            h = [sum((w * v for w, v in zip(row, h)), Fraction(0)) + b for row, b in zip(weight, bias)]
            if index < len(views) - 1:
                h = [act[arch.activation_name](v) for v in h]
        total += sum(((v - Fraction(t)) ** 2 for v, t in zip(h, ys)), Fraction(0))
    return total / len(x)


@given(spec=st.sampled_from(["1-1-1", "2-3-1", "2-2-2-1", "3-1-2"]), activation=st.sampled_from(["linear", "relu", "quadratic"]),
       bias=st.booleans(), seed=st.integers(0, 10_000), scale=scales)
@settings(max_examples=50, deadline=None)
def test_loss_upper_bounds_are_rigorous(spec, activation, bias, seed, scale):
    """The membership test's bound lies above the exact rational loss, and close to it (the
    widening is relative to the magnitudes inside the net, so cancellation can make it larger
    relative to the loss than the 1e-11 typical of well-scaled data)."""
    from sublevel.checks.certify.segments import loss_upper_bounds

    arch = Architecture.parse(spec, activation, bias)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(5, arch.widths[0], generator=generator, dtype=torch.float64) * scale
    y = torch.randn(5, arch.widths[-1], generator=generator, dtype=torch.float64) * scale
    theta = torch.randn(3, arch.num_params, generator=generator, dtype=torch.float64)
    bounds = loss_upper_bounds(Problem(arch, x, y), theta)
    for bound, point in zip(bounds.tolist(), theta):
        exact = exact_loss(arch, point, x, y)
        assert Fraction(bound) >= exact
        assert bound <= float(exact) * (1 + 1e-6) + 1e-300


# ------------------------------------------------------------------ ridge: coercive boxes
def ridge_g1_truth(kappa: float, level: float) -> int:
    """(w1 w2 - 1)^2 + kappa (w1^2 + w2^2), 0 < kappa < 1: minima at w1 = w2 = +-sqrt(1 - kappa)
    with value 2 kappa - kappa^2, a saddle at 0 with value 1, no other critical point."""
    return 0 if level < 2 * kappa - kappa * kappa else 2 if level < 1 else 1


@given(kappa=st.floats(0.05, 0.6), fraction=st.floats(0.05, 0.95), above=st.booleans())
@settings(max_examples=6, deadline=None)
def test_ridge_boxes_bound_g1_with_ridge(kappa, fraction, above):
    low = 2 * kappa - kappa * kappa
    level = 1 + fraction if above else low + fraction * (1 - low)
    data = construct("scalar-linear")
    (b,) = count_dataset(data, data.default_architecture(), [level], kappa=kappa, settings=FAST).brackets
    assert_honest(b, ridge_g1_truth(kappa, level))
    assert b.upper is not None  # the box proof applies to every such level


def test_ridge_box_mutant_without_margin_is_caught():
    """The box must hold all of Omega(lambda): half the radius would cut G1's branches and is
    not what ridge_box_bounds does (a guard that the radius comes from sqrt(lambda / kappa))."""
    from sublevel.checks.counting import ridge_boxes

    data = construct("scalar-linear")
    problem = data.problem(data.default_architecture(), kappa=0.1)
    assert ridge_boxes.ridge_box_bounds(problem, 0.5) == (2, 2)
    assert ridge_boxes.ridge_box_bounds(problem, 1.5) == (1, 1)
    # Without a ridge nothing confines Omega(lambda) to a box: no bound, however small the problem.
    plain = Dataset(np.ones((3, 2)), np.ones((3, 1)))
    assert not ridge_boxes.applies(plain.problem(Architecture.parse("2-1", "linear", bias=False)))
    result = count_dataset(plain, Architecture.parse("2-1", "linear", bias=False), [0.5], settings=FAST)
    assert result.brackets[0].upper is None


def test_verify_ground_truth_rows_are_proven_and_notice_a_broken_count(monkeypatch):
    """`sublevel verify` itself notices a count that misses a known ground truth: with the
    chain proof broken (one more component), its ground-truth rows become contradictions."""
    from sublevel.checks.counting import datasets
    from sublevel.checks.verdicts.verify import verify

    rows = verify(["ground-truth-counts"])
    assert [row.verdict for row in rows] == ["proven"] * 5 and not any(row.contradiction for row in rows)
    honest = datasets.chain_count
    monkeypatch.setattr(datasets, "chain_count", lambda problem, level: honest(problem, level) + 1)
    broken = verify(["ground-truth-counts"])[:3]  # (the fourth, with a ridge, is proven by boxes, not chains)
    assert all(row.verdict in ("refuted", "contradiction") and row.contradiction for row in broken)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 50), width=st.sampled_from([2, 4, 8]),
       fractions=st.lists(st.sampled_from([0.05, 0.1, 0.2, 0.35, 0.5, 0.8]), min_size=2, max_size=3, unique=True),
       scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_a_level_counts_the_same_whichever_other_levels_are_asked(seed, width, fractions, scale):
    """Each level is counted on its own thinned sample: asking 0.05 too used to change the count
    at 0.2 from 1 to 169 sampled components (2-8-1 ReLU on teacher data). Every field of the
    bracket at a level is the same alone and in company."""
    data = construct("teacher", arch="2-4-1", activation="relu", samples=24, seed=seed)
    data = Dataset(data.x, data.y * scale, {})
    arch = Architecture((2, width, 1), "relu", bias=True)
    mean = float(np.square(data.y).mean())
    levels = [f * mean for f in fractions]
    small = SampleSettings(starts=8, steps=60, record_every=5, max_points=40, seed=seed)
    together = count_dataset(data, arch, levels, settings=small, k=4)
    for bracket in together.brackets:
        alone = count_dataset(data, arch, [bracket.level], settings=small, k=4)
        assert alone.brackets[0] == bracket
        # the path finder's pass (default dss) too: the same components left apart, same paths
        assert sorted((r.loss, r.closest or -1.0) for r in alone.apart) == \
            sorted((r.loss, r.closest or -1.0) for r in together.apart if r.level == bracket.level)


def test_apart_records_say_reaches_only_when_a_loss_above_the_level_is_attained():
    """The wording follows the bracket: 'reaches at least' needs an attained loss above the
    level; a path whose bracket straddles the level is 'not certified below' it (no path tried is)."""
    from sublevel.checks.counting.components import Apart

    above = Apart(1.0, 3, 0.1, 1.5, "dss", attained=1.2)
    straddles = Apart(1.0, 3, 0.1, 1.5, "dss", attained=0.9)
    assert "reaches at least 1.2 > 1" in above.describe()
    assert "reaches" not in straddles.describe() and "no dss path tried to another component is certified below 1" \
        in straddles.describe()
    assert "[0.9, 1.5]" in straddles.describe()
    # a computed loss a rounding step above the level is not 'at least' anything above it
    rounding = Apart(1.0, 3, 0.1, 1.5, "dss", attained=1.0 + 1e-13)
    assert "reaches" not in rounding.describe()


def test_components_left_apart_report_the_lowest_certified_path_tried():
    """G2 (a = 2) at 2.2 without its separator: the straight path between the two valleys
    crosses w = 0, where L = 2.5 > 2.2, so the linear finder joins nothing; each component is
    reported with that certified maximum, which equals the segment maximum between the two
    points. The CLI prints them."""
    from sublevel.checks.certify.segments import segment_maxima
    from sublevel.checks.counting.components import count_components
    from sublevel.checks.paths import get_finder

    data = construct("one-neuron", a=2.0)
    problem = data.problem(data.default_architecture())
    count = count_components(problem, [2.2], FAST, finder=get_finder("linear"))
    (bracket,) = count.brackets
    assert bracket.sampled == 2 and bracket.lower == 1  # no separator given: nothing proven apart
    apart = count.apart
    assert len(apart) == 2 and {record.level for record in apart} == {2.2}
    nodes = [record.node for record in apart]
    points = count.forest.points[nodes]
    segment = segment_maxima(problem, points[0], points[1])
    barrier = float(segment.upper)
    for record in apart:
        assert record.closest == pytest.approx(barrier, rel=1e-12) and record.closest >= 2.5
        assert record.attained == pytest.approx(float(segment.lower), rel=1e-12)
        assert 2.2 < record.attained <= record.closest  # a loss above the level is attained on the path
        assert "reaches at least" in record.describe() and "other paths were not tried" in record.describe()
    assert count.to_json()["apart"][0]["closest"] == pytest.approx(barrier, rel=1e-12)
    # with the construction (count_dataset rebuilds it) the count is exact: nothing is open
    proven = count_dataset(data, data.default_architecture(), [2.2], settings=FAST)
    assert proven.brackets[0].exact and proven.apart == []


def test_cli_count_prints_components_left_apart(tmp_path, capsys):
    """relu-permutation's data without its metadata (so its determinant separator is not used):
    below rho* the two valleys stay apart; the default finder (dss) is reported with its lowest
    certified path maximum, which cannot lie below the proven barrier rho*."""
    data = construct("relu-permutation")
    path = tmp_path / "perm_bare.npz"
    Dataset(data.x, data.y, {}).save(path)
    assert main(["count", "--data", str(path), "--arch", "2-2-1", "--activation", "relu", "--no-bias",
                 "--levels", "0.25", "--starts", "16", "--steps", "150", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["sampled"] == [2] and result["lower"] == [1]
    rho = data.metadata["rho_star"]["sample"]["lower"]
    assert len(result["apart"]) == 2
    assert all(record["finder"] == "dss" and record["closest"] >= rho > 0.25 for record in result["apart"])
    assert all(record["attained"] <= record["closest"] for record in result["apart"])
    assert main(["count", "--data", str(path), "--arch", "2-2-1", "--activation", "relu", "--no-bias",
                 "--levels", "0.25", "--starts", "16", "--steps", "150"]) == 0
    assert capsys.readouterr().out.count("apart at 0.25: component of point") == 2


class _ReportingFinder:
    """Wraps the linear finder and edits the maxima its paths report."""

    name = "edited"

    def __init__(self, factor):
        from sublevel.checks.paths import get_finder

        self.inner, self.factor = get_finder("linear"), factor

    def batch(self, problem, starts, ends, level=None):
        import dataclasses

        return [dataclasses.replace(p, upper=p.upper * self.factor) for p in self.inner.batch(problem, starts, ends, level)]


@pytest.mark.parametrize("factor, contradiction", [(0.5, True), (1 - 1e-15, False)])
def test_a_finder_that_under_reports_its_maximum_is_a_contradiction_not_an_edge(factor, contradiction):
    """Paths are certified again before they join components. relu-permutation below rho*
    (its separator not given): the straight path between the valleys reaches 0.377 > 0.25. A
    finder reporting half of that would join them; the re-certification finds the loss attained
    on the path above the report: a contradiction. One reporting a rounding step low is not a
    contradiction, and nothing is joined."""
    from sublevel.checks.counting.components import count_components

    data = construct("relu-permutation")
    problem = data.problem(data.default_architecture())
    if contradiction:
        with pytest.raises(Contradiction, match="the loss on it reaches"):
            count_components(problem, [0.25], FAST, finder=_ReportingFinder(factor))
    else:
        count = count_components(problem, [0.25], FAST, finder=_ReportingFinder(factor))
        assert count.brackets[0].sampled == 2 and count.forest.path_edges == 0
        rho = data.metadata["rho_star"]["sample"]["lower"]
        assert all(record.closest >= rho for record in count.apart)


def test_apart_brackets_of_a_deep_net_keep_attained_and_certified_apart():
    """1-1-1-1 linear chain on G1's data at 0.5 (four components, no separator given): segment
    maxima of a deep net are interval bounds, so the attained loss and the certified upper
    bound of a path differ; the record keeps both, and both lie above the level."""
    from sublevel.checks.counting.components import count_components
    from sublevel.checks.paths import get_finder

    data = construct("scalar-linear")
    problem = data.problem(Architecture((1, 1, 1, 1), "linear", bias=False))
    count = count_components(problem, [0.5], FAST, finder=get_finder("linear"))
    assert count.brackets[0].sampled == 4 and len(count.apart) == 4
    for record in count.apart:
        assert 0.5 < record.attained < record.closest <= record.attained * (1 + 1e-5)
        assert record.attained >= 1.0 * (1 - 1e-12)  # every path between quadrants crosses L = 1
