"""Exact outputs of one-hidden-layer piecewise-linear networks along lines of a slice.

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
the breakpoint sweep of :mod:`checks.segments`, restricted to the grid positions). The values
equal the forward pass up to float64 rounding, whatever the spacing of the positions.

The kernel is compiled with numba (``cache=True``: the machine code is kept on disk, so only the
first call after installation pays the compilation).
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import torch

_ACTIVATION_SLOPES = {torch.nn.ReLU: 0.0, torch.nn.Identity: 1.0}
_PASS_THROUGH = (torch.nn.Identity, torch.nn.Dropout)  # dropout is off in eval mode
_EVEN = 1e-13  # relative deviation below which a line's positions count as evenly spaced
MIN_LINE_POINTS = 3
"""Runs of fewer points along the last coordinate go to the point-by-point path."""


@dataclass(frozen=True)
class OneHiddenLayer:
    """Where the output layer's parameters live, and the activation's negative slope alpha."""

    output_layer: str
    alpha: float

    @classmethod
    def detect(cls, rest: tuple[tuple[str, torch.nn.Module], ...]) -> "OneHiddenLayer | None":
        """The layers after the first Linear of a Sequential: at most one ReLU / LeakyReLU,
        then one Linear (pass-through modules anywhere); None for any other structure."""
        alpha, output, seen_activation = 1.0, None, False
        for name, module in rest:
            if type(module) in _PASS_THROUGH:
                continue
            if isinstance(module, torch.nn.Linear) and output is None:
                output = name
            elif output is None and not seen_activation and type(module) in (torch.nn.ReLU, torch.nn.LeakyReLU):
                seen_activation = True
                alpha = float(getattr(module, "negative_slope", _ACTIVATION_SLOPES.get(type(module), 0.0)))
            else:
                return None
        return cls(output, alpha) if output is not None else None


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
                 lengths: torch.Tensor, weight: torch.Tensor, weight_slope: torch.Tensor,
                 bias: torch.Tensor | None, bias_slope: torch.Tensor | None, alpha: float,
                 out: np.ndarray | None = None) -> torch.Tensor:
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
    weight, bias : (R, n_out, n_1), (R, n_out)
        Output layer at each line's first point; ``weight_slope`` (n_out, n_1) and
        ``bias_slope`` (n_out,) are their derivatives along the line. ``bias`` None: no bias.
    alpha : float
        The activation's negative slope.
    out : float64 array, optional
        Reused memory for the result (at least R L N n_out elements): a fresh multi-MiB array
        per call costs page faults comparable to the sweep itself.
    """
    def f64(t: torch.Tensor) -> np.ndarray:
        return np.ascontiguousarray(t.detach().cpu().to(torch.float64).numpy())

    n_out = weight.shape[1]
    if bias is None:
        bias, bias_slope = torch.zeros(weight.shape[:2]), torch.zeros(n_out)
    shape = (starts.shape[0], positions.shape[1], first_outputs.shape[1], n_out)
    out = np.empty(shape) if out is None else out.reshape(-1)[:int(np.prod(shape))].reshape(shape)
    tau, count = f64(positions), lengths.cpu().numpy().astype(np.int64)
    steps = np.arange(tau.shape[1])
    span = tau[np.arange(tau.shape[0]), count - 1] - tau[:, 0]
    ideal = tau[:, :1] + steps * (span / (count - 1))[:, None]
    even = np.all((np.abs(tau - ideal) <= _EVEN * span[:, None]) | (steps >= count[:, None]), axis=1)
    _line_kernel(f64(first_outputs), f64(starts), tau, count, even, f64(weight), f64(weight_slope), f64(bias), f64(bias_slope), float(alpha), out)
    return torch.from_numpy(out)


# Reassociation lets the unit loops vectorise (the sums over units are float64); no flag that
# assumes finite values: crossings of units with G = 0 are +-1e200 * H.
_FAST = {"reassoc", "contract", "nsz"}


