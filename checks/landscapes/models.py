"""Small versions of the networks of Li, Xu, Taylor, Studer & Goldstein (NeurIPS 2018,
arXiv:1712.09913): CIFAR-style ResNets with and without shortcuts, a VGG-9-like net, and an
MLP built from a :class:`sublevel.theory.networks.Architecture`.

ResNet-(6n+2) (He et al. 2016, as in the paper): a 3x3 stem convolution, three stages of n
basic blocks (conv-BN-ReLU-conv-BN, plus the shortcut, then ReLU) at widths w, 2w, 4w with
stride 2 between stages, global average pooling, one Linear layer. ``skip=False`` removes
every shortcut (the paper's "ResNet-noshort"); a stage change then has nothing to project.
``dims`` picks 1-D convolutions (MNIST-1D signals, N x 1 x 40) or 2-D ones (8 x 8 digits,
CIFAR images).
"""
from __future__ import annotations

import torch
from torch import nn

from sublevel.theory.errors import InputError
from sublevel.theory.networks import Architecture


def _conv(dims: int):
    return {1: nn.Conv1d, 2: nn.Conv2d}[dims]


def _norm(dims: int):
    return {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}[dims]


class BasicBlock(nn.Module):
    """conv3-BN-ReLU-conv3-BN (+ shortcut) then ReLU; a 1x1 projection when the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int, skip: bool, dims: int):
        super().__init__()
        conv, norm = _conv(dims), _norm(dims)
        self.conv1 = conv(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = norm(c_out)
        self.conv2 = conv(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = norm(c_out)
        self.skip = skip
        self.project = None
        if skip and (stride != 1 or c_in != c_out):
            self.project = nn.Sequential(conv(c_in, c_out, 1, stride=stride, bias=False), norm(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        if self.skip:
            out = out + (x if self.project is None else self.project(x))
        return torch.relu(out)


class ResNet(nn.Module):
    """ResNet-``depth`` (depth = 6n + 2) of base width ``width``, with or without shortcuts."""

    def __init__(self, depth: int, width: int = 4, skip: bool = True, in_channels: int = 1,
                 num_classes: int = 10, dims: int = 1):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise InputError(f"ResNet depth must be 6n + 2 with n >= 1 (8, 14, 20, 56, 110 ...), got {depth}")
        if width < 1 or dims not in (1, 2):
            raise InputError(f"need width >= 1 and dims 1 or 2, got width {width}, dims {dims}")
        blocks_per_stage = (depth - 2) // 6
        conv, norm = _conv(dims), _norm(dims)
        self.stem = nn.Sequential(conv(in_channels, width, 3, padding=1, bias=False), norm(width), nn.ReLU())
        layers, c_in = [], width
        for stage, c_out in enumerate((width, 2 * width, 4 * width)):
            for block in range(blocks_per_stage):
                stride = 2 if stage > 0 and block == 0 else 1
                layers.append(BasicBlock(c_in, c_out, stride, skip, dims))
                c_in = c_out
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.blocks(self.stem(x))
        return self.head(z.flatten(2).mean(-1))


class VGG(nn.Module):
    """VGG-9-like: 7 conv3-BN-ReLU layers (widths w, 2w, 4w, 4w, 8w, 8w, 8w, max-pooling after
    the 1st, 2nd, 4th and 7th), global average pooling, two Linear layers."""

    CONFIG = (1, "M", 2, "M", 4, 4, "M", 8, 8, 8, "M")

    def __init__(self, width: int = 8, in_channels: int = 1, num_classes: int = 10, dims: int = 1):
        super().__init__()
        conv, norm, pool = _conv(dims), _norm(dims), {1: nn.MaxPool1d, 2: nn.MaxPool2d}[dims]
        layers, c_in = [], in_channels
        for item in self.CONFIG:
            if item == "M":
                layers.append(pool(2, ceil_mode=True))
            else:
                layers += [conv(c_in, item * width, 3, padding=1, bias=False), norm(item * width), nn.ReLU()]
                c_in = item * width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(c_in, c_in), nn.ReLU(), nn.Linear(c_in, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(2).mean(-1))


class Square(nn.Module):
    """sigma(h) = h^2, the quadratic activation of docs/claims.rst, section 4 (Venturi et al.)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.square()


class Elementwise(nn.Module):
    """Wraps an elementwise torch function (an Architecture's activation) as a module."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def mlp(architecture: Architecture) -> nn.Sequential:
    """The fully connected net of ``architecture`` as an ``nn.Sequential`` (Linear, activation, ...)."""
    named = {"relu": nn.ReLU, "linear": nn.Identity, "quadratic": Square}
    layers: list[nn.Module] = []
    widths = architecture.widths
    for k, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(n_in, n_out, bias=architecture.bias))
        if k < len(widths) - 2:
            name = architecture.activation if isinstance(architecture.activation, str) else None
            layers.append(named[name]() if name in named else Elementwise(architecture.activation_fn))
    return nn.Sequential(*layers)
