"""Sweep tasks: one (family, width, seed) count, keyed by a hash of its whole configuration.

A :class:`Task` fixes everything its result depends on: the data family with its parameters
and seed, the architecture (n_0, w, ..., w, n_L), kappa, the levels, the counting method,
the sampling budget, the descent dtype, the package version and a fingerprint of the code
(:func:`code_fingerprint`). Its ``key`` is the SHA-256 of that configuration as canonical JSON,
so a results store can tell finished work from new work, and changing any setting, upgrading
the package or editing its code makes new tasks instead of reusing stale rows. The device is
not part of the key: it changes rounding, not the method.

Why a hash of the sources and not a hand-bumped result-format number: a number is only as good
as the discipline of bumping it, and a certifier fix that forgets the bump silently mixes old
and new results. The hash cannot forget; its cost is that a cosmetic edit (a comment) also
makes rows stale and they are recomputed. Old rows stay in the store, marked stale
(:attr:`~sublevel.checks.sweeps.store.StoredRow.stale`), and ``sublevel plot`` draws current rows
only.

:func:`run_group` runs tasks of one family and width together (K seeds, hence K data sets
of one shape): the descent of all K problems is one batched computation
(:mod:`sublevel.checks.sweeps.descent`) on the requested device, then each problem's certified merge
forest and brackets are computed on the CPU in float64 (:func:`sublevel.checks.counting.datasets.count_dataset`).
"""
from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import torch

from sublevel.checks.counting.sampling import SampleSettings

