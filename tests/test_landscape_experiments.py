"""The small-scale reproduction end to end (slow: about half a minute on one core)."""
from __future__ import annotations

import json

import pytest

from sublevel.cli import main


@pytest.mark.slow
def test_quick_experiments_write_figures_and_table(tmp_path):
    assert main(["landscape", "experiments", "--scale", "quick", "--threads", "1", "--out-dir", str(tmp_path),
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    results = json.loads((tmp_path / "landscape_results.json").read_text())
    assert {row["skip"] for row in results["table"]} == {True, False}
    for row in results["table"]:
        assert len(row["components_estimated_on_grid"]) == len(row["component_quantiles"])
        assert 0.0 <= row["hessian_ratio"]["median"]
    for name in ("skip_vs_noskip", "resnet_depths", "resnet_wide", "hessian_ratio", "surface3d",
                 "vgg_interpolation_wd0", "vgg_weights", "vgg_pca"):
        assert (tmp_path / f"landscape_{name}.png").stat().st_size > 0
