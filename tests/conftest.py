import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
# One thread: the tests are many small tensor operations, which run faster single-threaded
# (and far faster when other processes share the cores).
torch.set_num_threads(1)
