"""Dynamic String Sampling (Freeman & Bruna 2017, arXiv:1611.01540, Algorithm 1).

FindConnection(theta_a, theta_b) at target level L0:
    t* = argmax_t L(theta_a + t (theta_b - theta_a))   (here: the certified argmax);
    if max <= L0: the segment is certified, done;
    theta_3 = the point at t*, trained by descent to alpha * L0 (alpha < 1 leaves slack);
    insert theta_3 and recurse on [theta_a, theta_3] and [theta_3, theta_b].
Success certifies a connection inside Omega(L0) because every segment's maximum is certified,
not sampled; failure certifies nothing.

Batching: the recursion runs breadth first over all pairs at once. Each round certifies every
segment of every unfinished string in one call, then trains all new beads together (one
(B, P) Adam run, beads stop individually when they reach their target).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from sublevel.checks.paths.base import (JitteredFinder, Path, certify_chains, jitter, register_finder,
                               train_beads)
from sublevel.theory.problems import Problem
from sublevel.theory.settings import setting

EDGE_T = 1e-3
"""An argmax this close to a segment's end (a bead that failed its training) is replaced by
the midpoint, so a new bead never duplicates an old one."""


@register_finder("dss")
@dataclass(frozen=True)
class DynamicStringSampling(JitteredFinder):
    """Freeman & Bruna's recursive bead insertion with certified segments.

    Parameters
    ----------
    alpha : float
        New beads are trained to ``alpha * level`` (0 < alpha <= 1).
    steps, lr : int, float
        Adam steps and learning rate per bead.
    max_rounds : int
        Rounds of insertion (recursion depth); a string stops early once certified.
    max_beads : int
        At most this many beads per string, endpoints included.
    jitter : float
        A new bead starts at the argmax plus Gaussian noise of this size relative to its
        segment's length, so an exact saddle (zero gradient, e.g. the origin of G1) cannot
        hold it.
    seed : int
        Seed of the jitter; same seed, same paths.

    Notes
    -----
    A string also stops when one of its trained beads ends above the level: no path through
    that bead can be inside Omega(level). Cost per round: one batched segment certification
    and at most ``steps`` batched loss-and-gradient calls.

    Examples
    --------
    >>> import torch
    >>> from sublevel.constructions import construct
    >>> from sublevel.theory.networks import Architecture
    >>> data = construct("scalar-linear")
    >>> problem = data.problem(Architecture((1, 2, 1), "linear", bias=False))
    >>> a, b = torch.tensor([1.0, 0, 1, 0]), torch.tensor([-1.0, 0, -1, 0])
    >>> DynamicStringSampling()(problem, a, b, level=0.25).inside(0.25)
    True
    """

    alpha: float = setting(0.9, gt=0, le=1)
    steps: int = setting(300, ge=0)
    lr: float = setting(0.01, gt=0)
    max_rounds: int = setting(8, ge=0)
    max_beads: int = setting(65, ge=2)

    def _search(self, problem: Problem, starts: torch.Tensor, ends: torch.Tensor,
                levels: torch.Tensor) -> list[Path]:
        chains = [torch.stack([a, b]) for a, b in zip(starts, ends)]
        spent = [0] * len(chains)
        bounds = [None] * len(chains)
        stuck = [False] * len(chains)
        active = list(range(len(chains)))
        generators = [self.generator(a, b) for a, b in zip(starts, ends)]
        for round_ in range(self.max_rounds + 1):
            points, owners, growing = [], [], []
            for i, piece in zip(active, certify_chains(problem, [chains[i] for i in active])):
                bounds[i] = piece
                spent[i] += len(piece.upper)
                bad = torch.nonzero(piece.upper > levels[i]).flatten()
                room = self.max_beads - chains[i].shape[0]
                if len(bad) == 0 or stuck[i] or room <= 0 or round_ == self.max_rounds:
                    continue
                growing.append(i)
                for s in bad[:room].tolist():
                    t = float(piece.argmax[s])
                    t = 0.5 if min(t, 1 - t) < EDGE_T else t
                    step = chains[i][s + 1] - chains[i][s]
                    points.append(jitter(chains[i][s] + t * step, step.norm(), self.jitter, generators[i])[0])
                    owners.append((i, s))
            if not points:
                break
            targets = torch.stack([self.alpha * levels[i] for i, _ in owners])
            beads, losses, used = train_beads(problem, torch.stack(points), targets, self.steps, self.lr)
            # Insert from the last segment backwards so earlier indices stay valid.
            for k in sorted(range(len(owners)), key=lambda k: owners[k], reverse=True):
                i, s = owners[k]
                chains[i] = torch.cat([chains[i][:s + 1], beads[k:k + 1], chains[i][s + 1:]])
                spent[i] += int(used[k])
                stuck[i] |= bool(losses[k] > levels[i])
            active = growing
        return [Path(c.cpu(), b.upper.cpu(), b.lower.cpu(), b.exact, self.name, n)
                for c, b, n in zip(chains, bounds, spent)]
