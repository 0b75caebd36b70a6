"""The CNN-1 / CCNN-1 / CNN-2 / CCNN-2 comparison on the five MNIST variations (Table 1).

Zhang, Liang & Wainwright (2017), arXiv:1609.01000, Table 1 (also the lecture's Table 1),
reproduced at a scale that needs no download: every cell is the test error in percent, mean and
spread (sample standard deviation) over seeds; a seed fixes the variation's randomness, the
train/test split, the feature maps and the training order of every model.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from sublevel.checks.ccnn.cnn_baselines import CNNClassifier, CNNSpec
from sublevel.checks.ccnn.estimator import CCNNClassifier
from sublevel.checks.ccnn.patches import patch_grid
from sublevel.constructions.mnist_variations import VARIATIONS, ImageSplit, digits_variation, mnist_variation
from sublevel.checks.ccnn.features import KERNELS
from sublevel.theory.errors import InputError
from sublevel.theory.settings import MAX_SEED, check_settings, setting

MODELS = ("CNN-1", "CCNN-1", "CNN-2", "CCNN-2")

LECTURE_TABLE = {
    "CNN-1": (3.37, 9.83, 18.84, 14.23, 45.96),
    "CCNN-1": (2.38, 7.45, 13.39, 10.40, 42.28),
    "CNN-2": (2.11, 5.64, 8.27, 10.17, 32.43),
    "CCNN-2": (1.38, 4.32, 6.98, 7.46, 30.23),
}
"""Error % on basic / rand / rot / img / img+rot (lecture Table 1 = paper Table 1, MNIST 28 x 28)."""


@dataclass(frozen=True)
class TableConfig:
    """What the table runs: data, seeds and the hyper-parameters shared by the four models."""

    variations: tuple[str, ...] = VARIATIONS
    seeds: tuple[int, ...] = setting((0, 1, 2, 3, 4), ge=0, le=MAX_SEED)
    image_size: int = setting(16, ge=1)
    mnist_dir: str | None = None
    mnist_samples: int = setting(3000, ge=1)
    patch_size: int = setting(5, ge=1)
    upper_patch_size: int = setting(3, ge=1)
    filters: int = setting(16, ge=1)
    kernel: str = setting("rbf", choices=KERNELS)
    n_features: int = setting(500, ge=1)
    gamma: float = setting(1.0, gt=0)
    radius: float = setting(300.0, gt=0)
    ccnn_epochs: int = setting(8, ge=1)
    learning_rate: float = setting(20.0, gt=0)
    cnn_epochs: int = setting(30, ge=1)
    max_train: int | None = setting(None, ge=1)

    @classmethod
    def quick(cls, **overrides) -> "TableConfig":
        """A setting for tests: two variations, one seed, small features, few epochs."""
        base = dict(variations=("basic", "rot"), seeds=(0,), n_features=64, ccnn_epochs=2, cnn_epochs=3,
                    max_train=300, filters=8)
        return cls(**{**base, **overrides})

    def validate(self) -> None:
        """Raise InputError before any work if the configuration cannot run."""
        check_settings(self)
        for variation in self.variations:
            if variation not in VARIATIONS:
                raise InputError(f"unknown variation {variation!r}; choose from {', '.join(VARIATIONS)}")
        if not self.seeds:
            raise InputError("at least one seed is needed")
        if self.mnist_dir:
            from sublevel.constructions.idx_files import mnist_files

            mnist_files(self.mnist_dir, "train")
        side = 28 if self.mnist_dir else self.image_size
        rows, _ = patch_grid(side, side, self.patch_size, 1)
        patch_grid(rows // 2, rows // 2, self.upper_patch_size, 1)

    def data(self, variation: str, seed: int) -> ImageSplit:
        if self.mnist_dir:
            return mnist_variation(self.mnist_dir, variation, seed, self.mnist_samples)
        return digits_variation(variation, seed, self.image_size)

    def model(self, name: str, seed: int):
        depth = int(name[-1])
        if name.startswith("CNN"):
            spec = CNNSpec((self.patch_size, self.upper_patch_size)[:depth], self.filters, epochs=self.cnn_epochs)
            return CNNClassifier(spec, seed)
        return CCNNClassifier(n_layers=depth, patch_size=self.patch_size, upper_patch_size=self.upper_patch_size,
                              kernel=self.kernel, n_features=self.n_features, gamma=self.gamma,
                              radius=self.radius, rank=self.filters, epochs=self.ccnn_epochs,
                              learning_rate=self.learning_rate, random_state=seed)


@dataclass
class TableResult:
    """Errors (%) per variation, seed and model, with the configuration and the run's cost."""

    config: TableConfig
    runs: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # variation -> seed -> model
    seconds: dict[str, float] = field(default_factory=dict)

    def errors(self, variation: str, model: str) -> list[float]:
        return [self.runs[variation][str(seed)][model] for seed in self.config.seeds]

    def cell(self, variation: str, model: str) -> tuple[float, float]:
        """(mean, spread) of the error in %; spread is the sample standard deviation (0 for 1 seed)."""
        values = np.asarray(self.errors(variation, model))
        return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0

    def to_json(self) -> dict:
        cells = {v: {m: dict(zip(("mean", "spread"), self.cell(v, m)), errors=self.errors(v, m))
                     for m in MODELS} for v in self.config.variations}
        return {"config": asdict(self.config), "error_percent": cells, "seconds": self.seconds,
                "lecture_table_1": {m: dict(zip(VARIATIONS, LECTURE_TABLE[m])) for m in MODELS}}

    def markdown(self) -> str:
        """Our errors next to the lecture's, one row per model."""
        variations = self.config.variations
        source = "real MNIST" if self.config.mnist_dir else f"sklearn digits at {self.config.image_size}x{self.config.image_size}"
        head = ["model"] + [f"{v} (ours)" for v in variations] + [f"{v} (lecture)" for v in variations]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for m in MODELS:
            ours = ["%.2f ± %.2f" % self.cell(v, m) for v in variations]
            theirs = ["%.2f" % LECTURE_TABLE[m][VARIATIONS.index(v)] for v in variations]
            lines.append("| " + " | ".join([m] + ours + theirs) + " |")
        note = (f"\nTest error %, mean ± sample std over seeds {list(self.config.seeds)}; data: {source}; "
                f"lecture: MNIST variations (28x28, 12k train / 50k test).\n")
        return "\n".join(lines) + "\n" + note


