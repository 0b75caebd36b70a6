"""Exact outputs of the theorems' networks along lines of a slice, a whole line per sweep.

For f(x; theta) = W_2 sigma(W_1 x + b_1) + b_2 with sigma(h) = max(h, 0) + alpha min(h, 0)
(ReLU: alpha = 0, leaky ReLU: 0 < alpha < 1, no activation: alpha = 1), move theta along a line
of a slice, theta(tau) = theta_s + tau d (Li, Xu, Taylor, Studer & Goldstein, NeurIPS 2018,
arXiv:1712.09913, Sec. 5, evaluate such slices on 51 x 51 grids). For every sample i and hidden
unit j the pre-activation and the outgoing weight are affine in tau,

    h_ij(tau) = H_ij + tau G_ij,        w_oj(tau) = P_oj + tau E_oj,

so unit j contributes the quadratic w_oj(tau) h_ij(tau) = c0 + c1 tau + c2 tau^2 (c0 = P H,
c1 = P G + E H, c2 = E G) where it is active, and alpha times it elsewhere. A unit switches at
most once along the line, at tau* = -H / G. Placing each unit's coefficients at the first grid
position where it is active (increasing units), or removing them there (decreasing units), and
taking prefix sums over the positions gives every output at every position of the line in
O(N n_1 n_out) work per line instead of O(L N n_1 n_out) for L separate forward passes (this is
the breakpoint sweep of :mod:`sublevel.checks.certify.segments`, restricted to the grid positions).

With a second hidden layer, h^(2)(tau) = (A + tau B) sigma_1(h^(1)(tau)) + a + tau b is a
quadratic in tau between the first layer's switching points, with coefficients (Q_0, Q_1, Q_2)
in R^{n_2} that change by a rank-one term when a first-layer unit switches. The sweep builds Q at
the line's first position once (n_1 n_2 work), updates it at each switch, and evaluates
sigma_2(Q_0 + tau Q_1 + tau^2 Q_2) and the output layer at every position (n_2 n_out work per
position instead of the n_1 n_2 of a forward pass). Only values at the positions are needed, so
the second layer's own switching points never have to be located.

Deep linear nets (any depth) and one hidden layer of squares, sigma(h) = h^2, are polynomials
in tau along a line; their coefficients are built with a few matrix products per line and
evaluated at all positions by one product with the powers of tau.

The values equal the forward pass up to float64 rounding, whatever the spacing of the
positions; where no unit of a layer is active the layer's output is exactly zero, as in a
forward pass. The sweep kernels are compiled with numba (``cache=True``: the machine code is
kept on disk, so only the first call after installation pays the compilation) and run the
lines in parallel on torch's thread count.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numba
import numpy as np
import torch

from sublevel.checks.landscapes.models import Square

_PASS_THROUGH = (torch.nn.Identity, torch.nn.Dropout)  # dropout is off in eval mode
_EVEN = 1e-13  # relative deviation below which a line's positions count as evenly spaced
MIN_LINE_POINTS = 3
"""Runs of fewer points along the last coordinate go to the point-by-point path."""


@dataclass(frozen=True)
class SweptMLP:
    """The Linear layers after the first and the activation before each of them: the negative
    slope alpha of a piecewise-linear one (ReLU 0, leaky ReLU, none 1), or squaring
    (``square``: one hidden layer with sigma(h) = h^2)."""

    layers: tuple[str, ...]
    alphas: tuple[float, ...]
    square: bool = False

    @classmethod
    def detect(cls, rest: tuple[tuple[str, torch.nn.Module], ...]) -> "SweptMLP | None":
        """The layers after the first Linear of a Sequential: one or two (activation?, Linear)
        pairs with ReLU or LeakyReLU activations, any number of Linear layers without
        activations, or (Square, Linear) (pass-through modules anywhere); None for any other
        structure."""
        layers, alphas, alpha, square = [], [], None, False
        for name, module in rest:
            if type(module) in _PASS_THROUGH:
                continue
            if isinstance(module, torch.nn.Linear):
                layers.append(name)
                alphas.append(1.0 if alpha is None else alpha)
                alpha = None
            elif alpha is None and type(module) in (torch.nn.ReLU, torch.nn.LeakyReLU):
                alpha = float(getattr(module, "negative_slope", 0.0))
            elif alpha is None and type(module) is Square and not layers:
                alpha, square = 0.0, True
            else:
                return None
        linear = all(a == 1.0 for a in alphas)
        if alpha is not None or not layers or (len(layers) > 2 and not linear) or (square and len(layers) > 1):
            return None
        return cls(tuple(layers), tuple(alphas), square)


@dataclass(frozen=True)
class LayerAlongLines:
    """A Linear layer at each line's first point and its derivative along the lines (float64)."""

    weight: torch.Tensor        # (R, n_out, n_in)
    weight_slope: torch.Tensor  # (n_out, n_in)
    bias: torch.Tensor          # (R, n_out), zeros without bias
    bias_slope: torch.Tensor    # (n_out,)

    def lines(self, part: slice) -> "LayerAlongLines":
        """The same layer for a subset of the lines."""
        return LayerAlongLines(self.weight[part], self.weight_slope, self.bias[part], self.bias_slope)


