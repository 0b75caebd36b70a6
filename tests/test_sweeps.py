"""Width sweeps: spec errors, batched equivalence, resume after kill -9, Dask = local pool, plot."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from sublevel.cli import main
from sublevel.checks.counting.datasets import count_dataset
from sublevel.checks.counting.sampling import SampleSettings, sample_sublevel
from sublevel.checks.sweeps.descent import sample_many
from sublevel.checks.sweeps.spec import DEFAULT_SPEC, load_spec
from sublevel.checks.sweeps.store import ResultStore
from sublevel.checks.sweeps.tasks import TaskGroup, expand, level_values, run_group
from sublevel.constructions import construct
from sublevel.theory.batched_problems import BatchedProblems
from sublevel.theory.networks import Architecture

TINY = """
[sweep]
name = "tiny"
seeds = [0, 1, 2]

[sampling]
starts = 8
steps = 30
max_points = 200

[[family]]
label = "linear"
data = "scalar-linear"
activation = "linear"
widths = [1, 2, 3, 4]
levels = [0.5, 1.5]

[[family]]
label = "relu"
data = "relu-permutation"
params = { samples = 16 }
activation = "relu"
widths = [2]
levels = [0.05, 0.5]
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sweep") / "tiny.toml"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="module")
def reference(tiny) -> list[tuple]:
    """Rows of one uninterrupted run on the local pool (2 workers, all seeds batched)."""
    db = tiny.with_name("reference.db")
    assert main(["sweep", str(tiny), "--db", str(db), "--workers", "2", "--quiet"]) == 0
    return rows_of(db)


def rows_of(db: Path) -> list[tuple]:
    with ResultStore(db, readonly=True) as store:
        return [(r.key, r.family, r.width, r.seed, r.outcome) for r in store.rows()]