def _run_one(config: TableConfig, variation: str, seed: int) -> tuple[dict[str, float], dict[str, float]]:
    """Errors (%) of the four models on one (variation, seed), and seconds spent per fit."""
    data = config.data(variation, seed)
    x, y = data.x_train[:config.max_train], data.y_train[:config.max_train]
    errors, seconds = {}, {}
    for name in ("CNN-1", "CNN-2", "CCNN-2"):
        start = time.perf_counter()
        model = config.model(name, seed).fit(x, y)
        # CCNN-1 is CCNN-2 cut after its first layer (greedy training), so one fit gives both.
        staged = model.staged_predict(data.x_test) if name == "CCNN-2" else [model.predict(data.x_test)]
        for label, prediction in zip(("CCNN-1", "CCNN-2") if name == "CCNN-2" else (name,), staged):
            errors[label] = 100.0 * float(np.mean(prediction != data.y_test))
        seconds["CCNN-1+2" if name == "CCNN-2" else name] = time.perf_counter() - start
    return errors, seconds


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def run_table(config: TableConfig, progress: Callable[[str], None] | None = None,
              checkpoint: str | os.PathLike | None = None, workers: int = 1) -> TableResult:
    """Train and test the four models on every (variation, seed); returns all errors.

    Cells (variation, seed) are independent: with ``workers > 1`` they run on a local process
    pool, one torch thread each. With ``checkpoint``, every finished cell is saved there
    (atomically) and a rerun with the same configuration skips what the file already holds; the
    caller removes it once the results are saved. ``progress`` receives one line per model and cell.
    """
    from sublevel.constructions.storage import write_json

    config.validate()
    result = TableResult(config, {v: {} for v in config.variations})
    path = Path(checkpoint) if checkpoint else None
    if path is not None and path.is_file():
        saved = json.loads(path.read_text())
        if saved.get("config") == json.loads(json.dumps(asdict(config))):
            result.runs.update(saved["runs"])
            result.seconds = saved["seconds"]

    def record(variation, seed, errors, seconds, resumed=""):
        result.runs[variation][str(seed)] = errors
        for key, value in seconds.items():
            result.seconds[key] = result.seconds.get(key, 0.0) + value
        if progress is not None:
            for model in MODELS:
                progress(f"{variation} seed {seed} {model}: {errors[model]:.2f}%{resumed}")
        if path is not None and not resumed:
            write_json(path, {"config": asdict(config), "runs": result.runs, "seconds": result.seconds},
                       indent=None)

    todo = []
    for variation in config.variations:
        for seed in config.seeds:
            if str(seed) in result.runs[variation]:
                record(variation, seed, result.runs[variation][str(seed)], {}, " (resumed)")
            else:
                todo.append((variation, seed))
    if workers > 1 and len(todo) > 1:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(workers, len(todo)), context, initializer=_one_thread) as pool:
            futures = {pool.submit(_run_one, config, v, s): (v, s) for v, s in todo}
            for future in as_completed(futures):
                record(*futures[future], *future.result())
    else:
        for variation, seed in todo:
            record(variation, seed, *_run_one(config, variation, seed))
    return result


def write_outputs(result: TableResult, markdown_path: str | None, json_path: str | None) -> None:
    """Write the markdown and JSON files, each all at once or not at all."""
    from sublevel.constructions.storage import write_json, write_text

    if markdown_path:
        write_text(markdown_path, result.markdown())
    if json_path:
        write_json(json_path, result.to_json(), indent=2)
