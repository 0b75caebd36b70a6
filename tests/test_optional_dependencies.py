"""Optional dependencies: without one, the feature that needs it fails with one line naming the
extra to install, and everything else keeps working."""
import subprocess
import sys

import pytest

BLOCK = """
import sys
for name in {modules!r}:
    sys.modules[name] = None  # as if not installed: import raises ImportError, find_spec gives None
"""


@pytest.mark.parametrize("module, call, extra", [
    ("cvxpy", "import numpy as np; from sublevel.checks.ccnn.nuclear import solve_cvxpy; "
              "solve_cvxpy(np.ones((2, 1, 2)), np.array([0, 1]), 2, 1.0)", "sublevel[ccnn]"),
    ("mnist1d", "from sublevel.constructions.image_data import mnist1d; mnist1d(100)", "sublevel[landscapes]"),
    ("hypothesis", "import sublevel.theory.strategies", "sublevel[testing]"),
    ("dask", "from sublevel.checks.sweeps.executors import DaskCluster; DaskCluster('tcp://127.0.0.1:1')",
     "sublevel[dask]"),
])
def test_missing_extra_gives_a_one_line_hint(module, call, extra):
    code = BLOCK.format(modules=(module,)) + call
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert extra in last, proc.stderr[-1500:]


def test_core_works_without_the_extras():
    code = BLOCK.format(modules=("cvxpy", "mnist1d", "dask", "distributed", "hypothesis")) + (
        "import sublevel\nd = sublevel.construct('one-neuron')\n"
        "print(sublevel.count(d, d.default_architecture(), [2.2], settings=sublevel.SampleSettings(starts=4, steps=30))"
        ".brackets[0].describe())")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert proc.stdout.strip().endswith("2 (exact)")