@dataclass(frozen=True)
class Lines:
    """Consecutive runs of coefficient rows that differ only in an increasing last coordinate.

    ``starts[r]`` is the index of line r's first row, ``lengths[r]`` its number of rows;
    rows outside every line (runs shorter than ``min_points``) are listed in ``singles``.
    """

    starts: np.ndarray
    lengths: np.ndarray
    singles: np.ndarray

    @classmethod
    def split(cls, coefficients: np.ndarray, min_points: int = MIN_LINE_POINTS) -> "Lines":
        c = np.asarray(coefficients, dtype=np.float64)
        k = c.shape[0]
        if k == 0:
            empty = np.zeros(0, dtype=np.int64)
            return cls(empty, empty, empty)
        same_line = np.all(c[1:, :-1] == c[:-1, :-1], axis=1) & (c[1:, -1] > c[:-1, -1])
        breaks = np.flatnonzero(~same_line) + 1
        run_starts = np.concatenate([[0], breaks])
        run_lengths = np.diff(np.concatenate([run_starts, [k]]))
        long = run_lengths >= min_points
        singles = np.concatenate([np.arange(s, s + n) for s, n in zip(run_starts[~long], run_lengths[~long])]
                                 or [np.zeros(0, dtype=np.int64)])
        return cls(run_starts[long].astype(np.int64), run_lengths[long].astype(np.int64), singles.astype(np.int64))

    def points(self) -> np.ndarray:
        """Row indices of the lines' points, line after line."""
        return np.concatenate([np.arange(s, s + n) for s, n in zip(self.starts, self.lengths)]
                              or [np.zeros(0, dtype=np.int64)])


def line_outputs(first_outputs: torch.Tensor, starts: torch.Tensor, positions: torch.Tensor,
                 lengths: torch.Tensor, layers: Sequence[LayerAlongLines], alphas: Sequence[float],
                 out: np.ndarray | None = None,
                 switches: tuple[np.ndarray, np.ndarray] | None = None, square: bool = False) -> torch.Tensor:
    """Network outputs (R, L, N, n_out) at ``positions`` along R lines, in float64.

    Parameters
    ----------
    first_outputs : (m + 1, N, n_1)
        Z_0 = W_1 X + b_1 at the slice origin and Z_j = D_j X + e_j for the first layer's part
        of each direction; the lines run along direction m.
    starts : (R, m)
        Slice coefficients of each line's first point.
    positions : (R, L)
        Offsets tau along the line (increasing; entries past ``lengths[r]`` are ignored).
    lengths : (R,)
        Points on each line.
    layers : LayerAlongLines
        The Linear layers after the first (see :class:`SweptMLP`); ``alphas[k]`` is the negative
        slope of the activation before ``layers[k]``; ``square``: the one activation squares.
    out : float64 array, optional
        Reused memory for the result (at least R L N n_out elements): a fresh multi-MiB array
        per call costs page faults comparable to the sweep itself.
    switches : optional
        ``switch_factors(first_outputs)``, when it is reused across calls.
    """
    shape = (starts.shape[0], positions.shape[1], first_outputs.shape[1], layers[-1].weight.shape[1])
    out = np.empty(shape) if out is None else out.reshape(-1)[:int(np.prod(shape))].reshape(shape)
    tau, count = float64_array(positions), lengths.cpu().numpy().astype(np.int64)
    steps = np.arange(tau.shape[1])
    span = tau[np.arange(tau.shape[0]), count - 1] - tau[:, 0]
    ideal = tau[:, :1] + steps * (span / (count - 1))[:, None]
    even = np.all((np.abs(tau - ideal) <= _EVEN * span[:, None]) | (steps >= count[:, None]), axis=1)
    if square or all(a == 1.0 for a in alphas):  # polynomials in tau
        polynomial = _square_outputs if square else _linear_chain_outputs
        out[...] = polynomial(first_outputs.double(), starts.double(), torch.from_numpy(tau), layers)
        return torch.from_numpy(out)
    threads = torch.get_num_threads()
    try:
        _sweep(float64_array(first_outputs), switches, float64_array(starts), tau, count, even, layers, alphas, out,
               threads)
    finally:
        # numba's OpenMP threading layer shares OpenMP's settings with torch: starting it can
        # change torch's thread count, which the caller chose
        torch.set_num_threads(threads)
    return torch.from_numpy(out)


