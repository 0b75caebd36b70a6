"""Permutation alignment (weight matching, Ainsworth et al. 2023) of torch models."""
from __future__ import annotations

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import sublevel
from sublevel.checks.landscapes.models import VGG, ResNet
from sublevel.checks.paths import alignment
from sublevel.theory.errors import Contradiction, InputError


def _mlp(widths: list[int], seed: int, scale: float = 1.0) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for k, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b).double())
        if k < len(widths) - 2:
            layers.append(nn.Tanh() if k % 2 else nn.ReLU())
    model = nn.Sequential(*layers)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(scale)
    return model


def _permute_by_hand(model: nn.Sequential, perms: list[torch.Tensor]) -> nn.Sequential:
    """Hidden units of layer k reordered by perms[k]: rows of W_k, b_k and columns of W_{k+1}.
    Written out independently of the module's graph rules."""
    other = copy.deepcopy(model)
    linears = [m for m in other if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for k, perm in enumerate(perms):
            linears[k].weight.copy_(linears[k].weight[perm])
            linears[k].bias.copy_(linears[k].bias[perm])
            linears[k + 1].weight.copy_(linears[k + 1].weight[:, perm])
    return other


@settings(max_examples=25, deadline=None)
@given(widths=st.lists(st.integers(1, 9), min_size=3, max_size=5), seed=st.integers(0, 2 ** 16),
       log_scale=st.floats(-3, 3))
def test_alignment_keeps_the_function_and_never_moves_away(widths, seed, log_scale):
    """For any depth: the aligned copy computes what B computes and is no farther from A.
    With one hidden layer weight matching is a single linear assignment problem, solved
    exactly, so a permuted copy of A is mapped back onto A itself (distance 0)."""
    model = _mlp(widths, seed, 10.0 ** log_scale)
    generator = torch.Generator().manual_seed(seed)
    perms = [torch.randperm(n, generator=generator) for n in widths[1:-1]]
    shuffled = _permute_by_hand(model, perms)
    x = torch.randn(11, widths[0], generator=generator, dtype=torch.float64)
    result = sublevel.align(model, shuffled, x)
    assert result.supported and result.distance_after <= result.distance_before * (1 + 1e-12)
    torch.testing.assert_close(result.model(x), shuffled(x), rtol=1e-10, atol=1e-12 * 10.0 ** (2 * log_scale))
    if len(widths) == 3:
        assert result.distance_after <= 1e-12 * max(result.distance_before, 10.0 ** log_scale)


def test_independent_models_get_closer_but_not_equal():
    """The must-fail side: two unrelated nets are no permutation of each other."""
    a, b = _mlp([3, 16, 8, 2], 0), _mlp([3, 16, 8, 2], 1)
    result = sublevel.align(a, b, torch.randn(5, 3, dtype=torch.float64))
    assert result.supported and 0 < result.distance_after < result.distance_before


def _shuffle_by_rules(model: nn.Module, x: torch.Tensor, seed: int = 0) -> nn.Module:
    sizes, _, axes = alignment.permutation_axes(model, x)
    generator = torch.Generator().manual_seed(seed)
    perms = {g: torch.randperm(n, generator=generator) for g, n in sizes.items()}
    other = copy.deepcopy(model)
    state = dict(other.named_parameters()) | dict(other.named_buffers())
    by_tensor: dict[str, list] = {}
    for a in axes:
        by_tensor.setdefault(a.tensor, []).append(a)
    with torch.no_grad():
        for name, tensor_axes in by_tensor.items():
            state[name].copy_(alignment._permuted(state[name].detach(), tensor_axes, perms))
    return other


def _randomise_batchnorm(model: nn.Module) -> nn.Module:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
                m.weight.normal_()
                m.bias.normal_()
    return model.eval()


@pytest.mark.parametrize("make, shape", [
    (lambda: nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                           nn.Linear(36, 5)), (6, 1, 8, 8)),
    (lambda: ResNet(8, 4, True, 1, 10, 2), (6, 1, 8, 8)),
    (lambda: VGG(2, 1, 10, 2), (4, 1, 16, 16)),
])
def test_convolutional_nets_with_batchnorm_and_shortcuts_are_aligned(make, shape):
    torch.manual_seed(0)
    model = _randomise_batchnorm(make())
    x = torch.randn(*shape)
    shuffled = _shuffle_by_rules(model, x, seed=1)
    with torch.no_grad():
        assert float(sum((p - q).square().sum() for p, q in zip(model.parameters(), shuffled.parameters()))) > 0
    result = sublevel.align(model, shuffled, x)
    assert result.supported and result.distance_after < 1e-5 * result.distance_before
    torch.testing.assert_close(result.model(x), model(x), rtol=1e-4, atol=1e-5)


def test_a_wrong_rule_is_caught_by_the_same_function_check(monkeypatch):
    """Drop the rule that BatchNorm statistics follow their channels: the permuted copy then
    computes something else, and align must say so instead of returning it."""
    torch.manual_seed(0)
    model = _randomise_batchnorm(nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                                               nn.Linear(144, 3)))
    x = torch.randn(5, 1, 8, 8)
    shuffled = _shuffle_by_rules(model, x, seed=3)
    monkeypatch.setattr(alignment, "_NORMS", ())
    monkeypatch.setattr(alignment, "_KEEPS_CHANNELS", alignment._KEEPS_CHANNELS + (nn.BatchNorm2d,))
    with pytest.raises(Contradiction):
        sublevel.align(model, shuffled, x)


def test_architectures_without_a_rule_are_returned_as_given_and_said():
    torch.manual_seed(0)
    a = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    b = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    result = sublevel.align(a, b, torch.randn(2, 3, 8))
    assert not result.supported and result.reason and result.describe().startswith("not aligned")
    assert all(torch.equal(p, q) for p, q in zip(result.model.parameters(), b.parameters()))


def test_different_architectures_are_refused():
    with pytest.raises(InputError):
        sublevel.align(_mlp([2, 4, 1], 0), _mlp([2, 5, 1], 0), torch.zeros(1, 2, dtype=torch.float64))
