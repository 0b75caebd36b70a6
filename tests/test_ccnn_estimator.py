"""CCNN layer pieces, the scikit-learn estimator, bad input and the `sublevel ccnn` command."""
import json

import numpy as np
import pytest
import torch
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sublevel.checks.ccnn.estimator import CCNNClassifier
from sublevel.checks.ccnn.features import KernelFeatures, inverse_polynomial_kernel
from sublevel.checks.ccnn.patches import as_images, extract_patches, normalise_patches
from sublevel.cli import main
from sublevel.constructions.mnist_variations import digits_variation
from sublevel.theory.errors import InputError

SMALL = dict(n_features=48, epochs=2, rank=4)


@pytest.fixture(scope="module")
def digits():
    data = digits_variation("basic", seed=0)
    return data.x_train[:240], data.y_train[:240], data.x_test[:120], data.y_test[:120]


def test_patches_are_the_image_windows():
    images = as_images(np.arange(2 * 6 * 7, dtype=float).reshape(2, 6, 7))
    patches = extract_patches(images, 3, stride=2)
    assert patches.shape == (2, 2, 3, 9)
    np.testing.assert_array_equal(patches[1, 1, 2], images[1, 2:5, 4:7, 0].ravel())
    unit = normalise_patches(patches.reshape(-1, 9))
    np.testing.assert_allclose(unit.mean(1), 0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1)


@pytest.mark.parametrize("kind", ["rbf", "invpoly"])
def test_feature_maps_approximate_their_kernel(kind):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 9))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    phi = KernelFeatures.fit(x, kind, n_components=300 if kind == "invpoly" else 4000, gamma=0.5)
    approx = phi(x[:40]).astype(np.float64) @ phi(x[:40]).T
    exact = (np.exp(-0.5 * ((x[:40, None] - x[None, :40]) ** 2).sum(-1)) if kind == "rbf"
             else inverse_polynomial_kernel(x[:40], x[:40]))
    assert np.abs(approx - exact).max() < 0.1


# The inverse-polynomial features share a large common component, so the gradient's curvature
# is close to its bound L and the step must be smaller than for random Fourier features.
@pytest.mark.parametrize("n_layers,kernel,rate", [(1, "rbf", 20.0), (2, "rbf", 20.0), (1, "invpoly", 10.0)])
def test_estimator_learns_digits(digits, n_layers, kernel, rate):
    x, y, xt, yt = digits
    model = CCNNClassifier(n_layers=n_layers, kernel=kernel, radius=100, learning_rate=rate,
                           **{**SMALL, "epochs": 4}).fit(x, y)
    assert model.score(xt, yt) > 0.6
    for layer in model.layers_:
        assert layer.result.max_nuclear_norm <= 100 * (1 + 1e-5)
        assert layer.filters.shape == (layer.maps.features.dimension, 4)
    assert model.decision_function(xt).shape == (len(xt), 10)


def test_tiny_radius_gives_chance_accuracy(digits):
    x, y, xt, yt = digits
    model = CCNNClassifier(radius=1e-9, **SMALL).fit(x, y)
    assert abs(model.score(xt, yt) - 0.1) < 0.05  # every score ~ 0: one class predicted for all


def test_works_in_pipeline_and_cross_val_score(digits):
    x, y, _, _ = digits
    flat = x.reshape(len(x), -1)
    pipe = make_pipeline(FunctionTransformer(lambda v: v * 1.0),
                         CCNNClassifier(image_shape=(16, 16), radius=100, learning_rate=20, **SMALL))
    scores = cross_val_score(pipe, flat, y, cv=2)
    assert scores.min() > 0.5
    assert CCNNClassifier(radius=7).get_params()["radius"] == 7


@pytest.mark.parametrize("kwargs,data,match", [
    (dict(radius=0.0), None, "radius"),
    (dict(radius=-2.0), None, "radius"),
    (dict(patch_size=20), None, "larger than the image"),
    (dict(), "labels", "0..9"),
    (dict(), "ragged", "same size"),
])
def test_bad_input_is_a_value_error_with_a_clear_message(digits, kwargs, data, match):
    x, y, _, _ = digits
    if data == "labels":
        y = y.copy()
        y[0] = -1
        kwargs = dict(n_classes=10)
    if data == "ragged":
        x = [x[0], x[1][:8, :8]]
        y = y[:2]
    with pytest.raises(ValueError, match=match) as info:
        CCNNClassifier(**{**SMALL, **kwargs}).fit(x, y)
    assert isinstance(info.value, InputError)


def test_cli_quick_table_writes_markdown_and_json(tmp_path, capsys):
    md, js = tmp_path / "t.md", tmp_path / "t.json"
    code = main(["ccnn", "table", "--quick", "--variations", "basic", "--workers", "1",
                 "--markdown", str(md), "--json", str(js)])
    assert code == 0 and not (tmp_path / "t.json.resume").exists()
    out = json.loads(js.read_text())
    assert set(out["error_percent"]["basic"]) == {"CNN-1", "CCNN-1", "CNN-2", "CCNN-2"}
    assert out["lecture_table_1"]["CCNN-2"]["img+rot"] == 30.23
    assert "CCNN-2" in md.read_text() and "CCNN-2" in capsys.readouterr().out


@pytest.mark.parametrize("argv,match", [
    (["--radius", "-1"], "radius"),
    (["--patch-size", "17"], "larger than the image"),
    (["--variations", "blur"], "unknown variation"),
    (["--mnist", "/nonexistent-mnist-directory"], "No such directory"),
    (["--seeds", "a,b"], "comma-separated list of int"),
    (["--markdown", "/nonexistent-folder/t.md"], "no such folder"),
])
def test_cli_bad_input_is_one_line_exit_2_and_no_file(tmp_path, capsys, argv, match):
    md, js = tmp_path / "t.md", tmp_path / "t.json"
    code = main(["ccnn", "table", "--quick", "--markdown", str(md), "--json", str(js), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert match in err and len(err.strip().splitlines()) == 1
    assert not md.exists() and not js.exists() and list(tmp_path.iterdir()) == []


def test_first_stage_of_a_two_layer_ccnn_is_the_one_layer_ccnn(digits):
    x, y, xt, _ = digits
    two = CCNNClassifier(n_layers=2, radius=100, learning_rate=20, **SMALL).fit(x, y)
    one = CCNNClassifier(n_layers=1, radius=100, learning_rate=20, **SMALL).fit(x, y)
    stages = list(two.staged_predict(xt))
    np.testing.assert_array_equal(stages[0], one.predict(xt))
    np.testing.assert_array_equal(stages[1], two.predict(xt))


def test_streamed_features_give_the_same_model_as_cached_ones(digits):
    x, y, xt, _ = digits
    cached = CCNNClassifier(radius=100, learning_rate=20, **SMALL).fit(x, y)
    streamed = CCNNClassifier(radius=100, learning_rate=20, max_cache_bytes=0, **SMALL).fit(x, y)
    torch.testing.assert_close(streamed.layers_[0].a, cached.layers_[0].a, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(streamed.predict(xt), cached.predict(xt))


def test_full_batch_solver_and_image_size_check_at_predict(digits):
    x, y, xt, _ = digits
    model = CCNNClassifier(solver="fista", radius=20, **SMALL).fit(x[:120], y[:120])
    assert model.layers_[0].result.max_nuclear_norm <= 20 * (1 + 1e-5)
    with pytest.raises(InputError, match="like the training images"):
        model.predict(xt[:, :12, :12])
    with pytest.raises(InputError, match="unknown SolverSpec.name 'newton'"):
        CCNNClassifier(solver="newton", **SMALL).fit(x, y)
