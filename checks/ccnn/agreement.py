"""Evidence that the projected-gradient solver solves the CCNN program: agreement with cvxpy.

For small instances of the program of :mod:`sublevel.checks.ccnn.nuclear` (Zhang, Liang & Wainwright
2017, arXiv:1609.01000, eq. (10)), solve it twice: by full-batch accelerated projected gradient
(:func:`solve_fista`) and by cvxpy (Clarabel, an interior-point method for the exponential and
semidefinite cones). Report both optimal values, their relative difference, the largest nuclear
norm after any projection, and the two solve times with their ratio (PG / cvxpy).
"""
from __future__ import annotations

import numpy as np
import torch

from sublevel.checks.ccnn.nuclear import NuclearProblem, solve_cvxpy, solve_fista

# (N, P, m, K, R): from tiny to about the largest size where cvxpy's SDP (side m + KP) takes
# under a minute; at (200, 16, 16, 10) its canonicalisation alone took more than 12 GB.
INSTANCES = ((40, 4, 6, 3, 1.0), (60, 4, 8, 3, 3.0), (100, 9, 10, 4, 5.0), (150, 9, 16, 5, 8.0))


def planted_instance(n: int, p: int, m: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian features Z (n, p, m) and labels drawn from a softmax of a random rank-2 A."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, p, m)) / np.sqrt(p)
    a = rng.standard_normal((m, 2)) @ rng.standard_normal((2, k * p))
    logits = np.einsum("npi,ikp->nk", z, a.reshape(m, k, p))
    prob = np.exp(logits - logits.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    labels = np.array([rng.choice(k, p=row) for row in prob])
    return z, labels


def compare(n: int, p: int, m: int, k: int, radius: float, seed: int = 0) -> dict:
    """Solve one planted instance with FISTA and with cvxpy; returns the figures."""
    z, labels = planted_instance(n, p, m, k, seed)
    problem = NuclearProblem.from_features(torch.from_numpy(z), labels, k, radius)
    pg = solve_fista(problem)
    _, reference, cvxpy_seconds = solve_cvxpy(z, labels, k, radius)
    return {"n": n, "p": p, "m": m, "k": k, "radius": radius, "fista": pg.objective, "cvxpy": reference,
            "relative_difference": abs(pg.objective - reference) / abs(reference),
            "max_nuclear_norm": pg.max_nuclear_norm, "iterations": pg.iterations,
            "pg_seconds": pg.seconds, "cvxpy_seconds": cvxpy_seconds,
            "time_ratio": pg.seconds / cvxpy_seconds}


def agreement_report(instances=INSTANCES) -> list[dict]:
    """:func:`compare` on every instance size."""
    return [compare(*instance) for instance in instances]
