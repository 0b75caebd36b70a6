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
    layer_width: Callable[[int, int, int], int] | None = None

    def widths(self, n: int, samples: int, hidden_layers: int) -> tuple[int, ...]:
        """The smallest width of each hidden layer l = 1..k the hypothesis allows (one hidden layer:
        ``width``; deeper nets need ``layer_width(n, N, l)``)."""
        if hidden_layers == 1:
            return (self.width(n, samples),)
        if self.layer_width is None:
            raise ValueError(f"the threshold {self.formula} is stated for one hidden layer")
        return tuple(self.layer_width(n, samples, layer) for layer in range(1, hidden_layers + 1))


THRESHOLDS: dict[str, Threshold] = {}

INPUTS, SAMPLES, SEED = 4, 10, 0
"""Default data: N = 10 Gaussian samples in R^4 with Gaussian labels (seed 0)."""

BELOW, BELOW_SAMPLES = 4, 30
"""Width and sample count of the must-fail instances: on N = 30 Gaussian samples in R^4, descent
from 10 starts at p = 4 ends in verified spurious minima against the best minimum, and AutoNEB
finds no certified path from some of them to it at their level (candidate valleys), for the data
seeds the claims use (0, 2, ..., 7; seed 1 gives none at p = 4)."""

STRONGER = "n(n+1)/2"
"""Venturi et al.'s width, above which no spurious valleys exist for any data: a threshold that
allows less is only tested by instances with p < n(n+1)/2, where it says more than that theorem."""

SYMBOLS = {
    "n": "input dimension n_0",
    "N": "number of samples",
    "p": "hidden width (number of quadratic units)",
    "M": "sum_j a_j w_j w_j^T; the loss is convex in M",
}


def _one_hidden_quadratic(arch: Architecture, kappa: float) -> bool:
    return arch.activation_name == "quadratic" and arch.depth == 2 and arch.widths[-1] == 1 and not arch.bias


def _quadratic_scalar_output(arch: Architecture, kappa: float) -> bool:
    return arch.activation_name == "quadratic" and arch.widths[-1] == 1 and not arch.bias


def _threshold_claim(claim_id: str, threshold: Threshold, statement: str, reference: str, hypotheses: str,
                     symbols: dict[str, str], inputs: int = INPUTS, samples: int = SAMPLES, seed: int = SEED,
                     below_seed: int = SEED, expect: Verdict | None = None, extra: tuple[Instance, ...] = (),
                     applies: Callable[[Architecture, float], bool] | None = None) -> None:
    """Register a threshold claim with one instance at p = T(n, N) on its own data (n, N, seed)
    and one must-fail at p = 4 < T on N = 30 samples in R^4 (its own data seed)."""
    THRESHOLDS[claim_id] = threshold
    data = {"inputs": inputs, "outputs": 1, "samples": samples, "seed": seed}
    width = threshold.width(inputs, samples)
    stronger = inputs * (inputs + 1) // 2
    where = ("at Venturi et al.'s n(n+1)/2" if width == stronger else
             f"below n(n+1)/2 = {stronger}, where the claim says more than that theorem" if width < stronger else
             f"above n(n+1)/2 = {stronger}: implied by that theorem")
    kappa = threshold.weight_decay
    instances = [Instance(f"gaussian n={inputs} N={samples} seed {seed}, p = {threshold.formula} = {width} ({where})"
                          + (", must fail" if expect else ""), "gaussian", data,
                          f"{inputs}-{width}-1", activation="quadratic", kappa=kappa, expect=expect)]
    if expect is None:
        instances.append(Instance(f"gaussian n={INPUTS} N={BELOW_SAMPLES} seed {below_seed}, p = {BELOW} (below the "
                                  f"threshold), must fail", "gaussian",
                                  {"inputs": INPUTS, "outputs": 1, "samples": BELOW_SAMPLES, "seed": below_seed},
                                  f"{INPUTS}-{BELOW}-1", activation="quadratic", expect=Verdict.REFUTED))
    register(Claim(
        id=claim_id, statement=statement, reference=reference, hypotheses=hypotheses,
        symbols={**SYMBOLS, **symbols}, kind="quadratic-threshold", applies=applies or _one_hidden_quadratic,
        prediction=(f"no spurious local minimum among descent end points at p >= {threshold.formula}"
                    if threshold.about == "minima" else
                    f"every spurious local minimum found at p >= {threshold.formula} is joined to the best minimum "
                    f"by a certified path (no candidate spurious valley)"),
        instances=tuple(instances) + tuple(extra),
    ))


