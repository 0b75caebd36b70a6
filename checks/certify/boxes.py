"""Certified component counts of sublevel sets in a low-dimensional box (docs/claims.rst, G3).

For a function f on a box B in R^d (d = 2 or 3): the loss of a problem with d parameters, or
the loss on a d-dimensional affine slice theta = theta_0 + sum_i s_i v_i of any problem
(:class:`SliceLoss`), or any function with rigorous enclosures (:class:`TrigSeries`). Each
cell C of a grid gets an enclosure lo <= f <= hi on C and an enclosure of the gradient; cells
that are undecided at a level (lo <= lambda < hi) are bisected, up to ``depth`` times. At
level lambda a cell is *in* (hi <= lambda: C lies in Omega(lambda)), *out* (lo > lambda) or
*undecided*. Closed cells touching at a face, edge or corner are adjacent. Then, for the
components of Omega(lambda) inside B (N_B):

* lower bound: components of (in u undecided) that contain an in cell. They are disjoint
  closed sets, each contains a piece of Omega, and Omega n B lies inside their union.
* upper bound: components of the in cells, provided no undecided cell is *suspect*. A
  component K of Omega n B that holds no in cell attains its minimum over K at a point p of
  an undecided cell; p is then a local minimum of f on B (sublevel sets of piecewise-polynomial
  losses have finitely many components, at positive distance), so the first-order condition
  0 in grad f(p) + N_B(p) holds (Clarke gradient for ReLU kinks): in each coordinate the
  gradient enclosure contains 0, or the cell touches the box's low face with a gradient that
  may be >= 0, or its high face with one that may be <= 0. Cells where this cannot hold in
  every coordinate are not suspect. Without suspects every component holds an in cell, and
  in-cells of one component of the in set lie in one component of Omega.

The count is *exact* when the bounds meet; the upper bound is None ("unbounded") while
suspect cells remain. Only components inside the box are counted: a component of Omega that
leaves the box may split into several pieces inside it.

:func:`grid_counts` and :func:`grid_persistence` count sublevel components of plain grid values
(cells with values, full adjacency), the definition gudhi's cubical complex uses; the tests
check both against ``gudhi.CubicalComplex`` for random smooth functions and for G1 / G2.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np
import torch
from networkx.utils import UnionFind
from scipy import ndimage

from sublevel.checks.certify.intervals import (Box, activation_kind, box_activation, box_affine, box_mul, inflation,
                                               square_range, widen)
from sublevel.theory.bounds import check_bounds, count_status
from sublevel.theory.errors import InputError
from sublevel.theory.levels import check_levels
from sublevel.theory.problems import Problem


class BoxFunction(Protocol):
    """A function on R^d with rigorous enclosures over axis-aligned cells."""

    dim: int

    def values(self, points: torch.Tensor) -> torch.Tensor:
        """f at points (M, d) -> (M,)."""

    def enclose(self, centre: torch.Tensor, radius: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Over the cells centre +- radius (M, d): lo, hi (M,) and gradient bounds glo, ghi (M, d)."""


