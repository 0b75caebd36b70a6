"""Quadratic activations: each published width threshold as its own claim.

One hidden layer, H(x) = sum_{j <= p} a_j (w_j.x)^2 = x^T M x with M = sum_j a_j w_j w_j^T, on
N samples in R^n (docs/claims.rst, section 4). The lecture (slide "quadratic activation network:
single component") states n_l >= 3 N^(2^l) for deep nets and "n > 2N" for one hidden layer,
with ambiguous symbols; the published thresholds differ. Each reading is registered with its own
symbols and a width function T(n, N): the claim is "p >= T(n, N) => no spurious valleys".

What is checked (runner ``quadratic-threshold``, :mod:`sublevel.checks.verdicts.quadratic_runners`): at the
smallest width the hypothesis allows, many random starts descend to local minima, and each end
point is examined (:mod:`sublevel.checks.verdicts.spurious`). Claims about local minima (``about = "minima"``)
are refuted by a verified spurious local minimum. Claims about valleys or connectivity
(``about = "valleys"``) are refuted only by a *candidate spurious valley*: a verified spurious
local minimum from which a path finder found no certified path to the best minimum inside
Omega(L_s + slack) (evidence, not a certificate); a spurious minimum joined by such a path is a
plateau, consistent with the claim. Nothing found -> supported on the starts tried. Every claim also
runs a width below its threshold where candidate valleys were observed: the must-fail instance.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from sublevel.theory.claims import Claim, Instance, Verdict, register
from sublevel.theory.networks import Architecture


@dataclass(frozen=True)
class Threshold:
    """The smallest width T(n, N) a claim's hypothesis allows, and the setting it assumes.

    ``about``: ``"valleys"`` (no spurious valleys / one component) or ``"minima"`` (no spurious
    local minima / local search finds global optima); ``fixed_output``: output weights fixed to
    +1 (first half) and -1 (second half) rather than trained; ``weight_decay``: ridge kappa on all
    parameters the claim assumes (0 = none).
    """

    width: Callable[[int, int], int]
    formula: str
    about: str = "valleys"
    fixed_output: bool = False
    weight_decay: float = 0.0


THRESHOLDS: dict[str, Threshold] = {}

INPUTS, SAMPLES, SEED = 4, 10, 0
"""Default data of the instances: N = 10 Gaussian samples in R^4 with Gaussian labels."""

BELOW, BELOW_SAMPLES = 4, 30
"""Width and sample count of the must-fail instances: on N = 30 Gaussian samples in R^4 (seed 0)
descent from 12 starts at p = 4 ends in verified spurious minima against the certified global
minimum (5 of 12 when this was written; 10 starts are used), and AutoNEB found no path from them to the global
minimum at their level (candidate valleys)."""

SYMBOLS = {
    "n": "input dimension n_0",
    "N": "number of samples",
    "p": "hidden width (number of quadratic units)",
    "M": "sum_j a_j w_j w_j^T; the loss is convex in M",
}


def _one_hidden_quadratic(arch: Architecture, kappa: float) -> bool:
    return arch.activation_name == "quadratic" and arch.depth == 2 and arch.widths[-1] == 1 and not arch.bias


def _threshold_claim(claim_id: str, threshold: Threshold, statement: str, reference: str, hypotheses: str,
                     symbols: dict[str, str], samples: int = SAMPLES) -> None:
    THRESHOLDS[claim_id] = threshold
    data = {"inputs": INPUTS, "outputs": 1, "samples": samples, "seed": SEED}
    width = threshold.width(INPUTS, samples)
    kappa = threshold.weight_decay
    register(Claim(
        id=claim_id, statement=statement, reference=reference, hypotheses=hypotheses,
        symbols={**SYMBOLS, **symbols}, kind="quadratic-threshold", applies=_one_hidden_quadratic,
        prediction=(f"no spurious local minimum among descent end points at p >= {threshold.formula}"
                    if threshold.about == "minima" else
                    f"every spurious local minimum found at p >= {threshold.formula} is joined to the best minimum "
                    f"by a certified path (no candidate spurious valley)"),
        instances=(
            Instance(f"gaussian n={INPUTS} N={samples}, p = {threshold.formula} = {width}", "gaussian", data,
                     f"{INPUTS}-{width}-1", activation="quadratic", kappa=kappa),
            Instance(f"gaussian n={INPUTS} N={BELOW_SAMPLES}, p = {BELOW} (below the threshold), must fail", "gaussian",
                     {**data, "samples": BELOW_SAMPLES}, f"{INPUTS}-{BELOW}-1", activation="quadratic",
                     expect=Verdict.REFUTED),
        ),
    ))


_threshold_claim(
    "quadratic-intrinsic-dimension", Threshold(lambda n, N: n * (n + 1) // 2, "n(n+1)/2"),
    "With trainable output weights and p >= n(n+1)/2, the loss has no spurious valleys for any data.",
    "Venturi, Bandeira & Bruna 2018 (arXiv:1802.06384): intrinsic dimension of the function space",
    "one hidden layer, sigma(z) = z^2, trainable output weights, square loss, any data",
    {"n(n+1)/2": "dimension of the symmetric n x n matrices M"})

_threshold_claim(
    "quadratic-samples", Threshold(lambda n, N: N, "N"),
    "With p >= N the empirical risk has no spurious valleys (any activation).",
    "span argument for the empirical risk (Venturi et al. 2018, section on finite samples; docs/claims.rst, section 4)",
    "one hidden layer, trainable output weights, empirical square loss on N samples",
    {})

_threshold_claim(
    "quadratic-du-lee", Threshold(lambda n, N: math.ceil(math.sqrt(2 * N)), "ceil(sqrt(2N))", about="minima",
                                  weight_decay=1e-3),
    "With p >= sqrt(2N) and weight decay, local search finds global optima.",
    "Du & Lee, ICML 2018 (arXiv:1803.01206)",
    "one hidden layer, quadratic activation, weight decay (ridge kappa = 1e-3 on all parameters here); "
    "the paper's exact setting (output layer, perturbed objective) is not reproduced",
    {"kappa": "weight decay on all parameters"})

_threshold_claim(
    "quadratic-soltanolkotabi", Threshold(lambda n, N: 2 * n, "2n", about="minima", fixed_output=True),
    "With output weights fixed and at least n of each sign (p >= 2n), there are no spurious local minima.",
    "Soltanolkotabi, Javanmard & Lee 2018 (arXiv:1707.04926)",
    "one hidden layer, quadratic activation, output weights fixed to +1 (first p/2 units) and -1 (the rest)",
    {"a_j": "fixed output weights, +1 for j <= p/2, -1 otherwise"})

_threshold_claim(
    "quadratic-deep-fb", Threshold(lambda n, N: 3 * N ** 2, "3N^(2^l), l = 1"),
    "With n_l >= 3 N^(2^l) for every hidden layer l, Omega(lambda) is connected (one hidden layer: p >= 3N^2).",
    "lecture 11, 'quadratic activation network: single component' (attributed to F&B / Venturi et al.)",
    "quadratic activation, N = number of samples; checked for one hidden layer (l = 1) on N = 2 samples",
    {"l": "index of the hidden layer (1 here)"}, samples=2)

_threshold_claim(
    "quadratic-lecture-samples", Threshold(lambda n, N: 2 * N + 1, "2N+1 (p > 2N)"),
    "Lecture, read with n = hidden width and N = number of samples: p > 2N gives a single component.",
    "lecture 11, 'For the two layer case ... this simplifies to n > 2N' (reading A)",
    "one hidden layer, quadratic activation, trainable output weights",
    {})

_threshold_claim(
    "quadratic-lecture-inputs", Threshold(lambda n, N: 2 * n + 1, "2n+1 (p > 2n_0)"),
    "Lecture, read with n = hidden width and N = input dimension: p > 2 n_0 gives a single component.",
    "lecture 11, 'For the two layer case ... this simplifies to n > 2N' (reading B)",
    "one hidden layer, quadratic activation, trainable output weights",
    {})
