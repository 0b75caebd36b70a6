"""`sublevel landscape`: a surface end to end, resuming, plotting, and one-line errors (exit 2)."""
from __future__ import annotations

import numpy as np
import pytest

from sublevel.cli import main
from sublevel.checks.landscapes.surfaces import Surface
from sublevel.constructions.datasets import Dataset


@pytest.fixture
def data_file(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2))
    path = tmp_path / "d.npz"
    Dataset(x, np.maximum(x[:, :1], 0) - x[:, 1:], {"family": "test"}).save(path)
    return path


def _surface_args(data_file, out, *extra):
    return ["landscape", "surface", "--data", str(data_file), "--arch", "2-4-1", "--grid", "5", "--out", str(out), *extra]


def test_surface_plot_and_resume(data_file, tmp_path, capsys):
    out = tmp_path / "s.npz"
    assert main(_surface_args(data_file, out, "--train-steps", "20", "--plot", str(tmp_path / "s.png"))) == 0
    surface = Surface.load(out)
    assert surface.complete and surface.values["loss"].shape == (5, 5)
    assert (tmp_path / "s.png").stat().st_size > 0
    assert main(_surface_args(data_file, out, "--train-steps", "20")) == 0  # already complete: a no-op
    np.testing.assert_array_equal(Surface.load(out).values["loss"], surface.values["loss"])
    assert main(["landscape", "plot", str(out), "--kind", "surface3d", "--out", str(tmp_path / "p.png")]) == 0


def test_ctrl_c_exits_130_keeps_the_computed_points_and_a_rerun_finishes(data_file, tmp_path, capsys, monkeypatch):
    """Ctrl-C during `landscape surface` (simulated after the 2nd saved chunk): exit status 130,
    the file holds the finished chunks with their mask, `landscape plot` says INCOMPLETE, and
    running the command again computes only the rest and gives the uninterrupted values."""
    import sublevel.checks.landscapes.surfaces as surfaces

    reference = tmp_path / "whole.npz"
    assert main(_surface_args(data_file, reference, "--train-steps", "20")) == 0
    original = surfaces.compute_surface

    def interrupted(*args, **kwargs):
        chunks = []

        def on_chunk(surface):
            chunks.append(1)
            if len(chunks) == 2:
                raise KeyboardInterrupt
        return original(*args, **kwargs, chunk_points=5, on_chunk=on_chunk)

    out = tmp_path / "s.npz"
    monkeypatch.setattr(surfaces, "compute_surface", interrupted)
    assert main(_surface_args(data_file, out, "--train-steps", "20")) == 130
    assert "interrupted" in capsys.readouterr().err
    partial = Surface.load(out)
    assert partial.mask.sum() == 10 and not partial.complete
    assert main(["landscape", "plot", str(out), "--out", str(tmp_path / "p.png")]) == 0
    assert "INCOMPLETE" in capsys.readouterr().out
    monkeypatch.setattr(surfaces, "compute_surface", original)
    assert main(_surface_args(data_file, out, "--train-steps", "20")) == 0
    np.testing.assert_array_equal(Surface.load(out).values["loss"], Surface.load(reference).values["loss"])


def _expect_one_error_line(capsys, code, pattern):
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and pattern in err, err


def test_direction_shape_mismatch_is_one_line_exit_2(data_file, tmp_path, capsys):
    dirs = tmp_path / "dirs.npz"
    np.savez(dirs, **{"d1/0.weight": np.ones((3, 2)), "d1/0.bias": np.ones(4), "d1/2.weight": np.ones((1, 4)),
                      "d1/2.bias": np.ones(1)})
    out = tmp_path / "s.npz"
    code = main(_surface_args(data_file, out, "--dims", "1", "--directions", str(dirs)))
    _expect_one_error_line(capsys, code, "shape")
    assert not out.exists()


def test_empty_data_is_one_line_exit_2(tmp_path, capsys):
    empty = tmp_path / "empty.npz"
    np.savez(empty, X=np.zeros((0, 2)), Y=np.zeros((0, 1)), metadata=np.array("{}"))
    out = tmp_path / "s.npz"
    _expect_one_error_line(capsys, main(_surface_args(empty, out)), "no samples")
    assert not out.exists()


def test_non_finite_weights_are_one_line_exit_2(data_file, tmp_path, capsys):
    weights = tmp_path / "w.npz"
    np.savez(weights, **{"0.weight": np.full((4, 2), np.nan), "0.bias": np.zeros(4), "2.weight": np.ones((1, 4)),
                         "2.bias": np.zeros(1)})
    out = tmp_path / "s.npz"
    _expect_one_error_line(capsys, main(_surface_args(data_file, out, "--weights", str(weights))), "NaN")
    assert not out.exists()


def test_bad_range_and_plot_kind_are_one_line_exit_2(data_file, tmp_path, capsys):
    _expect_one_error_line(capsys, main(_surface_args(data_file, tmp_path / "s.npz", "--range", "1")), "--range")
    out = tmp_path / "s.npz"
    assert main(_surface_args(data_file, out)) == 0
    capsys.readouterr()
    _expect_one_error_line(capsys, main(["landscape", "plot", str(out), "--kind", "pie", "--out",
                                         str(tmp_path / "p.png")]), "unknown plot kind")
    assert not (tmp_path / "p.png").exists()