@dataclass(frozen=True)
class SliceLoss:
    """L(origin + s @ directions) for s in R^d: a problem's loss on a d-dimensional slice.

    With ``origin = 0`` and ``directions = I`` (a problem with d parameters) it is the loss
    itself. Enclosures: interval arithmetic in centre-radius form through the network (Rump's
    product rule, float64 rounding covered by a relative widening) and forward-mode interval
    derivatives along each direction (ReLU's derivative enclosed by [0, 1] on cells where a
    pre-activation changes sign).
    """

    problem: Problem
    origin: torch.Tensor
    directions: torch.Tensor

    def __post_init__(self) -> None:
        problem = self.problem.to(device="cpu", dtype=torch.float64)
        origin = torch.as_tensor(self.origin, dtype=torch.float64).reshape(-1)
        directions = torch.as_tensor(self.directions, dtype=torch.float64)
        if directions.ndim != 2 or directions.shape[0] not in (1, 2, 3):
            raise InputError(f"directions must have shape (d, P) with d in 1..3, got {tuple(directions.shape)}")
        problem.architecture.check_params(origin)
        problem.architecture.check_params(directions)
        if not (torch.isfinite(origin).all() and torch.isfinite(directions).all()):
            raise InputError("slice origin or directions contain NaN or inf")
        activation_kind(problem.architecture)
        object.__setattr__(self, "problem", problem)
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "directions", directions)

    @classmethod
    def full(cls, problem: Problem) -> "SliceLoss":
        """The loss of a problem with at most 3 parameters, in its own coordinates."""
        p = problem.num_params
        if p > 3:
            raise InputError(f"the problem has {p} parameters; give a slice (origin, directions) of dimension <= 3")
        return cls(problem, torch.zeros(p), torch.eye(p))

    @property
    def dim(self) -> int:
        return self.directions.shape[0]

    def values(self, points: torch.Tensor) -> torch.Tensor:
        return self.problem.loss(self.origin + torch.as_tensor(points, dtype=torch.float64) @ self.directions)

    def enclose(self, centre: torch.Tensor, radius: torch.Tensor):
        """Loss and gradient enclosures over the cells centre +- radius, through the shared
        interval library (:mod:`sublevel.checks.certify.intervals`): the parameters form a box,
        the network is evaluated on it with forward-mode derivatives along each direction, and
        L = (1/N) sum |e|^2 + kappa |theta|^2 is bounded from both sides."""
        problem, arch = self.problem, self.problem.architecture
        kind = activation_kind(arch)
        delta = inflation(problem)
        d, n = self.dim, problem.num_samples
        theta_c = self.origin + centre @ self.directions
        magnitude = self.origin.abs() + centre.abs() @ self.directions.abs()
        theta_r = widen(theta_c, radius @ self.directions.abs() + delta * magnitude, delta)
        views_c, views_r = arch.layers(theta_c), arch.layers(theta_r)
        views_d = [arch.layers(self.directions[i]) for i in range(d)]
        x = problem.x.expand(centre.shape[0], -1, -1)
        h: Box = (x, torch.zeros_like(x))
        dh: list[Box] = []  # the inputs do not move
        for layer in range(arch.depth):
            vc, vr = views_c[layer], views_r[layer]
            zeros = vc.weight.new_zeros(vc.weight.shape[:-1])
            bias = (zeros, zeros) if vc.bias is None else (vc.bias, vr.bias)
            z = box_affine(vc.weight, vr.weight, bias, h, delta)
            dz = []
            for i in range(d):
                # d/ds_i (W h + b) = D_i h + W dh/ds_i + e_i, with D_i and e_i the exact direction.
                vd = views_d[i][layer]
                e = zeros if vd.bias is None else vd.bias.expand_as(zeros)
                moved = box_affine(vd.weight.expand_as(vc.weight), None, (e, zeros), h, delta)
                if dh:
                    inner = box_affine(vc.weight, vr.weight, (zeros, zeros), dh[i], delta)
                    moved = (moved[0] + inner[0], widen(moved[0] + inner[0], moved[1] + inner[1], delta))
                dz.append(moved)
            if layer == arch.depth - 1:
                h, dh = z, dz
            else:
                h, dh = box_activation(z, dz, kind, delta)
        residual = (h[0] - problem.y, widen(h[0] - problem.y, h[1], delta))
        sq_lo, sq_hi = square_range(residual)
        lo, hi = sq_lo.sum(dim=(1, 2)) / n, sq_hi.sum(dim=(1, 2)) / n
        grads = [box_mul(residual, g, delta) for g in dh]
        g_c = torch.stack([2 * g[0].sum(dim=(1, 2)) / n for g in grads], 1)
        g_r = torch.stack([2 * (g[1].sum(dim=(1, 2)) + delta * g[0].abs().sum(dim=(1, 2))) / n for g in grads], 1)
        if problem.kappa:
            r_lo, r_hi = square_range((theta_c, theta_r))
            lo = lo + problem.kappa * r_lo.sum(1)
            hi = hi + problem.kappa * r_hi.sum(1)
            for i in range(d):
                t = box_mul((theta_c, theta_r), (self.directions[i].expand_as(theta_c), torch.zeros_like(theta_c)), delta)
                g_c[:, i] += 2 * problem.kappa * t[0].sum(1)
                g_r[:, i] += 2 * problem.kappa * (t[1].sum(1) + delta * t[0].abs().sum(1))
        lo = lo * (1 - delta)
        hi = hi * (1 + delta)
        return lo, hi, g_c - g_r, g_c + g_r