_threshold_claim(
    "quadratic-intrinsic-dimension", Threshold(lambda n, N: n * (n + 1) // 2, "n(n+1)/2"),
    "With trainable output weights and p >= n(n+1)/2, the loss has no spurious valleys for any data.",
    "Venturi, Bandeira & Bruna 2018 (arXiv:1802.06384): intrinsic dimension of the function space",
    "one hidden layer, sigma(z) = z^2, trainable output weights, square loss, any data",
    {"n(n+1)/2": "dimension of the symmetric n x n matrices M"}, below_seed=0)

_threshold_claim(
    "quadratic-samples", Threshold(lambda n, N: N, "N"),
    "With p >= N the empirical risk has no spurious valleys (any activation).",
    "span argument for the empirical risk (Venturi et al. 2018, section on finite samples; docs/claims.rst, section 4)",
    "one hidden layer, trainable output weights, empirical square loss on N samples",
    {}, inputs=5, samples=8, seed=1, below_seed=2)

_threshold_claim(
    "quadratic-du-lee", Threshold(lambda n, N: math.ceil(math.sqrt(2 * N)), "ceil(sqrt(2N))", about="minima",
                                  weight_decay=1e-3),
    "With p >= sqrt(2N) and weight decay, local search finds global optima.",
    "Du & Lee, ICML 2018 (arXiv:1803.01206)",
    "one hidden layer, quadratic activation, weight decay (ridge kappa = 1e-3 on all parameters here); "
    "the paper's exact setting (output layer, perturbed objective) is not reproduced",
    {"kappa": "weight decay on all parameters"}, inputs=5, samples=12, seed=2, below_seed=3)

_threshold_claim(
    "quadratic-soltanolkotabi", Threshold(lambda n, N: 2 * n, "2n", about="minima", fixed_output=True),
    "With output weights fixed and at least n of each sign (p >= 2n), there are no spurious local minima.",
    "Soltanolkotabi, Javanmard & Lee 2018 (arXiv:1707.04926)",
    "one hidden layer, quadratic activation, output weights fixed to +1 (first p/2 units) and -1 (the rest)",
    {"a_j": "fixed output weights, +1 for j <= p/2, -1 otherwise"}, inputs=5, samples=10, seed=3, below_seed=4)

_threshold_claim(
    "quadratic-deep-fb", Threshold(lambda n, N: 3 * N ** 2, "3N^(2^l)",
                                   layer_width=lambda n, N, layer: 3 * N ** (2 ** layer)),
    "With n_l >= 3 N^(2^l) for every hidden layer l, Omega(lambda) is connected (one hidden layer: p >= 3N^2).",
    "lecture 11, 'quadratic activation network: single component' (attributed to F&B / Venturi et al.)",
    "quadratic activation, no bias, scalar output, N = number of samples; checked for one hidden layer (l = 1, "
    "p = 12 on N = 2 samples in R^5) and for two (widths 3N^2 = 12 and 3N^4 = 48 on N = 2 samples in R^3)",
    {"l": "index of the hidden layer"}, inputs=5, samples=2, seed=4, below_seed=5,
    extra=(Instance("gaussian n=3 N=2 seed 4, two hidden layers of widths 3N^2 = 12 and 3N^4 = 48 (l = 2)", "gaussian",
                    {"inputs": 3, "outputs": 1, "samples": 2, "seed": 4}, "3-12-48-1", activation="quadratic"),),
    applies=_quadratic_scalar_output)

# The lecture's "n > 2N" names its symbols twice over; both readings are registered.
for reading, claim_id, threshold, meaning, bound, size in (
        ("A", "quadratic-lecture-samples", Threshold(lambda n, N: 2 * N + 1, "2N+1 (p > 2N)"),
         "N = number of samples", "p > 2N", {"inputs": 5, "samples": 5, "seed": 5, "below_seed": 6}),
        ("B", "quadratic-lecture-inputs", Threshold(lambda n, N: 2 * n + 1, "2n+1 (p > 2n_0)"),
         "N = input dimension", "p > 2 n_0", {"inputs": 5, "samples": 12, "seed": 6, "below_seed": 7})):
    _threshold_claim(
        claim_id, threshold, f"Lecture, read with n = hidden width and {meaning}: {bound} gives a single component.",
        f"lecture 11, 'For the two layer case ... this simplifies to n > 2N' (reading {reading})",
        "one hidden layer, quadratic activation, trainable output weights", {}, **size)

_threshold_claim(
    "quadratic-false-threshold", Threshold(lambda n, N: n - 1, "n-1", about="minima"),
    "(Deliberately false control) With p >= n - 1 there are no spurious local minima.",
    "none: a false threshold registered so that the threshold machinery must refute something inside a "
    "claim's own hypotheses",
    "one hidden layer, quadratic activation, trainable output weights, any data",
    {}, inputs=INPUTS, samples=BELOW_SAMPLES, seed=1, expect=Verdict.REFUTED)
