import os
import sys

import pytest
import torch

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