@dataclass(frozen=True)
class TrigSeries:
    """f(x) = sum_k a_k cos(w_k . x + phi_k), a random smooth test function with exact enclosures.

    On a cell c +- r: |f(x) - f(c)| <= sum_k |a_k| (|w_k| . r) (mean value theorem, |sin| <= 1)
    and likewise for each partial derivative -sum_k a_k w_ki sin(...). The bounds are inflated
    by a relative 1e-12 plus 1e-12 absolute, which covers float64 rounding of these sums.
    """

    amplitudes: torch.Tensor
    frequencies: torch.Tensor
    phases: torch.Tensor

    @classmethod
    def random(cls, dim: int = 2, terms: int = 8, frequency: float = 3.0, seed: int = 0) -> "TrigSeries":
        g = torch.Generator().manual_seed(seed)
        return cls(torch.randn(terms, generator=g, dtype=torch.float64) / terms ** 0.5,
                   frequency * torch.randn(terms, dim, generator=g, dtype=torch.float64),
                   2 * torch.pi * torch.rand(terms, generator=g, dtype=torch.float64))

    @property
    def dim(self) -> int:
        return self.frequencies.shape[1]

    def values(self, points: torch.Tensor) -> torch.Tensor:
        return (self.amplitudes * torch.cos(points @ self.frequencies.T + self.phases)).sum(-1)

    def enclose(self, centre: torch.Tensor, radius: torch.Tensor):
        phase = centre @ self.frequencies.T + self.phases
        spread = radius @ self.frequencies.abs().T  # (M, K): |w_k . (x - c)| <= spread
        f_c = (self.amplitudes * torch.cos(phase)).sum(-1)
        f_r = (self.amplitudes.abs() * spread).sum(-1)
        g_c = -(self.amplitudes * torch.sin(phase)) @ self.frequencies
        g_r = (self.amplitudes.abs() * spread) @ self.frequencies.abs()
        slack_f = 1e-12 * (1 + (self.amplitudes.abs()).sum())
        slack_g = 1e-12 * (1 + (self.amplitudes.abs() @ self.frequencies.abs()))
        return f_c - f_r - slack_f, f_c + f_r + slack_f, g_c - g_r - slack_g, g_c + g_r + slack_g


# --------------------------------------------------------------------------- counting
ENCLOSE_CHUNK = 4096
"""Cells enclosed per call (bounds memory: a network slice builds (cells, N, width) tensors)."""


@dataclass(frozen=True)
class GridCount:
    """Proven bounds on N_B, the number of components of Omega(level) inside the box.

    ``lower`` is proven; ``upper`` is proven, or None while suspect cells remain. The status is
    ``exact`` when they meet, ``bounded`` when both exist and differ, ``lower bound`` otherwise.
    N_B counts the pieces inside the box; a component of Omega(level) that leaves the box may
    show as several pieces, so N_B bounds N_level only with an argument about the outside.

    Raises
    ------
    Contradiction
        When ``lower > upper`` or a count is negative.
    """

    level: float
    lower: int
    upper: int | None
    in_cells: int
    undecided_cells: int
    suspect_cells: int

    def __post_init__(self) -> None:
        check_bounds(self.level, self.lower, self.upper, self.in_cells, self.undecided_cells, self.suspect_cells)

    @property
    def status(self) -> str:
        """``exact``, ``bounded`` or ``lower bound`` (:func:`~sublevel.theory.bounds.count_status`;
        a box count with no upper bound is a lower bound even at 0)."""
        return count_status(self.lower, self.upper) if self.upper is not None else "lower bound"

    def describe(self) -> str:
        if self.status == "exact":
            return f"{self.lower} (exact, inside the box)"
        if self.status == "bounded":
            return f"{self.lower} to {self.upper} (bounded, inside the box)"
        return f">= {self.lower} (lower bound inside the box; suspect cells leave the upper bound open)"


