import os
import sys

import pytest
import torch
from hypothesis import settings

# Hypothesis profiles. "ci" (the default, used by .ci/run): derandomized, so a run is
# reproducible and a failure shrinks to the same small case on every machine; "explore": random
# examples, ten times as many, with the example database, for hunting bugs locally:
#   HYPOTHESIS_PROFILE=explore .venv/bin/python -m pytest -k property
settings.register_profile("ci", derandomize=True, deadline=None, database=None, print_blob=True)
settings.register_profile("explore", deadline=None, max_examples=500, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

sys.path.insert(0, os.path.dirname(__file__))
# One thread: the tests are many small tensor operations, which run faster single-threaded
# (and far faster when other processes share the cores).
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Every test starts on one thread and leaves the count as it found it (tests of --threads
    and of the landscape sweep change it)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def gaussian_problem(architecture, samples: int, generator: torch.Generator, kappa: float = 0.0):
    """A Problem on standard-normal X and Y (float64) drawn from ``generator``."""
    from sublevel.theory.problems import Problem

    inputs, outputs = architecture.widths[0], architecture.widths[-1]
    return Problem(architecture, torch.randn(samples, inputs, generator=generator, dtype=torch.float64),
                   torch.randn(samples, outputs, generator=generator, dtype=torch.float64), kappa=kappa)
