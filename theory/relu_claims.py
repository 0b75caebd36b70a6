"""ReLU nets: disconnected sublevel sets, spurious minima, the kernel lemma and near-connectivity.

Lecture 11, "ReLU network: multiple components" and "ReLU activation network: nearly
connected"; Freeman & Bruna 2017 (arXiv:1611.01540), section 2.3 (Prop 2.3, Thm 2.4,
Cor. 2.5); Venturi, Bandeira & Bruna 2018 (arXiv:1802.06384); Safran & Shamir 2018
(arXiv:1712.08968). docs/claims.rst, sections 2 and 3 give the constructions and the checks.

Runner kinds (:mod:`sublevel.checks.verdicts.relu_runners`):

- ``disconnection``: certified component brackets (determinant separator) plus a path search
  between theta_A and theta_B; refuted by a certified path below the level.
- ``spurious-minima``: a named point is examined, or many descent end points are
  (:mod:`sublevel.checks.verdicts.spurious`).
- ``kernel-inequality``: Prop 2.3 on random distributions and angles.
- ``energy-gap``: trained minima joined by minimax paths over a grid of widths, or a
  certified barrier against the literal bound.
"""
from __future__ import annotations

from sublevel.theory.claims import Claim, Instance, Verdict, register
from sublevel.theory.networks import Architecture

FB = "Freeman & Bruna, ICLR 2017 (arXiv:1611.01540)"
PERMUTATION = {"arch": "2-2-1", "samples": 256, "seed": 0}


def _relu(arch: Architecture, kappa: float) -> bool:
    return arch.activation_name == "relu"


def _two_layer_relu(arch: Architecture, kappa: float) -> bool:
    return arch.activation_name == "relu" and arch.depth == 2 and arch.widths[-1] == 1 and not arch.bias


def _permutation_certificate(arch: Architecture, kappa: float) -> bool:
    return _two_layer_relu(arch, kappa) and arch.widths[:2] == (2, 2) and kappa == 0


register(Claim(
    id="relu-disconnection",
    statement="For any widths there is a data distribution for which some Omega(lambda) has more than one "
              "component; for the teacher-permutation construction (2-2-1, no bias) theta_A and theta_B lie in "
              "different components of Omega(lambda) for every lambda < rho*.",
    reference=FB + ", section 2.3.1; lecture 11, 'ReLU network: multiple components'",
    hypotheses="ReLU, no bias, kappa = 0, widths 2-2-1, labels from a teacher; lambda < rho* (the determinant floor)",
    symbols={"rho*": "min of L over the rank-one set {det W_1 = 0} (sample loss; proven in exact rational arithmetic)",
             "theta_A, theta_B": "teacher and teacher with its two hidden units swapped",
             "lambda": "level, given as fractions of rho* (or of the straight segment's maximum)"},
    kind="disconnection",
    applies=_permutation_certificate,
    prediction="certified lower bound N_lambda >= 2 at every lambda < rho*, and no path below lambda",
    instances=(
        Instance("relu-permutation 2-2-1, lambda = 0.5 rho*, 0.95 rho*", "relu-permutation", PERMUTATION, "2-2-1",
                 activation="relu", options={"floor_fractions": (0.5, 0.95)}),
        # Above the barrier, but below the straight segment's maximum (0.417 = 1.46 rho*): only
        # a path that a finder bends and the certifier proves below the level can refute here.
        Instance("relu-permutation 2-2-1, lambda = 1.4 rho* (above the barrier, below the straight segment), "
                 "must fail", "relu-permutation", PERMUTATION, "2-2-1", activation="relu",
                 options={"floor_fractions": (1.4,)}, expect=Verdict.REFUTED),
    ),
))

register(Claim(
    id="relu-spurious-minima",
    statement="ReLU nets have spurious local minima: the constructions' theta_bad are local minima with loss above "
              "a point of lower loss, and for k >= 6 the Safran-Shamir population loss has spurious local minima.",
    reference="Venturi, Bandeira & Bruna 2018 (arXiv:1802.06384), p < n; Safran & Shamir, ICML 2018 "
              "(arXiv:1712.08968); docs/claims.rst, G2",
    hypotheses="ReLU, no bias; venturi: n >= 3, 2 <= p <= n - 1, beta > alpha > 0; safran-shamir: k >= 6, "
               "output weights fixed to 1, population loss",
    symbols={"theta_bad": "the construction's candidate spurious minimum",
             "best known": "a point of lower loss (named point, certified floor, or best descent end point)"},
    kind="spurious-minima",
    applies=_relu,
    prediction="the named point passes every test of checks.spurious (critical, no descent, above the best known); "
               "a search finds at least one such point",
    instances=(
        Instance("venturi n=4 p=2: theta_bad", "venturi", {"n": 4, "p": 2, "samples": 400, "seed": 0}, "4-2-1",
                 activation="relu", options={"point": "theta_bad"}),
        Instance("one-neuron a=2 (G2): theta_spurious", "one-neuron", {"a": 2.0}, "1-1-1", activation="relu",
                 options={"point": "theta_spurious"}),
        Instance("safran-shamir k=8: population-loss search", "safran-shamir", {"k": 8, "samples": 1}, "8-8-1",
                 activation="relu", options={"search": "population", "starts": 24}),
        Instance("one-neuron a=2: theta_global is not spurious, must fail", "one-neuron", {"a": 2.0}, "1-1-1",
                 activation="relu", options={"point": "theta_global"}, expect=Verdict.REFUTED),
    ),
))

