"""Exact maxima of the loss of a one-hidden-layer ReLU net along straight segments: one
compiled sweep over each segment's breakpoints.

Along theta(t) = a + t d the pre-activations z_{mu j}(t) = z0 + t z1 are linear in t; unit j of
sample mu switches at t = -z0 / z1 when that lies in (0, 1). Between consecutive switches the
output of every sample is a quadratic in t and the loss

    L(t) = (1/N) sum_mu sum_o r_{mu o}(t)^2 + kappa ||a + t d||^2

a quartic. The sweep sorts all N n_1 switching times of a segment, walks through them keeping
every sample's output quadratic and the total quartic (a switch changes one sample's output by
unit j's contribution (V^a + t V^d)_{oj} (z0 + t z1), so the total changes by that sample's new
quartic minus its old one), and stores the quartic of every piece. The maximum is then taken
over the pieces: end points first; a piece whose slope bound shows it cannot exceed the best
end point is skipped; the others are maximised over their critical points, the real roots of a
cubic, which are bracketed between the roots of its (quadratic) derivative and bisected to the
last bit. This is the scheme of Freeman & Bruna's segment certificates ("Topology and geometry
of half-rectified network optimization", ICLR 2017, arXiv:1611.01540) computed exactly, in
O(N n_1 log(N n_1)) per segment.

Rounding: every stored coefficient is a sum of products formed by the same chains of
operations as in the polynomial bookkeeping of :mod:`sublevel.checks.certify.segments`, whose
a-priori bound (``_rounding_bound``) the caller adds; the kernel adds, for every critical point,
the slope bound times the width of its final bisection bracket (about one unit in the last
place), so the returned value bounds the maximum of the computed piece polynomials, up to one
case at rounding level: the roots of p'' are computed in closed form, and a pair of critical
points within rounding distance of one of them is represented by that cut point itself (the
value there differs from theirs by the square of the rounding error times |p''|). The
companion-matrix computation this sweep replaced had the same limit.

The kernel is compiled by numba (``cache=True``: once per installation) without fast-math, so
the floating-point operations are the ones written here, in this order.
"""
from __future__ import annotations

import multiprocessing

import numba
import numpy as np
import torch

BISECTION_STEPS = 200
"""Upper limit on bisection steps per bracketed root (it stops when the bracket cannot shrink,
after at most about 64 steps in float64)."""

SMALL_BUCKET = 32
"""Buckets of the sort holding more switching times than this are sorted by numpy's sort."""


