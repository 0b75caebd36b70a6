"""Running a sweep: skip finished tasks, batch the rest by width, store each group as it ends.

The store is consulted first, so rerunning a finished sweep does no work and a sweep that
was killed resumes with the tasks that have no row (at most the groups that were in flight
are lost). Progress shows tasks done / total with an estimate of the time left (tqdm).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from tqdm import tqdm

from sublevel.checks.sweeps.executors import Executor
from sublevel.checks.sweeps.spec import SweepSpec
from sublevel.checks.sweeps.store import ResultStore
from sublevel.checks.sweeps.tasks import expand, group_tasks, run_group


@dataclass(frozen=True)
class SweepSummary:
    """How many tasks the spec has, how many were already stored, how many ran now, and how long."""

    total: int
    skipped: int
    ran: int
    seconds: float


def run_sweep(spec: SweepSpec, store: ResultStore, executor: Executor, device: str = "cpu",
              batch: int | None = None, progress: bool = True) -> SweepSummary:
    """Run every task of ``spec`` that ``store`` has no row for.

    Parameters
    ----------
    spec : SweepSpec
    store : ResultStore
    executor : Executor
        Where task groups run (:mod:`sublevel.checks.sweeps.executors`).
    device : str
        Torch device of the batched descent ("cpu" or "cuda").
    batch : int, optional
        At most this many seeds per batched group (default: all seeds of a width).
    progress : bool
        Show a tqdm bar on stderr.
    """
    start = time.perf_counter()
    tasks = expand(spec)
    keys = [t.key for t in tasks]  # each key hashes the task's whole configuration
    done = store.finished(keys)
    pending = [t for t, key in zip(tasks, keys) if key not in done]
    # Largest networks first, so that the pool does not end on one long group (LPT scheduling).
    groups = sorted(group_tasks(pending, device, batch), key=lambda g: -len(g.tasks) * _num_params(g.tasks[0]))
    with tqdm(total=len(tasks), initial=len(tasks) - len(pending), unit="task", desc=f"sweep {spec.name}",
              disable=not progress, dynamic_ncols=True) as bar:
        for group, results in zip_groups(groups, executor):
            store.write(group.tasks, results)
            bar.update(len(results))
    return SweepSummary(len(tasks), len(tasks) - len(pending), len(pending), time.perf_counter() - start)


def zip_groups(groups, executor: Executor):
    """(group, results) pairs in completion order; results name their tasks by key."""
    by_first_key = {g.tasks[0].key: g for g in groups}
    for results in executor.map_unordered(run_group, groups):
        yield by_first_key[results[0].key], results


def _num_params(task) -> int:
    widths = task.widths
    return sum(a * b for a, b in zip(widths[:-1], widths[1:]))
