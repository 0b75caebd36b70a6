"""The degree-1 arc-cosine kernel: exact Gaussian expectations of products of ReLUs.

For x ~ N(0, I_n) and w, v in R^n at angle t = angle(w, v) in [0, pi],

    [w, v] := E[relu(w.x) relu(v.x)] = |w| |v| (sin t + (pi - t) cos t) / (2 pi)

(Cho & Saul, "Kernel methods for deep learning", NIPS 2009, eq. (6) with n = 1; the
notation [w, v]_Z is Freeman & Bruna 2017, arXiv:1611.01540, section 2.3). In particular
[w, w] = |w|^2 / 2 and [w, -w] = 0. A two-layer ReLU net without biases,
H(x) = sum_j a_j relu(w_j.x), therefore has the exact population quantities

    E[H(x) G(x)] = a^T K(W, V) b,        K(W, V)_{jl} = [w_j, v_l],

and the population square loss E[(H - G)^2] of a student against a teacher is a quadratic
form in the output weights with kernel-matrix coefficients. Everything here is differentiable
torch code, batched over leading dimensions.
"""
from __future__ import annotations

import math

import torch

ANGLE_CLAMP = 1.0 - 1e-15
"""cos t is clamped to [-ANGLE_CLAMP, ANGLE_CLAMP] before arccos: arccos has an infinite
derivative at +-1, which would give NaN gradients for parallel weight vectors, while the
kernel itself is C^1 there (its derivative in t vanishes at t = 0 and t = pi)."""


def angular_part(cos_t: torch.Tensor) -> torch.Tensor:
    """J(t) / (2 pi) with J(t) = sin t + (pi - t) cos t, as a function of cos t."""
    c = cos_t.clamp(-ANGLE_CLAMP, ANGLE_CLAMP)
    t = torch.arccos(c)
    return (torch.sqrt(1 - c * c) + (math.pi - t) * c) / (2 * math.pi)


def relu_kernel(w: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Kernel matrix K_{jl} = E[relu(w_j.x) relu(v_l.x)], x ~ N(0, I).

    Parameters
    ----------
    w : tensor (..., m, n)
    v : tensor (..., k, n)

    Returns
    -------
    tensor (..., m, k)

    Notes
    -----
    A zero row gives a zero row of K (its ReLU feature vanishes identically).

    Examples
    --------
    >>> import torch
    >>> e = torch.eye(2, dtype=torch.float64)
    >>> relu_kernel(e, e)  # [e1, e1] = 1/2, [e1, e2] = 1/(2 pi)
    tensor([[0.5000, 0.1592],
            [0.1592, 0.5000]], dtype=torch.float64)
    """
    nw = w.norm(dim=-1)
    nv = v.norm(dim=-1)
    scale = nw.unsqueeze(-1) * nv.unsqueeze(-2)
    gram = w @ v.transpose(-1, -2)
    cos_t = gram / torch.where(scale > 0, scale, torch.ones_like(scale))
    return scale * angular_part(cos_t)


def two_layer_population_loss(w: torch.Tensor, a: torch.Tensor, v: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """E[(sum_j a_j relu(w_j.x) - sum_l b_l relu(v_l.x))^2] for x ~ N(0, I), exactly.

    Parameters
    ----------
    w : tensor (..., m, n)   student first layer
    a : tensor (..., m)      student output weights
    v : tensor (..., k, n)   teacher first layer
    b : tensor (..., k)      teacher output weights

    Returns
    -------
    tensor (...)
        a^T K(W, W) a - 2 a^T K(W, V) b + b^T K(V, V) b.
    """
    def form(left, p, right, q):
        return (p.unsqueeze(-2) @ relu_kernel(left, right) @ q.unsqueeze(-1)).squeeze(-1).squeeze(-1)

    return form(w, a, w, a) - 2 * form(w, a, v, b) + form(v, b, v, b)
