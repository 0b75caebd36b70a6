"""Wall-clock timing shared by the bench scripts (measured figures: never used in tests).

The scripts run as ``python bench/NAME.py``, which puts this folder on ``sys.path``.
"""
from __future__ import annotations

import time
from typing import Callable

import torch


def call_times(fn: Callable[[], object], repeats: int, device: torch.device | str = "cpu") -> list[float]:
    """Seconds of ``repeats`` calls of ``fn`` after one warm-up call; on a CUDA device the
    queue is drained before and after each call, so the time is the work's, not its launch's."""
    cuda = torch.device(device).type == "cuda"
    fn()
    times = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def matmul_times(size: int, repeats: int, device: torch.device | str = "cpu") -> list[float]:
    """:func:`call_times` of one ``size`` x ``size`` float32 matrix product (size^3 multiply-adds)
    on ``device``: the machine's own peak, to compare achieved FLOP/s against."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    return call_times(lambda: a @ b, repeats, device)
