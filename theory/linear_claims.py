"""Deep linear networks: Freeman & Bruna 2017 (arXiv:1611.01540), Prop. 2.2.

For H(x) = W_L ... W_1 x with the square loss and no regularisation, if every hidden width
satisfies n_l > min(n_0, n_L) (the STRICT condition) then Omega(lambda) is connected for every
lambda. The paper's text reads ">=", which is false: the scalar net 1-1-1 on the datum (1, 1)
(G1) has two components below lambda = 1. Both forms are registered; the non-strict one carries
G1 as its must-fail instance.
"""
from __future__ import annotations

from sublevel.theory.claims import Claim, Instance, Verdict, register
from sublevel.theory.networks import Architecture


def _linear_without_ridge(arch: Architecture, kappa: float) -> bool:
    return arch.activation_name == "linear" and kappa == 0 and not arch.bias


def strict_width(arch: Architecture, kappa: float) -> bool:
    """n_l > min(n_0, n_L) for every hidden layer, linear activation, no bias, kappa = 0."""
    bound = min(arch.widths[0], arch.widths[-1])
    return _linear_without_ridge(arch, kappa) and all(n > bound for n in arch.widths[1:-1])


def nonstrict_width(arch: Architecture, kappa: float) -> bool:
    """n_l >= min(n_0, n_L): the paper's wording, which is false (G1)."""
    bound = min(arch.widths[0], arch.widths[-1])
    return _linear_without_ridge(arch, kappa) and all(n >= bound for n in arch.widths[1:-1])


SYMBOLS = {
    "n_l": "width of layer l (n_0 inputs, n_L outputs)",
    "lambda": "level of the sublevel set Omega(lambda) = {theta : L(theta) <= lambda}",
    "L": "mean square loss (1/N) sum_mu ||W_L ... W_1 x_mu - y_mu||^2",
}

REFERENCE = "Freeman & Bruna, ICLR 2017 (arXiv:1611.01540), Prop. 2.2; lecture 11, 'Linear network: single component'"

GAUSSIAN = {"inputs": 2, "outputs": 1, "samples": 16, "seed": 0}


def _connectivity_claim(**fields) -> None:
    """Register a claim that Omega(lambda) is connected: at most one component at every level."""
    register(Claim(symbols=SYMBOLS, kind="components", max_components=1,
                   prediction="N_lambda <= 1 at every level", **fields))


_connectivity_claim(
    id="deep-linear-strict",
    statement="If n_l > min(n_0, n_L) for every hidden layer, Omega(lambda) is connected for every lambda.",
    reference=REFERENCE,
    hypotheses="linear activation, no bias, square loss, kappa = 0, any depth, strict width condition",
    applies=strict_width,
    instances=(
        Instance("G1 width 2 (1-2-1)", "scalar-linear", {"target": 1.0}, "1-2-1", levels=(0.05, 0.5, 0.99, 1.5)),
        # Above L(0) every linear net is connected whatever its widths (scale the output layer
        # to 0 and back), so the levels that test the claim lie between the least loss (0.602 on
        # this data) and L(0) = 1.013, where the non-strict widths split.
        Instance("gaussian 2-3-1, levels between min L = 0.60 and L(0) = 1.01", "gaussian", GAUSSIAN, "2-3-1",
                 levels=(0.7, 0.9)),
        Instance("gaussian 2-2-3-1 (depth 3), levels between min L = 0.60 and L(0) = 1.01", "gaussian", GAUSSIAN,
                 "2-2-3-1", levels=(0.7, 0.9)),
    ),
)

_connectivity_claim(
    id="deep-linear-nonstrict",
    statement="If n_l >= min(n_0, n_L) for every hidden layer, Omega(lambda) is connected for every lambda.",
    reference=REFERENCE + " (the paper's wording)",
    hypotheses="as deep-linear-strict with >= in place of >; FALSE as stated",
    applies=nonstrict_width,
    instances=(
        Instance("G1 (1-1-1), must fail", "scalar-linear", {"target": 1.0}, "1-1-1", levels=(0.5, 1.5),
                 expect=Verdict.REFUTED),
        # Square layers give determinant separators with reduced-rank floors c_{n_l - 1}
        # (sublevel.checks.counting.separators); each level lies below that floor for its data.
        Instance("linear teacher 2-1-1 (square last layer, floor L(0) = 4.83), must fail", "teacher",
                 {"arch": "2-1-1", "activation": "linear", "bias": 0, "samples": 32, "seed": 0}, "2-1-1",
                 levels=(2.4,), expect=Verdict.REFUTED),
        Instance("linear teacher 2-2-2 (floor c_1 = 0.058), must fail", "teacher",
                 {"arch": "2-2-2", "activation": "linear", "bias": 0, "samples": 32, "seed": 2}, "2-2-2",
                 levels=(0.03,), expect=Verdict.REFUTED),
        Instance("linear teacher 2-2-2-2, depth 3 (floor c_1 = 3.9e-4), must fail", "teacher",
                 {"arch": "2-2-2-2", "activation": "linear", "bias": 0, "samples": 32, "seed": 1}, "2-2-2-2",
                 levels=(2e-4,), options={"sampling": {"starts": 24, "steps": 300, "max_points": 300}},
                 expect=Verdict.REFUTED),
        # A width-one hidden layer gives a hyperplane separator <W_2, u*> = 0 whose floor 2.19 lies
        # above the least loss 1.94 on this data (sublevel.checks.counting.separators).
        Instance("gaussian 3-1-2 (width-one layer, floor 2.19 > min L = 1.94), must fail", "gaussian",
                 {"inputs": 3, "outputs": 2, "samples": 20, "seed": 0}, "3-1-2", levels=(2.07,),
                 expect=Verdict.REFUTED),
    ),
)