# --------------------------------------------------------------------------- specs
@pytest.mark.parametrize("text, message", [
    (TINY.replace('data = "scalar-linear"', 'data = "no-such-family"'), "unknown family 'no-such-family'"),
    (TINY.replace("widths = [1, 2, 3, 4]", "widths = []"), "widths must be a non-empty list"),
    (TINY.replace("widths = [1, 2, 3, 4]", "widths = [1, 0]"), "widths must be positive, got 0"),
    (TINY.replace("widths = [1, 2, 3, 4]", "widths = [1, -3]"), "widths must be positive, got -3"),
    (TINY.replace("[sampling]", "[sampling"), "not valid TOML"),
    (TINY.replace("starts = 8", "startz = 8"), "unknown key(s) startz"),
    (TINY.replace("params = { samples = 16 }", "params = { samples = 0 }"), "samples must be in [1"),
])
def test_spec_errors_are_one_line_exit_2(tmp_path, capsys, text, message):
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    db = tmp_path / "bad.db"
    assert main(["sweep", str(spec), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and str(spec) in err
    assert not db.exists()


def test_default_spec_is_valid():
    spec = load_spec(DEFAULT_SPEC)
    assert {"linear", "relu-permutation", "quadratic"} <= {f.label for f in spec.families}
    assert len({t.key for t in expand(spec)}) == len(expand(spec))


def test_key_changes_with_any_setting(tiny):
    spec = load_spec(tiny)
    task = expand(spec)[0]
    other = dataclasses.replace(task, sampling=dataclasses.replace(task.sampling, steps=31))
    assert task.key == expand(load_spec(tiny))[0].key != other.key


def test_relative_levels_scale_with_the_zero_network_loss(tiny):
    family = dataclasses.replace(load_spec(tiny).families[1], relative_levels=True)
    dataset = construct("relu-permutation", samples=16, seed=3)
    scale = float((dataset.y ** 2).sum(axis=1).mean())
    assert level_values(family, dataset) == [level * scale for level in family.levels]
    assert level_values(dataclasses.replace(family, relative_levels=False), dataset) == list(family.levels)


# --------------------------------------------------------------- batched evaluation
def test_batched_loss_matches_one_problem_at_a_time():
    arch = Architecture((3, 5, 4, 2), "relu", True)
    gen = torch.Generator().manual_seed(0)
    problems = [construct("gaussian", inputs=3, outputs=2, samples=7, seed=s).problem(arch, 0.1) for s in range(4)]
    batch = BatchedProblems.stack(problems)
    theta = torch.randn(4, 6, arch.num_params, dtype=torch.float64, generator=gen, requires_grad=True)
    losses = batch.loss(theta)
    expected = torch.stack([p.loss(theta[k]) for k, p in enumerate(problems)])
    torch.testing.assert_close(losses, expected, rtol=1e-13, atol=0)
    (grad,) = torch.autograd.grad(losses.sum(), theta)
    (grad_expected,) = torch.autograd.grad(expected.sum(), theta)
    torch.testing.assert_close(grad, grad_expected, rtol=1e-12, atol=1e-14)
    outputs = batch.forward(theta.detach())
    torch.testing.assert_close(outputs[2], arch.forward(theta.detach()[2], problems[2].x), rtol=1e-13, atol=1e-15)


def test_batched_results_do_not_depend_on_the_other_problems_in_the_batch():
    """Bit for bit: what makes rows independent of grouping, executor and resume points."""
    arch = Architecture((2, 3, 1), "relu", False)
    problems = [construct("relu-permutation", samples=16, seed=s).problem(arch) for s in range(3)]
    theta = arch.init(18, generator=torch.Generator().manual_seed(0)).reshape(3, 6, -1)
    batch = BatchedProblems.stack(problems)
    assert torch.equal(BatchedProblems.stack(problems[1:2]).loss(theta[1:2]), batch.loss(theta)[1:2])
    settings = SampleSettings(starts=6, steps=25, max_points=40)
    many = sample_many(batch, [0.5, 0.4, 0.5], settings, [4, 5, 6])
    (alone,) = sample_many(BatchedProblems.stack(problems[1:2]), [0.4], settings, [5])
    assert torch.equal(alone.points, many[1].points) and torch.equal(alone.losses, many[1].losses)


def test_batched_descent_matches_one_problem_sampler():
    arch = Architecture((2, 3, 1), "relu", False)
    problems = [construct("relu-permutation", samples=16, seed=s).problem(arch) for s in range(3)]
    settings = SampleSettings(starts=6, steps=25, max_points=40)
    many = sample_many(BatchedProblems.stack(problems), [0.5, 0.4, 0.5], settings, [4, 5, 6])
    for k, problem in enumerate(problems):
        one = sample_sublevel(problem, [0.5, 0.4, 0.5][k], dataclasses.replace(settings, seed=4 + k))
        assert torch.equal(one.trajectory, many[k].trajectory)
        torch.testing.assert_close(one.points, many[k].points, rtol=1e-10, atol=1e-12)


def test_sweep_task_equals_sublevel_count(tiny):
    task = [t for t in expand(load_spec(tiny)) if t.family.label == "relu"][1]
    (result,) = run_group(TaskGroup((task,)))
    dataset = construct("relu-permutation", samples=16, seed=task.seed)
    arch = Architecture(task.widths, "relu", False)
    count = count_dataset(dataset, arch, task.family.levels, 0.0, dataclasses.replace(task.sampling, seed=task.seed),
                          task.neighbours)
    assert list(result.lower) == [b.lower for b in count.brackets]
    assert list(result.sampled) == [b.sampled for b in count.brackets]
    assert list(result.upper) == [b.upper for b in count.brackets]
    assert result.lower[0] == 2  # below rho*, theta and theta_sigma are certified apart


# ------------------------------------------------------------------ store and runs
def test_finished_sweep_does_no_work(tiny, reference, capsys):
    db = tiny.with_name("reference.db")
    assert main(["sweep", str(tiny), "--db", str(db), "--workers", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"{len(reference)} already in" in out and " 0 run now" in out
    assert rows_of(db) == reference


def test_resume_after_kill_gives_the_same_rows(tiny, reference):
    db = tiny.with_name("killed.db")
    command = [sys.executable, "-m", "sublevel", "sweep", str(tiny), "--db", str(db), "--workers", "1",
               "--batch", "1", "--quiet"]
    proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _count(db) < 2:
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    partial = _count(db)
    assert 2 <= partial < len(reference), "the kill should land mid-sweep"
    assert main(["sweep", str(tiny), "--db", str(db), "--workers", "2", "--quiet"]) == 0
    assert rows_of(db) == reference


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_dask_cluster_gives_the_same_rows_as_the_local_pool(tiny, reference):
    distributed = pytest.importorskip("dask.distributed")
    db = tiny.with_name("dask.db")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        assert main(["sweep", str(tiny), "--db", str(db), "--scheduler", cluster.scheduler_address, "--quiet"]) == 0
        # the way a cluster started inside a SLURM allocation is joined: its scheduler file
        scheduler_file = tiny.with_name("scheduler.json")
        scheduler_file.write_text(json.dumps({"address": cluster.scheduler_address}))
        by_file = tiny.with_name("dask-file.db")
        assert main(["sweep", str(tiny), "--db", str(by_file), "--scheduler-file", str(scheduler_file),
                     "--quiet"]) == 0
    assert rows_of(db) == reference
    assert rows_of(by_file) == reference


def test_store_commits_are_durable(tmp_path):
    """WAL journal with synchronous = FULL: a commit is on disk when it returns."""
    with ResultStore(tmp_path / "d.db") as store:
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_two_writers_on_one_database(tmp_path, tiny, reference):
    """Concurrent writers (separate connections) never corrupt the store or duplicate a row."""
    source = ResultStore(tiny.with_name("reference.db"), readonly=True)
    tasks = {t.key: t for t in expand(load_spec(tiny))}
    rows = source.rows()
    source.close()
    from sublevel.checks.sweeps.tasks import TaskResult

    results = [TaskResult(r.key, tuple(r.outcome["levels"]), tuple(r.outcome["lower"]),
                          tuple(r.outcome["sampled"]), tuple(r.outcome["upper"]),
                          tuple(r.outcome["status"]), tuple(r.outcome["points"]), r.outcome["best_loss"],
                          r.outcome["certified_edges"], r.outcome["candidate_edges"], r.device, r.seconds)
               for r in rows]
    db = tmp_path / "shared.db"

    def writer():
        with ResultStore(db) as store:
            for result in results:
                store.write([tasks[result.key]], [result])

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert rows_of(db) == reference


# ------------------------------------------------------------------------- plot
def test_plot_writes_png_and_pdf(tiny, reference, tmp_path, capsys):
    stem = tmp_path / "figures" / "tiny"
    assert main(["plot", str(tiny.with_name("reference.db")), "--out", str(stem)]) == 0
    assert stem.with_suffix(".png").stat().st_size > 0 and stem.with_suffix(".pdf").stat().st_size > 0
    out = capsys.readouterr().out
    assert "proven" in out and "an estimate" in out


def test_plot_writes_beside_the_database_by_default(tiny, reference, tmp_path, capsys):
    """Plotting your own sweep never overwrites the package's figures/width_sweep.*."""
    import shutil

    db = tmp_path / "mine.db"
    shutil.copy(tiny.with_name("reference.db"), db)
    assert main(["plot", str(db)]) == 0
    assert (tmp_path / "mine.png").stat().st_size > 0 and (tmp_path / "mine.pdf").stat().st_size > 0


def test_plot_rejects_a_file_that_is_not_a_sweep(tmp_path, capsys):
    bogus = tmp_path / "bogus.db"
    bogus.write_text("not a database")
    assert main(["plot", str(bogus)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_cuda_without_cuda_is_a_clear_error(tiny, tmp_path, capsys):
    assert main(["sweep", str(tiny), "--db", str(tmp_path / "x.db"), "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


@pytest.mark.slow
def test_gpu_check_runs_without_cuda():
    """bench/gpu_check.py takes the same code path on the CPU when CUDA is absent."""
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, str(root / "bench" / "gpu_check.py"), "--quick"], cwd=root,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "FAIL" not in done.stdout and "large-matmul" in done.stdout


def test_rows_of_other_code_are_kept_marked_stale_and_recomputed(tiny, reference, tmp_path, monkeypatch, capsys):
    """Code changes make every row stale: the next sweep recomputes all tasks, keeps the old rows,
    and `plot` draws the current rows only (or the stale ones with --stale), never a mix."""
    import shutil

    from sublevel.checks.sweeps import tasks

    db = tmp_path / "old.db"
    shutil.copy(tiny.with_name("reference.db"), db)
    with ResultStore(db, readonly=True) as store:
        before = store.rows()
    assert before and not any(row.stale for row in before)
    monkeypatch.setattr(tasks, "code_fingerprint", lambda: "0123456789abcdef")  # "the code changed"
    with ResultStore(db, readonly=True) as store:
        assert all(row.stale for row in store.rows())
    assert main(["sweep", str(tiny), "--db", str(db), "--workers", "1", "--quiet"]) == 0
    with ResultStore(db, readonly=True) as store:
        after = store.rows()
    assert len(after) == 2 * len(before) and sum(not row.stale for row in after) == len(before)
    capsys.readouterr()
    assert main(["plot", str(db), "--out", str(tmp_path / "current")]) == 0
    assert f"{len(before)} stale rows left out" in capsys.readouterr().out
    assert main(["plot", str(db), "--stale", "--out", str(tmp_path / "stale")]) == 0


LONG = TINY.replace("steps = 30", "steps = 20000").replace("starts = 8", "starts = 64")


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc to find the workers")
@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGTERM", "SIGINT", "SIGINT to another thread"])
def test_a_killed_or_interrupted_client_leaves_no_worker(tmp_path, signal_name):
    """kill -9, kill and Ctrl-C (to the process, or to one of its threads) of `sublevel sweep`
    while its two workers compute: the client is gone (SIGINT: exit status 130 within 3 s; it
    waited for the running tasks before, 11.6 s; it takes about 0.1 s) and no worker survives
    it."""
    import signal
    import subprocess
    import sys
    import time

    spec = tmp_path / "long.toml"
    spec.write_text(LONG)
    # A process started with SIGINT ignored keeps it ignored (POSIX; Python then installs no
    # KeyboardInterrupt handler), so the child gets the default disposition whatever the test
    # runner's is.
    client = subprocess.Popen([sys.executable, "-m", "sublevel", "sweep", str(spec), "--db", str(tmp_path / "l.db"),
                               "--workers", "2", "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            children = open(f"/proc/{client.pid}/task/{client.pid}/children").read().split()
            workers = [int(pid) for pid in children]
        assert len(workers) >= 2, "the sweep did not start its workers"
        time.sleep(1.0)  # the workers are inside their first tasks
        if signal_name == "SIGINT to another thread":
            # Linux may hand a process's Ctrl-C to any thread; the client must still stop at
            # once (it waited for a task to finish, 4.3 s here, before its wait had a timeout)
            others = [int(t) for t in os.listdir(f"/proc/{client.pid}/task") if int(t) != client.pid]
            os.kill(others[0], signal.SIGINT)
        else:
            os.kill(client.pid, getattr(signal, signal_name))
        started = time.monotonic()
        _, err = client.communicate(timeout=30)
        seconds = time.monotonic() - started
    finally:
        if client.poll() is None:
            os.kill(client.pid, signal.SIGKILL)
        client.wait()
    if signal_name.startswith("SIGINT"):
        assert client.returncode == 130 and "interrupted" in err, (client.returncode, err)
        assert seconds < 3, f"Ctrl-C took {seconds:.1f} s"  # 0.1 s measured; 4.3 s before the fix
    deadline = time.monotonic() + 10
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = [pid for pid in workers if _alive(pid)]
    for pid in survivors:  # do not leave them behind even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not survivors


def test_a_task_that_raises_is_recorded_retried_and_given_up(tiny, tmp_path, monkeypatch, capsys):
    """A group that raises gets a failure row per task per attempt, is retried --retries times,
    then given up: the sweep says how many, exits 1, and every other task has its row."""
    from sublevel.checks.sweeps import tasks as task_module

    real = task_module.run_group

    def flaky(group):
        if group.tasks[0].family.label == "relu":
            raise FloatingPointError("the certifier met a NaN")
        return real(group)

    monkeypatch.setattr(task_module, "run_group", flaky)
    import sublevel.checks.sweeps.runner as runner_module
    monkeypatch.setattr(runner_module, "run_group", flaky)
    db = tmp_path / "flaky.db"
    code = main(["sweep", str(tiny), "--db", str(db), "--workers", "1", "--quiet", "--retries", "1"])
    out = capsys.readouterr().out
    assert code == 1 and "3 tasks failed 2 times and were given up" in out and "FloatingPointError" in out
    with ResultStore(db, readonly=True) as store:
        assert {row.family for row in store.rows()} == {"linear"} and len(store.rows()) == 12
        failures = store.failures()
    assert len(failures) == 6 and all("the certifier met a NaN" in f[4] for f in failures)
    capsys.readouterr()
    assert main(["sweep", str(tiny), "--db", str(db), "--workers", "1", "--quiet", "--retries", "1"]) == 1
    assert len(ResultStore(db, readonly=True).failures()) == 6  # given up: not run again


def test_shards_cover_the_spec_once_and_merge_to_the_unsharded_rows(tiny, reference, tmp_path, capsys):
    """Three shards (a job array) give disjoint task sets whose union is the spec; merged, the
    rows equal the unsharded run's row for row; merging an overlapping shard again keeps one
    row per key; a disagreeing row stops the merge with nothing written."""
    import sqlite3

    from sublevel.checks.sweeps.spec import load_spec
    from sublevel.checks.sweeps.tasks import expand

    spec = load_spec(tiny)
    keys = [{t.key for t in expand(spec, (i, 3))} for i in (1, 2, 3)]
    assert sum(map(len, keys)) == len(expand(spec)) and set().union(*keys) == {t.key for t in expand(spec)}
    shards = []
    for i in (1, 2, 3):
        shards.append(tmp_path / f"shard{i}.db")
        assert main(["sweep", str(tiny), "--db", str(shards[-1]), "--workers", "1", "--quiet", "--shard",
                     f"{i}/3"]) == 0
    merged = tmp_path / "merged.db"
    assert main(["merge", str(merged), *map(str, shards)]) == 0
    assert rows_of(merged) == reference
    assert main(["merge", str(merged), str(shards[0])]) == 0  # overlapping: one row per key
    assert rows_of(merged) == reference
    with sqlite3.connect(shards[1]) as conn:
        conn.execute("UPDATE results SET outcome = '{\"forged\": 1}' WHERE rowid = 1")
    capsys.readouterr()
    assert main(["merge", str(merged), str(shards[1])]) == 2
    assert "another outcome" in capsys.readouterr().err
    assert rows_of(merged) == reference
    assert main(["sweep", str(tiny), "--db", str(tmp_path / "x.db"), "--shard", "4/3"]) == 2


def _open_store_after(path: str, barrier, results) -> None:
    barrier.wait()
    try:
        with ResultStore(path) as store:
            store.rows()
        results.put("ok")
    except Exception as err:  # reported to the test, which shows it
        results.put(repr(err))


def test_processes_creating_one_database_at_once_all_open_it(tmp_path):
    """Six processes that create the same new database at the same instant all open it. SQLite
    answers "database is locked" at once (no busy wait) to the WAL switch of a new file; before
    the store retried it, 7 of 180 such openings failed (and one CI run of the test below)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    failures = []
    for attempt in range(8):
        path = str(tmp_path / f"new{attempt}.db")
        barrier, results = context.Barrier(6), context.Queue()
        processes = [context.Process(target=_open_store_after, args=(path, barrier, results)) for _ in range(6)]
        for process in processes:
            process.start()
        outcomes = [results.get(timeout=60) for _ in processes]
        for process in processes:
            process.join(timeout=60)
        failures += [outcome for outcome in outcomes if outcome != "ok"]
    assert failures == []


def test_two_sweeps_on_one_database_split_the_work(tiny, reference, tmp_path):
    """Leases: two sweeps started together on one database compute every task once between
    them (the counts of tasks each ran add up to the spec), and the rows equal one sweep's."""
    import re
    import subprocess
    import sys

    db = tmp_path / "shared.db"
    command = [sys.executable, "-m", "sublevel", "sweep", str(tiny), "--db", str(db), "--workers", "1", "--quiet"]
    sweeps = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [sweep.communicate(timeout=600)[0] for sweep in sweeps]
    assert all(sweep.returncode == 0 for sweep in sweeps), outputs
    ran = [int(re.search(r"(\d+) run now", out).group(1)) for out in outputs]
    assert sum(ran) == len(reference), outputs
    assert rows_of(db) == reference


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc to find the workers")
def test_a_killed_worker_costs_only_the_work_in_flight(tmp_path):
    """SIGKILL one pool worker mid-sweep: the pool is restarted, the unfinished groups run again,
    the sweep exits 0 and its rows equal those of an uninterrupted sweep."""
    import signal
    import subprocess
    import sys
    import time

    spec = tmp_path / "medium.toml"
    spec.write_text(TINY.replace("steps = 30", "steps = 6000"))
    assert main(["sweep", str(spec), "--db", str(tmp_path / "ref.db"), "--workers", "1", "--quiet"]) == 0
    client = subprocess.Popen([sys.executable, "-m", "sublevel", "sweep", str(spec), "--db", str(tmp_path / "k.db"),
                               "--workers", "2", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers: list[int] = []
    deadline = time.monotonic() + 60
    while len(workers) < 2 and time.monotonic() < deadline and client.poll() is None:
        time.sleep(0.1)
        workers = [int(pid) for pid in open(f"/proc/{client.pid}/task/{client.pid}/children").read().split()]
    assert len(workers) >= 2, "the sweep did not start its workers"
    time.sleep(1.0)
    os.kill(workers[0], signal.SIGKILL)
    out, err = client.communicate(timeout=600)
    assert client.returncode == 0, err
    assert rows_of(tmp_path / "k.db") == rows_of(tmp_path / "ref.db")


def test_a_killed_dask_worker_costs_only_the_work_in_flight(tmp_path):
    """SIGKILL one of two Dask worker processes mid-sweep: the scheduler hands its tasks to the
    other worker (or to the restarted one), the sweep exits 0 and its rows equal those of an
    uninterrupted sweep on the local pool."""
    import signal
    import subprocess
    import sys
    import time

    distributed = pytest.importorskip("dask.distributed")
    spec = tmp_path / "medium.toml"
    spec.write_text(TINY.replace("steps = 30", "steps = 6000"))
    assert main(["sweep", str(spec), "--db", str(tmp_path / "ref.db"), "--workers", "1", "--quiet"]) == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, protocol="tcp",
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        pids = client.run(os.getpid)  # worker address -> process id
        sweep = subprocess.Popen([sys.executable, "-m", "sublevel", "sweep", str(spec), "--db", str(tmp_path / "k.db"),
                                  "--scheduler", cluster.scheduler_address, "--quiet"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and sweep.poll() is None and not any(
                client.processing().values()):
            time.sleep(0.1)
        time.sleep(1.0)  # both workers are inside a task
        busy = [address for address, tasks in client.processing().items() if tasks]
        assert sweep.poll() is None and busy, "the sweep ended before a busy worker could be killed"
        os.kill(pids[busy[0]], signal.SIGKILL)
        out, err = sweep.communicate(timeout=600)
    assert sweep.returncode == 0, err
    assert rows_of(tmp_path / "k.db") == rows_of(tmp_path / "ref.db")