def _sweep(z, switches, starts, tau, count, even, layers, alphas, out, threads: int) -> None:
    """Run the numba kernel for one or two hidden piecewise-linear layers on ``threads`` threads."""
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    if switches is None:
        switches = _switch_factors(z)
    common = (z, *switches, starts, tau, count, even)
    last = [float64_array(t) for t in (layers[-1].weight, layers[-1].weight_slope, layers[-1].bias,
                                       layers[-1].bias_slope)]
    if len(layers) == 1:
        _one_hidden_kernel(*common, *last, float(alphas[0]), out)
    else:
        first = layers[0]
        hidden = [float64_array(t) for t in (first.weight.transpose(1, 2), first.weight_slope.T, first.bias,
                                             first.bias_slope)]
        _two_hidden_kernel(*common, *hidden, float(alphas[0]), *last, float(alphas[1]), out)


def float64_array(t: torch.Tensor | np.ndarray) -> np.ndarray:
    """A C-contiguous float64 numpy copy (or view) of ``t``, as the kernels take it."""
    return np.ascontiguousarray(torch.as_tensor(t).detach().cpu().to(torch.float64).numpy())


def _square_outputs(first_outputs: torch.Tensor, starts: torch.Tensor, tau: torch.Tensor,
                    layers: Sequence[LayerAlongLines]) -> torch.Tensor:
    """Outputs (R, L, N, n_out) of f = W_2 (W_1 x + b_1)^2 + b_2 along lines: with h = H + tau G
    and W_2 = P + tau E, each output is the cubic sum_j (P + tau E)_j (H + tau G)_j^2 plus the bias,
    with coefficients (P H^2, E H^2 + 2 P H G, 2 E H G + P G^2, E G^2) summed over the units."""
    m = starts.shape[1]
    (layer,) = layers
    start = first_outputs[0] + torch.einsum("rm,m...->r...", starts, first_outputs[1:])  # (R, N, n_1)
    slope = first_outputs[m]
    p, e = layer.weight.transpose(1, 2), layer.weight_slope.T
    squared, mixed, slope_squared = start * start, 2.0 * start * slope, slope * slope
    coefficients = [squared @ p + layer.bias[:, None, :],
                    squared @ e + mixed @ p + layer.bias_slope,
                    mixed @ e + slope_squared @ p,
                    (slope_squared @ e).expand(start.shape[0], -1, -1)]
    return _at_positions(coefficients, tau)


def _at_positions(coefficients: list[torch.Tensor], tau: torch.Tensor) -> torch.Tensor:
    """sum_d coefficients[d] tau^d at every position of every line, (R, L, N, n_out): one
    matrix product (L x degree+1 powers of tau) @ (degree+1 x N n_out) per line."""
    lines, samples, outputs = coefficients[0].shape
    powers = tau[:, :, None] ** torch.arange(len(coefficients), dtype=tau.dtype)
    stacked = torch.stack(coefficients, dim=1).flatten(2)
    return torch.bmm(powers, stacked).view(lines, tau.shape[1], samples, outputs)


