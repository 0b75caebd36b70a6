"""A problem: an architecture, data (X, Y) and the mean square loss with optional ridge.

    L(theta) = (1/N) sum_mu ||H(x_mu; theta) - y_mu||^2 + kappa ||theta||^2

(the lecture's loss; Freeman & Bruna 2017, eq. (1), with the ridge term of their Prop. 2.2).
:meth:`Problem.loss` takes K parameter vectors at once and returns K losses, with no Python
loop over K except for chunking that keeps memory bounded.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np
import torch

from sublevel.theory.errors import InputError
from sublevel.theory.networks import Architecture

FALLBACK_CACHE_BYTES = 1 << 20
"""Per-core L2 cache assumed where the operating system does not say (Linux reports it in
/sys/devices/system/cpu/cpu0/cache)."""

GPU_CHUNK_BYTES = 1 << 28
"""Hidden-activation bytes per chunk on a GPU (no cache to fit: large batches fill the device)."""


@functools.lru_cache(maxsize=None)
def cache_bytes() -> int:
    """The CPU's per-core L2 cache in bytes (sysfs), or :data:`FALLBACK_CACHE_BYTES`."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for entry in sorted(os.listdir(base)):
            with open(os.path.join(base, entry, "level")) as level, open(os.path.join(base, entry, "type")) as kind:
                if level.read().strip() == "2" and kind.read().strip() in ("Unified", "Data"):
                    with open(os.path.join(base, entry, "size")) as size:
                        text = size.read().strip().upper()
                    scale = {"K": 1 << 10, "M": 1 << 20}.get(text[-1:], 1)
                    return int(text.rstrip("KM")) * scale
    except (OSError, ValueError):
        pass
    return FALLBACK_CACHE_BYTES


def networks_per_chunk(architecture: Architecture, samples: int, dtype: torch.dtype, device, problems: int = 1) -> int:
    """Networks evaluated together by the batched losses: the cost model of their chunking.

    The forward pass makes a few memory-bound passes (activation, one-output layer, residual)
    over each hidden tensor of problems x N x chunk x n_max entries (n_max the widest layer
    after the input: the inputs are shared, not per network). On a CPU the chunk is chosen so
    that this tensor fits the per-core L2 cache, where those passes run several times faster
    than from memory (bench/batched_loss.py prints the ratio to a loop over an ``nn.Module``
    for a grid of shapes); on a GPU it is :data:`GPU_CHUNK_BYTES`. At least one network.
    The chunk changes speed and memory; the losses can differ in the last bits (the order of
    the reductions over samples), the same on the same machine.
    """
    per_network = problems * samples * max(architecture.widths[1:]) * torch.finfo(dtype).bits // 8
    budget = GPU_CHUNK_BYTES if torch.device(device).type == "cuda" else cache_bytes()
    return max(1, budget // per_network)


_INTEGER = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)


def as_tensor(values, name: str, dtype: torch.dtype = torch.float64, device="cpu") -> torch.Tensor:
    """Convert an array to a 2-D tensor, rejecting NaN and inf with a named error."""
    try:
        tensor = torch.as_tensor(np.asarray(values) if not isinstance(values, torch.Tensor) else values)
    except (TypeError, ValueError, RuntimeError) as err:
        raise InputError(f"{name} must be a numeric array, got {type(values).__name__} ({err})") from None
    if tensor.dtype == torch.bool or not (tensor.is_floating_point() or tensor.dtype in _INTEGER):
        raise InputError(f"{name} must be a numeric array, got dtype {tensor.dtype}")
    tensor = tensor.to(dtype=dtype, device=device)
    if tensor.ndim == 1:
        tensor = tensor.unsqueeze(1)
    if tensor.ndim != 2:
        raise InputError(f"{name} must be a 2-D array (samples x features), got shape {tuple(tensor.shape)}")
    if not torch.isfinite(tensor).all():
        raise InputError(f"{name} contains NaN or inf")
    return tensor


class DataOnDevice:
    """What a problem (or a stack of them) says about its data: size, dtype, device, moving.

    Shared by :class:`Problem` and :class:`~sublevel.theory.batched_problems.BatchedProblems`,
    both frozen dataclasses of ``(architecture, x, y, kappa)``.
    """

    architecture: Architecture
    x: torch.Tensor
    y: torch.Tensor
    kappa: float

    @property
    def num_params(self) -> int:
        return self.architecture.num_params

    @property
    def dtype(self) -> torch.dtype:
        return self.x.dtype

    @property
    def device(self) -> torch.device:
        return self.x.device

    def to(self, device=None, dtype=None):
        """The same problem(s) with data on another device / in another dtype."""
        move = dict(device=device or self.device, dtype=dtype or self.dtype)
        return type(self)(self.architecture, self.x.to(**move), self.y.to(**move), self.kappa)


