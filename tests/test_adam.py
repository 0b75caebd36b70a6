"""The hand-written Adam (checks/paths/adam.py) against torch.optim.Adam: the same bits."""
from __future__ import annotations

import torch
from hypothesis import given, settings, strategies as st

from sublevel.checks.paths.adam import Adam


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), lr=st.sampled_from([1e-4, 0.01, 0.3]),
       dtype=st.sampled_from([torch.float32, torch.float64]), rows=st.integers(1, 5), steps=st.integers(1, 60))
def test_iterates_equal_torch_optim_adam(seed, lr, dtype, rows, steps):
    gen = torch.Generator().manual_seed(seed)
    start = torch.randn(rows, 7, generator=gen, dtype=dtype)
    target = torch.randn(rows, 7, generator=gen, dtype=dtype)
    ours = start.clone()
    adam = Adam(ours, lr=lr)
    theirs = start.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([theirs], lr=lr)
    for _ in range(steps):
        grad = torch.sin(3 * ours) + (ours - target) ** 3  # a non-quadratic loss's gradient
        adam.step(grad)
        optimizer.zero_grad()
        theirs.grad = torch.sin(3 * theirs.detach()) + (theirs.detach() - target) ** 3
        optimizer.step()
        assert torch.equal(ours, theirs.detach())
