"""Running a sweep: skip finished tasks, batch the rest by width, store each group as it ends.

The store is consulted first, so rerunning a finished sweep does no work and a sweep that
was killed resumes with the tasks that have no row (at most the groups that were in flight
are lost). Pending tasks are leased before they run (:meth:`ResultStore.claim`), so two sweeps
on one database split the work instead of both computing every task. Progress shows tasks done / total with an estimate of the time left (tqdm).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from tqdm import tqdm

from sublevel.checks.sweeps.executors import Executor
from sublevel.checks.sweeps.spec import SweepSpec
from sublevel.checks.sweeps.store import ResultStore, lease_owner
from sublevel.checks.sweeps.tasks import expand, group_tasks, run_group


@dataclass(frozen=True)
class SweepSummary:
    """How many tasks the spec has, how many were already stored, how many ran now, and how long."""

    total: int
    skipped: int
    ran: int
    seconds: float
    failed: int = 0
    errors: tuple[str, ...] = ()
    elsewhere: int = 0


LEASE_S = 3600.0
"""How long a sweep holds the tasks it claimed; a sweep that died frees them after this."""


def run_sweep(spec: SweepSpec, store: ResultStore, executor: Executor, device: str = "cpu",
              batch: int | None = None, progress: bool = True, retries: int = 2,
              shard: tuple[int, int] = (1, 1)) -> SweepSummary:
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
    retries : int
        A task group that raises is recorded in the store's failures (with its error) and run
        again, at most ``retries`` more times over this and later runs; tasks that have failed
        ``retries + 1`` times are given up (counted in the summary) until the spec changes.
    shard : (i, n)
        Run only shard i of n (:func:`~sublevel.checks.sweeps.tasks.expand`).
    """
    start = time.perf_counter()
    tasks = expand(spec, shard)
    keys = [t.key for t in tasks]  # each key hashes the task's whole configuration
    done = store.finished(keys)
    pending = [t for t, key in zip(tasks, keys) if key not in done]
    ran = len(pending)
    errors: list[str] = []
    owner, elsewhere = lease_owner(), 0
    with tqdm(total=len(tasks), initial=len(tasks) - len(pending), unit="task", desc=f"sweep {spec.name}",
              disable=not progress, dynamic_ncols=True) as bar:
        while pending:
            attempts = store.attempts(t.key for t in pending)
            runnable = [t for t in pending if attempts.get(t.key, 0) <= retries]
            held = store.claim([t.key for t in runnable], owner, LEASE_S)
            elsewhere += sum(t.key not in held for t in runnable)
            runnable = [t for t in runnable if t.key in held]
            if not runnable:
                break
            # Largest networks first, so that the pool does not end on one long group (LPT scheduling).
            groups = sorted(group_tasks(runnable, device, batch), key=lambda g: -len(g.tasks) * _num_params(g.tasks[0]))
            failed = []
            for group, outcome in zip_groups(groups, executor):
                if isinstance(outcome, GroupFailure):
                    store.record_failure(group.tasks, outcome.error)
                    errors.append(f"{group.tasks[0].family.label} w={group.tasks[0].width}: {outcome.error}")
                    failed += group.tasks
                else:
                    store.write(group.tasks, outcome)
                    bar.update(len(outcome))
                store.release([t.key for t in group.tasks], owner)  # after the row: no one recomputes it
            pending = failed
    given_up = sum(store.attempts(t.key for t in pending).get(t.key, 0) > retries for t in pending)
    return SweepSummary(len(tasks), len(tasks) - ran, ran - elsewhere, time.perf_counter() - start, given_up,
                        tuple(errors), elsewhere)


@dataclass(frozen=True)
class GroupFailure:
    """What a task group that raised sends back instead of results: its first key and the error."""

    key: str
    error: str


def run_group_safely(group) -> list | GroupFailure:
    """:func:`run_group`, with an exception (not a crash of the worker) returned as a failure."""
    try:
        return run_group(group)
    except Exception as err:  # noqa: BLE001 - any error of one configuration is that task's failure
        return GroupFailure(group.tasks[0].key, f"{type(err).__name__}: {err}")


def zip_groups(groups, executor: Executor):
    """(group, results or GroupFailure) pairs in completion order; both name their group by the
    key of its first task."""
    by_first_key = {g.tasks[0].key: g for g in groups}
    for outcome in executor.map_unordered(run_group_safely, groups):
        key = outcome.key if isinstance(outcome, GroupFailure) else outcome[0].key
        yield by_first_key[key], outcome


def _num_params(task) -> int:
    widths = task.widths
    return sum(a * b for a, b in zip(widths[:-1], widths[1:]))
