"""The CLI contract: construct / count / verify, JSON output, and one-line errors with status 2."""
import json
import subprocess
import sys

import numpy as np
import pytest

from sublevel.cli import main


@pytest.fixture()
def g1(tmp_path):
    path = tmp_path / "g1.npz"
    assert main(["construct", "scalar-linear", "--target", "1", "--out", str(path)]) == 0
    return path


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_count_json(g1, capsys):
    code, out, err = run_cli(capsys, "count", "--data", g1, "--arch", "1-1-1", "--activation", "linear",
                             "--no-bias", "--levels", "0.5,1.5", "--json", "--starts", "32", "--steps", "200")
    assert code == 0
    report = json.loads(out)
    assert report["levels"] == [0.5, 1.5]
    assert report["components"] == [2, 1] and report["lower"] == [2, 1] and report["upper"] == [2, 1]
    assert report["exact"] == [True, True]


def test_count_table_says_what_is_certified(g1, capsys):
    code, out, _ = run_cli(capsys, "count", "--data", g1, "--arch", "1-1-1", "--no-bias", "--levels", "0.5",
                           "--starts", "16", "--steps", "100")
    assert code == 0
    assert "2 (exact)" in out


def write_npz(path, **arrays):
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


BAD_COUNT_OPTIONS = {  # case -> the options it changes from a valid `sublevel count` call
    "missing": {"data": "absent.npz"}, "corrupt": {"data": "corrupt.npz"}, "nan": {"data": "nan.npz"},
    "inf": {"data": "inf.npz"}, "shape": {"arch": "2-3-1"}, "width": {"arch": "1-0-1"},
    "activation": {"activation": "sigmoidal"}, "negative-level": {"levels": "0.5,-1"},
    "empty-levels": {"levels": ","}, "bad-level": {"levels": "half"},
}


@pytest.mark.parametrize("case", sorted(BAD_COUNT_OPTIONS))
def test_bad_input_is_one_line_and_status_2(case, g1, tmp_path, capsys):
    (tmp_path / "corrupt.npz").write_bytes(b"garbage")
    for bad in ("nan", "inf"):
        write_npz(tmp_path / f"{bad}.npz", X=np.array([[1.0], [float(bad)]]), Y=np.ones((2, 1)))
    options = {"data": str(g1), "arch": "1-1-1", "activation": "linear", "levels": "0.5"}
    options.update(BAD_COUNT_OPTIONS[case])
    data, arch, activation, levels = options["data"], options["arch"], options["activation"], options["levels"]
    if data != str(g1):
        data = str(tmp_path / data)
    graph = tmp_path / "out.graphml"
    code, out, err = run_cli(capsys, "count", "--data", data, "--arch", arch, "--activation", activation,
                             "--levels", levels, "--graphml", graph)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "error" in err
    assert not graph.exists()


def test_construct_bad_parameter_leaves_no_file(tmp_path, capsys):
    out = tmp_path / "g2.npz"
    code, _, err = run_cli(capsys, "construct", "one-neuron", "--a", "-1", "--out", out)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_construct_into_missing_directory(tmp_path, capsys):
    code, _, err = run_cli(capsys, "construct", "one-neuron", "--out", tmp_path / "no" / "g2.npz")
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_console_script_runs_as_a_process(g1):
    """The installed entry point: one error line and status 2 from a real process."""
    proc = subprocess.run([sys.executable, "-m", "sublevel", "count", "--data", str(g1), "--arch", "1-1-1",
                           "--levels", "-3"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr


def test_verify_single_claim(capsys, tmp_path):
    out = tmp_path / "verify.json"
    code, text, _ = run_cli(capsys, "verify", "--claim", "deep-linear-nonstrict", "--out", out)
    assert code == 0
    assert "refuted" in text and "must-fail" in text
    assert json.loads(out.read_text())["contradictions"] == 0
    code, _, err = run_cli(capsys, "verify", "--claim", "no-such-claim")
    assert code == 2 and "unknown claim" in err