def relu_segment_maxima(x: torch.Tensor, w1a: torch.Tensor, w1d: torch.Tensor, b1a: torch.Tensor, b1d: torch.Tensor,
                        va: torch.Tensor, vd: torch.Tensor, ba: torch.Tensor, bd: torch.Tensor, y: torch.Tensor,
                        ridge: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Maximum over t in [0, 1] of the piecewise-quartic loss of E segments.

    Parameters
    ----------
    x : (N, n_0)
        Inputs.
    w1a, w1d : (E, n_1, n_0); b1a, b1d : (E, n_1)
        First layer W(t) = W^a + t W^d, b(t) = b^a + t b^d (zero biases for a net without).
    va, vd : (E, n_L, n_1); ba, bd : (E, n_L)
        Output layer, the same way.
    y : (N, n_L)
        Targets.
    ridge : (E, 3)
        The ridge kappa ||a + t d||^2 as coefficients of 1, t, t^2.

    Returns
    -------
    value : (E,)
        The largest value of the computed piece polynomials over their end points and
        critical points, plus the bisection margin: up to the rounding that the caller bounds,
        an upper bound on max_t L(theta(t)).
    argmax : (E,)
        The t in [0, 1] where the largest candidate value was found.

    Everything runs in float64 on the CPU, the segments in parallel on torch's thread count;
    the pre-activations z0 = W^a x + b^a and z1 = W^d x + b^d are formed inside the kernel.
    """
    arrays = [np.ascontiguousarray(t.detach().to("cpu", torch.float64).numpy())
              for t in (x, w1a, w1d, b1a, b1d, va, vd, ba, bd, y, ridge)]
    count = arrays[1].shape[0]
    value, argmax = np.empty(count), np.empty(count)
    threads = torch.get_num_threads()
    if threads == 1 or multiprocessing.parent_process() is not None:
        # one thread asked, or a worker process (forked workers cannot use the OpenMP threading
        # layer that their parent may have started: they die): the serial kernel
        _serial_kernel(*arrays, value, argmax)
    else:
        try:
            numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
            _segments_kernel(*arrays, value, argmax)
        finally:
            # numba's OpenMP threading layer shares OpenMP's settings with torch: starting it can
            # change torch's thread count, which the caller chose
            torch.set_num_threads(threads)
    device = ridge.device
    return torch.from_numpy(value).to(device), torch.from_numpy(argmax).to(device)


@numba.njit(cache=True, parallel=True)
def _segments_kernel(x, w1a, w1d, b1a, b1d, va, vd, ba, bd, y, ridge, value, argmax):  # pragma: no cover - compiled
    """One :func:`_one_segment` per segment, segments in parallel."""
    for e in numba.prange(w1a.shape[0]):
        z0, z1 = _pre_activations(x, w1a[e], w1d[e], b1a[e], b1d[e])
        value[e], argmax[e] = _one_segment(z0, z1, va[e], vd[e], ba[e], bd[e], y, ridge[e])


@numba.njit(cache=True)
def _serial_kernel(x, w1a, w1d, b1a, b1d, va, vd, ba, bd, y, ridge, value, argmax):  # pragma: no cover - compiled
    """:func:`_segments_kernel` on the calling thread, without numba's threading layer."""
    for e in range(w1a.shape[0]):
        z0, z1 = _pre_activations(x, w1a[e], w1d[e], b1a[e], b1d[e])
        value[e], argmax[e] = _one_segment(z0, z1, va[e], vd[e], ba[e], bd[e], y, ridge[e])


@numba.njit(cache=True)
def _pre_activations(x, wa, wd, ba, bd):  # pragma: no cover - compiled
    """z0 = W^a x + b^a and z1 = W^d x + b^d for every sample: two (N, n_1)."""
    n, n0 = x.shape
    n1 = wa.shape[0]
    z0, z1 = np.empty((n, n1)), np.empty((n, n1))
    for mu in range(n):
        for j in range(n1):
            s0, s1 = 0.0, 0.0
            for i in range(n0):
                s0 += x[mu, i] * wa[j, i]
                s1 += x[mu, i] * wd[j, i]
            z0[mu, j] = s0 + ba[j]
            z1[mu, j] = s1 + bd[j]
    return z0, z1


@numba.njit(cache=True)
def _one_segment(z0, z1, va, vd, ba, bd, y, ridge):  # pragma: no cover - compiled
    """Sweep one segment's switching times; (maximum with margin, its t)."""
    n, n1 = z0.shape
    n_out = y.shape[1]
    # Each sample's output quadratic just after t = 0: bias minus target plus the active units.
    out = np.zeros((n, n_out, 3))
    times = np.empty(n * n1)
    events = np.empty(n * n1, dtype=np.int64)
    m = 0
    for mu in range(n):
        for o in range(n_out):
            out[mu, o, 0] = ba[o] - y[mu, o]
            out[mu, o, 1] = bd[o]
        for j in range(n1):
            a0, a1 = z0[mu, j], z1[mu, j]
            if a0 > 0.0 or (a0 == 0.0 and a1 > 0.0):
                for o in range(n_out):
                    out[mu, o, 0] += va[o, j] * a0
                    out[mu, o, 1] += va[o, j] * a1 + vd[o, j] * a0
                    out[mu, o, 2] += vd[o, j] * a1
            if a1 != 0.0:
                r = -a0 / a1
                if r > 0.0 and r < 1.0:
                    times[m] = r
                    events[m] = mu * n1 + j
                    m += 1
    order = _sort_unit_interval(times, m)
    total = np.zeros(5)
    for mu in range(n):
        _add_quartic(out[mu], total, 1.0)
    for i in range(5):
        total[i] /= n
    for i in range(3):
        total[i] += ridge[i]
    # Piece k is [knots[k], knots[k+1]] with quartic coeffs[k].
    coeffs = np.empty((m + 1, 5))
    knots = np.empty(m + 2)
    knots[0] = 0.0
    pieces = 0
    sample_quartic = np.zeros(5)
    for k in range(m):
        t = times[order[k]]
        if t > knots[pieces]:
            coeffs[pieces] = total
            pieces += 1
            knots[pieces] = t
        event = events[order[k]]
        mu, j = event // n1, event % n1
        a0, a1 = z0[mu, j], z1[mu, j]
        sign = 1.0 if a1 > 0.0 else -1.0  # switching on when z rises
        sample_quartic[:] = 0.0
        _add_quartic(out[mu], sample_quartic, -1.0)
        for o in range(n_out):
            out[mu, o, 0] += sign * (va[o, j] * a0)
            out[mu, o, 1] += sign * (va[o, j] * a1 + vd[o, j] * a0)
            out[mu, o, 2] += sign * (vd[o, j] * a1)
        _add_quartic(out[mu], sample_quartic, 1.0)
        for i in range(5):
            total[i] += sample_quartic[i] / n
    if knots[pieces] < 1.0:
        coeffs[pieces] = total
        pieces += 1
        knots[pieces] = 1.0
    return _maximise_pieces(coeffs, knots, pieces)


@numba.njit(cache=True)
def _sort_unit_interval(times, m):  # pragma: no cover - compiled
    """Indices that sort times[:m] (all in (0, 1)): a bucket sort into m buckets, each bucket
    sorted by insertion, or by numpy's sort when it holds more than ``SMALL_BUCKET`` entries
    (clustered times), so the cost stays O(m log m) in the worst case and O(m) for spread
    times (numba's general argsort is several times slower here)."""
    counts = np.zeros(m + 1, dtype=np.int64)
    for k in range(m):
        counts[min(int(times[k] * m), m - 1) + 1] += 1
    for b in range(m):
        counts[b + 1] += counts[b]
    fill = counts[:m].copy()
    order = np.empty(m, dtype=np.int64)
    for k in range(m):
        b = min(int(times[k] * m), m - 1)
        order[fill[b]] = k
        fill[b] += 1
    for b in range(m):
        lo, hi = counts[b], counts[b + 1]
        if hi - lo > SMALL_BUCKET:
            part = order[lo:hi].copy()
            inner = np.argsort(times[part])
            for i in range(hi - lo):
                order[lo + i] = part[inner[i]]
        else:
            for i in range(lo + 1, hi):
                k = order[i]
                t = times[k]
                p = i - 1
                while p >= lo and times[order[p]] > t:
                    order[p + 1] = order[p]
                    p -= 1
                order[p + 1] = k
    return order


@numba.njit(cache=True, inline="always")
def _add_quartic(out, acc, sign):  # pragma: no cover - compiled
    """acc += sign * sum_o out[o](t)^2 for quadratics out (n_L, 3)."""
    for o in range(out.shape[0]):
        c0, c1, c2 = out[o, 0], out[o, 1], out[o, 2]
        acc[0] += sign * (c0 * c0)
        acc[1] += sign * (2.0 * c0 * c1)
        acc[2] += sign * (c1 * c1 + 2.0 * c0 * c2)
        acc[3] += sign * (2.0 * c1 * c2)
        acc[4] += sign * (c2 * c2)


@numba.njit(cache=True, inline="always")
def _quartic(c, t):  # pragma: no cover - compiled
    return (((c[4] * t + c[3]) * t + c[2]) * t + c[1]) * t + c[0]


@numba.njit(cache=True, inline="always")
def _slope(c, t):  # pragma: no cover - compiled
    return ((4.0 * c[4] * t + 3.0 * c[3]) * t + 2.0 * c[2]) * t + c[1]


@numba.njit(cache=True, inline="always")
def _slope_bound(c, hi):  # pragma: no cover - compiled
    """sum_i i |c_i| hi^(i-1) >= |p'(t)| for 0 <= t <= hi."""
    return abs(c[1]) + 2.0 * abs(c[2]) * hi + 3.0 * abs(c[3]) * hi * hi + 4.0 * abs(c[4]) * hi * hi * hi


@numba.njit(cache=True)
def _maximise_pieces(coeffs, knots, pieces):  # pragma: no cover - compiled
    """Best value (with bisection margins) and its t over the pieces' end and critical points.

    Pruning: on [lo, hi], p <= (p(lo) + p(hi)) / 2 + s (hi - lo) / 2 with s the slope bound;
    a piece whose bound does not exceed the best end-point value cannot hold a larger value.
    """
    ends = np.empty((pieces, 2))
    best, best_t = -np.inf, 0.0
    for k in range(pieces):
        ends[k, 0] = _quartic(coeffs[k], knots[k])
        ends[k, 1] = _quartic(coeffs[k], knots[k + 1])
        if ends[k, 0] > best:
            best, best_t = ends[k, 0], knots[k]
        if ends[k, 1] > best:
            best, best_t = ends[k, 1], knots[k + 1]
    upper = best
    for k in range(pieces):
        lo, hi = knots[k], knots[k + 1]
        s = _slope_bound(coeffs[k], hi)
        if 0.5 * (ends[k, 0] + ends[k, 1]) + 0.5 * s * (hi - lo) <= best:
            continue
        value, t, margin = _piece_maximum(coeffs[k], lo, hi, s)
        if value > best:
            best, best_t = value, t
        if value + margin > upper:
            upper = value + margin
    return max(upper, best), best_t


@numba.njit(cache=True)
def _piece_maximum(c, lo, hi, s):  # pragma: no cover - compiled
    """Largest value of the quartic c on [lo, hi] over its ends and the real roots of c',
    its t, and a margin s * (bracket width) covering the bisection's last bracket.

    The roots of c'' (closed form) cut [lo, hi] into stretches where c' is monotone; a
    stretch whose ends give c' opposite signs holds one root, bisected until the bracket
    cannot shrink.
    """
    cuts = np.empty(4)
    cuts[0] = lo
    count = 1
    # c''(t) = qa t^2 + qb t + qc
    qa, qb, qc = 12.0 * c[4], 6.0 * c[3], 2.0 * c[2]
    r1, r2 = np.nan, np.nan
    if qa != 0.0:
        disc = qb * qb - 4.0 * qa * qc
        if disc >= 0.0:
            root = np.sqrt(disc)
            q = -0.5 * (qb + root) if qb >= 0.0 else -0.5 * (qb - root)
            r1 = q / qa
            r2 = qc / q if q != 0.0 else r1
    elif qb != 0.0:
        r1 = -qc / qb
    if r2 < r1:
        r1, r2 = r2, r1
    for r in (r1, r2):
        if r > cuts[count - 1] and r < hi:
            cuts[count] = r
            count += 1
    cuts[count] = hi
    count += 1
    best, best_t = _quartic(c, lo), lo
    margin = 0.0
    for i in range(count):
        v = _quartic(c, cuts[i])
        if v > best:
            best, best_t = v, cuts[i]
    for i in range(count - 1):
        u, w = cuts[i], cuts[i + 1]
        fu, fw = _slope(c, u), _slope(c, w)
        if (fu < 0.0 and fw > 0.0) or (fu > 0.0 and fw < 0.0):
            for _ in range(BISECTION_STEPS):
                mid = 0.5 * (u + w)
                if mid <= u or mid >= w:
                    break
                fm = _slope(c, mid)
                if fm == 0.0:
                    u, w = mid, mid
                    break
                if (fm < 0.0) == (fu < 0.0):
                    u, fu = mid, fm
                else:
                    w = mid
            for t in (u, w):
                v = _quartic(c, t)
                if v > best:
                    best, best_t = v, t
            if s * (w - u) > margin:
                margin = s * (w - u)
    return best, best_t, margin
