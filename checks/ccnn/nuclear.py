"""The convex program of a convexified CNN layer and its projected-gradient solvers.

Zhang, Liang & Wainwright (2017), "Convexified Convolutional Neural Networks", ICML,
arXiv:1609.01000, eq. (10): with Z(x) in R^{P x m} the (pooled) kernel features of the P
patches of x, the layer's class scores are f_k(x) = tr(Z(x) A_k), A_k in R^{m x P}, and

    minimise  F(A) = (1/N) sum_n [ log sum_k exp f_k(x_n) - f_{y_n}(x_n) ]
    subject to ||A||_* <= R,        A = [A_1, ..., A_K] in R^{m x KP}.

A rank-r matrix A is exactly a CNN with r filters in the kernel's RKHS; the nuclear-norm ball
is its convex relaxation. Everything here works on any torch dtype; float64 is used where a
result is compared with cvxpy.

Projection onto the ball is an SVD followed by the Euclidean projection of the singular values
onto the l1 ball of radius R (the nuclear norm is unitarily invariant, so the projection acts
on the spectrum only).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from sublevel.theory.errors import InputError

BatchFn = Callable[[np.ndarray], torch.Tensor]


def check_radius(radius: float) -> float:
    """Return ``radius`` as a float; raise :class:`InputError` unless it is finite and > 0."""
    radius = float(radius)
    if not math.isfinite(radius) or radius <= 0:
        raise InputError(f"the nuclear-norm radius R must be finite and > 0, got {radius}")
    return radius


def project_l1_ball(v: torch.Tensor, radius: float) -> torch.Tensor:
    """Euclidean projection of a vector onto {w : ||w||_1 <= R}.

    Sorting-based simplex projection (Held, Wolfe & Crowder 1974; Duchi et al. 2008): with
    u = |v| sorted decreasingly and rho = max{j : u_j > (sum_{i<=j} u_i - R) / j}, the
    projection is sign(v) * max(|v| - theta, 0) with theta = (sum_{i<=rho} u_i - R) / rho.

    Parameters
    ----------
    v : torch.Tensor
        One-dimensional tensor.
    radius : float
        R > 0.

    Returns
    -------
    torch.Tensor
        The projection; ``v`` itself (same values) when it is already in the ball.

    Notes
    -----
    O(n log n) for the sort.
    """
    radius = check_radius(radius)
    magnitude = v.abs()
    if float(magnitude.sum()) <= radius:
        return v.clone()
    u, _ = torch.sort(magnitude, descending=True)
    cumulative = torch.cumsum(u, 0)
    j = torch.arange(1, u.numel() + 1, dtype=u.dtype, device=u.device)
    active = u * j > cumulative - radius
    active[0] = True  # holds exactly for j = 1 (u_1 > u_1 - R); rounding can hide it when R << u_1
    rho = int(torch.nonzero(active).max())
    theta = (cumulative[rho] - radius) / (rho + 1)
    return torch.sign(v) * torch.clamp(magnitude - theta, min=0)


def nuclear_norm(matrix: torch.Tensor) -> float:
    """||M||_* = sum of singular values."""
    return float(torch.linalg.svdvals(matrix).sum())


def project_nuclear_ball(matrix: torch.Tensor, radius: float) -> torch.Tensor:
    """Euclidean (Frobenius) projection of a matrix onto {A : ||A||_* <= R}.

    With M = U diag(s) V^T, the projection is U diag(P_R(s)) V^T, P_R the l1-ball projection
    of :func:`project_l1_ball` (Zhang, Liang & Wainwright 2017, Algorithm 1, step 2).

    Notes
    -----
    One thin SVD: O(m n min(m, n)).
    """
    return _project_spectrum(matrix, radius)[0]


def _project_spectrum(matrix: torch.Tensor, radius: float) -> tuple[torch.Tensor, float]:
    """(projection, its nuclear norm) from one SVD; the norm is the sum of projected singular values."""
    u, s, vh = torch.linalg.svd(matrix, full_matrices=False)
    if float(s.sum()) <= check_radius(radius):
        return matrix.clone(), float(s.sum())
    shrunk = project_l1_ball(s, radius)
    return (u * shrunk) @ vh, float(shrunk.sum())


def class_scores(z: torch.Tensor, a: torch.Tensor, n_classes: int) -> torch.Tensor:
    """f_k(x) = tr(Z(x) A_k) = sum_{p,i} Z[p,i] A[i, kP + p] for Z (b, P, m), A (m, KP); (b, K)."""
    return torch.einsum("bpi,ikp->bk", z.to(a.dtype), a.reshape(a.shape[0], n_classes, -1))


@dataclass(frozen=True)
class NuclearProblem:
    """min_A (1/N) sum_n softmax-loss(tr(Z(x_n) A_k), y_n)  s.t.  ||A||_* <= R.

    Parameters
    ----------
    batch : callable
        ``batch(indices) -> Z`` of shape (b, P, m): the features of the samples ``indices``.
        Lets a solver stream features that are too large to keep (see
        :class:`sublevel.checks.ccnn.features.FeatureSource`).
    labels : np.ndarray
        Integer labels in 0..K-1, length N.
    n_classes : int
        K.
    shape : tuple
        (m, P): feature dimension and number of (pooled) patches.
    radius : float
        R > 0.
    """

    batch: BatchFn
    labels: np.ndarray
    n_classes: int
    shape: tuple[int, int]
    radius: float

    def __post_init__(self):
        check_radius(self.radius)
        labels = np.asarray(self.labels)
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise InputError("labels must be a one-dimensional integer array")
        if labels.size and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise InputError(f"labels must lie in 0..{self.n_classes - 1}, "
                             f"got values from {labels.min()} to {labels.max()}")

    @classmethod
    def from_features(cls, features: torch.Tensor, labels, n_classes: int, radius: float) -> "NuclearProblem":
        """The program on features held in memory, shape (N, P, m)."""
        if features.ndim != 3:
            raise InputError(f"features must have shape (N, P, m), got {tuple(features.shape)}")
        labels = np.asarray(labels)
        if len(labels) != features.shape[0]:
            raise InputError(f"{features.shape[0]} feature rows but {len(labels)} labels")
        return cls(lambda idx: features[torch.as_tensor(idx)], labels, int(n_classes),
                   (features.shape[2], features.shape[1]), float(radius))

    @property
    def n_samples(self) -> int:
        return len(self.labels)

    def zeros(self, dtype=torch.float64) -> torch.Tensor:
        """A = 0, of shape (m, K P): the matrix the solvers start from (it is in every ball)."""
        m, p = self.shape
        return torch.zeros(m, self.n_classes * p, dtype=dtype)

    def scores(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """f_k(x) = tr(Z(x) A_k) for a batch Z (b, P, m); returns (b, K)."""
        return class_scores(z, a, self.n_classes)

    def _batch_loss_grad(self, idx: np.ndarray, a: torch.Tensor, grad: bool):
        z = self.batch(idx).to(a.dtype)
        logits = self.scores(z, a)
        y = torch.as_tensor(self.labels[idx], dtype=torch.long)
        loss = torch.logsumexp(logits, 1).sum() - logits.gather(1, y[:, None]).sum()
        if not grad:
            return loss, None
        # d loss / d logits = softmax - onehot; chain rule through the trace is an outer product.
        residual = torch.softmax(logits, 1)
        residual[torch.arange(len(idx)), y] -= 1
        g = torch.einsum("bpi,bk->ikp", z, residual).reshape(a.shape)
        return loss, g

    def objective(self, a: torch.Tensor, batch_size: int = 1024) -> float:
        """F(A), accumulated over batches of samples."""
        return float(self.value_and_grad(a, batch_size, grad=False)[0])

    def value_and_grad(self, a: torch.Tensor, batch_size: int = 1024, grad: bool = True):
        """(F(A), grad F(A)) over all N samples, streamed in batches."""
        total = torch.zeros((), dtype=a.dtype)
        g = torch.zeros_like(a) if grad else None
        for start in range(0, self.n_samples, batch_size):
            idx = np.arange(start, min(start + batch_size, self.n_samples))
            loss, gb = self._batch_loss_grad(idx, a, grad)
            total += loss
            if grad:
                g += gb
        n = max(self.n_samples, 1)
        return total / n, (g / n if grad else None)


@dataclass
class SolverResult:
    """What a solver returns: the matrix, its objective and the evidence of feasibility.

    ``max_nuclear_norm`` is the largest ||A||_* seen right after any projection (it must be
    <= R up to rounding); ``history`` the objective after each epoch (SGD) or iteration
    (FISTA); ``seconds`` the wall time.
    """

    a: torch.Tensor
    objective: float
    iterations: int
    max_nuclear_norm: float
    history: list[float] = field(default_factory=list)
    seconds: float = 0.0


def solve_fista(problem: NuclearProblem, max_iter: int = 5000, tol: float = 1e-12,
                dtype=torch.float64, batch_size: int = 4096, a0: torch.Tensor | None = None) -> SolverResult:
    """Full-batch accelerated projected gradient (FISTA, Beck & Teboulle 2009).

    y_{t+1} = A_t + ((t_k - 1)/t_{k+1}) (A_t - A_{t-1}),  A_{t+1} = Proj_R(y - grad F(y) / L),
    with L found by backtracking (doubling until the quadratic upper bound holds) and the
    momentum restarted whenever F increases (O'Donoghue & Candes 2015), which keeps the
    O(1/t^2) rate and makes the iterates monotone. Stops when the relative decrease of F over
    one step is below ``tol`` for 10 consecutive steps.

    Used for the exact comparison with cvxpy; :func:`solve_sgd` is the solver for large N.
    """
    start = time.perf_counter()
    x = problem.zeros(dtype) if a0 is None else a0.to(dtype).clone()
    fx, _ = problem.value_and_grad(x, batch_size, grad=False)
    y, x_prev, t, lipschitz = x.clone(), x.clone(), 1.0, 1.0
    history, max_norm, quiet = [float(fx)], 0.0, 0
    it = 0
    for it in range(1, max_iter + 1):
        fy, gy = problem.value_and_grad(y, batch_size)
        while True:
            candidate = project_nuclear_ball(y - gy / lipschitz, problem.radius)
            fc, _ = problem.value_and_grad(candidate, batch_size, grad=False)
            step = candidate - y
            if fc <= fy + (gy * step).sum() + 0.5 * lipschitz * (step * step).sum() + 1e-15 * abs(fy):
                break
            lipschitz *= 2.0
        max_norm = max(max_norm, nuclear_norm(candidate))
        if fc > fx:  # restart: drop the momentum, retry from the last iterate
            if t == 1.0:  # a plain projected step from x went up: F is flat to rounding
                quiet += 1
                if quiet >= 10:
                    break
            y, t = x.clone(), 1.0
            continue
        decrease = float(fx - fc) / max(abs(float(fx)), 1e-300)
        x_prev, x, fx = x, candidate, fc
        history.append(float(fx))
        t_next = 0.5 * (1 + math.sqrt(1 + 4 * t * t))
        y = x + ((t - 1) / t_next) * (x - x_prev)
        t = t_next
        lipschitz *= 0.9  # let the step grow back where the loss is flatter
        quiet = quiet + 1 if decrease < tol else 0
        if quiet >= 10:
            break
    return SolverResult(x, float(fx), it, max_norm, history, time.perf_counter() - start)


def solve_sgd(problem: NuclearProblem, epochs: int = 20, batch_size: int = 64, learning_rate: float = 1.0,
              seed: int = 0, dtype=torch.float32, a0: torch.Tensor | None = None,
              on_epoch: Callable[[int, float], None] | None = None) -> SolverResult:
    """Projected stochastic gradient (Zhang, Liang & Wainwright 2017, Algorithm 1).

    For each mini-batch B of a random permutation: A <- Proj_R(A - eta_e grad F_B(A)) with
    eta_e = learning_rate / (L sqrt(e + 1)) in epoch e. L = (1/2) mean_n ||Z(x_n)||_F^2 over
    the first batch estimates the Lipschitz constant of grad F (the softmax loss has Hessian
    <= 1/2 I in the scores, and A -> tr(Z A_k) has norm ||Z||_F), so ``learning_rate`` is
    free of the features' scale. Every step ends with a projection, so every iterate is
    feasible; ``max_nuclear_norm`` records the projected singular values' sum at each step.
    ``history`` holds the full objective after each epoch.

    Notes
    -----
    Per step: one feature batch, one einsum, one thin SVD of the m x KP matrix.
    """
    if epochs < 1 or batch_size < 1 or not learning_rate > 0:
        raise InputError("epochs and batch_size must be >= 1 and learning_rate > 0")
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    a = problem.zeros(dtype) if a0 is None else a0.to(dtype).clone()
    first = problem.batch(np.arange(min(batch_size, problem.n_samples)))
    lipschitz = max(0.5 * float((first.double() ** 2).sum()) / len(first), 1e-12)
    history, max_norm, steps = [], 0.0, 0
    for epoch in range(epochs):
        eta = learning_rate / (lipschitz * math.sqrt(epoch + 1))
        order = rng.permutation(problem.n_samples)
        for s in range(0, problem.n_samples, batch_size):
            idx = np.sort(order[s:s + batch_size])
            _, g = problem._batch_loss_grad(idx, a, grad=True)
            a, norm = _project_spectrum(a - (eta / len(idx)) * g, problem.radius)
            max_norm = max(max_norm, norm)
            steps += 1
        history.append(problem.objective(a))
        if on_epoch is not None:
            on_epoch(epoch, time.perf_counter() - start)
    return SolverResult(a, history[-1], steps, max_norm, history, time.perf_counter() - start)


def solve_cvxpy(features: np.ndarray, labels: np.ndarray, n_classes: int, radius: float,
                solver: str = "CLARABEL"):
    """The same program in cvxpy: ``cp.log_sum_exp`` loss and ``cp.normNuc(A) <= R``.

    A reference for small instances only (the nuclear norm becomes a semidefinite constraint of
    size m + KP). Returns ``(A, objective, seconds)``; ``seconds`` is the solver's own time.
    """
    try:
        import cvxpy as cp
    except ImportError:
        raise InputError("the cvxpy reference solve needs cvxpy: pip install 'sublevel[ccnn]'") from None

    n, p, m = features.shape
    a = cp.Variable((m, n_classes * p))
    # f_k(x_n) = sum_{p,i} Z[n,p,i] A[i, kP + p] = <vec_C(Z_n^T), vec_C(A_k)>
    flat = np.ascontiguousarray(features.transpose(0, 2, 1).reshape(n, m * p))
    scores = cp.hstack([cp.reshape(flat @ cp.vec(a[:, k * p:(k + 1) * p], order="C"), (n, 1), order="C")
                        for k in range(n_classes)])
    onehot = np.eye(n_classes)[labels]
    loss = (cp.sum(cp.log_sum_exp(scores, axis=1)) - cp.sum(cp.multiply(onehot, scores))) / n
    program = cp.Problem(cp.Minimize(loss), [cp.normNuc(a) <= check_radius(radius)])
    start = time.perf_counter()
    program.solve(solver=solver)
    elapsed = program.solver_stats.solve_time or (time.perf_counter() - start)
    return a.value, float(program.value), float(elapsed)