def _linear_chain_outputs(first_outputs: torch.Tensor, starts: torch.Tensor, tau: torch.Tensor,
                          layers: Sequence[LayerAlongLines]) -> torch.Tensor:
    """Outputs (R, L, N, n_out) of a deep linear net along lines.

    Every layer is affine in tau, so the net is a polynomial in tau. The product of the layers
    after the first, M(tau) = (W_L + tau V_L) ... (W_2 + tau V_2), and the biases pushed through
    them, c(tau) = sum_l M_{>l}(tau) b_l(tau), are polynomials that do not depend on the sample:
    they are built once per line from the last layer down (degree d of the product with one more
    layer = degree d @ W + degree d-1 @ V). Each sample then costs one polynomial product with
    its first-layer output H + tau G, and one product with the powers of tau evaluates it at the
    positions.
    """
    m = starts.shape[1]
    last = layers[-1]
    product = [last.weight, last.weight_slope.expand_as(last.weight)]  # coefficients of tau^d
    offset = [last.bias, last.bias_slope.expand_as(last.bias)]
    for layer in reversed(layers[:-1]):
        bias_slope = layer.bias_slope.expand_as(layer.bias)
        offset = offset + [None]
        for d, term in enumerate(product):
            offset[d] = offset[d] + (term @ layer.bias[:, :, None])[..., 0]
            moved = (term @ bias_slope[:, :, None])[..., 0]
            offset[d + 1] = moved if offset[d + 1] is None else offset[d + 1] + moved
        grown = [term @ layer.weight for term in product] + [None]
        for d, term in enumerate(product):
            moved = term @ layer.weight_slope
            grown[d + 1] = moved if grown[d + 1] is None else grown[d + 1] + moved
        product = grown
    start = first_outputs[0] + torch.einsum("rm,m...->r...", starts, first_outputs[1:])  # (R, N, n_1)
    slope = first_outputs[m].expand_as(start)
    coefficients = [start @ product[0].transpose(1, 2)]
    for d in range(1, len(product)):
        coefficients.append(start @ product[d].transpose(1, 2) + slope @ product[d - 1].transpose(1, 2))
    coefficients.append(slope @ product[-1].transpose(1, 2))
    for d, term in enumerate(offset):
        coefficients[d] = coefficients[d] + term[:, None, :]
    return _at_positions(coefficients, tau)


# Reassociation lets the unit loops vectorise (the sums over units are float64); no flag that
# assumes finite values: crossings of units with G = 0 are +-1e200 * H.
_FAST = {"reassoc", "contract", "nsz"}


def switch_factors(first_outputs) -> tuple[np.ndarray, np.ndarray]:
    """Per (sample, first-layer unit), the same on every line along the last direction: -1 / G
    and whether the unit rises (see :func:`_switch_factors`)."""
    return _switch_factors(float64_array(first_outputs))


@numba.njit(cache=True, fastmath=_FAST)
def _switch_factors(z):  # pragma: no cover - compiled
    """Per (sample, unit), the same on every line: -1 / G (the crossing is tau* = H (-1 / G)) and
    whether the unit rises (G > 0, or G = 0: crossing -+1e200 H, i.e. always or never active)."""
    m = z.shape[0] - 1
    neg_inv = np.empty(z.shape[1:])
    rising = np.empty(z.shape[1:])
    for i in range(z.shape[1]):
        for j in range(z.shape[2]):
            g = z[m, i, j]
            neg_inv[i, j] = -1.0 / g if g != 0.0 else -1e200
            rising[i, j] = 1.0 if g >= 0.0 else 0.0
    return neg_inv, rising


@numba.njit(cache=True, fastmath=_FAST, inline="always")
def _fence(tau, length, fenced):  # pragma: no cover - compiled
    """fenced = (-inf, tau_0 .. tau_{length-1}, inf); returns positions per unit of tau."""
    fenced[0] = -np.inf
    fenced[1:length + 1] = tau[:length]
    fenced[length + 1] = np.inf
    return (length - 1) / (tau[length - 1] - tau[0])


@numba.njit(cache=True, fastmath=_FAST, inline="always")
def _first_layer(z, start, i, neg_inv, tau, fenced, length, per_step, even, h, slot):  # pragma: no cover - compiled
    """h = sample i's first-layer pre-activations at the line's first point; slot[j] =
    #{k < length : tau_k <= tau*_j}, the first position past unit j's crossing. On evenly spaced
    lines the slot comes from the spacing (a crossing within rounding of a position moves a
    term that is zero there up to rounding); on others it is counted exactly."""
    m = start.shape[0]
    for j in range(h.shape[0]):
        h[j] = z[0, i, j]
    for d in range(m):
        s = start[d]
        for j in range(h.shape[0]):
            h[j] += s * z[d + 1, i, j]
    for j in range(h.shape[0]):
        guess = (h[j] * neg_inv[i, j] - tau[0]) * per_step + 1.0
        slot[j] = np.int32(min(max(guess, 0.0), float(length)))
    for j in range(0 if even else h.shape[0]):
        crossing = min(max(h[j] * neg_inv[i, j], -1e300), 1e300)
        k = slot[j]
        while fenced[k + 1] <= crossing:
            k += 1
        while fenced[k] > crossing:
            k -= 1
        slot[j] = k