def bn_net():
    """A model factory for `--model test_landscape_cli:bn_net` (this folder is on sys.path)."""
    import torch

    torch.manual_seed(5)
    return torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 1))


def _trained_bn_state(data_file):
    import torch

    net = bn_net()
    x = torch.as_tensor(Dataset.load(data_file).x, dtype=torch.float32)
    with torch.no_grad():
        net.train()(x * 3 + 1)  # running statistics far from the initial ones
        net[0].weight.mul_(2.0)
    return net, x


def _bn_args(data_file, out, weights):
    return ["landscape", "surface", "--data", str(data_file), "--model", "test_landscape_cli:bn_net", "--dims", "1",
            "--grid", "3", "--out", str(out), "--weights", str(weights)]


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_state_dicts_load_with_their_batchnorm_statistics(data_file, tmp_path, suffix):
    """A .pt state dict (torch.load(weights_only=True)) or a .safetensors file: parameters and
    BatchNorm running statistics are loaded, so the surface's centre is the trained model's own
    loss in eval mode."""
    import torch

    net, x = _trained_bn_state(data_file)
    weights = tmp_path / f"w{suffix}"
    if suffix == ".pt":
        torch.save(net.state_dict(), weights)
    else:
        from safetensors.torch import save_file

        save_file(net.state_dict(), str(weights))
    out = tmp_path / "s.npz"
    assert main(_bn_args(data_file, out, weights)) == 0
    y = torch.as_tensor(Dataset.load(data_file).y, dtype=torch.float32)
    with torch.no_grad():
        own = float(torch.nn.functional.mse_loss(net.eval()(x), y))
    assert Surface.load(out).values["loss"][1] == pytest.approx(own, rel=1e-5)


def test_pickled_code_in_a_pt_file_is_refused_not_run(data_file, tmp_path, capsys):
    import torch

    net, _ = _trained_bn_state(data_file)
    weights = tmp_path / "w.pt"
    state = dict(net.state_dict())
    state["extra"] = Dataset  # a class: loading it would import and run code
    torch.save(state, weights)
    out = tmp_path / "s.npz"
    _expect_one_error_line(capsys, main(_bn_args(data_file, out, weights)), "weights_only=True")
    assert not out.exists()


@pytest.mark.parametrize("change, pattern", [("unknown", "does not have"), ("shape", "shape"), ("nan", "NaN")])
def test_state_dicts_that_do_not_fit_are_one_line_exit_2(data_file, tmp_path, capsys, change, pattern):
    import torch

    net, _ = _trained_bn_state(data_file)
    state = dict(net.state_dict())
    if change == "unknown":
        state["head.weight"] = torch.zeros(1)
    elif change == "shape":
        state["1.running_mean"] = torch.zeros(5)
    else:
        state["3.weight"] = torch.full((1, 4), float("nan"))
    weights = tmp_path / "w.pt"
    torch.save(state, weights)
    out = tmp_path / "s.npz"
    _expect_one_error_line(capsys, main(_bn_args(data_file, out, weights)), pattern)
    assert not out.exists()


def raising_factory():
    raise ValueError("no such layer size")


def not_a_module():
    return 3


@pytest.mark.parametrize("spec, pattern", [("test_landscape_cli:raising_factory", "raised ValueError"),
                                           ("test_landscape_cli:not_a_module", "did not return"),
                                           ("test_landscape_cli:missing", "cannot import"),
                                           ("no_such_module_here:f", "cannot import")])
def test_model_factories_that_fail_are_one_line_exit_2(data_file, tmp_path, capsys, spec, pattern):
    out = tmp_path / "s.npz"
    code = main(["landscape", "surface", "--data", str(data_file), "--model", spec, "--out", str(out)])
    _expect_one_error_line(capsys, code, pattern)
    assert not out.exists()


def tiny_cnn():
    """A factory for image data: `--model test_landscape_cli:tiny_cnn`."""
    import torch

    torch.manual_seed(7)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3, padding=1), torch.nn.BatchNorm2d(3), torch.nn.ReLU(),
                               torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 2))


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "images.npz"
    x = rng.normal(size=(12, 1, 6, 6)).astype(np.float32)
    np.savez(path, X=x, Y=(x.mean(axis=(1, 2, 3)) > 0).astype(np.int64))
    return path


def _cnn_weights(tmp_path, name, scale):
    import torch

    net = tiny_cnn()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(scale)
    path = tmp_path / name
    torch.save(net.state_dict(), path)
    return path