def count_box(f: BoxFunction, low: Sequence[float], high: Sequence[float], levels: Sequence[float],
              resolution: int = 32, depth: int = 4, max_cells: int = 1 << 18) -> list[GridCount]:
    """Certified brackets of the number of sublevel components of f inside [low, high].

    Parameters
    ----------
    f : BoxFunction
    low, high : sequences of d floats
        The box.
    levels : sequence of float
    resolution : int
        Cells per axis of the initial grid.
    depth : int
        At most this many bisections of an undecided cell (the finest cells are
        resolution * 2^depth per axis).
    max_cells : int
        Stop refining once this many cells exist (the brackets stay rigorous, only wider).

    Raises
    ------
    InputError
        On a box of the wrong dimension or empty, a non-finite level, resolution < 1 or
        depth < 0, or a finest grid over 2^24 cells.

    Notes
    -----
    Cost: one batched enclosure per refinement round, on the cells undecided at some level;
    components are labelled on the finest grid (scipy.ndimage, full connectivity).
    """
    d = f.dim
    low_t = torch.as_tensor(low, dtype=torch.float64).reshape(-1)
    high_t = torch.as_tensor(high, dtype=torch.float64).reshape(-1)
    levels = check_levels(levels, nonnegative=False)
    if low_t.shape != (d,) or high_t.shape != (d,) or not (high_t > low_t).all():
        raise InputError(f"the box needs {d} lows below {d} highs, got {list(low)} and {list(high)}")
    if not (torch.isfinite(low_t).all() and torch.isfinite(high_t).all() and torch.isfinite(high_t - low_t).all()):
        raise InputError(f"the box must be finite, got {list(low)} and {list(high)}")
    if resolution < 1 or depth < 0:
        raise InputError("resolution must be >= 1 and depth >= 0")
    fine = resolution * 2 ** depth
    if fine ** d > 1 << 24:
        raise InputError(f"the finest grid would have {fine ** d} cells; lower resolution or depth")
    lv = torch.tensor(levels, dtype=torch.float64)
    # Cells as integer boxes [start, start + size) in units of the finest grid.
    axes = [torch.arange(resolution) * 2 ** depth for _ in range(d)]
    starts = torch.cartesian_prod(*axes).reshape(-1, d)
    size = torch.full((len(starts),), 2 ** depth)
    unit = (high_t - low_t) / fine
    leaves = []
    while len(starts):
        centre = low_t + (starts + size.unsqueeze(1) / 2) * unit
        radius = size.unsqueeze(1) / 2 * unit
        lo, hi, glo, ghi = _finite_or_open(*(torch.cat(parts) for parts in zip(*(
            f.enclose(centre[i:i + ENCLOSE_CHUNK], radius[i:i + ENCLOSE_CHUNK])
            for i in range(0, len(centre), ENCLOSE_CHUNK)))))
        undecided = ((lo.unsqueeze(1) <= lv) & (hi.unsqueeze(1) > lv)).any(1)
        split = undecided & (size > 1)
        total = sum(len(leaf[0]) for leaf in leaves) + len(starts) + int(split.sum()) * (2 ** d - 1)
        if total > max_cells:
            split = torch.zeros_like(split)
        keep = ~split
        leaves.append((starts[keep], size[keep], lo[keep], hi[keep], glo[keep], ghi[keep]))
        half = size[split] // 2
        offsets = torch.tensor(list(itertools.product((0, 1), repeat=d)))
        starts = (starts[split].unsqueeze(1) + offsets * half.view(-1, 1, 1)).reshape(-1, d)
        size = half.repeat_interleave(2 ** d)
    starts, size, lo, hi, glo, ghi = (torch.cat(parts) for parts in zip(*leaves))
    at_low = starts == 0
    at_high = starts + size.unsqueeze(1) == fine
    possible = (glo <= 0) & (ghi >= 0) | at_low & (ghi >= 0) | at_high & (glo <= 0)
    critical = possible.all(1)
    index = _raster_index(starts, size, fine, d)
    out = []
    for level in levels:
        is_in, undecided = hi <= level, (lo <= level) & (hi > level)
        inside = _raster(is_in, index, fine, d)
        union = _raster(is_in | undecided, index, fine, d)
        structure = np.ones((3,) * d, dtype=bool)
        labels, _ = ndimage.label(union, structure)
        lower = len(np.unique(labels[inside]))
        n_in = ndimage.label(inside, structure)[1]
        suspects = int((undecided & critical).sum())
        out.append(GridCount(level, lower, None if suspects else n_in, int(is_in.sum()), int(undecided.sum()), suspects))
    return out


