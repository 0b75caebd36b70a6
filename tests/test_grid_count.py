"""Certified grid counts: ground truths G1/G2, random smooth functions, a slice through the
relu-permutation pair, and the grid counts against gudhi's cubical persistence (G3)."""
import gudhi
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sublevel.checks.certify.boxes import SliceLoss, TrigSeries, count_box, grid_counts, grid_persistence
from sublevel.constructions import construct
from sublevel.theory.errors import InputError


def ground_truth(data, level):
    truth = data.metadata["ground_truth"]
    return truth["counts"][sum(level >= b for b in truth["breaks"])]


@pytest.mark.parametrize("family, levels", [("scalar-linear", [0.3, 0.99, 1.5, 4.0]),
                                            ("one-neuron", [0.3, 1.0, 2.2, 3.0])])
def test_certified_counts_match_ground_truth(family, levels):
    data = construct(family)
    problem = data.problem(data.default_architecture())
    for count in count_box(SliceLoss.full(problem), [-3, -3], [3, 3], levels, resolution=16, depth=4):
        assert count.lower <= ground_truth(data, count.level)
        assert count.status == "exact", count
        assert count.lower == ground_truth(data, count.level)


@settings(max_examples=50, deadline=None)
@given(exponent=st.integers(0, 300), mantissa=st.floats(1.0, 9.9), level=st.floats(0.0, 0.9))
def test_huge_boxes_never_certify_less_than_the_two_g1_branches(exponent, mantissa, level):
    """G1 below lambda = 1 has two components, holding (1, 1) and (-1, -1), inside any box
    [-s, s]^2 with s >= 1. Intervals overflow for huge s: the count may lose its upper bound,
    but a proven upper bound below 2 (once: "exact 0" on a 1e200-wide box) is a false
    certificate."""
    data = construct("scalar-linear")
    problem = data.problem(data.default_architecture())
    side = mantissa * 10.0 ** exponent
    (count,) = count_box(SliceLoss.full(problem), [-side, -side], [side, side], [level], resolution=8, depth=3)
    assert count.upper is None or count.upper >= 2
    assert count.lower <= 2


def test_g1_at_the_wall_is_only_a_bracket():
    data = construct("scalar-linear")
    [count] = count_box(SliceLoss.full(data.problem(data.default_architecture())), [-2, -2], [2, 2], [1.0],
                        resolution=16, depth=3)
    assert count.status in ("bounded", "lower bound") and count.lower <= 1 and (count.upper is None or count.upper >= 1)


def fine_values(f, low, high, n):
    axes = [torch.linspace(a, b, n, dtype=torch.float64) for a, b in zip(low, high)]
    return f.values(torch.cartesian_prod(*axes)).reshape((n,) * f.dim).numpy()


@pytest.mark.parametrize("seed", range(4))
def test_random_smooth_functions_certified_counts_agree_with_fine_grid(seed):
    f = TrigSeries.random(dim=2, terms=6, frequency=3.0, seed=seed)
    values = fine_values(f, [-1, -1], [1, 1], 400)
    levels = list(np.quantile(values, [0.1, 0.3, 0.5, 0.7]))
    for count, sampled in zip(count_box(f, [-1, -1], [1, 1], levels, resolution=16, depth=4),
                              grid_counts(values, levels)):
        assert count.upper is None or count.lower <= count.upper
        if count.status == "exact":
            assert count.lower == sampled


def test_three_dimensional_box():
    f = TrigSeries.random(dim=3, terms=4, frequency=2.0, seed=5)
    values = fine_values(f, [-1] * 3, [1] * 3, 48)
    levels = list(np.quantile(values, [0.2, 0.5]))
    for count, sampled in zip(count_box(f, [-1] * 3, [1] * 3, levels, resolution=6, depth=3), grid_counts(values, levels)):
        if count.status == "exact":
            assert count.lower == sampled


