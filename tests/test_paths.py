"""Path finders: endpoints, certified maxima against dense samples, G1 disconnection and
connection where theory says the sublevel sets are connected, bad input."""
import pytest
import torch

from sublevel.checks.paths import Path, PathFinder, finder_names, get_finder
from sublevel.constructions import construct
from sublevel.theory.errors import InputError
from sublevel.theory.networks import Architecture
from sublevel.theory.problems import Problem

FAST = {"dss": dict(steps=150, max_rounds=6), "autoneb": dict(cycles=3, steps=60), "bezier": dict(steps=150)}


def finder(name):
    return get_finder(name, **FAST.get(name, {}))


def g1(width=1):
    data = construct("scalar-linear")
    return data.problem(Architecture((1, width, 1), "linear", bias=False))


def g2():
    data = construct("one-neuron")
    return data.problem(data.default_architecture())


def random_problem(spec, activation, seed=0, samples=6, bias=True):
    g = torch.Generator().manual_seed(seed)
    arch = Architecture.parse(spec, activation, bias)
    x = torch.randn(samples, arch.widths[0], generator=g, dtype=torch.float64)
    y = torch.randn(samples, arch.widths[-1], generator=g, dtype=torch.float64)
    return Problem(arch, x, y)


def dense_maximum(problem, beads, per_segment=200):
    t = torch.linspace(0, 1, per_segment, dtype=torch.float64)[:, None, None]
    points = beads[:-1] + t * (beads[1:] - beads[:-1])
    return float(problem.loss(points.reshape(-1, beads.shape[1])).max())


def hyperbola_points(count, sign, seed):
    """Points of the width-1 G1 zero set w1 w2 = 1 in quadrant I (sign +1) or III (-1)."""
    g = torch.Generator().manual_seed(seed)
    w1 = sign * torch.exp(torch.randn(count, generator=g, dtype=torch.float64) * 0.5)
    return torch.stack([w1, 1 / w1], dim=1)