@numba.njit(cache=True, fastmath=_FAST)
def _line_kernel(z, starts, positions, lengths, even, weight, weight_slope, bias, bias_slope, alpha, out):  # pragma: no cover - compiled
    """out[r, k, i, o]: output o for sample i at position k of line r (see :func:`line_outputs`)."""
    m = starts.shape[1]
    n_lines, n_samples, n_hidden = starts.shape[0], z.shape[1], z.shape[2]
    n_out = weight.shape[1]
    # Per (sample, unit), the same on every line: the crossing is tau* = H * (-1 / G); the unit
    # rises (G > 0, or G = 0: crossing -+1e200 H, i.e. always or never active) or falls.
    neg_inv = np.empty((n_samples, n_hidden))
    rising = np.empty((n_samples, n_hidden))
    for i in range(n_samples):
        for j in range(n_hidden):
            g = z[m, i, j]
            neg_inv[i, j] = -1.0 / g if g != 0.0 else -1e200
            rising[i, j] = 1.0 if g >= 0.0 else 0.0
    switching = 1.0 - alpha
    acc = np.zeros((4, positions.shape[1] + 1))
    h = np.empty(n_hidden)
    fenced = np.empty(positions.shape[1] + 2)
    slot = np.empty(n_hidden, dtype=np.int64)
    delta = np.empty((4, n_hidden))
    to_base = np.empty(n_hidden)
    to_slot = np.empty(n_hidden)
    for r in range(n_lines):
        length = lengths[r]
        tau = positions[r]
        per_step = (length - 1) / (tau[length - 1] - tau[0])
        fenced[0] = -np.inf
        fenced[1:length + 1] = tau[:length]
        fenced[length + 1] = np.inf
        for i in range(n_samples):
            g = z[m, i]
            for j in range(n_hidden):
                h[j] = z[0, i, j]
            for d in range(m):
                s = starts[r, d]
                for j in range(n_hidden):
                    h[j] += s * z[d + 1, i, j]
            # slot = #{k < length : tau_k <= tau*}: from the spacing on evenly spaced lines (a
            # crossing within rounding of a position moves a term that is zero there up to
            # rounding), counted exactly on the others
            for j in range(n_hidden):
                guess = (h[j] * neg_inv[i, j] - tau[0]) * per_step + 1.0
                slot[j] = int(min(max(guess, 0.0), float(length)))
            for j in range(0 if even[r] else n_hidden):  # fenced: -inf, tau_0 .. tau_{length-1}, inf
                crossing = min(max(h[j] * neg_inv[i, j], -1e300), 1e300)
                k = slot[j]
                while fenced[k + 1] <= crossing:
                    k += 1
                while fenced[k] > crossing:
                    k -= 1
                slot[j] = k
            # A unit adds alpha + (1 - alpha) [active at position 0] times its quadratic to the
            # base, and +-(1 - alpha) times it at its slot if it switches inside the line (a unit
            # that never switches on adds nothing at all: dead units leave exact zeros).
            for j in range(n_hidden):
                k, up = slot[j], rising[i, j]
                at_start = up if k == 0 else 1.0 - up
                inside = 1.0 if 0 < k < length else 0.0
                to_base[j] = alpha + switching * at_start
                to_slot[j] = switching * inside * (2.0 * up - 1.0)
            for o in range(n_out):
                p, e = weight[r, o], weight_slope[o]
                # b3 counts the active units when alpha = 0 (small integers, exact in float64):
                # where it is 0 the hidden layer is exactly zero and the output exactly the bias,
                # as in a forward pass (argmax ties of dead samples break the same way)
                b0, b1, b2, b3 = 0.0, 0.0, 0.0, 0.0
                for j in range(n_hidden):
                    c0 = p[j] * h[j]
                    c1 = p[j] * g[j] + e[j] * h[j]
                    c2 = e[j] * g[j]
                    b0 += to_base[j] * c0
                    b1 += to_base[j] * c1
                    b2 += to_base[j] * c2
                    delta[0, j] = to_slot[j] * c0
                    delta[1, j] = to_slot[j] * c1
                    delta[2, j] = to_slot[j] * c2
                    b3 += to_base[j]
                    delta[3, j] = to_slot[j]
                acc[:, :length + 1] = 0.0
                for j in range(n_hidden):
                    k = slot[j]
                    acc[0, k] += delta[0, j]
                    acc[1, k] += delta[1, j]
                    acc[2, k] += delta[2, j]
                    acc[3, k] += delta[3, j]
                for k in range(length):
                    b0 += acc[0, k]
                    b1 += acc[1, k]
                    b2 += acc[2, k]
                    b3 += acc[3, k]
                    t = tau[k]
                    hidden = b0 + t * (b1 + t * b2) if b3 > 0.5 or alpha != 0.0 else 0.0
                    out[r, k, i, o] = hidden + bias[r, o] + t * bias_slope[o]