def gudhi_alive(values, levels):
    complex_ = gudhi.CubicalComplex(top_dimensional_cells=values)
    complex_.persistence()
    bars = complex_.persistence_intervals_in_dimension(0)
    return [int(((bars[:, 0] <= lam) & (lam < bars[:, 1])).sum()) for lam in levels], sorted(map(tuple, bars))


def loss_grid(family, n):
    data = construct(family)
    f = SliceLoss.full(data.problem(data.default_architecture()))
    return fine_values(f, [-3, -3], [3, 3], n)


@pytest.mark.parametrize("values", [fine_values(TrigSeries.random(seed=s), [-1, -1], [1, 1], 40) for s in range(3)]
                         + [fine_values(TrigSeries.random(dim=3, terms=4, seed=7), [-1] * 3, [1] * 3, 12),
                            loss_grid("scalar-linear", 41), loss_grid("one-neuron", 41)],
                         ids=["trig0", "trig1", "trig2", "trig3d", "G1", "G2"])
def test_grid_counts_and_persistence_equal_gudhi_at_every_level(values):
    levels = np.unique(values)
    if len(levels) > 400:
        levels = levels[np.linspace(0, len(levels) - 1, 400).astype(int)]
    alive, bars = gudhi_alive(values, levels)
    assert grid_counts(values, levels) == alive
    ours = grid_persistence(values)
    assert [b for b, _ in ours] == pytest.approx([b for b, _ in bars])
    assert [d for _, d in ours] == pytest.approx([d for _, d in bars])


def test_slice_through_permuted_teachers_keeps_them_apart():
    """relu-permutation: theta_A and theta_B (zero loss) lie in different components below the
    certified floor rho*; a 2-D slice through both must never certify fewer than two."""
    data = construct("relu-permutation", samples=64)
    arch = data.default_architecture()
    problem = data.problem(arch)
    a, b = (torch.as_tensor(data.points()[k]) for k in ("theta_A", "theta_B"))
    other = torch.randn(arch.num_params, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    f = SliceLoss(problem, a, torch.stack([b - a, other / other.norm() * (b - a).norm()]))
    floor = data.metadata["separators"][0]["floor"]
    [count] = count_box(f, [-0.5, -0.5], [1.5, 0.5], [floor / 2], resolution=12, depth=2)
    assert count.lower >= 2


def test_bad_input():
    f = TrigSeries.random()
    with pytest.raises(InputError):
        count_box(f, [0, 0, 0], [1, 1, 1], [0.0])
    with pytest.raises(InputError):
        count_box(f, [1, 1], [0, 0], [0.0])
    with pytest.raises(InputError):
        count_box(f, [0, 0], [1, 1], [float("nan")])
    for low, high in (([-np.inf, 0], [np.inf, 1]), ([0, 0], [1, np.nan]), ([-1e308, 0], [1e308, 1])):
        with pytest.raises(InputError):
            count_box(f, low, high, [0.0])
    data = construct("one-neuron")
    problem = data.problem(data.default_architecture())
    with pytest.raises(InputError):
        SliceLoss(problem, torch.zeros(3), torch.eye(2))
    with pytest.raises(InputError):
        SliceLoss(problem, torch.zeros(2), torch.full((2, 2), float("nan")))


def test_grid_count_cli(tmp_path, capsys):
    import json

    from sublevel.cli import main

    g2 = tmp_path / "g2.npz"
    assert main(["construct", "one-neuron", "--out", str(g2)]) == 0
    capsys.readouterr()
    base = ["grid-count", "--data", str(g2), "--arch", "1-1-1", "--activation", "relu", "--no-bias"]
    assert main(base + ["--box=-3,3,-3,3", "--levels", "1,2.2", "--resolution", "16", "--depth", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["lower"] == report["upper"] == [1, 2] and report["status"] == ["exact"] * 2
    for bad in (["--box=-3,3", "--levels", "1"], ["--box=a,b,c,d", "--levels", "1"],
                ["--box=-3,3,-3,3", "--levels", "-1"], ["--box=-3,3,-3,3", "--levels", "1", "--slice", "x,y"]):
        assert main(base + bad) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "error" in err