def width_two_minima(count, seed):
    """Zero-loss points of G1 with hidden width 2: a.b = 1."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(count, 2, generator=g, dtype=torch.float64)
    b = a / (a * a).sum(1, keepdim=True) + torch.randn(count, 1, generator=g, dtype=torch.float64) * a.flip(1) * torch.tensor([1.0, -1.0])
    return torch.cat([a, b], dim=1)


@pytest.mark.parametrize("name", finder_names())
def test_protocol_and_endpoints_and_certified_maximum(name):
    f = finder(name)
    assert isinstance(f, PathFinder) and f.name == name
    cases = [(g1(), hyperbola_points(2, 1, 0)[0], hyperbola_points(2, -1, 1)[1]),
             (g2(), torch.tensor([-1.0, 2.0]), torch.tensor([1.0, 1.0])),
             (random_problem("2-3-1", "relu"), *Architecture.parse("2-3-1", "relu").init(2, generator=torch.Generator().manual_seed(3))),
             (random_problem("2-2-1", "quadratic", bias=False), *Architecture.parse("2-2-1", "quadratic", False).init(2, generator=torch.Generator().manual_seed(4)))]
    for problem, a, b in cases:
        path = f(problem, a, b)
        assert isinstance(path, Path) and path.finder == name
        assert torch.allclose(path.beads[0], a.double(), rtol=0, atol=1e-12)
        assert torch.allclose(path.beads[-1], b.double(), rtol=0, atol=1e-12)
        assert path.upper.shape == (path.num_segments,) and (path.lower <= path.upper).all()
        assert path.maximum >= dense_maximum(problem, path.beads) - 1e-12
        assert path.normalised_length >= 1 - 1e-12 and path.evaluations > 0


def test_deeper_net_gets_a_rigorous_bound():
    problem = random_problem("2-3-3-1", "relu", seed=2)
    a, b = problem.architecture.init(2, generator=torch.Generator().manual_seed(5))
    path = finder("dss")(problem, a, b)
    assert not path.exact
    assert path.maximum >= dense_maximum(problem, path.beads) - 1e-12


@pytest.mark.parametrize("name", finder_names())
@pytest.mark.parametrize("level", [0.0, 0.5, 0.99])
def test_g1_quadrants_never_connected_below_one(name, level):
    problem = g1()
    a, b = hyperbola_points(3, 1, 7), hyperbola_points(3, -1, 8)
    for path in finder(name).batch(problem, a, b, level):
        assert path.maximum >= 1 - 1e-9
        assert not path.inside(level)


@pytest.mark.parametrize("name", [n for n in finder_names() if n != "linear"])
def test_width_two_g1_pairs_all_connect(name):
    problem = g1(width=2)
    a, b = width_two_minima(6, 0), width_two_minima(6, 1)
    paths = finder(name).batch(problem, a, b, 0.1)
    assert all(path.inside(0.1) for path in paths), [path.maximum for path in paths]


def deep_linear_minima(problem, count, seed):
    """Global minima of a two-layer linear net: factorisations W_2 W_1 = W* of the
    least-squares solution W*."""
    g = torch.Generator().manual_seed(seed)
    arch = problem.architecture
    w_star = torch.linalg.lstsq(problem.x, problem.y).solution.T
    w1 = torch.randn(count, arch.widths[1], arch.widths[0], generator=g, dtype=torch.float64)
    w2 = w_star @ torch.linalg.pinv(w1)
    return arch.flatten([w1, w2])


@pytest.mark.parametrize("name", [n for n in finder_names() if n != "linear"])
def test_strict_width_deep_linear_pairs_all_connect(name):
    problem = random_problem("2-3-1", "linear", seed=1, samples=8, bias=False)
    a, b = deep_linear_minima(problem, 4, 0), deep_linear_minima(problem, 4, 1)
    floor = float(problem.loss(torch.cat([a, b])).max())
    level = floor + 0.1
    paths = finder(name).batch(problem, a, b, level)
    assert all(path.inside(level) for path in paths), [path.maximum for path in paths]


def test_dss_is_deterministic():
    problem = g1(width=2)
    a, b = width_two_minima(2, 3), width_two_minima(2, 4)
    first = finder("dss").batch(problem, a, b, 0.1)
    second = finder("dss").batch(problem, a, b, 0.1)
    assert all(torch.equal(p.beads, q.beads) for p, q in zip(first, second))


@pytest.mark.parametrize("name", finder_names())
def test_bad_input(name):
    problem = g1()
    good = torch.tensor([1.0, 1.0])
    f = finder(name)
    with pytest.raises(InputError, match="length"):
        f(problem, torch.ones(3), good)
    with pytest.raises(InputError, match="NaN"):
        f(problem, torch.tensor([float("nan"), 1.0]), good)
    with pytest.raises(InputError, match="below the loss"):
        f(problem, torch.tensor([2.0, 2.0]), torch.tensor([-2.0, -2.0]), level=1.0)
    with pytest.raises(InputError):
        f(problem, good, good, level=-1.0)


def test_unknown_finder_and_bad_option():
    with pytest.raises(InputError, match="unknown path finder"):
        get_finder("teleport")
    with pytest.raises(InputError):
        get_finder("dss", alpha=2.0)
    with pytest.raises(InputError):
        get_finder("linear", nonsense=1)


def test_count_second_pass_joins_what_segments_left_apart():
    from sublevel.checks.counting.components import count_components
    from sublevel.checks.counting.sampling import SampleSettings

    settings = SampleSettings(starts=12, steps=200, seed=1)
    plain = count_components(g1(width=2), [0.05], settings, bridge_rounds=0)
    joined = count_components(g1(width=2), [0.05], settings, bridge_rounds=0, finder=finder("dss"))
    assert plain.brackets[0].sampled > 1
    assert (joined.brackets[0].sampled, joined.brackets[0].lower) == (1, 1) and joined.forest.path_edges > 0
    assert joined.brackets[0].upper is None  # a joined graph proves nothing about unsampled components


def test_count_second_pass_respects_g1_separation():
    from sublevel.checks.counting.components import count_components
    from sublevel.checks.counting.sampling import SampleSettings
    from sublevel.constructions.certificates import separators_for

    data = construct("scalar-linear")
    problem = data.problem(data.default_architecture())
    count = count_components(problem, [0.5], SampleSettings(starts=8, steps=200), bridge_rounds=0,
                             separators=separators_for(data.metadata, problem.architecture), finder=finder("dss"))
    assert count.brackets[0].lower == 2 and count.brackets[0].sampled >= 2


def test_count_cli_rejects_unknown_finder(tmp_path, capsys):
    from sublevel.cli import main

    data = tmp_path / "g1.npz"
    assert main(["construct", "scalar-linear", "--out", str(data)]) == 0
    code = main(["count", "--data", str(data), "--arch", "1-1-1", "--no-bias", "--levels", "0.5", "--paths", "warp"])
    assert code == 2 and "unknown path finder" in capsys.readouterr().err


def test_path_cli(tmp_path, capsys):
    import json

    import numpy as np

    from sublevel.cli import main

    data = tmp_path / "g2.npz"
    assert main(["construct", "one-neuron", "--out", str(data)]) == 0
    capsys.readouterr()
    base = ["path", "--data", str(data), "--arch", "1-1-1", "--activation", "relu", "--no-bias"]
    out = tmp_path / "paths.npz"
    assert main(base + ["--start", "theta_global", "--end", "theta_spurious", "--finders", "linear,dss",
                        "--level", "2.6", "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [p["finder"] for p in report["paths"]] == ["linear", "dss"]
    assert all(p["maximum"] >= 2.5 - 1e-9 for p in report["paths"])
    with np.load(out, allow_pickle=False) as arrays:
        assert arrays["dss_beads"].shape[1] == 2
    for bad in (["--start", "1,2,3", "--end", "1,1"], ["--start=-1,2", "--end", "1,1", "--level", "1"],
                ["--start", "nan,2", "--end", "1,1"], ["--start", "nowhere", "--end", "1,1"]):
        assert main(base + bad) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "error" in err


@pytest.mark.parametrize("name", finder_names())
def test_no_finder_beats_the_relu_permutation_floor(name):
    """Every path from the teacher to its unit swap crosses det W_1 = 0, where L >= rho*."""
    data = construct("relu-permutation", samples=64)
    problem = data.problem(data.default_architecture())
    floor = data.metadata["separators"][0]["floor"]
    a, b = (torch.as_tensor(data.points()[k]) for k in ("theta_A", "theta_B"))
    path = finder(name)(problem, a, b, level=0.9 * floor)
    assert path.maximum >= floor - 1e-9 and not path.inside(0.9 * floor)
