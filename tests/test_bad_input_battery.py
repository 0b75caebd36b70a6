"""Bad input across every subcommand: one line on stderr, exit status 2, no traceback and no
file left behind. Each case names the subcommand and what is wrong with its input."""
from __future__ import annotations

import json

import numpy as np
import pytest

from sublevel.cli import main


def _npz(path, **arrays):
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


@pytest.fixture
def files(tmp_path):
    """Valid and broken inputs in tmp_path/in (outputs go to tmp_path/out)."""
    folder = tmp_path / "in"
    folder.mkdir()
    (tmp_path / "out").mkdir()
    assert main(["construct", "scalar-linear", "--out", str(folder / "g1.npz")]) == 0
    assert main(["construct", "relu-permutation", "--samples", "32", "--out", str(folder / "perm.npz")]) == 0
    (folder / "corrupt.npz").write_bytes(b"PK\x03\x04 not really a zip")
    (folder / "text.npz").write_text("hello")
    _npz(folder / "nan.npz", X=np.array([[1.0], [np.nan]]), Y=np.ones((2, 1)))
    _npz(folder / "inf.npz", X=np.ones((2, 1)), Y=np.array([[1.0], [np.inf]]))
    _npz(folder / "noy.npz", X=np.ones((2, 1)))
    _npz(folder / "strings.npz", X=np.array([["a"], ["b"]]), Y=np.ones((2, 1)))
    _npz(folder / "objects.npz", X=np.array([[1.0], [2.0]], dtype=object), Y=np.ones((2, 1)), allow_pickle=True)
    _npz(folder / "shape.npz", X=np.ones((3, 1)), Y=np.ones((2, 1)))
    _npz(folder / "empty.npz", X=np.ones((0, 1)), Y=np.ones((0, 1)))
    _npz(folder / "badmeta.npz", X=np.ones((2, 1)), Y=np.ones((2, 1)), metadata=np.array("{not json"))
    _npz(folder / "listmeta.npz", X=np.ones((2, 1)), Y=np.ones((2, 1)), metadata=np.array("[1, 2]"))
    _npz(folder / "pointstr.npz", X=np.ones((1, 1)), Y=np.ones((1, 1)),
         metadata=np.array(json.dumps({"points": {"theta_A": "one, two"}})))
    _npz(folder / "archstr.npz", X=np.ones((1, 1)), Y=np.ones((1, 1)),
         metadata=np.array(json.dumps({"architecture": "1-1-1"})))
    (folder / "bad.toml").write_text("[sweep\nname = ")
    (folder / "latin1.toml").write_bytes("[sweep]\nname = \"caf\xe9\"\n".encode("latin-1"))
    (folder / "types.toml").write_text('[sweep]\nname = "t"\nseeds = [0]\n[sampling]\nstarts = 1.5\n'
                                      '[[family]]\nlabel = "a"\ndata = "scalar-linear"\nwidths = [1]\nlevels = [0.5]\n')
    (folder / "lr.toml").write_text('[sweep]\nname = "t"\nseeds = [0]\n[sampling]\nlr = "fast"\n'
                                   '[[family]]\nlabel = "a"\ndata = "scalar-linear"\nwidths = [1]\nlevels = [0.5]\n')
    (folder / "family.toml").write_text('[sweep]\nname = "t"\nseeds = [0]\n[[family]]\nlabel = "a"\n'
                                       'data = "scalar-linear"\nparams = { target = "one" }\nwidths = [1]\n'
                                       'levels = [0.5]\n')
    (folder / "notdb.db").write_text("not a database")
    (folder / "weights.npz").write_text("x")
    _npz(folder / "strweights.npz", **{"0.weight": np.array([["a", "b"]])})
    return folder


