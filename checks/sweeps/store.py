"""SQLite results store: one row per finished task, so resuming is reopening the file.

Each finished task becomes one row keyed by :attr:`sublevel.checks.sweeps.tasks.Task.key`, written
inside a transaction together with the other tasks of its group: a crash (even ``kill -9``)
leaves either the whole group or none of it, never a partial row. The database runs in WAL
mode with ``synchronous = FULL`` (each commit is fsynced before it returns, so a power loss
after a row is reported loses nothing; SQLite itself renames nothing, its journal is its
crash-safety) and a busy timeout, so two sweeps (or a sweep and ``sublevel plot``) can use one file
at once; ``INSERT OR IGNORE`` keeps the first row when both finish the same task.

Schema (one table, readable from any SQLite client)::

    results(key TEXT PRIMARY KEY, family TEXT, width INTEGER, seed INTEGER,
            config TEXT  -- JSON of Task.config(),
            outcome TEXT -- JSON of TaskResult.outcome(): levels, lower, upper, status, ...,
            device TEXT, seconds REAL, finished TEXT  -- UTC, ISO 8601)
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

from sublevel.checks.sweeps.tasks import Task, TaskResult
from sublevel.theory.errors import InputError

BUSY_TIMEOUT_S = 120.0
"""How long a writer waits for another sweep's transaction before giving up."""

FAILURES = """
CREATE TABLE IF NOT EXISTS failures (
    key TEXT NOT NULL,
    family TEXT NOT NULL,
    width INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    error TEXT NOT NULL,
    finished TEXT NOT NULL
)
"""

LEASES = """
CREATE TABLE IF NOT EXISTS leases (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires REAL NOT NULL
)
"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    width INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    config TEXT NOT NULL,
    outcome TEXT NOT NULL,
    device TEXT NOT NULL,
    seconds REAL NOT NULL,
    finished TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class StoredRow:
    """A row read back: the task's configuration and its outcome, as decoded JSON."""

    key: str
    family: str
    width: int
    seed: int
    config: dict[str, Any]
    outcome: dict[str, Any]
    device: str
    seconds: float

    @property
    def stale(self) -> bool:
        """Computed by other code than the running package's (or before code fingerprints)."""
        from sublevel.checks.sweeps.tasks import code_fingerprint

        return self.config.get("code") != code_fingerprint()


def lease_owner() -> str:
    """A lease owner name for this process: ``host:pid:nonce``."""
    import socket
    import uuid

    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _owner_died(owner: str) -> bool:
    """Whether ``owner`` names a process of this host that no longer runs."""
    import socket

    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _is_busy(err: sqlite3.OperationalError) -> bool:
    text = str(err).lower()
    return "locked" in text or "busy" in text


def _while_busy(step, deadline_s: float = BUSY_TIMEOUT_S) -> None:
    """Run ``step`` again (with a growing pause) while SQLite says the file is locked."""
    pause, start = 0.01, time.monotonic()
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as err:
            if not _is_busy(err) or time.monotonic() - start > deadline_s:
                raise
        time.sleep(pause)
        pause = min(2 * pause, 1.0)


