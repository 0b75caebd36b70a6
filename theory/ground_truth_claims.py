"""The exact ground truths as a registered claim: the machinery must reproduce known counts.

G1 (``scalar-linear``: two components below t^2, one above), deeper scalar chains (2^(L-1)
below t^2), G2 (``one-neuron``: 0, 1, 2, 1 across 1/2, a^2/2 and the wall (1 + a^2)/2) and G2 with
labels scaled by 1e-6 (the same counts at levels scaled by 1e-12) and G1 with a ridge kappa
(0 below 2 kappa - kappa^2, 2 below 1, then 1) are known exactly
(docs/claims.rst, section 0). A count whose proven bounds exclude the known number is a
refutation of the machinery, and with every instance expected ``proven`` it is a
contradiction of ``sublevel verify``: this is the row that notices a broken count.
"""
from __future__ import annotations

from sublevel.theory.claims import Claim, Instance, Verdict, register

WALL = 2.5  # (1 + a^2) / 2 for a = 2

register(Claim(
    id="ground-truth-counts",
    statement="N_lambda equals its known value on the exact ground truths (G1, deeper scalar chains, G2).",
    reference="Freeman & Bruna 2017 (arXiv:1611.01540), section 2; the scalar examples of the lecture",
    hypotheses="bias-free scalar chains 1-1-...-1 (linear) and one ReLU neuron, no ridge; G1 with a ridge",
    symbols={"t": "the label of the single datum x = 1", "a": "the label of the datum x = -1 (G2)"},
    kind="ground-truth",
    applies=lambda architecture, kappa: True,
    prediction="the proven bounds contain the known N_lambda at every level, and meet it",
    instances=(
        Instance("G1 (1-1-1), t = 1", "scalar-linear", {"target": 1.0}, "1-1-1", levels=(0.0, 0.5, 1.0, 1.5),
                 options={"truth": [2, 2, 1, 1]}, expect=Verdict.PROVEN),
        Instance("1-1-1-1, t = 2", "scalar-linear", {"target": 2.0}, "1-1-1-1", levels=(1.0, 3.99, 4.0, 9.0),
                 options={"truth": [4, 4, 1, 1]}, expect=Verdict.PROVEN),
        Instance("G2 (one neuron, a = 2)", "one-neuron", {"a": 2.0}, "1-1-1", activation="relu",
                 levels=(0.4, 0.5, 1.0, 2.0 * (1 - 1e-12), 2.0, 2.2, WALL * (1 - 1e-12), WALL, WALL * (1 + 1e-12),
                         3.0),
                 options={"truth": [0, 1, 1, 1, 2, 2, 2, 1, 1, 1]}, expect=Verdict.PROVEN),
        # An edited file: labels scaled by 0.1 (wall 0.01) under metadata that still names target 1
        # (whose separator floor is 1). Trusting the file would prove 2 components at 0.5.
        Instance("G1 with labels edited to t = 0.1, metadata unchanged (certificates must be ignored)",
                 "scalar-linear", {"target": 1.0}, "1-1-1", levels=(0.005, 0.5),
                 options={"truth": [2, 1], "forge_labels": 0.1}, expect=Verdict.PROVEN),
        # With a ridge the loss is coercive, so certified boxes bound the whole of Omega(lambda):
        # minima +-sqrt(1 - kappa) (1, 1) at 2 kappa - kappa^2 = 0.51, the saddle 0 at 1.
        Instance("G1 with ridge kappa = 0.3 (certified boxes)", "scalar-linear", {"target": 1.0}, "1-1-1",
                 levels=(0.4, 0.7, 0.999, 1.5), kappa=0.3, options={"truth": [0, 2, 2, 1]}, expect=Verdict.PROVEN),
    ),
))
