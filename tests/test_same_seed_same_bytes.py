"""Same seed, same bytes: two runs of construct, count --json, a small sweep and a small
landscape surface give identical outputs (byte for byte where a file is written)."""
from __future__ import annotations

import hashlib

import numpy as np

from sublevel.cli import main
from sublevel.constructions.datasets import Dataset


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_construct_twice_gives_the_same_file(tmp_path, capsys):
    for name in ("a", "b"):
        assert main(["construct", "teacher", "--arch", "2-3-1", "--activation", "relu", "--samples", "40",
                     "--seed", "5", "--out", str(tmp_path / f"{name}.npz")]) == 0
    assert _digest(tmp_path / "a.npz") == _digest(tmp_path / "b.npz")


def test_count_json_twice_gives_the_same_output(tmp_path, capsys):
    data = tmp_path / "g2.npz"
    assert main(["construct", "one-neuron", "--a", "2", "--out", str(data)]) == 0
    outputs = []
    for _ in range(2):
        capsys.readouterr()
        assert main(["count", "--data", str(data), "--arch", "1-1-1", "--activation", "relu", "--no-bias",
                     "--levels", "0.7,2.2", "--starts", "16", "--steps", "100", "--json"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and '"lower"' in outputs[0]


def test_small_sweep_twice_gives_the_same_rows(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('[sweep]\nname = "s"\nseeds = [0, 1]\n[sampling]\nstarts = 8\nsteps = 30\nmax_points = 100\n'
                    '[[family]]\nlabel = "linear"\ndata = "scalar-linear"\nactivation = "linear"\nwidths = [1, 2]\n'
                    'levels = [0.5]\n')
    from sublevel.checks.sweeps.store import ResultStore

    tables = []
    for name in ("a", "b"):
        assert main(["sweep", str(spec), "--db", str(tmp_path / f"{name}.db"), "--workers", "1", "--quiet"]) == 0
        with ResultStore(tmp_path / f"{name}.db", readonly=True) as store:
            tables.append([(r.key, r.outcome) for r in store.rows()])
    assert tables[0] == tables[1] and tables[0]


def test_landscape_surface_twice_gives_the_same_file(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2))
    data = tmp_path / "d.npz"
    Dataset(x, np.maximum(x[:, :1], 0) - x[:, 1:], {"family": "test"}).save(data)
    for name in ("a", "b"):
        assert main(["landscape", "surface", "--data", str(data), "--arch", "2-4-1", "--grid", "5",
                     "--train-steps", "20", "--out", str(tmp_path / f"{name}.npz")]) == 0
    assert _digest(tmp_path / "a.npz") == _digest(tmp_path / "b.npz")