G1 = ["--data", "{in}/g1.npz", "--arch", "1-1-1", "--no-bias"]
CASES = {
    # construct
    "construct: unknown family": ["construct", "g9", "--out", "{out}/x.npz"],
    "construct: negative a": ["construct", "one-neuron", "--a", "-1", "--out", "{out}/x.npz"],
    "construct: absurd sample count": ["construct", "gaussian", "--samples", "1000000000000", "--out", "{out}/x.npz"],
    "construct: huge width": ["construct", "teacher", "--arch", "1-100000000-1", "--out", "{out}/x.npz"],
    "construct: bias 2": ["construct", "teacher", "--bias", "2", "--out", "{out}/x.npz"],
    "construct: bad arch": ["construct", "teacher", "--arch", "2--1", "--out", "{out}/x.npz"],
    "construct: negative seed": ["construct", "gaussian", "--seed", "-1", "--out", "{out}/x.npz"],
    "construct: seed beyond 64 bits": ["construct", "gaussian", "--seed", str(2 ** 70), "--out", "{out}/x.npz"],
    "construct: out folder missing": ["construct", "scalar-linear", "--out", "{out}/no/such/x.npz"],
    "construct: out is a folder": ["construct", "scalar-linear", "--out", "{out}"],
    "construct: nan target": ["construct", "scalar-linear", "--target", "nan", "--out", "{out}/x.npz"],
    # count
    "count: missing file": ["count", "--data", "{in}/absent.npz", "--arch", "1-1-1", "--levels", "0.5"],
    "count: corrupt npz": ["count", "--data", "{in}/corrupt.npz", "--arch", "1-1-1", "--levels", "0.5"],
    "count: text file": ["count", "--data", "{in}/text.npz", "--arch", "1-1-1", "--levels", "0.5"],
    "count: NaN data": ["count", "--data", "{in}/nan.npz", "--arch", "1-1-1", "--levels", "0.5"],
    "count: inf labels": ["count", "--data", "{in}/inf.npz", "--arch", "1-1-1", "--levels", "0.5"],
    "count: no Y": ["count", "--data", "{in}/noy.npz", "--arch", "1-1-1", "--levels", "0.5"],
    "count: string data": ["count", "--data", "{in}/strings.npz", "--arch", "1-1-1", "--levels", "0.5"],
    "count: object arrays": ["count", "--data", "{in}/objects.npz", "--arch", "1-1-1", "--levels", "0.5"],
    "count: X and Y lengths differ": ["count", "--data", "{in}/shape.npz", "--arch", "1-1-1", "--levels", "0.5"],
    "count: no samples": ["count", "--data", "{in}/empty.npz", "--arch", "1-1-1", "--levels", "0.5"],
    "count: metadata not JSON": ["count", "--data", "{in}/badmeta.npz", "--arch", "1-1-1", "--levels", "0.5"],
    "count: metadata a list": ["count", "--data", "{in}/listmeta.npz", "--arch", "1-1-1", "--levels", "0.5"],
    "count: named point a string": ["count", "--data", "{in}/pointstr.npz", "--arch", "1-1-1", "--levels", "0.5"],
    "count: architecture a string": ["count", "--data", "{in}/archstr.npz", "--arch", "1-1-1", "--levels", "0.5"],
    "count: arch mismatch": ["count", "--data", "{in}/g1.npz", "--arch", "2-1-1", "--levels", "0.5"],
    "count: zero width": ["count", "--data", "{in}/g1.npz", "--arch", "1-0-1", "--levels", "0.5"],
    "count: letters in arch": ["count", "--data", "{in}/g1.npz", "--arch", "one-1-1", "--levels", "0.5"],
    "count: unknown activation": ["count", *G1, "--activation", "sigmoidal", "--levels", "0.5"],
    "count: negative kappa": ["count", *G1, "--kappa", "-1", "--levels", "0.5"],
    "count: nan kappa": ["count", *G1, "--kappa", "nan", "--levels", "0.5"],
    "count: negative level": ["count", *G1, "--levels", "-0.5"],
    "count: inf level": ["count", *G1, "--levels", "inf"],
    "count: no levels": ["count", *G1, "--levels", ","],
    "count: zero starts": ["count", *G1, "--levels", "0.5", "--starts", "0"],
    "count: negative steps": ["count", *G1, "--levels", "0.5", "--steps", "-3"],
    "count: negative neighbours": ["count", *G1, "--levels", "0.5", "--neighbours", "-1"],
    "count: unknown path finder": ["count", *G1, "--levels", "0.5", "--paths", "teleport"],
    "count: graphml folder missing": ["count", *G1, "--levels", "0.5", "--graphml", "{out}/no/g.graphml"],
    "count: cuda without cuda": ["--device", "cuda", "count", *G1, "--levels", "0.5"],
    # grid-count
    "grid-count: infinite box": ["grid-count", *G1, "--levels", "0.5", "--box=-inf,inf,-1,1"],
    "grid-count: overflowing box width": ["grid-count", *G1, "--levels", "0.5", "--box=-1e308,1e308,-1,1"],
    "grid-count: empty box": ["grid-count", *G1, "--levels", "0.5", "--box=1,1,-1,1"],
    "grid-count: box of wrong size": ["grid-count", *G1, "--levels", "0.5", "--box=-1,1"],
    "grid-count: box not numbers": ["grid-count", *G1, "--levels", "0.5", "--box=a,b,c,d"],
    "grid-count: huge resolution": ["grid-count", *G1, "--levels", "0.5", "--box=-1,1,-1,1", "--resolution", "100000"],
    "grid-count: negative depth": ["grid-count", *G1, "--levels", "0.5", "--box=-1,1,-1,1", "--depth", "-1"],
    "grid-count: unknown slice point": ["grid-count", "--data", "{in}/perm.npz", "--arch", "2-2-1", "--activation",
                                        "relu", "--no-bias", "--levels", "0.1", "--box=-1,1,-1,1", "--slice",
                                        "theta_A,theta_Z"],
    # path
    "path: wrong length": ["path", *G1, "--start", "1,1,1", "--end=-1,-1"],
    "path: nan endpoint": ["path", *G1, "--start", "nan,1", "--end=-1,-1"],
    "path: huge endpoint": ["path", *G1, "--start", "1e308,1", "--end=-1,-1"],
    "path: empty finder list": ["path", *G1, "--start", "1,1", "--end=-1,-1", "--finders", ","],
    "path: unknown finder": ["path", *G1, "--start", "1,1", "--end=-1,-1", "--finders", "warp"],
    "path: level below the endpoints": ["path", *G1, "--start", "0,0", "--end=-1,-1", "--level", "0.1"],
    "path: unknown named point": ["path", *G1, "--start", "theta_Q", "--end=-1,-1"],
    "path: out folder missing": ["path", *G1, "--start", "1,1", "--end=-1,-1", "--out", "{out}/no/p.npz"],
    # merge-tree
    "merge-tree: zero starts": ["merge-tree", *G1, "--starts", "0"],
    "merge-tree: negative tolerance": ["merge-tree", *G1, "--tolerance", "-1"],
    "merge-tree: unknown finder": ["merge-tree", *G1, "--finder", "warp"],
    "merge-tree: nan lr": ["merge-tree", *G1, "--lr", "nan"],
    # sweep and plot
    "sweep: missing spec": ["sweep", "{in}/absent.toml", "--db", "{out}/s.db"],
    "sweep: broken TOML": ["sweep", "{in}/bad.toml", "--db", "{out}/s.db"],
    "sweep: spec not UTF-8": ["sweep", "{in}/latin1.toml", "--db", "{out}/s.db"],
    "sweep: starts = 1.5": ["sweep", "{in}/types.toml", "--db", "{out}/s.db"],
    "sweep: lr a string": ["sweep", "{in}/lr.toml", "--db", "{out}/s.db"],
    "sweep: family parameter of the wrong type": ["sweep", "{in}/family.toml", "--db", "{out}/s.db"],
    "sweep: zero workers": ["sweep", "{in}/types.toml", "--db", "{out}/s.db", "--workers", "0"],
    "sweep: database not SQLite": ["sweep", "{in}/family.toml", "--db", "{in}/notdb.db"],
    "plot: database not SQLite": ["plot", "{in}/notdb.db", "--out", "{out}/p"],
    "plot: missing database": ["plot", "{in}/absent.db", "--out", "{out}/p"],
    # experiments
    "experiment: widths zero": ["experiment", "quadratic-sweep", "--widths", "0-3", "--out", "{out}/q.json",
                                "--figure", "{out}/q.png"],
    "experiment: absurd widths": ["experiment", "quadratic-sweep", "--widths", "1-1000000000", "--out",
                                  "{out}/q.json", "--figure", "{out}/q.png"],
    "experiment: zero pairs": ["experiment", "energy-gap", "--pairs", "0", "--out", "{out}/e.json", "--figure",
                               "{out}/e.png"],
    "experiment: negative seed": ["experiment", "energy-gap", "--seeds", "0,-1", "--out", "{out}/e.json", "--figure",
                                  "{out}/e.png"],
    "experiment: seed not an integer": ["experiment", "quadratic-sweep", "--seeds", "a", "--out", "{out}/q.json",
                                        "--figure", "{out}/q.png"],
    "experiment: figure of unknown type": ["experiment", "energy-gap", "--widths", "2", "--pairs", "1", "--out",
                                           "{out}/e.json", "--figure", "{out}/e.xyz"],
    # landscape
    "landscape: weights not an npz": ["landscape", "surface", "--data", "{in}/g1.npz", "--arch", "1-1-1", "--weights",
                                      "{in}/weights.npz", "--grid", "3", "--out", "{out}/s.npz"],
    "landscape: weights holding strings": ["landscape", "surface", "--data", "{in}/g1.npz", "--arch", "1-1",
                                           "--weights", "{in}/strweights.npz", "--grid", "3", "--out", "{out}/s.npz"],
    "landscape: model factory missing": ["landscape", "surface", "--data", "{in}/g1.npz", "--model",
                                         "no_such_module:make", "--grid", "3", "--out", "{out}/s.npz"],
    "landscape: plot of a missing surface": ["landscape", "plot", "{in}/absent.npz", "--out", "{out}/p.png"],
    "landscape: plot to an unknown format": ["landscape", "plot", "{in}/g1.npz", "--out", "{out}/p.xyz"],
    "landscape: negative threads": ["landscape", "experiments", "--threads", "-1", "--out-dir", "{out}"],
    # ccnn and verify
    "ccnn: unknown variation": ["ccnn", "table", "--variations", "basic,swirl", "--markdown", "{out}/t.md",
                                "--json", "{out}/t.json"],
    "ccnn: zero workers": ["ccnn", "table", "--quick", "--workers", "0", "--markdown", "{out}/t.md", "--json",
                           "{out}/t.json"],
    "verify: unknown claim": ["verify", "--claim", "no-such-claim"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_exit_2_and_leaves_no_file(case, files, tmp_path, capsys):
    argv = [a.format(**{"in": files, "out": tmp_path / "out"}) for a in CASES[case]]
    before = sorted(p.name for p in files.iterdir())
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, (case, code, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, (case, err)
    assert sorted(p.name for p in files.iterdir()) == before
    assert list((tmp_path / "out").rglob("*")) == [], (case, list((tmp_path / "out").rglob("*")))


# --------------------------------------------------------------------------- Python API
def _api_cases():
    """(name, call) pairs: each call must raise sublevel.InputError, named, before any torch
    internals see the bad value. Built lazily so collecting the tests stays cheap."""
    import torch

    import sublevel

    data = sublevel.construct("one-neuron", a=2.0)
    arch = data.default_architecture()
    problem = data.problem(arch)
    p = arch.num_params
    good = [1.0, 2.2]
    return {
        "construct: unknown family": lambda: sublevel.construct("nope"),
        "construct: a string parameter": lambda: sublevel.construct("one-neuron", a="x"),
        "construct: NaN parameter": lambda: sublevel.construct("one-neuron", a=float("nan")),
        "construct: unknown parameter": lambda: sublevel.construct("one-neuron", zz=1),
        "Architecture: letters": lambda: sublevel.Architecture.parse("2-x-1"),
        "Architecture: zero width": lambda: sublevel.Architecture.parse("2-0-1"),
        "Architecture: unknown activation": lambda: sublevel.Architecture.parse("2-3-1", activation="foo"),
        "Architecture: None": lambda: sublevel.Architecture.parse(None),
        "count: a string level": lambda: sublevel.count(data, arch, ["a"]),
        "count: no levels": lambda: sublevel.count(data, arch, None),
        "count: empty levels": lambda: sublevel.count(data, arch, []),
        "count: NaN level": lambda: sublevel.count(data, arch, [float("nan")]),
        "count: an array, not a Dataset": lambda: sublevel.count(torch.zeros(3), arch, good),
        "count: a string architecture": lambda: sublevel.count(data, "1-1-1", good),
        "count: architecture of other inputs": lambda: sublevel.count(data, sublevel.Architecture.parse("3-2-1"), good),
        "count: negative ridge": lambda: sublevel.count(data, arch, good, kappa=-1.0),
        "count: k = 0": lambda: sublevel.count(data, arch, good, k=0),
        "SampleSettings: negative starts": lambda: sublevel.SampleSettings(starts=-1),
        "SampleSettings: NaN step size": lambda: sublevel.SampleSettings(lr=float("nan")),
        "Dataset: sample counts differ": lambda: sublevel.Dataset(torch.zeros(3, 2).numpy(), torch.zeros(4, 1).numpy(), {}),
        "Dataset: strings": lambda: sublevel.Dataset([["a", "b"]], [[0.0]], {}),
        "Problem: inputs of the wrong width": lambda: sublevel.Problem(arch, torch.zeros(3, 5), torch.zeros(3, 1)),
        "Problem: NaN inputs": lambda: sublevel.Problem(arch, torch.full((3, 1), float("nan")), torch.zeros(3, 1)),
        "Problem: None for inputs": lambda: sublevel.Problem(arch, None, torch.zeros(3, 1)),
        "Problem: not an architecture": lambda: sublevel.Problem("1-1-1", torch.zeros(3, 1), torch.zeros(3, 1)),
        "Problem.loss: wrong parameter count": lambda: problem.loss(torch.zeros(p + 1)),
        "verify: unknown claim": lambda: sublevel.verify(["nope"]),
        "merge_tree: None for minima": lambda: sublevel.merge_tree(problem, None),
        "merge_tree: wrong parameter count": lambda: sublevel.merge_tree(problem, torch.zeros(3, p + 2)),
        "merge_tree: unknown finder": lambda: sublevel.merge_tree(problem, torch.zeros(3, p), finder="zz"),
        "get_finder: unknown": lambda: sublevel.get_finder("nope"),
        "segment_maxima: shapes differ": lambda: sublevel.segment_maxima(problem, torch.zeros(2), torch.zeros(5)),
        "segment_maxima: NaN end point": lambda: sublevel.segment_maxima(problem, torch.full((p,), float("nan")),
                                                                         torch.zeros(p)),
        "path_maximum: one bead": lambda: sublevel.path_maximum(problem, torch.zeros(1, p)),
        "loss_upper_bounds: wrong parameter count": lambda: sublevel.loss_upper_bounds(problem, torch.zeros(7)),
        "count_components: NaN level": lambda: sublevel.count_components(problem, [float("nan")]),
    }


API_CASES = [
    "construct: unknown family", "construct: a string parameter", "construct: NaN parameter",
    "construct: unknown parameter", "Architecture: letters", "Architecture: zero width",
    "Architecture: unknown activation", "Architecture: None", "count: a string level", "count: no levels",
    "count: empty levels", "count: NaN level", "count: an array, not a Dataset", "count: a string architecture",
    "count: architecture of other inputs", "count: negative ridge", "count: k = 0",
    "SampleSettings: negative starts", "SampleSettings: NaN step size", "Dataset: sample counts differ",
    "Dataset: strings", "Problem: inputs of the wrong width", "Problem: NaN inputs", "Problem: None for inputs",
    "Problem: not an architecture", "Problem.loss: wrong parameter count", "verify: unknown claim",
    "merge_tree: None for minima", "merge_tree: wrong parameter count", "merge_tree: unknown finder",
    "get_finder: unknown", "segment_maxima: shapes differ", "segment_maxima: NaN end point",
    "path_maximum: one bead", "loss_upper_bounds: wrong parameter count", "count_components: NaN level",
]


def test_api_case_list_matches_the_cases():
    assert sorted(API_CASES) == sorted(_api_cases())


@pytest.mark.parametrize("name", API_CASES)
def test_python_api_raises_a_named_input_error(name):
    """The public API refuses bad values with sublevel.InputError (a ValueError), never with a
    TypeError or AttributeError from deep inside numpy or torch."""
    import sublevel

    with pytest.raises(sublevel.InputError):
        _api_cases()[name]()
