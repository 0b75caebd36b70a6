"""AutoNEB-style string relaxation (Draxler et al., ICML 2018, arXiv:1803.00885).

A chain of pivots theta_0 = theta_A, ..., theta_k = theta_B relaxes as a nudged elastic band:
each interior pivot moves along the loss gradient with its component along the local tangent
tau_i = (theta_{i+1} - theta_{i-1}) / ||...|| removed, plus a spring force
k (||theta_{i+1} - theta_i|| - ||theta_i - theta_{i-1}||) tau_i that keeps pivots evenly
spaced. After each relaxation cycle every segment is certified
(:func:`sublevel.checks.certify.segments.segment_maxima`) and a new pivot is inserted at the certified argmax
of each segment that still rises above the target level ("insert at the highest point").
The chains of all pairs relax together: all interior pivots form one (B, P) batch.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from sublevel.checks.paths.adam import Adam
from sublevel.checks.paths.base import JitteredFinder, Path, certify_chains, jitter, register_finder
from sublevel.theory.errors import InputError
from sublevel.theory.problems import Problem
from sublevel.theory.settings import setting


@register_finder("autoneb")
@dataclass(frozen=True)
class AutoNEB(JitteredFinder):
    """Nudged elastic band with pivot insertion at the highest point of each bad segment.

    The method of Draxler, Veschgini, Salmhofer & Hamprecht, "Essentially No Barriers in Neural
    Network Energy Landscape", ICML 2018 (arXiv:1803.00885), after Kolsbjerg, Groves & Hammer's
    AutoNEB (J. Chem. Phys. 145, 2016); here every segment of the final chain is certified.

    Parameters
    ----------
    pivots : int
        Interior pivots of the initial chain (evenly spaced on the segment).
    cycles : int
        Relax-then-insert cycles; a chain stops once all its segments are certified below the level.
    steps, lr : int, float
        Adam steps per cycle on the projected force, and its learning rate.
    spring : float
        Spring constant k.
    max_beads : int
        At most this many pivots per chain, endpoints included.
    jitter, seed : float, int
        Initial interior pivots are moved off the segment by ``jitter * ||theta_B - theta_A||``
        (:class:`~sublevel.checks.paths.base.JitteredFinder`).
    """

    pivots: int = setting(3, ge=0)
    cycles: int = setting(5, ge=0)
    steps: int = setting(100, ge=0)
    lr: float = setting(0.01, gt=0)
    spring: float = setting(1.0, ge=0)
    max_beads: int = setting(65, ge=2)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_beads < self.pivots + 2:
            raise InputError(f"max_beads must be >= pivots + 2 = {self.pivots + 2}")

    def _search(self, problem: Problem, starts: torch.Tensor, ends: torch.Tensor,
                levels: torch.Tensor) -> list[Path]:
        s = torch.linspace(0, 1, self.pivots + 2, dtype=starts.dtype, device=starts.device)[1:-1, None]
        chains = [torch.cat([a[None], jitter(a + s * (b - a), (b - a).norm().expand(len(s)), self.jitter,
                                             self.generator(a, b)), b[None]]) for a, b in zip(starts, ends)]
        spent = [0] * len(chains)
        active = list(range(len(chains)))
        bounds = [None] * len(chains)
        for cycle in range(self.cycles + 1):
            if cycle > 0:
                self._relax(problem, chains, active, spent)
            growing = []
            for i, piece in zip(active, certify_chains(problem, [chains[i] for i in active])):
                bounds[i] = piece
                spent[i] += len(piece.upper)
                bad = torch.nonzero(piece.upper > levels[i]).flatten()
                if len(bad) == 0 or cycle == self.cycles:
                    continue
                growing.append(i)
                room = self.max_beads - chains[i].shape[0]
                worst = bad[torch.argsort(piece.upper[bad], descending=True)][:room].sort().values
                for seg in reversed(worst.tolist()):
                    t = float(piece.argmax[seg])
                    t = t if 1e-3 < t < 1 - 1e-3 else 0.5
                    new = chains[i][seg] + t * (chains[i][seg + 1] - chains[i][seg])
                    chains[i] = torch.cat([chains[i][:seg + 1], new[None], chains[i][seg + 1:]])
            active = growing
            if not active:
                break
        return [Path(c.cpu(), b.upper.cpu(), b.lower.cpu(), b.exact, self.name, n)
                for c, b, n in zip(chains, bounds, spent)]

    def _relax(self, problem: Problem, chains: list[torch.Tensor], active: list[int], spent: list[int]) -> None:
        """Adam on the NEB force of every interior pivot of the active chains, in one batch."""
        full = torch.cat([chains[i] for i in active])
        sizes = [chains[i].shape[0] for i in active]
        first = torch.cumsum(torch.tensor([0] + sizes[:-1]), 0)
        inner = torch.cat([torch.arange(f + 1, f + n - 1) for f, n in zip(first.tolist(), sizes)])
        if inner.numel() == 0:
            return
        inner = inner.to(full.device)
        moving = full[inner].clone()
        adam = Adam(moving, lr=self.lr)
        for _ in range(self.steps):
            full = full.index_copy(0, inner, moving)
            _, grad = problem.loss_and_grad(moving)
            adam.step(neb_step(grad, full[inner - 1], full[inner], full[inner + 1], self.spring))
        full = full.index_copy(0, inner, moving)
        for i, piece, n in zip(active, torch.split(full, sizes), sizes):
            chains[i] = piece
            spent[i] += self.steps * (n - 2)


def neb_step(grad: torch.Tensor, behind: torch.Tensor, here: torch.Tensor, ahead: torch.Tensor,
             spring: float) -> torch.Tensor:
    """The nudged-elastic-band descent direction of pivots ``here`` (B, P) between their
    neighbours: the loss gradient without its component along the tangent
    tau = (ahead - behind) / ||ahead - behind||, minus the spring force
    k (||ahead - here|| - ||here - behind||) tau (Jonsson, Mills & Jacobsen 1998; as used by
    Draxler et al. 2018). Shared by the certified chains here and the chains between torch
    models (:mod:`sublevel.checks.paths.model_curves`)."""
    forward, backward = ahead - here, here - behind
    tangent = forward + backward  # zero where the neighbours coincide: no tangent, no spring
    tangent = tangent / tangent.norm(dim=1, keepdim=True).clamp_min(torch.finfo(tangent.dtype).tiny)
    along = (grad * tangent).sum(1, keepdim=True)
    stretch = forward.norm(dim=1, keepdim=True) - backward.norm(dim=1, keepdim=True)
    return grad - along * tangent - spring * stretch * tangent
