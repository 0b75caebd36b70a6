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
