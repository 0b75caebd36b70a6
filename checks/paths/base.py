"""Paths between parameter points with certified maxima, and the protocol of path finders.

A path is the polygon through beads theta_0 = theta_A, theta_1, ..., theta_k = theta_B. Each of
its k segments carries a certified bracket ``lower <= max_t L <= upper`` from
:func:`sublevel.checks.certify.segments.path_maximum` (exact for nets with at most one hidden layer, a rigorous
interval bound deeper), so a path whose ``maximum`` is <= lambda *proves* that theta_A and
theta_B lie in one component of Omega(lambda). A finder that fails proves nothing.

A path finder is anything with

    finder(problem, theta_a, theta_b, level=None) -> Path
    finder.batch(problem, starts (M, P), ends (M, P), level=None) -> list[Path]

where ``level`` is the target lambda (default max(L_A, L_B): the lowest any path can reach)
and the finder returns its best path whether or not it got below the target. Finders are
small frozen dataclasses registered by name (:func:`register_finder`, :func:`get_finder`);
their options are fields. :class:`BatchedFinder` supplies validation and ``__call__`` so a new
finder only writes ``_search``. ``batch`` handles many pairs at once: all beads of all paths
are trained in one batched call and all segments certified in one call.

References: Freeman & Bruna, ICLR 2017 (arXiv:1611.01540), Algorithm 1 and the normalised
geodesic length; Draxler et al., ICML 2018 (arXiv:1803.00885); Garipov et al., NeurIPS 2018
(arXiv:1802.10026).
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

import torch

from sublevel.checks.certify.segments import SegmentBound, segment_maxima
from sublevel.checks.paths.adam import Adam
from sublevel.theory.errors import InputError
from sublevel.theory.levels import check_levels
from sublevel.theory.problems import Problem
from sublevel.theory.settings import MAX_SEED, check_settings, setting


@dataclass(frozen=True)
class Path:
    """A certified piecewise-linear path theta_0 -> theta_k.

    Attributes
    ----------
    beads : tensor (k+1, P), float64, CPU
        The path's vertices; ``beads[0]`` and ``beads[-1]`` are the given endpoints, copied.
    upper, lower : tensor (k,)
        Per segment: rigorous upper bound on max_t L and an attained value (lower <= max <= upper).
    exact : bool
        True when every segment maximum is exact (nets with at most one hidden layer).
    finder : str
        Name of the finder that built the path.
    evaluations : int
        Work spent by the finder: loss (or loss-and-gradient) evaluations of single parameter
        vectors, plus one per certified segment.
    """

    beads: torch.Tensor
    upper: torch.Tensor
    lower: torch.Tensor
    exact: bool
    finder: str = ""
    evaluations: int = 0

    @property
    def maximum(self) -> float:
        """Certified upper bound on max L along the whole path."""
        return float(self.upper.max())

    @property
    def attained(self) -> float:
        """A value of L attained on the path (lower end of the bracket of its maximum)."""
        return float(self.lower.max())

    @property
    def endpoints(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.beads[0], self.beads[-1]

    @property
    def num_segments(self) -> int:
        return self.beads.shape[0] - 1

    @property
    def length(self) -> float:
        """Euclidean length sum_i ||theta_{i+1} - theta_i||."""
        return float((self.beads[1:] - self.beads[:-1]).norm(dim=1).sum())

    @property
    def normalised_length(self) -> float:
        """Length / ||theta_A - theta_B|| (Freeman & Bruna's normalised geodesic length; 1 for
        the straight line). 1.0 for a closed path of length 0, inf for any other closed path."""
        chord = float((self.beads[-1] - self.beads[0]).norm())
        if chord == 0:
            return 1.0 if self.length == 0 else math.inf
        return self.length / chord

    def inside(self, level: float) -> bool:
        """True when the path is proven to lie in Omega(level): its certified maximum, a rigorous
        upper bound with float64 rounding included, is <= level (no slack, so scale-free)."""
        return self.maximum <= level

    def to_json(self) -> dict:
        return {"finder": self.finder, "segments": self.num_segments, "maximum": self.maximum,
                "attained": self.attained, "certificate": "exact" if self.exact else "interval bound",
                "normalised_length": self.normalised_length, "evaluations": self.evaluations}


def certify_paths(problem: Problem, beads: Sequence[torch.Tensor], finder: str = "",
                  evaluations: Sequence[int] | None = None) -> list[Path]:
    """Certify many bead chains with one batched :func:`~sublevel.checks.certify.segments.segment_maxima` call.

    ``evaluations`` (per chain) is the finder's work so far; one is added per segment.
    """
    beads = [torch.as_tensor(b, dtype=torch.float64).cpu() for b in beads]
    for chain in beads:
        if chain.ndim != 2 or chain.shape[0] < 2:
            raise InputError(f"beads must have shape (k+1, P) with k >= 1, got {tuple(chain.shape)}")
    evaluations = evaluations if evaluations is not None else [0] * len(beads)
    return [Path(chain, piece.upper.cpu(), piece.lower.cpu(), piece.exact, finder, int(spent) + len(piece.upper))
            for chain, piece, spent in zip(beads, certify_chains(problem, beads), evaluations)]


def certify_chains(problem: Problem, chains: Sequence[torch.Tensor]) -> list[SegmentBound]:
    """Certified bounds on the segments of each bead chain (k_i + 1, P), from one batched
    :func:`~sublevel.checks.certify.segments.segment_maxima` call."""
    bound = segment_maxima(problem, torch.cat([c[:-1] for c in chains]), torch.cat([c[1:] for c in chains]))
    return split_bound(bound, [c.shape[0] - 1 for c in chains])


def split_bound(bound: SegmentBound, sizes: Sequence[int]) -> list[SegmentBound]:
    """Cut a batched bound into consecutive pieces of the given sizes."""
    out, start = [], 0
    for size in sizes:
        sl = slice(start, start + size)
        out.append(SegmentBound(bound.upper[sl], bound.lower[sl], bound.argmax[sl], bound.exact))
        start += size
    return out


@runtime_checkable
class PathFinder(Protocol):
    """Two endpoints and a problem in, a certified :class:`Path` out."""

    name: str

    def __call__(self, problem: Problem, theta_a, theta_b, level: float | None = None) -> Path: ...

    def batch(self, problem: Problem, starts, ends, level=None) -> list[Path]: ...


class BatchedFinder:
    """Shared front end: validation, float64, one pair as a batch of one.

    Subclasses implement ``_search(problem, starts, ends, levels) -> list[Path]`` on validated
    float64 inputs (M, P), (M, P), (M,) on the problem's device.
    """

    name = "?"

    def __call__(self, problem: Problem, theta_a, theta_b, level: float | None = None) -> Path:
        a = torch.as_tensor(theta_a)
        b = torch.as_tensor(theta_b)
        if a.ndim != 1 or b.ndim != 1:
            raise InputError(f"endpoints must be vectors of length P, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
        return self.batch(problem, a[None], b[None], level)[0]

    def batch(self, problem: Problem, starts, ends, level=None) -> list[Path]:
        """Paths between starts[i] and ends[i]; ``level`` is None, one float, or one per pair."""
        problem = problem.to(dtype=torch.float64)
        a, b, levels = check_endpoints(problem, starts, ends, level)
        if a.shape[0] == 0:
            return []
        return self._search(problem, a, b, levels)

    def _search(self, problem: Problem, starts: torch.Tensor, ends: torch.Tensor,
                levels: torch.Tensor) -> list[Path]:
        raise NotImplementedError


@dataclass(frozen=True)
class JitteredFinder(BatchedFinder):
    """A finder whose new beads start off the straight line by a seeded random jitter.

    Parameters
    ----------
    jitter : float
        New beads are moved by a random direction of norm ``jitter`` times the length of the
        segment they split (see :func:`jitter`), so that an exact saddle (zero gradient, such as
        the origin of G1) cannot hold them.
    seed : int
        Seed of the jitter, combined with each pair's endpoints (:func:`pair_generator`): same
        seed, same paths, whichever other pairs share the batch.
    """

    jitter: float = setting(1e-2, ge=0)
    seed: int = setting(0, ge=0, le=MAX_SEED)

    def __post_init__(self) -> None:
        check_settings(self)  # the fields of subclasses too

    def generator(self, a: torch.Tensor, b: torch.Tensor) -> torch.Generator:
        """The random generator of the pair (a, b)."""
        return pair_generator(self.seed, a, b)


def check_endpoints(problem: Problem, starts, ends, level=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validated float64 endpoints (M, P) and target levels (M,).

    Raises
    ------
    InputError
        If an endpoint's length is not the architecture's P, if shapes differ, if a parameter
        is NaN or inf, if a level is negative or not finite, or if a level is below the loss
        of an endpoint (then no path can lie in Omega(level)).
    """
    try:
        a = torch.as_tensor(starts, dtype=torch.float64, device=problem.device)
        b = torch.as_tensor(ends, dtype=torch.float64, device=problem.device)
    except (TypeError, ValueError, RuntimeError) as err:
        raise InputError(f"endpoints must be numeric arrays of shape (M, P): {err}") from None
    if a.ndim == 1:
        a, b = a[None], b.reshape(1, -1) if b.ndim == 1 else b
    problem.architecture.check_params(a)
    problem.architecture.check_params(b)
    if a.ndim != 2 or a.shape != b.shape:
        raise InputError(f"endpoints must both have shape (M, P), got {tuple(a.shape)} and {tuple(b.shape)}")
    if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
        raise InputError("endpoint parameters contain NaN or inf")
    floor = torch.maximum(problem.loss(a), problem.loss(b)) if a.shape[0] else a.new_zeros(0)
    if level is None:
        return a, b, floor
    values = check_levels(torch.as_tensor(level, dtype=torch.float64).reshape(-1).tolist())
    levels = torch.tensor(values, dtype=torch.float64, device=a.device).expand(a.shape[0]).clone()
    low = floor > levels
    if low.any():
        i = int(torch.nonzero(low)[0])
        raise InputError(f"level {float(levels[i]):.6g} is below the loss of an endpoint (max(L_A, L_B) = "
                         f"{float(floor[i]):.6g}): no path can stay in Omega(level)")
    return a, b, levels


