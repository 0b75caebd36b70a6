"""Many problems of one shape, many parameter vectors each, evaluated in one batched call.

K data sets (X_k, Y_k), k = 1..K, of one shape (N x n_0, N x n_L) and one architecture pose
K problems. For parameters Theta of shape (K, S, P), S networks per problem,

    L_k(theta_ks) = (1/N) sum_mu ||H(x_{k,mu}; theta_ks) - y_{k,mu}||^2 + kappa ||theta_ks||^2,

and :meth:`BatchedProblems.loss` returns the (K, S) matrix of losses. The first layer of all
K S networks is one batched matrix product X_k @ [W_1^(k,1); ...; W_1^(k,S)]^T (batch K),
deeper layers are one batched product (or, for one output, one multiply-and-sum) over the
K S networks; there is no Python loop over K or S, so a width sweep over seeds (different
data sets of one shape) fills a GPU in one kernel launch per layer. This is the same loss as :class:`sublevel.theory.problems.Problem`
(Freeman & Bruna 2017, arXiv:1611.01540, eq. (1)), batched over data sets as well.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from sublevel.theory.errors import InputError
from sublevel.theory.networks import Architecture
from sublevel.theory.problems import DataOnDevice, Problem, mean_square_loss, networks_per_chunk


@dataclass(frozen=True)
class BatchedProblems(DataOnDevice):
    """K problems that share an architecture, a data shape and kappa.

    Parameters
    ----------
    architecture : Architecture
    x : tensor (K, N, n_0)
    y : tensor (K, N, n_L)
    kappa : float

    Raises
    ------
    InputError
        If the shapes disagree with each other or with the architecture.

    Examples
    --------
    >>> import torch
    >>> from sublevel.theory.networks import Architecture
    >>> arch = Architecture((2, 3, 1), "relu", bias=False)
    >>> batch = BatchedProblems(arch, torch.randn(4, 10, 2, dtype=torch.float64), torch.zeros(4, 10, 1, dtype=torch.float64))
    >>> batch.loss(torch.zeros(4, 5, arch.num_params, dtype=torch.float64)).shape
    torch.Size([4, 5])
    """

    architecture: Architecture
    x: torch.Tensor
    y: torch.Tensor
    kappa: float = 0.0

    def __post_init__(self) -> None:
        if self.x.ndim != 3 or self.y.ndim != 3 or self.x.shape[:2] != self.y.shape[:2]:
            raise InputError(f"batched data must be (K, N, n_0) and (K, N, n_L) with equal K and N, "
                             f"got {tuple(self.x.shape)} and {tuple(self.y.shape)}")
        self.architecture.check_inputs(self.x[0])
        self.architecture.check_targets(self.y[0])
        if not (torch.isfinite(self.x).all() and torch.isfinite(self.y).all()):
            raise InputError("batched data contain NaN or inf")
        if not self.kappa >= 0:
            raise InputError(f"ridge kappa must be >= 0, got {self.kappa}")

    @classmethod
    def stack(cls, problems: Sequence[Problem]) -> "BatchedProblems":
        """Stack problems with one architecture, one data shape and one kappa."""
        if not problems:
            raise InputError("no problems to stack")
        first = problems[0]
        for other in problems[1:]:
            if (other.architecture != first.architecture or other.x.shape != first.x.shape
                    or other.kappa != first.kappa):
                raise InputError("problems to stack need one architecture, one data shape and one kappa")
        return cls(first.architecture, torch.stack([p.x for p in problems]), torch.stack([p.y for p in problems]),
                   first.kappa)

    @property
    def count(self) -> int:
        """K, the number of problems."""
        return self.x.shape[0]

    @property
    def num_samples(self) -> int:
        return self.x.shape[1]

    def problem(self, k: int) -> Problem:
        """Problem k alone."""
        return Problem(self.architecture, self.x[k], self.y[k], self.kappa)

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        """Outputs of S networks on each of K data sets: (K, S, P) -> (K, S, N, n_L)."""
        return self.forward_sample_major(theta).transpose(1, 2)

    def forward_sample_major(self, theta: torch.Tensor) -> torch.Tensor:
        """Outputs laid out (K, N, S, n_L), the layout the loss works in.

        :meth:`Architecture.forward_sample_major` on the K data sets at once (the one forward
        pass the single-problem loss uses too).
        """
        arch = self.architecture
        arch.check_params(theta)
        if theta.ndim != 3 or theta.shape[0] != self.count:
            raise InputError(f"parameters must have shape (K={self.count}, S, P), got {tuple(theta.shape)}")
        return arch.forward_sample_major(theta, self.x)

    def chunk_size(self) -> int:
        """Networks per problem evaluated together: the K-problem hidden tensor of a chunk
        (K x N x S_chunk x n_max entries) sized by :func:`~sublevel.theory.problems.networks_per_chunk`."""
        return networks_per_chunk(self.architecture, self.num_samples, self.dtype, self.device, self.count)

    def loss(self, theta: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        """Losses L_k(theta_ks): (K, S, P) -> (K, S). Differentiable through autograd.

        ``chunk`` bounds how many of the S networks per problem are evaluated at once
        (default from :meth:`chunk_size`); it changes speed and memory, the losses only in
        the last bits.

        Notes
        -----
        Cost: 2 K S N sum_l n_l n_{l-1} multiply-adds, in L batched matrix products per chunk.
        """
        theta = torch.as_tensor(theta, dtype=self.dtype, device=self.device)
        step = chunk or self.chunk_size()
        parts = [mean_square_loss(self.forward_sample_major(theta[:, i:i + step]), self.y, theta[:, i:i + step],
                                  self.kappa) for i in range(0, theta.shape[1], step)]
        return torch.cat(parts, dim=1) if parts else theta.new_zeros(self.count, 0)

    def flops(self, networks: int) -> float:
        """Floating-point operations of one forward pass of ``networks`` networks (2 per multiply-add)."""
        widths = self.architecture.widths
        return 2.0 * networks * self.num_samples * sum(a * b for a, b in zip(widths[:-1], widths[1:]))