@numba.njit(cache=True, fastmath=_FAST, parallel=True)
def _one_hidden_kernel(z, neg_inv, rising, starts, positions, lengths, even, weight, weight_slope, bias, bias_slope,
                       alpha, out):  # pragma: no cover - compiled
    """out[r, k, i, o]: output o for sample i at position k of line r (see :func:`line_outputs`)."""
    m = starts.shape[1]
    n_lines, n_samples, n_hidden = starts.shape[0], z.shape[1], z.shape[2]
    n_out = weight.shape[1]
    for r in numba.prange(n_lines):  # lines in parallel, each with its own scratch memory
        acc = np.zeros((positions.shape[1] + 1, 4))
        h = np.empty(n_hidden)
        slot = np.empty(n_hidden, dtype=np.int32)
        to_base = np.empty(n_hidden)
        to_slot = np.empty(n_hidden)
        movers = np.empty(n_hidden, dtype=np.int64)
        sums = np.empty(4)
        fenced = np.empty(positions.shape[1] + 2)
        length = lengths[r]
        tau = positions[r]
        per_step = _fence(tau, length, fenced)
        for i in range(n_samples):
            _first_layer(z, starts[r], i, neg_inv, tau, fenced, length, per_step, even[r], h, slot)
            count = _unit_shares(slot, rising[i], length, alpha, to_base, to_slot, movers)
            for o in range(n_out):
                acc[:length + 1] = 0.0
                _add_quadratics(weight[r, o], weight_slope[o], h, z[m, i], to_base, to_slot, slot, movers, count,
                                acc, sums)
                b0, b1, b2, b3 = sums[0], sums[1], sums[2], sums[3]
                for k in range(length):
                    b0 += acc[k, 0]
                    b1 += acc[k, 1]
                    b2 += acc[k, 2]
                    b3 += acc[k, 3]
                    t = tau[k]
                    # b3 counts the active units (exact small integers): with none active (and
                    # alpha = 0) the hidden layer is exactly zero and the output exactly the bias,
                    # as in a forward pass (argmax ties of dead samples break the same way)
                    value = b0 + t * (b1 + t * b2) if b3 > 0.5 or alpha != 0.0 else 0.0
                    out[r, k, i, o] = value + bias[r, o] + t * bias_slope[o]


@numba.njit(cache=True, fastmath=_FAST, inline="always")
def _unit_shares(slot, rising, length, alpha, to_base, to_slot, movers):  # pragma: no cover - compiled
    """A unit adds alpha + (1 - alpha) [active at position 0] times its quadratic to the base, and
    +-(1 - alpha) times it at its slot if it switches inside the line (a unit that never switches
    on adds nothing at all: dead units leave exact zeros). Lists the switching units in
    ``movers`` and returns their number."""
    switching = 1.0 - alpha
    for j in range(slot.shape[0]):
        k, up = slot[j], rising[j]
        at_start = up if k == 0 else 1.0 - up
        inside = 1.0 if 0 < k < length else 0.0
        to_base[j] = alpha + switching * at_start
        to_slot[j] = switching * inside * (2.0 * up - 1.0)
    count = 0
    for j in range(slot.shape[0]):
        movers[count] = j
        count += 1 if 0 < slot[j] < length else 0
    return count


@numba.njit(cache=True, fastmath=_FAST, inline="always")
def _add_quadratics(p, e, h, g, to_base, to_slot, slot, movers, count, acc, sums):  # pragma: no cover - compiled
    """Base sums of (P + tau E)(H + tau G) into sums (the last: active units) and the switching
    units' shares at their slots into acc[slot]."""
    b0, b1, b2, b3 = 0.0, 0.0, 0.0, 0.0
    for j in range(h.shape[0]):
        w = to_base[j]
        b0 += w * (p[j] * h[j])
        b1 += w * (p[j] * g[j] + e[j] * h[j])
        b2 += w * (e[j] * g[j])
        b3 += w
    sums[0], sums[1], sums[2], sums[3] = b0, b1, b2, b3
    for q in range(count):
        j = movers[q]
        k, w = slot[j], to_slot[j]
        acc[k, 0] += w * (p[j] * h[j])
        acc[k, 1] += w * (p[j] * g[j] + e[j] * h[j])
        acc[k, 2] += w * (e[j] * g[j])
        acc[k, 3] += w