def test_spectrum_of_an_image_model_from_the_command_line(images, tmp_path, capsys):
    """(N, C, H, W) images, a model factory and a .pt state dict: the eigenvalues printed and
    saved are the Python API's."""
    import torch

    import sublevel

    weights = _cnn_weights(tmp_path, "w.pt", 1.0)
    out = tmp_path / "s.json"
    assert main(["landscape", "spectrum", "--data", str(images), "--model", "test_landscape_cli:tiny_cnn",
                 "--weights", str(weights), "--loss", "cross-entropy", "--k", "2", "--out", str(out),
                 "--plot", str(tmp_path / "s.png")]) == 0
    assert "largest eigenvalues found" in capsys.readouterr().out
    saved = sublevel.HessianSpectrum.load(out)
    net = tiny_cnn()
    net.load_state_dict(torch.load(weights, weights_only=True))
    arrays = np.load(images)
    direct = sublevel.hessian_spectrum(net, torch.nn.CrossEntropyLoss(),
                                       (torch.as_tensor(arrays["X"]), torch.as_tensor(arrays["Y"])), k=2)
    np.testing.assert_allclose(saved.top, direct.top, rtol=1e-6)
    assert (tmp_path / "s.png").stat().st_size > 1000


def test_connect_two_image_models_from_the_command_line(images, tmp_path, capsys):
    a, b = _cnn_weights(tmp_path, "a.pt", 1.0), _cnn_weights(tmp_path, "b.pt", -1.0)
    out = tmp_path / "p.json"
    assert main(["landscape", "connect", "--data", str(images), "--model", "test_landscape_cli:tiny_cnn",
                 "--weights-a", str(a), "--weights-b", str(b), "--loss", "cross-entropy", "--curve", "polychain",
                 "--points", "5", "--steps", "20", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "not certified" in printed and "recomputed" in printed
    import json

    saved = json.loads(out.read_text())
    assert len(saved["loss"]) == 5 and saved["certified"] is False


def test_merge_tree_of_three_image_models_from_the_command_line(images, tmp_path, capsys):
    """Three weight files: aligned to the first, AutoNEB chains between every pair, the tree
    printed (as estimates) and saved; the third model is a channel permutation of the first,
    so after alignment it joins the first at their common loss."""
    import json

    import torch

    a, b = _cnn_weights(tmp_path, "a.pt", 1.0), _cnn_weights(tmp_path, "b.pt", -1.0)
    state = torch.load(a, weights_only=True)
    order = torch.tensor([2, 0, 1])
    permuted = {k: (v[order] if k.startswith(("0.", "1.")) and v.dim() >= 1 and v.numel() > 1 else v)
                for k, v in state.items()}
    permuted["5.weight"] = state["5.weight"][:, order]
    c = tmp_path / "c.pt"
    torch.save(permuted, c)
    out = tmp_path / "tree.json"
    assert main(["landscape", "merge", "--data", str(images), "--model", "test_landscape_cli:tiny_cnn",
                 "--weights", str(a), str(b), str(c), "--loss", "cross-entropy", "--points", "5", "--steps", "10",
                 "--cycles", "1", "--out", str(out), "--plot", str(tmp_path / "tree.png")]) == 0
    printed = capsys.readouterr().out
    assert "estimates, not certified" in printed and "aligned by weight matching" in printed
    saved = json.loads(out.read_text())
    assert saved["certified"] is False and len(saved["losses"]) == 3
    assert saved["barriers"][0][2] == pytest.approx(max(saved["losses"][0], saved["losses"][2]), rel=1e-5)


def test_merge_with_one_weight_file_is_one_line_exit_2(images, tmp_path, capsys):
    a = _cnn_weights(tmp_path, "a.pt", 1.0)
    code = main(["landscape", "merge", "--data", str(images), "--model", "test_landscape_cli:tiny_cnn",
                 "--weights", str(a), "--out", str(tmp_path / "t.json")])
    _expect_one_error_line(capsys, code, "two or more")
    assert not (tmp_path / "t.json").exists()


@pytest.mark.parametrize("content, pattern", [("nan", "NaN"), ("short", "shape"), ("empty", "no samples")])
def test_bad_image_data_is_one_line_exit_2(tmp_path, capsys, content, pattern):
    x = np.zeros((4, 1, 6, 6), dtype=np.float32)
    y = np.zeros(4, dtype=np.int64)
    if content == "nan":
        x[0, 0, 0, 0] = np.nan
    elif content == "short":
        y = y[:3]
    else:
        x, y = x[:0], y[:0]
    path = tmp_path / "bad.npz"
    np.savez(path, X=x, Y=y)
    out = tmp_path / "s.json"
    code = main(["landscape", "spectrum", "--data", str(path), "--model", "test_landscape_cli:tiny_cnn",
                 "--loss", "cross-entropy", "--out", str(out)])
    _expect_one_error_line(capsys, code, pattern)
    assert not out.exists()


@pytest.mark.parametrize("action, out", [("spectrum", "s.txt"), ("connect", "p.npz")])
def test_bad_output_names_are_refused_before_any_work(images, tmp_path, capsys, action, out):
    extra = ["--weights-a", "missing.pt", "--weights-b", "missing.pt"] if action == "connect" else []
    code = main(["landscape", action, "--data", str(images), "--model", "test_landscape_cli:raising_factory",
                 "--out", str(tmp_path / out), *extra])
    _expect_one_error_line(capsys, code, "--out must end in")