class ResultStore:
    """A results database; use as a context manager.

    Parameters
    ----------
    path : str or Path
        SQLite file, created when missing.
    readonly : bool
        Open an existing file for reading only (``sublevel plot``).

    Raises
    ------
    InputError
        If the file is not an SQLite database of this layout.
    """

    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly and not self.path.is_file():
            raise FileNotFoundError(2, "No such file", str(self.path))
        uri = f"file:{self.path}?mode=ro" if readonly else str(self.path)
        try:
            self._db = sqlite3.connect(uri, timeout=BUSY_TIMEOUT_S, uri=readonly)
            self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._db.execute("PRAGMA synchronous = FULL")  # every commit fsyncs the WAL: durable
            if not readonly:
                _while_busy(self._create)
            self._db.execute("SELECT key, outcome FROM results LIMIT 1").fetchall()
        except sqlite3.OperationalError as err:
            if _is_busy(err):
                raise InputError(f"{self.path}: database stayed locked for {BUSY_TIMEOUT_S:.0f} s "
                                 "(another process holds it)") from None
            raise InputError(f"{self.path}: not a sweep results database ({err})") from None
        except sqlite3.DatabaseError as err:
            raise InputError(f"{self.path}: not a sweep results database ({err})") from None

    def _create(self) -> None:
        """WAL mode and the tables. Switching the journal mode needs the file to itself, and
        SQLite answers "database is locked" at once (without its busy handler) when a second
        process opens a new file at the same moment, hence :func:`_while_busy`."""
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute(SCHEMA)
        self._db.execute(FAILURES)
        self._db.execute(LEASES)

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def finished(self, keys: Iterable[str]) -> set[str]:
        """The subset of ``keys`` that already have a row."""
        keys = list(keys)
        done: set[str] = set()
        for i in range(0, len(keys), 500):
            part = keys[i:i + 500]
            marks = ",".join("?" * len(part))
            done.update(row[0] for row in self._db.execute(f"SELECT key FROM results WHERE key IN ({marks})", part))
        return done

    def write(self, tasks: Sequence[Task], results: Sequence[TaskResult]) -> None:
        """Insert the rows of finished tasks in one transaction (all or none)."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        rows = [(r.key, t.family.label, t.width, t.seed, json.dumps(t.config(), sort_keys=True),
                 json.dumps(r.outcome(), sort_keys=True), r.device, r.seconds, now)
                for t, r in zip(tasks, results)]
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def claim(self, keys: Iterable[str], owner: str, seconds: float) -> set[str]:
        """Lease the unfinished ``keys`` that no other owner holds (or whose lease expired) to
        ``owner`` for ``seconds``, in one transaction; returns the keys this owner now holds.

        Two sweeps on one database thus split the pending tasks instead of both computing
        them. Owners are ``host:pid:nonce`` (:func:`lease_owner`): a lease of a process of this
        host that no longer runs is free at once (kill -9 and rerun); one of another host is
        free when it expires.
        """
        keys = list(keys)
        now = time.time()
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")  # one claimer at a time
            held = set()
            for key in keys:
                row = self._db.execute("SELECT owner, expires FROM leases WHERE key = ?", (key,)).fetchone()
                if row is None or row[0] == owner or row[1] < now or _owner_died(row[0]):
                    self._db.execute("INSERT OR REPLACE INTO leases VALUES (?, ?, ?)", (key, owner, now + seconds))
                    held.add(key)
        return held

    def release(self, keys: Iterable[str], owner: str) -> None:
        """Drop ``owner``'s leases on ``keys`` (finished or failed tasks)."""
        with self._db:
            self._db.executemany("DELETE FROM leases WHERE key = ? AND owner = ?", [(k, owner) for k in keys])

    def record_failure(self, tasks: Sequence[Task], error: str) -> None:
        """One failure row per task of a group whose run raised ``error`` (one transaction)."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._db:
            self._db.executemany("INSERT INTO failures VALUES (?, ?, ?, ?, ?, ?)",
                                 [(t.key, t.family.label, t.width, t.seed, error, now) for t in tasks])

    def attempts(self, keys: Iterable[str]) -> dict[str, int]:
        """How many recorded failures each of ``keys`` has (absent: none)."""
        keys = list(keys)
        counts: dict[str, int] = {}
        try:
            for i in range(0, len(keys), 500):
                part = keys[i:i + 500]
                marks = ",".join("?" * len(part))
                counts.update(self._db.execute(f"SELECT key, COUNT(*) FROM failures WHERE key IN ({marks}) "
                                               f"GROUP BY key", part).fetchall())
        except sqlite3.OperationalError:  # a read-only store written before failures were recorded
            return {}
        return counts

    def failures(self) -> list[tuple[str, str, int, int, str]]:
        """(key, family, width, seed, error) of every recorded failure, oldest first."""
        try:
            return self._db.execute("SELECT key, family, width, seed, error FROM failures ORDER BY rowid").fetchall()
        except sqlite3.OperationalError:
            return []

    def merge(self, other: "ResultStore") -> tuple[int, int]:
        """Copy ``other``'s rows into this store in one transaction: (added, already present).

        Raises
        ------
        InputError
            If a key is in both with a different configuration or outcome (nothing is written).
        """
        added = same = 0
        with self._db:
            for row in other._db.execute("SELECT * FROM results ORDER BY rowid"):
                mine = self._db.execute("SELECT config, outcome FROM results WHERE key = ?", (row[0],)).fetchone()
                if mine is None:
                    self._db.execute("INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
                    added += 1
                elif (json.loads(mine[0]), json.loads(mine[1])) == (json.loads(row[4]), json.loads(row[5])):
                    same += 1
                else:
                    raise InputError(f"{other.path}: task {row[0][:12]} ({row[1]}, w={row[2]}, seed {row[3]}) has "
                                     f"another outcome in {self.path}; nothing merged")
        return added, same

    def rows(self) -> list[StoredRow]:
        """Every row, ordered by family, width, seed and key."""
        query = "SELECT key, family, width, seed, config, outcome, device, seconds FROM results " \
                "ORDER BY family, width, seed, key"
        return [StoredRow(key, family, width, seed, json.loads(config), json.loads(outcome), device, seconds)
                for key, family, width, seed, config, outcome, device, seconds in self._db.execute(query)]
