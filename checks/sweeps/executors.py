"""Where sweep task groups run: a local process pool, or an existing Dask cluster.

An executor is anything with ``map_unordered(fn, items)`` yielding ``fn(item)`` as each
finishes, and ``close()`` (the emcee pattern: parallelism is injected, the sweep does not
know where its work runs). Both executors here send results back to the caller, which alone
writes the store, so workers need no access to the database and can sit on other machines.

- :class:`LocalPool`: :class:`concurrent.futures.ProcessPoolExecutor`, one worker per core by
  default; workers are forked on Linux for CPU work (they inherit the imported torch instead
  of paying seconds to import it again, as torch's own DataLoader workers do) and spawned
  otherwise (CUDA cannot be used in a forked child). Every worker watches its parent and exits
  within half a second once the parent is gone, so killing the client (even with SIGKILL, which
  runs no clean-up) leaves no worker computing.
- :class:`DaskCluster`: ``dask.distributed.Client(address)`` on a running scheduler
  (``pip install sublevel[dask]``); the workers must have this package installed.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator, Protocol

from sublevel.theory.errors import InputError


class Executor(Protocol):
    """Runs independent calls and yields their results in completion order."""

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]: ...

    def close(self, abandon: bool = False) -> None:
        """Release the workers; ``abandon`` stops the calls still running (after an interrupt)
        instead of waiting for them."""
        ...


MAX_RESTARTS = 3
"""How often a local pool is restarted after a worker died before the sweep gives up."""

WAKE_S = 0.25
"""How often the waiting client wakes up to let Python run a signal handler (Ctrl-C)."""

PARENT_POLL_S = 0.5
"""How often a pool worker checks that the process that started it is still alive."""


def die_with_parent(parent: int) -> None:
    """Worker initializer: a daemon thread ends this process once ``parent`` has exited (the
    worker is then re-parented, so its parent id changes). Portable, unlike Linux's
    PR_SET_PDEATHSIG, and independent of which thread of the parent started the worker."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


class LocalPool:
    """A process pool on this machine.

    Parameters
    ----------
    workers : int, optional
        Number of worker processes (default: the number of cores).
    device : str
        "cpu" or "cuda": which start method is safe (see the module docstring).
    """

    def __init__(self, workers: int | None = None, device: str = "cpu") -> None:
        workers = (os.cpu_count() or 1) if workers is None else workers
        if workers < 1:
            raise InputError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self._method = "fork" if sys.platform == "linux" and device == "cpu" else "spawn"
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context(self._method),
                                   initializer=die_with_parent, initargs=(os.getpid(),))

    def map_unordered(self, fn, items):
        """Results in completion order. A worker that dies (kill -9, out of memory) breaks the
        pool: it is restarted and the calls that had not returned are submitted again, at most
        :data:`MAX_RESTARTS` times, so only the work in flight is redone."""
        remaining = dict(enumerate(items))
        restarts = 0
        while remaining:
            futures = {self._pool.submit(fn, item): index for index, item in remaining.items()}
            pending = set(futures)
            try:
                while pending:
                    # A timeout, so the main thread wakes up to run signal handlers: Linux may
                    # deliver Ctrl-C to another thread, and a lock wait without timeout in the
                    # main thread is then not interrupted until a task finishes.
                    done, pending = wait(pending, timeout=WAKE_S, return_when=FIRST_COMPLETED)
                    for future in done:
                        result = future.result()
                        del remaining[futures[future]]
                        yield result
            except BrokenProcessPool:
                restarts += 1
                self._pool.shutdown(wait=False, cancel_futures=True)
                if restarts > MAX_RESTARTS:
                    raise InputError(f"a worker process died {restarts} times (out of memory?); finished tasks "
                                     f"are saved, rerun to resume") from None
                self._pool = self._start()
            finally:
                for future in pending:
                    future.cancel()

    def close(self, abandon: bool = False) -> None:
        if abandon:  # Ctrl-C: the calls in flight are lost anyway, do not wait for them
            if hasattr(self._pool, "terminate_workers"):  # Python >= 3.14
                self._pool.terminate_workers()
                return
            for process in list((getattr(self._pool, "_processes", None) or {}).values()):
                process.terminate()
            # no join: the pool's threads have deadlocked joining terminated workers (CPython
            # gh-94777, gh-125451)
            self._pool.shutdown(wait=False, cancel_futures=True)
            return
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __repr__(self) -> str:
        return f"local process pool ({self.workers} workers)"


class DaskCluster:
    """A running Dask cluster, reached through its scheduler's address.

    Parameters
    ----------
    address : str
        Scheduler address, e.g. ``tcp://10.0.0.5:8786``, or ``file:PATH``: the scheduler file
        that ``dask scheduler --scheduler-file PATH`` writes (the usual way to join a Dask
        cluster started inside a SLURM allocation, e.g. by dask-jobqueue or dask-mpi).

    Raises
    ------
    InputError
        If dask.distributed is not installed or no scheduler answers at ``address``.
    """

    def __init__(self, address: str, timeout: float = 30.0) -> None:
        try:
            from dask.distributed import Client
        except ImportError:
            raise InputError("--scheduler needs dask.distributed: pip install 'sublevel[dask]'") from None
        self.address = address
        try:
            if address.startswith("file:"):
                self._client = Client(scheduler_file=address[len("file:"):], timeout=timeout)
            else:
                self._client = Client(address, timeout=timeout)
        except (OSError, TimeoutError, ValueError) as err:
            raise InputError(f"no Dask scheduler answers at {address}: {err}") from None

    def map_unordered(self, fn, items):
        from dask.distributed import as_completed

        futures = self._client.map(fn, list(items), pure=False)
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            self._client.cancel([f for f in futures if not f.done()])

    def close(self, abandon: bool = False) -> None:
        self._client.close()  # cancels this client's futures either way

    def __repr__(self) -> str:
        return f"Dask cluster at {self.address}"


def make_executor(workers: int | None = None, scheduler: str | None = None, device: str = "cpu") -> Executor:
    """A :class:`DaskCluster` when ``scheduler`` is given, else a :class:`LocalPool`."""
    return DaskCluster(scheduler) if scheduler else LocalPool(workers, device)
