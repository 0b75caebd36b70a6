"""Fully connected networks with a flat parameter layout and batched evaluation.

A network with widths (n_0, ..., n_L) computes

    h_0 = x,   h_l = sigma(W_l h_{l-1} + b_l)  (0 < l < L),   H(x) = W_L h_{L-1} + b_L,

with W_l of shape (n_l, n_{l-1}). All parameters live in one vector theta in R^P, laid out
layer by layer as [vec(W_1), b_1, vec(W_2), b_2, ...] (row-major W, biases omitted when
``bias=False``). Every routine accepts a batch Theta of shape (K, P) and evaluates the K
networks together: the first layer of all K networks is one matrix product X @ [W_1^(1); ...;
W_1^(K)]^T because X is shared, deeper layers are batched matrix products.

References: Freeman & Bruna, "Topology and geometry of half-rectified network optimization",
ICLR 2017 (arXiv:1611.01540), section 2, for the notation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Union

import torch

from sublevel.theory.errors import InputError

Activation = Callable[[torch.Tensor], torch.Tensor]


def _identity(z: torch.Tensor) -> torch.Tensor:
    return z


def _square(z: torch.Tensor) -> torch.Tensor:
    return z * z


ACTIVATIONS: dict[str, Activation] = {
    "linear": _identity,
    "relu": torch.relu,
    "quadratic": _square,
}
"""Activations known by name. Any other elementwise torch function can be passed directly."""


@dataclass(frozen=True)
class LayerView:
    """Views of one layer's parameters inside a batch of flat vectors.

    ``weight`` has shape (..., n_out, n_in) and ``bias`` (..., n_out) or is None. Both share
    memory with the flat tensor they were cut from, so writing to them writes to theta.
    """

    weight: torch.Tensor
    bias: torch.Tensor | None


MAX_WIDTH = 1_000_000
"""Widest layer accepted: refused before allocating rather than failing deep inside torch."""


@dataclass(frozen=True)
class Architecture:
    """A fully connected network: widths (n_0, ..., n_L), activation, bias on or off.

    Parameters
    ----------
    widths : tuple of int
        Layer widths n_0 (input) ... n_L (output); at least two entries, each >= 1.
    activation : str or callable
        ``"linear"``, ``"relu"``, ``"quadratic"`` or any elementwise torch function.
    bias : bool
        Whether every layer has a bias vector.

    Raises
    ------
    InputError
        If a width is < 1, fewer than two widths are given, or the activation is unknown.

    Examples
    --------
    >>> arch = Architecture.parse("2-3-1", "relu")
    >>> arch.num_params
    13
    """

    widths: tuple[int, ...]
    activation: Union[str, Activation] = "linear"
    bias: bool = True
    _offsets: tuple[tuple[int, int, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        widths = tuple(int(w) for w in self.widths)
        if len(widths) < 2:
            raise InputError(f"an architecture needs at least two widths, got {list(widths)}")
        if any(w < 1 for w in widths):
            raise InputError(f"every width must be >= 1, got {'-'.join(map(str, widths))}")
        if max(widths) > MAX_WIDTH:
            raise InputError(f"widths above {MAX_WIDTH:,} are refused (got {'-'.join(map(str, widths))})")
        if isinstance(self.activation, str) and self.activation not in ACTIVATIONS:
            known = ", ".join(sorted(ACTIVATIONS))
            raise InputError(f"unknown activation {self.activation!r} (known: {known})")
        if not isinstance(self.activation, str) and not callable(self.activation):
            raise InputError("activation must be a name or an elementwise torch function")
        object.__setattr__(self, "widths", widths)
        offsets, start = [], 0
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            w_end = start + n_out * n_in
            b_end = w_end + (n_out if self.bias else 0)
            offsets.append((start, w_end, b_end))
            start = b_end
        object.__setattr__(self, "_offsets", tuple(offsets))

    @classmethod
    def parse(cls, spec: str, activation: Union[str, Activation] = "linear", bias: bool = True) -> "Architecture":
        """Build from a dash-separated width string such as ``"4-16-1"``."""
        try:
            widths = tuple(int(part) for part in str(spec).split("-"))
        except ValueError:
            raise InputError(f"architecture must look like 4-16-1, got {spec!r}") from None
        return cls(widths, activation, bias)

    # ------------------------------------------------------------------ layout
    @property
    def depth(self) -> int:
        """Number of weight layers L."""
        return len(self.widths) - 1

    @property
    def num_params(self) -> int:
        """P, the length of the flat parameter vector."""
        return self._offsets[-1][2]

    @property
    def activation_name(self) -> str:
        if isinstance(self.activation, str):
            return self.activation
        return getattr(self.activation, "__name__", repr(self.activation))

    @property
    def activation_fn(self) -> Activation:
        if isinstance(self.activation, str):
            return ACTIVATIONS[self.activation]
        return self.activation

    @property
    def spec(self) -> str:
        """The dash-separated width string, e.g. ``"4-16-1"``."""
        return "-".join(map(str, self.widths))

    def slices(self, layer: int) -> tuple[slice, slice | None]:
        """Index ranges of W_layer and b_layer (1-based layer) in theta."""
        if not 1 <= layer <= self.depth:
            raise InputError(f"layer must be in 1..{self.depth}, got {layer}")
        start, w_end, b_end = self._offsets[layer - 1]
        return slice(start, w_end), (slice(w_end, b_end) if self.bias else None)

    def layers(self, theta: torch.Tensor) -> list[LayerView]:
        """Named views (W_l, b_l), l = 1..L, of a flat theta of shape (..., P)."""
        self.check_params(theta)
        views = []
        for layer, (n_in, n_out) in enumerate(zip(self.widths[:-1], self.widths[1:]), start=1):
            w_slice, b_slice = self.slices(layer)
            weight = theta[..., w_slice].unflatten(-1, (n_out, n_in))
            bias = theta[..., b_slice] if b_slice is not None else None
            views.append(LayerView(weight, bias))
        return views

    def flatten(self, weights: list[torch.Tensor], biases: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Inverse of :meth:`layers`: pack W_l (..., n_l, n_{l-1}) and b_l into theta (..., P)."""
        if len(weights) != self.depth:
            raise InputError(f"expected {self.depth} weight matrices, got {len(weights)}")
        parts = []
        for layer, weight in enumerate(weights):
            parts.append(weight.flatten(-2))
            if self.bias:
                if biases is None:
                    bias = weight.new_zeros(weight.shape[:-2] + (weight.shape[-2],))
                else:
                    bias = biases[layer]
                parts.append(bias)
        return torch.cat(parts, dim=-1)

    def scale_output(self, theta: torch.Tensor, factor: float) -> torch.Tensor:
        """Parameters theta' with H(x; theta') = factor * H(x; theta) for every x (factor > 0).

        For activations homogeneous of degree k (linear and ReLU: k = 1, square: k = 2) every
        weight is multiplied by c and the bias of layer l by c^(e_{l-1} + 1), where
        e_0 = 0, e_l = k (e_{l-1} + 1): then layer l's pre-activation is multiplied by
        c^(e_{l-1} + 1) and the output by c^(e_{L-1} + 1), which is set to ``factor``. The map
        is a uniform rescaling of each layer, so it keeps the geometry of parameter space up to
        a per-layer scale. For any other activation only the last layer is multiplied.
        """
        theta = theta.clone()
        views = self.layers(theta)
        degree = {"linear": 1, "relu": 1, "quadratic": 2}.get(self.activation_name if isinstance(self.activation, str)
                                                              else "")
        if degree is None:
            views[-1].weight.mul_(factor)
            if views[-1].bias is not None:
                views[-1].bias.mul_(factor)
            return theta
        exponents, e = [], 0
        for _ in views:
            exponents.append(e + 1)
            e = degree * (e + 1)
        c = factor ** (1.0 / exponents[-1])
        for view, exponent in zip(views, exponents):
            view.weight.mul_(c)
            if view.bias is not None:
                view.bias.mul_(c ** exponent)
        return theta

    def check_params(self, theta: torch.Tensor) -> None:
        if theta.shape[-1] != self.num_params:
            raise InputError(
                f"parameter vectors have length {theta.shape[-1]}, architecture {self.spec} "
                f"({'with' if self.bias else 'without'} bias) needs {self.num_params}"
            )

    def check_inputs(self, x: torch.Tensor) -> None:
        if x.ndim != 2 or x.shape[1] != self.widths[0]:
            raise InputError(f"inputs have shape {tuple(x.shape)}, architecture {self.spec} needs (N, {self.widths[0]})")

    def check_targets(self, y: torch.Tensor) -> None:
        if y.ndim != 2 or y.shape[1] != self.widths[-1]:
            raise InputError(f"targets have shape {tuple(y.shape)}, architecture {self.spec} needs (N, {self.widths[-1]})")

    def init(self, count: int, scale: float = 1.0, generator: torch.Generator | None = None,
             dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> torch.Tensor:
        """``count`` random parameter vectors, each weight ~ N(0, scale^2 / n_in), biases ~ N(0, scale^2)."""
        theta = torch.randn(count, self.num_params, generator=generator, dtype=torch.float64)
        for layer, n_in in enumerate(self.widths[:-1], start=1):
            w_slice, _ = self.slices(layer)
            theta[:, w_slice] /= n_in ** 0.5
        return (scale * theta).to(device=device, dtype=dtype)

    # -------------------------------------------------------------- evaluation
    def forward(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Outputs H(x; theta) of K networks on N inputs: (K, P), (N, n_0) -> (K, N, n_L)."""
        theta2 = theta.reshape(-1, self.num_params)
        out = self.forward_sample_major(theta2, x).transpose(0, 1)
        return out.reshape(theta.shape[:-1] + out.shape[1:])

    def forward_sample_major(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Outputs of S networks laid out sample-major: the layout the batched losses work in.

        (S, P), (N, n_0) -> (N, S, n_L); batched over K data sets of one shape:
        (K, S, P), (K, N, n_0) -> (K, N, S, n_L). One implementation serves both (the first is
        the case K = 1). Hidden activations stay (K, N, S, n_l), so the first layer of all S
        networks of data set k is one GEMM X_k W_1^T + b_1 of shape (N x n_0) @ (n_0 x S n_1)
        with the bias added by the GEMM itself (``addmm``), K of them in one ``baddbmm``; a
        one-output layer is a multiply and a sum over the hidden units; wider layers are one
        ``baddbmm`` over the K S networks. When no gradient is needed, activations
        and the one-output last layer run in place, so the hidden tensor is written once and
        read twice.
        """
        if x.ndim == 2:
            return self.forward_sample_major(theta.unsqueeze(0), x.unsqueeze(0))[0]
        views = self.layers(theta)
        k, s = theta.shape[:2]
        n = x.shape[1]
        in_place = not (torch.is_grad_enabled() and (theta.requires_grad or x.requires_grad))
        first = views[0]
        weight = first.weight.reshape(k, s * self.widths[1], -1)
        if k == 1:  # one data set: a plain GEMM (bmm of batch 1 would sum in another order)
            if first.bias is None:
                z = x[0] @ weight[0].T
            else:
                z = torch.addmm(first.bias.reshape(1, -1), x[0], weight[0].T)
            z = z.view(1, n, s, self.widths[1])
        else:
            if first.bias is None:
                z = torch.bmm(x, weight.transpose(1, 2))
            else:
                z = torch.baddbmm(first.bias.reshape(k, 1, -1), x, weight.transpose(1, 2))
            z = z.view(k, n, s, self.widths[1])
        for view in views[1:]:
            h = self.activate(z, in_place)
            if view.weight.shape[2] == 1:
                w = view.weight[:, :, 0].unsqueeze(1)
                z = (h.mul_(w) if in_place else h * w).sum(-1, keepdim=True)
                if view.bias is not None:
                    z = z + view.bias.unsqueeze(1)
            else:
                flat = h.permute(0, 2, 1, 3).reshape(k * s, n, -1)
                weight = view.weight.reshape((k * s,) + view.weight.shape[2:]).transpose(1, 2)
                if view.bias is None:
                    z = torch.bmm(flat, weight)
                else:  # the bias added inside the product's pass over the output
                    z = torch.baddbmm(view.bias.reshape(k * s, 1, -1), flat, weight)
                z = z.view(k, s, n, -1).transpose(1, 2)
        return z

    def activate(self, z: torch.Tensor, in_place: bool = False) -> torch.Tensor:
        """sigma(z); in place for the named activations when ``in_place`` (no autograd then)."""
        if in_place and self.activation in _IN_PLACE:
            return _IN_PLACE[self.activation](z)
        return self.activation_fn(z)


_IN_PLACE: dict[str, Activation] = {
    "linear": _identity,
    "relu": torch.relu_,
    "quadratic": lambda z: z.square_(),
}
"""In-place versions of the named activations, used when no gradient is recorded."""
