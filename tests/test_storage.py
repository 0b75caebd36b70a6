"""Atomic, durable writes: a writer killed at any moment leaves the old file or the new one,
never a mix, and the permissions a new file gets from the umask."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from sublevel.constructions.storage import read_npz, write_json, write_npz

WRITER = """
import sys
import numpy as np
from sublevel.constructions.storage import write_npz
target = sys.argv[1]
generation = 0
while True:
    generation += 1
    write_npz(target, {"generation": generation}, data=np.full(200_000, generation, dtype=np.int64))
    print(generation, flush=True)
"""


@pytest.mark.parametrize("delay", [0.05, 0.13, 0.31, 0.57, 0.9])
def test_a_writer_killed_at_any_moment_leaves_a_whole_file(tmp_path, delay):
    """SIGKILL a process that rewrites one .npz in a loop (1.6 MB per generation) after a
    delay; the file must then read back whole: every entry equal to its recorded generation."""
    target = tmp_path / "state.npz"
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "1"  # one whole generation exists
        time.sleep(delay)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    arrays, metadata = read_npz(target, "state file", ("data",))
    generation = metadata["generation"]
    assert generation >= 1 and np.all(arrays["data"] == generation)


def test_new_files_get_the_umask_and_no_temporary_file_stays(tmp_path):
    previous = os.umask(0o022)
    try:
        write_json(tmp_path / "out.json", {"a": 1})
    finally:
        os.umask(previous)
    assert (tmp_path / "out.json").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "kept.npz"
    write_npz(target, {"generation": 1}, data=np.ones(3))
    with pytest.raises(ValueError):  # an object array would need pickling: refused, nothing written
        write_npz(target, {"generation": 2}, data=np.ones(3), bad=np.array([object()]))
    arrays, metadata = read_npz(target, "kept file")
    assert metadata["generation"] == 1 and [p.name for p in tmp_path.iterdir()] == ["kept.npz"]
