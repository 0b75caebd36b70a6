"""Paths and merge trees between trained torch models: AutoNEB chains, alignment, ResNets with BatchNorm."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

import sublevel
from sublevel.checks.landscapes.models import ResNet
from tests.test_model_curves import _data, _permuted, _trained


def test_autoneb_goes_around_the_barrier_between_permuted_copies_and_says_per_segment():
    x, y = _data()
    a = _trained(0, x, y)
    b = _permuted(a)
    linear = sublevel.connect(a, b, torch.nn.CrossEntropyLoss(), (x, y), curve="linear", points=21)
    chain = sublevel.connect(a, b, torch.nn.CrossEntropyLoss(), (x, y), curve="autoneb", points=21, steps=100)
    assert linear.barrier > 1.0 and chain.barrier < 0.1 * linear.barrier
    assert len(chain.segments) >= 4 and not any(s["certified"] for s in chain.segments)
    assert chain.segments[0]["t"][0] == 0.0 and chain.segments[-1]["t"][1] == 1.0
    assert max(s["sampled_maximum"] for s in chain.segments) == pytest.approx(chain.maximum)
    assert "(estimate)" in chain.describe() and "(certified)" not in chain.describe()
    assert chain.loss[0] == pytest.approx(chain.endpoints["a"]["loss"], rel=1e-5)
    assert chain.loss[-1] == pytest.approx(chain.endpoints["b"]["loss"], rel=1e-5)


def test_alignment_removes_a_permutation_barrier_from_the_straight_line():
    x, y = _data()
    a = _trained(0, x, y)
    b = _permuted(a)
    path = sublevel.connect(a, b, torch.nn.CrossEntropyLoss(), (x, y), curve="linear", points=11, align=True)
    assert path.barrier == pytest.approx(0.0, abs=1e-5) and "aligned by weight matching" in path.alignment


def test_merge_tree_of_models_joins_permuted_copies_at_their_loss_and_reports_the_raw_barrier(tmp_path):
    x, y = _data()
    a = _trained(0, x, y)
    models = [a, _permuted(a), _trained(1, x, y)]
    tree = sublevel.merge_models(models, torch.nn.CrossEntropyLoss(), (x, y), curve="linear", points=11)
    levels = tree.merge_levels()
    assert levels[0, 1] == pytest.approx(max(tree.losses[0], tree.losses[1]), rel=1e-5)
    assert tree.raw_linear[0][1] > 1.0  # the permutation barrier, reported apart
    assert np.all(levels >= np.maximum.outer(tree.losses, tree.losses) - 1e-12)
    # ultrametric: the two largest of the three merge levels of any triple are equal
    trio = sorted([levels[0, 1], levels[0, 2], levels[1, 2]])
    assert trio[1] == trio[2]
    assert not tree.certified and "estimates" in tree.describe()
    tree.save(tmp_path / "t.json")
    tree.plot(tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 1000
    unaligned = sublevel.merge_models(models[:2], torch.nn.CrossEntropyLoss(), (x, y), curve="linear", points=11,
                                      align_units=False)
    assert unaligned.merge_levels()[0, 1] > 1.0  # without alignment the same pair is a barrier apart


def _digits(n: int = 240):
    digits = load_digits()
    x = torch.tensor(digits.images[:n] / 16.0, dtype=torch.float32)[:, None]
    return x, torch.tensor(digits.target[:n])


def _resnet(seed: int, x, y, steps: int = 60) -> ResNet:
    torch.manual_seed(seed)
    model = ResNet(8, width=4, skip=True, in_channels=1, num_classes=10, dims=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for step in range(steps):
        part = slice((step % 4) * 60, (step % 4 + 1) * 60)
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x[part]), y[part]).backward()
        optimizer.step()
    return model.eval()


def test_resnet_with_batchnorm_paths_and_merge_tree():
    """A small ResNet with BatchNorm: the curve's ends are the models as trained (own
    statistics, reported), statistics are recomputed along the curve and said, alignment ties
    the residual stream, and an AutoNEB chain lies no higher than the straight line."""
    x, y = _digits()
    batches = [(x[i:i + 60], y[i:i + 60]) for i in range(0, len(x), 60)]
    a, b = _resnet(0, x, y), _resnet(1, x, y)
    state = copy.deepcopy(a.state_dict())
    loss = torch.nn.CrossEntropyLoss()
    linear = sublevel.connect(a, b, loss, batches, curve="linear", points=7, align=True)
    chain = sublevel.connect(a, b, loss, batches, curve="autoneb", points=7, steps=30, cycles=2, align=True)
    assert all(torch.equal(v, state[k]) for k, v in a.state_dict().items())
    assert "aligned by weight matching" in chain.alignment
    assert chain.batchnorm == "recompute" and any("recomputed" in n for n in chain.notes)
    own = sublevel.connect(a, b, loss, batches, curve="linear", points=2).endpoints
    assert chain.endpoints == own  # each model's own metrics, its own statistics, whatever the curve
    assert chain.maximum <= linear.maximum
    tree = sublevel.merge_models([a, b], loss, batches, curve="linear", points=5)
    assert tree.merge_levels()[0, 1] == pytest.approx(max(linear.maximum, *tree.losses), rel=1e-4)
