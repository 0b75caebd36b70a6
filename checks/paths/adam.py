"""Adam on one batched parameter tensor, without ``torch.optim``.

The update of Kingma & Ba ("Adam: A method for stochastic optimization", ICLR 2015,
arXiv:1412.6980) with bias correction, written operation for operation as torch's single-tensor
Adam, so the iterates are bit-for-bit those of ``torch.optim.Adam(lr=lr)`` on the CPU
(tests/test_adam.py checks it). The reason for not calling ``torch.optim``: its first
optimizer imports ``torch._dynamo``, about 1.1 s of every process, half of a small
``sublevel count``. Adam acts coordinate-wise, so the rows of one (B, P) tensor are B
independent runs.
"""
from __future__ import annotations

import torch


class Adam:
    """In-place Adam steps on ``param`` given its gradient.

    Parameters
    ----------
    param : tensor
        Updated in place by :meth:`step` (it needs no ``requires_grad``).
    lr : float
    betas : (float, float)
    eps : float
    """

    def __init__(self, param: torch.Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.param, self.lr, self.betas, self.eps = param, lr, betas, eps
        self.exp_avg = torch.zeros_like(param)
        self.exp_avg_sq = torch.zeros_like(param)
        self.steps = 0

    @torch.no_grad()
    def step(self, grad: torch.Tensor) -> None:
        """theta <- theta - lr m_hat / (sqrt(v_hat) + eps) with the moments updated by ``grad``."""
        beta1, beta2 = self.betas
        self.steps += 1
        step = float(self.steps)
        self.exp_avg.lerp_(grad, 1 - beta1)
        self.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        step_size = self.lr / bias_correction1
        denom = (self.exp_avg_sq.sqrt() / bias_correction2 ** 0.5).add_(self.eps)
        self.param.addcdiv_(self.exp_avg, denom, value=-step_size)