register(Claim(
    id="relu-kernel-inequality",
    statement="For unit w1, w2 at angle alpha with unit bisector w_m and any input distribution Z: "
              "(1+cos alpha)/2 ||w_m||_Z^2 - 2||Sigma|| ((1-cos alpha)/2 + sin^2 alpha) <= [w1, w2]_Z "
              "<= (1+cos alpha)/2 ||w_m||_Z^2.",
    reference=FB + ", Prop. 2.3",
    hypotheses="any distribution with finite second moments; [a, b]_Z = E[relu(a.X) relu(b.X)], Sigma = E[X X^T]",
    symbols={"[a, b]_Z": "E[relu(a.X) relu(b.X)]", "||w||_Z^2": "[w, w]_Z", "Sigma": "E[X X^T] (operator norm)",
             "alpha": "angle between w1 and w2"},
    kind="kernel-inequality",
    applies=lambda arch, kappa: True,
    prediction="both inequalities hold for every sampled distribution and angle",
    instances=(
        Instance("Gaussian (exact kernel) and empirical distributions, n = 2..6", "gaussian", {}, "2-1",
                 options={"trials": 400, "seed": 0}),
        Instance("lower bound without the 2||Sigma|| correction, must fail", "gaussian", {}, "2-1",
                 options={"trials": 400, "seed": 0, "correction_factor": 0.0}, expect=Verdict.REFUTED),
        # The tightest distribution found needs 1/6 of the stated correction (two points on w1 and
        # w2 at 90 degrees), so a tenth of it must be refuted; a half of it holds there.
        Instance("correction divided by 10, must fail", "gaussian", {}, "2-1",
                 options={"trials": 400, "seed": 0, "correction_factor": 0.1}, expect=Verdict.REFUTED),
    ),
))


def _energy_gap_claim(symbols: dict[str, str], **fields) -> None:
    """Register a claim about the energy gap of two-layer ReLU nets of hidden width m."""
    register(Claim(symbols={"m": "hidden width", "n": "input dimension", **symbols}, kind="energy-gap",
                   applies=_two_layer_relu, **fields))


_energy_gap_claim(
    id="relu-nearly-connected",
    statement="For H = W_2 relu(W_1 x) with m hidden units, any theta_A, theta_B in Omega(lambda) are joined by a path "
              "in Omega(max(lambda, eps)) with eps -> 0 as m grows (lecture rate eps ~ m^(-1/n)).",
    reference=FB + ", Thm 2.4 / Cor. 2.5; lecture 11, 'ReLU activation network: nearly connected'",
    hypotheses="two layers, ReLU, scalar output, no bias; checked with kappa = 0 (the paper adds a penalty "
               "kappa ||W_2||_1 and row norms <= 1, which rescaling satisfies)",
    symbols={"eps_emp(m)": "path max - max(L_A, L_B) for the best path found between trained minima (an upper bound)"},
    prediction="eps_emp(m) falls with m (fitted log-log slope < 0); path finders give upper bounds, so this "
               "confirms the trend and cannot refute it",
    instances=(
        Instance("teacher 2-4-1 (quadratic teacher), m = 2..16", "teacher",
                 {"arch": "2-4-1", "activation": "quadratic", "samples": 48, "seed": 0}, "2-2-1", activation="relu",
                 options={"widths": (2, 4, 8, 16), "pairs": 2}),
    ),
)

_energy_gap_claim(
    id="relu-nearly-connected-literal",
    statement="The lecture's literal bound: L(gamma(t)) <= max(lambda, m^(-1/n)) on some path between any two points "
              "of Omega(lambda).",
    reference="lecture 11, 'ReLU activation network: nearly connected' (no data-dependent constant)",
    hypotheses="as relu-nearly-connected; the bound has no constant, so it cannot be invariant to rescaling the labels",
    symbols={"rho*": "certified barrier between theta_A and theta_B of relu-permutation (determinant floor)"},
    prediction="every minimax gap is <= m^(-1/n): measured gaps at or below it are consistent, a certified barrier "
               "above it refutes",
    instances=(
        Instance("relu-permutation 2-2-1 with teacher output weights 2: certified barrier vs 2^(-1/2), must fail",
                 "relu-permutation", dict(PERMUTATION, scale=2.0), "2-2-1", activation="relu",
                 options={"barrier": True}, expect=Verdict.REFUTED),
        Instance("teacher 2-4-1 (quadratic teacher), m = 2..16: measured gaps vs m^(-1/n)", "teacher",
                 {"arch": "2-4-1", "activation": "quadratic", "samples": 48, "seed": 0}, "2-2-1", activation="relu",
                 options={"widths": (2, 4, 8, 16), "pairs": 2, "literal": True}),
    ),
)