RESULT_FORMAT = 2
"""Part of every task key: results stored under format 1 (where ``upper`` meant the sampled
count) are never read back as results of format 2 (``lower``, ``sampled``, ``upper``)."""
from sublevel.checks.sweeps.spec import FamilySpec, SweepSpec
from sublevel.theory.errors import InputError


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 (first 16 hex digits) of every .py file of the installed package, by path.

    Covers ``sublevel`` and its subpackages wherever setuptools mapped them (``__path__``), so
    an editable install and a wheel of the same sources give the same fingerprint.
    """
    import sublevel
    import sublevel.checks
    import sublevel.constructions
    import sublevel.figures
    import sublevel.theory

    digest = hashlib.sha256()
    for package in (sublevel, sublevel.theory, sublevel.constructions, sublevel.checks, sublevel.figures):
        for root in map(Path, package.__path__):
            for path in sorted(root.rglob("*.py")):
                relative = path.relative_to(root)
                if package is sublevel and relative.parts[0] in ("theory", "constructions", "checks", "figures"):
                    continue  # (a source checkout where the subpackages sit inside sublevel/)
                digest.update(f"{package.__name__}/{relative.as_posix()}\0".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@functools.cache
def package_version() -> str:
    """Version of the installed ``sublevel`` distribution (part of every task key; looked up
    once per process)."""
    try:
        return metadata.version("sublevel")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class Task:
    """One component count: ``family``'s data at ``seed`` under hidden width ``width``."""

    family: FamilySpec
    width: int
    seed: int
    method: str
    dtype: str
    sampling: SampleSettings
    neighbours: int

    @property
    def widths(self) -> tuple[int, ...]:
        """(n_0, w, ..., w, n_L)."""
        inputs, outputs = self.family.io
        return (inputs,) + (self.width,) * self.family.hidden_layers + (outputs,)

    def data_params(self) -> dict[str, Any]:
        """Parameters for the data family, with this task's seed when the family takes one."""
        from sublevel.constructions.registry import get_family

        params = dict(self.family.params)
        if any(p.name == "seed" for p in get_family(self.family.data).params):
            params["seed"] = self.seed
        return params

    def config(self) -> dict[str, Any]:
        """Everything the result depends on, as JSON-ready data."""
        sampling = asdict(self.sampling)
        sampling["seed"] = self.seed
        return {
            "family": self.family.label,
            "data": {"family": self.family.data, "params": self.data_params()},
            "architecture": {"widths": list(self.widths), "activation": self.family.activation,
                             "bias": self.family.bias},
            "width": self.width,
            "hidden_layers": self.family.hidden_layers,
            "kappa": self.family.kappa,
            "levels": list(self.family.levels),
            "relative_levels": self.family.relative_levels,
            "seed": self.seed,
            "method": self.method,
            "dtype": self.dtype,
            "sampling": sampling,
            "neighbours": self.neighbours,
            "version": package_version(),
            "code": code_fingerprint(),
            "result_format": RESULT_FORMAT,
        }

    @property
    def key(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`config`."""
        text = json.dumps(self.config(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def expand(spec: SweepSpec, shard: tuple[int, int] = (1, 1)) -> list[Task]:
    """All tasks of a spec, in order family, width, seed; with ``shard = (i, n)`` only those
    whose key, read as a number, is i - 1 modulo n: the n shards cover the spec exactly once,
    whatever order they run in (a SLURM job array of n tasks, one shard each)."""
    index, count = shard
    if not (isinstance(index, int) and isinstance(count, int) and 1 <= index <= count):
        raise InputError(f"a shard is I/N with 1 <= I <= N, got {index}/{count}")
    tasks = [Task(family, width, seed, spec.method, spec.dtype, spec.sampling, spec.neighbours)
             for family in spec.families for width in family.widths for seed in spec.seeds]
    return tasks if count == 1 else [t for t in tasks if int(t.key, 16) % count == index - 1]


@dataclass(frozen=True)
class TaskResult:
    """What a task observed: one bracket per level, and where and how long it ran.

    ``levels`` are absolute (spec levels times L(0) for relative levels), in spec order.
    ``lower[i] <= N_lambda`` is rigorous; ``sampled[i]`` counts components of the certified
    graph over sampled points (an estimate of N_lambda that misses unsampled components);
    ``upper[i]`` is a rigorous upper bound or None; ``status[i]`` is ``exact``, ``bounded``,
    ``lower bound`` or ``estimate`` (:class:`sublevel.checks.counting.components.Bracket`). ``best_loss`` is the
    lowest certified upper bound of a sampled point's loss (an upper bound on the global minimum).
    """

    key: str
    levels: tuple[float, ...]
    lower: tuple[int, ...]
    sampled: tuple[int, ...]
    upper: tuple[int | None, ...]
    status: tuple[str, ...]
    points: tuple[int, ...]
    best_loss: float | None
    certified_edges: int
    candidate_edges: int
    device: str
    seconds: float

    def outcome(self) -> dict[str, Any]:
        """The result proper (without device and timing): equal for equal configurations."""
        return {"levels": list(self.levels), "lower": list(self.lower), "sampled": list(self.sampled),
                "upper": list(self.upper),
                "status": list(self.status), "points": list(self.points), "best_loss": self.best_loss,
                "certified_edges": self.certified_edges, "candidate_edges": self.candidate_edges}


@dataclass(frozen=True)
class TaskGroup:
    """Tasks of one family and width (different seeds) run as one batched computation."""

    tasks: tuple[Task, ...]
    device: str = "cpu"


def group_tasks(tasks: Sequence[Task], device: str, batch: int | None = None) -> list[TaskGroup]:
    """Consecutive tasks of one family and width, at most ``batch`` per group."""
    groups: list[list[Task]] = []
    for task in tasks:
        last = groups[-1] if groups else None
        if last and last[0].family == task.family and last[0].width == task.width and (batch is None or len(last) < batch):
            last.append(task)
        else:
            groups.append([task])
    return [TaskGroup(tuple(g), device) for g in groups]


CPU_THREADS = 1
"""Intra-op threads per task on the CPU: parallelism comes from the executor (one task group
per core), and a fixed count keeps the rounding, hence the rows, identical on every executor."""


def level_values(family: FamilySpec, dataset) -> list[float]:
    """The family's levels for ``dataset``: as given, or times L(0) = (1/N) sum_mu ||y_mu||^2
    (the loss of the zero network without bias) when ``relative_levels`` is set."""
    scale = float((dataset.y ** 2).sum(axis=1).mean()) if family.relative_levels else 1.0
    return [level * scale for level in family.levels]


def run_group(group: TaskGroup) -> list[TaskResult]:
    """Run a group: batched descent on ``group.device``, then per-task certified counting.

    Returns one :class:`TaskResult` per task, in order. Deterministic: a task's result does
    not depend on the device's other tasks in the batch (on the CPU, bit for bit).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(CPU_THREADS)
    try:
        return _run_group(group)
    finally:
        torch.set_num_threads(threads)


def _run_group(group: TaskGroup) -> list[TaskResult]:
    from sublevel.checks.counting.datasets import count_dataset, named_points
    from sublevel.checks.sweeps.descent import sample_many
    from sublevel.constructions.registry import construct
    from sublevel.theory.batched_problems import BatchedProblems
    from sublevel.theory.networks import Architecture

    start = time.perf_counter()
    first = group.tasks[0]
    family = first.family
    arch = Architecture(first.widths, family.activation, family.bias)
    datasets = [construct(family.data, **task.data_params()) for task in group.tasks]
    dtype = getattr(torch, first.dtype)
    batch = BatchedProblems.stack([d.problem(arch, family.kappa, dtype=dtype, device=group.device) for d in datasets])
    levels = [level_values(family, d) for d in datasets]
    samples = sample_many(batch, [max(v) for v in levels], first.sampling, [t.seed for t in group.tasks],
                          [named_points(d, arch) for d in datasets])
    descent_seconds = (time.perf_counter() - start) / len(group.tasks)
    results = []
    for task, dataset, sample, values in zip(group.tasks, datasets, samples, levels):
        begin = time.perf_counter()
        count = count_dataset(dataset, arch, values, family.kappa, first.sampling, first.neighbours, sample=sample)
        brackets = count.brackets
        losses = count.forest.losses
        results.append(TaskResult(
            key=task.key,
            levels=tuple(b.level for b in brackets),
            lower=tuple(b.lower for b in brackets),
            sampled=tuple(b.sampled for b in brackets),
            upper=tuple(b.upper for b in brackets),
            status=tuple(b.status for b in brackets),
            points=tuple(b.points for b in brackets),
            best_loss=float(losses.min()) if len(losses) else None,
            certified_edges=count.certified_edges,
            candidate_edges=count.candidate_edges,
            device=str(group.device),
            seconds=descent_seconds + time.perf_counter() - begin,
        ))
    return results