def train_beads(problem: Problem, theta: torch.Tensor, targets: torch.Tensor, steps: int,
                lr: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batched Adam on B independent beads; a bead stops once its loss is <= its target.

    Adam acts coordinate-wise, so the beads of one (B, P) tensor do not interact. Returns the
    beads, their losses and, per bead, the loss-and-gradient evaluations it used.
    """
    theta = theta.detach().clone()
    adam = Adam(theta, lr=lr)
    spent = torch.ones(theta.shape[0], dtype=torch.long)  # the final loss evaluation
    for _ in range(steps):
        losses, grads = problem.loss_and_grad(theta)
        active = losses > targets
        if not active.any():
            break
        spent += active.cpu()
        # Adam's momentum would still move a stopped bead: pin it back after the step.
        stopped = theta[~active].clone()
        adam.step(grads * active.unsqueeze(1))
        theta[~active] = stopped
    return theta, problem.loss(theta), spent


def pair_generator(seed: int, a: torch.Tensor, b: torch.Tensor) -> torch.Generator:
    """A generator seeded by ``seed`` and the endpoints' bytes: a pair's random choices do not
    depend on which other pairs share its batch, so batched and one-at-a-time searches agree."""
    data = torch.cat([a.reshape(-1), b.reshape(-1)]).to(torch.float64).cpu().numpy().tobytes()
    return torch.Generator().manual_seed(zlib.crc32(data) ^ (seed & 0xFFFFFFFF))


def jitter(points: torch.Tensor, lengths: torch.Tensor, amount: float, generator: torch.Generator) -> torch.Tensor:
    """Each row of ``points`` (B, P) moved by a random direction of norm ``amount * lengths``.

    Finders start new beads slightly off the straight line so that an exact saddle (zero
    gradient, such as the origin of G1) cannot hold them; the noise comes from ``generator``
    so that the same seed gives the same path.
    """
    noise = torch.randn(points.shape, generator=generator, dtype=points.dtype).to(points.device)
    noise = noise / noise.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    return points + amount * lengths.reshape(-1, 1) * noise


FINDERS: dict[str, type] = {}
"""Registered finder classes by name."""


def register_finder(name: str):
    """Class decorator: register a finder class under ``name`` (also set as its ``name``)."""

    def decorate(cls):
        cls.name = name
        FINDERS[name] = cls
        return cls

    return decorate


def _load_finders() -> None:
    """Import the modules whose import registers the finders (add new ones here); imported on
    first use, since they import this module."""
    from sublevel.checks.paths import autoneb, bezier, linear, string_sampling  # noqa: F401


def finder_names() -> list[str]:
    _load_finders()
    return sorted(FINDERS)


def get_finder(name: str, **options) -> PathFinder:
    """An instance of the finder registered as ``name`` with ``options`` as its fields."""
    _load_finders()
    if name not in FINDERS:
        raise InputError(f"unknown path finder {name!r} (known: {', '.join(sorted(FINDERS))})")
    try:
        return FINDERS[name](**options)
    except TypeError as err:
        raise InputError(f"bad option for path finder {name!r}: {err}") from None