@dataclass(frozen=True)
class Problem(DataOnDevice):
    """Architecture + data + ridge: the object every check works on.

    Parameters
    ----------
    architecture : Architecture
    x : tensor (N, n_0)
    y : tensor (N, n_L)
    kappa : float
        Ridge coefficient (>= 0) on the squared norm of all parameters.

    Raises
    ------
    InputError
        On shape mismatch with the architecture, non-finite data, no samples or kappa < 0.
    """

    architecture: Architecture
    x: torch.Tensor
    y: torch.Tensor
    kappa: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.architecture, Architecture):
            raise InputError(f"architecture must be a sublevel Architecture (e.g. Architecture.parse('2-8-1', activation='relu')), "
                             f"got {type(self.architecture).__name__}")
        x = as_tensor(self.x, "X", dtype=_float_dtype(self.x), device=_device(self.x))
        y = as_tensor(self.y, "Y", dtype=x.dtype, device=x.device)
        if x.shape[0] == 0:
            raise InputError("the data set has no samples")
        if x.shape[0] != y.shape[0]:
            raise InputError(f"X has {x.shape[0]} samples but Y has {y.shape[0]}")
        self.architecture.check_inputs(x)
        self.architecture.check_targets(y)
        if not np.isfinite(self.kappa) or self.kappa < 0:
            raise InputError(f"ridge kappa must be >= 0, got {self.kappa}")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    @property
    def num_samples(self) -> int:
        return self.x.shape[0]

    def chunk_size(self) -> int:
        """How many parameter vectors to evaluate together (:func:`networks_per_chunk`)."""
        return networks_per_chunk(self.architecture, self.num_samples, self.dtype, self.device)

    def residuals(self, theta: torch.Tensor) -> torch.Tensor:
        """H(X; theta) - Y for a batch (K, P) -> (K, N, n_L)."""
        return self.architecture.forward(theta, self.x) - self.y

    def loss(self, theta: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        """Losses of K parameter vectors: (K, P) -> (K,), or (P,) -> ().

        Differentiable through autograd. ``chunk`` bounds how many networks are evaluated at
        once (default from :meth:`chunk_size`); it changes speed and memory, and the losses
        only in the last bits.
        """
        theta = torch.as_tensor(theta, dtype=self.dtype, device=self.device)
        self.architecture.check_params(theta)
        single = theta.ndim == 1
        theta2 = theta.reshape(-1, self.num_params)
        step = chunk or self.chunk_size()
        parts = [self._loss_block(theta2[i:i + step]) for i in range(0, theta2.shape[0], step)]
        out = torch.cat(parts) if parts else theta2.new_zeros(0)
        return out[0] if single else out

    def _loss_block(self, theta: torch.Tensor) -> torch.Tensor:
        return mean_square_loss(self.architecture.forward_sample_major(theta, self.x), self.y, theta, self.kappa)

    def loss_and_grad(self, theta: torch.Tensor, chunk: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Losses (K,) and gradients (K, P) through autograd, one backward pass per chunk."""
        theta = torch.as_tensor(theta, dtype=self.dtype, device=self.device)
        self.architecture.check_params(theta)
        theta = theta.reshape(-1, self.num_params)
        step = chunk or self.chunk_size()
        losses, grads = [], []
        for i in range(0, theta.shape[0], step):
            block = theta[i:i + step].detach().requires_grad_(True)
            value = self._loss_block(block)
            (grad,) = torch.autograd.grad(value.sum(), block)
            losses.append(value.detach())
            grads.append(grad)
        return torch.cat(losses), torch.cat(grads)


def mean_square_loss(outputs: torch.Tensor, y: torch.Tensor, theta: torch.Tensor, kappa: float) -> torch.Tensor:
    """(1/N) sum_mu ||H(x_mu) - y_mu||^2 + kappa ||theta||^2 from sample-major outputs.

    ``outputs`` (..., N, S, n_L) for targets ``y`` (..., N, n_L) and parameters
    ``theta`` (..., S, P) -> losses (..., S): the one loss of :class:`Problem` (no leading
    dimension) and :class:`~sublevel.theory.batched_problems.BatchedProblems` (K data sets).
    """
    residual = outputs - y.unsqueeze(-2)
    value = residual.square().sum(dim=(-3, -1)) / y.shape[-2]
    if kappa:
        value = value + kappa * theta.square().sum(dim=-1)
    return value


def _float_dtype(values) -> torch.dtype:
    if isinstance(values, torch.Tensor) and values.dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        return values.dtype
    return torch.float64


def _device(values):
    return values.device if isinstance(values, torch.Tensor) else "cpu"