@numba.njit(cache=True, fastmath=_FAST, parallel=True)
def _two_hidden_kernel(z, neg_inv, rising, starts, positions, lengths, even, hidden, hidden_slope, hidden_bias,
                       hidden_bias_slope, alpha1, weight, weight_slope, bias, bias_slope, alpha2,
                       out):  # pragma: no cover - compiled
    """As :func:`_one_hidden_kernel` with a second hidden layer; ``hidden`` (R, n_1, n_2) and
    ``hidden_slope`` (n_1, n_2) hold that layer's weights transposed (rows per first-layer unit)."""
    m = starts.shape[1]
    n_lines, n_samples, n_hidden = starts.shape[0], z.shape[1], z.shape[2]
    n_second, n_out = hidden.shape[2], weight.shape[1]
    switching = 1.0 - alpha1
    for r in numba.prange(n_lines):  # lines in parallel, each with its own scratch memory
        h = np.empty(n_hidden)
        fenced = np.empty(positions.shape[1] + 2)
        slot = np.empty(n_hidden, dtype=np.int32)
        head = np.empty(positions.shape[1] + 1, dtype=np.int64)
        following = np.empty(n_hidden, dtype=np.int64)
        movers = np.empty(n_hidden, dtype=np.int64)
        q = np.empty((3, n_second))
        u = np.empty(n_second)
        w_at = np.empty((positions.shape[1], n_out, n_second))
        b_at = np.empty((positions.shape[1], n_out))
        length = lengths[r]
        tau = positions[r]
        per_step = _fence(tau, length, fenced)
        a = hidden[r]
        for k in range(length):  # the output layer at every position of the line
            for o in range(n_out):
                b_at[k, o] = bias[r, o] + tau[k] * bias_slope[o]
                for l in range(n_second):
                    w_at[k, o, l] = weight[r, o, l] + tau[k] * weight_slope[o, l]
        for i in range(n_samples):
            g = z[m, i]
            _first_layer(z, starts[r], i, neg_inv, tau, fenced, length, per_step, even[r], h, slot)
            # Q at position 0: the second layer's bias plus every unit's share, sigma_1 factor
            # alpha1 or 1; `alive` counts active first-layer units (exact zeros when none is)
            q[0] = hidden_bias[r]
            q[1] = hidden_bias_slope
            q[2] = 0.0
            alive = 0
            for j in range(n_hidden):
                up = rising[i, j]
                on = up if slot[j] == 0 else 1.0 - up
                alive += int(on)
                factor = alpha1 + switching * on
                if factor != 0.0:
                    fh, fg = factor * h[j], factor * g[j]
                    for l in range(n_second):
                        q[0, l] += fh * a[j, l]
                        q[1, l] += fg * a[j, l] + fh * hidden_slope[j, l]
                        q[2, l] += fg * hidden_slope[j, l]
            # the units switching inside the line, in one linked list per slot
            head[:length + 1] = -1
            count = 0
            for j in range(n_hidden):
                movers[count] = j
                count += 1 if 0 < slot[j] < length else 0
            for q_index in range(count):
                j = movers[q_index]
                following[j] = head[slot[j]]
                head[slot[j]] = j
            for k in range(length):
                j = head[k]
                while j >= 0:  # the units whose slot is k
                    next_j = following[j]
                    sign = 2.0 * rising[i, j] - 1.0
                    alive += int(sign)
                    fh, fg = sign * switching * h[j], sign * switching * g[j]
                    for l in range(n_second):
                        q[0, l] += fh * a[j, l]
                        q[1, l] += fg * a[j, l] + fh * hidden_slope[j, l]
                        q[2, l] += fg * hidden_slope[j, l]
                    if alive == 0 and alpha1 == 0.0:  # the first layer is exactly zero again
                        q[0] = hidden_bias[r]
                        q[1] = hidden_bias_slope
                        q[2] = 0.0
                    j = next_j
                t = tau[k]
                if alpha2 == 0.0:
                    for l in range(n_second):
                        u[l] = max(q[0, l] + t * (q[1, l] + t * q[2, l]), 0.0)
                else:
                    for l in range(n_second):
                        x = q[0, l] + t * (q[1, l] + t * q[2, l])
                        u[l] = max(x, 0.0) + alpha2 * min(x, 0.0)
                for o in range(n_out):
                    total = 0.0
                    w = w_at[k, o]
                    for l in range(n_second):
                        total += w[l] * u[l]
                    out[r, k, i, o] = total + b_at[k, o]