def _finite_or_open(lo: torch.Tensor, hi: torch.Tensor, glo: torch.Tensor,
                    ghi: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Enclosures where overflow or NaN made a bound non-finite are replaced by the whole line:
    an overflowed lower bound proves nothing (the loss is finite everywhere), and NaN compares
    false with every level, which would otherwise read as a cell proven outside Omega."""
    minus, plus = torch.tensor(-math.inf, dtype=lo.dtype), torch.tensor(math.inf, dtype=lo.dtype)
    return (torch.where(torch.isfinite(lo), lo, minus), torch.where(torch.isnan(hi), plus, hi),
            torch.where(torch.isfinite(glo), glo, minus), torch.where(torch.isfinite(ghi), ghi, plus))


def _raster_index(starts: torch.Tensor, size: torch.Tensor, fine: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """(leaf, flat finest-cell index) pairs covering every leaf's block."""
    leaf_ids, flat = [], []
    for s in torch.unique(size).tolist():
        rows = torch.nonzero(size == s).flatten()
        block = torch.cartesian_prod(*[torch.arange(s)] * d).reshape(-1, d) if d > 1 else torch.arange(s)[:, None]
        cells = starts[rows].unsqueeze(1) + block  # (L, s^d, d)
        linear = torch.zeros(cells.shape[:2], dtype=torch.long)
        for axis in range(d):
            linear = linear * fine + cells[..., axis]
        leaf_ids.append(rows.repeat_interleave(block.shape[0]))
        flat.append(linear.reshape(-1))
    return torch.cat(leaf_ids).numpy(), torch.cat(flat).numpy()


def _raster(mask: torch.Tensor, index: tuple[np.ndarray, np.ndarray], fine: int, d: int) -> np.ndarray:
    out = np.zeros(fine ** d, dtype=bool)
    leaf, flat = index
    out[flat[mask.numpy()[leaf]]] = True
    return out.reshape((fine,) * d)


def grid_counts(values: np.ndarray, levels: Sequence[float]) -> list[int]:
    """Components of {cells with value <= lambda} (full adjacency) for each level."""
    values = np.asarray(values, dtype=np.float64)
    structure = np.ones((3,) * values.ndim, dtype=bool)
    return [int(ndimage.label(values <= level, structure)[1]) for level in levels]


def grid_persistence(values: np.ndarray) -> list[tuple[float, float]]:
    """0-dimensional persistence pairs (birth, death) of the sublevel filtration of grid cells
    with full adjacency: one union-find sweep over cells in increasing value, elder rule."""
    values = np.asarray(values, dtype=np.float64)
    shape, flat = values.shape, values.ravel()
    offsets = [o for o in itertools.product((-1, 0, 1), repeat=values.ndim) if any(o)]
    components = UnionFind()
    lowest: dict[int, int] = {}
    seen = np.zeros(flat.size, dtype=bool)
    pairs = []
    for cell in np.argsort(flat, kind="stable"):
        seen[cell] = True
        components[cell]
        lowest[cell] = cell
        coords = np.unravel_index(cell, shape)
        for offset in offsets:
            nb = tuple(c + o for c, o in zip(coords, offset))
            if any(x < 0 or x >= n for x, n in zip(nb, shape)):
                continue
            other = int(np.ravel_multi_index(nb, shape))
            if not seen[other]:
                continue
            a, b = components[cell], components[other]
            if a == b:
                continue
            old, young = sorted((lowest[a], lowest[b]), key=lambda k: (flat[k], k))
            if flat[young] < flat[cell]:
                pairs.append((float(flat[young]), float(flat[cell])))
            components.union(a, b)
            lowest[components[a]] = old
    root_births = {lowest[components[c]] for c in range(flat.size)}
    pairs += [(float(flat[c]), float("inf")) for c in root_births]
    return sorted(pairs)
