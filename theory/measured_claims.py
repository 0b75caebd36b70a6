"""Empirical claims: Li et al.'s loss-landscape statements and the convexified CNN's tables.

These are claims about trained networks, so no certificate can settle them. Each is checked by
a paired comparison of measurements (:mod:`sublevel.checks.verdicts.measured_runners`): the two
models under comparison are trained on the same data split with the same seed, once per seed,
and the verdict comes from a 95% bootstrap interval of the mean paired difference:

- ``supported``: the whole interval lies on the side the claim predicts;
- ``refuted``: the whole interval lies on the other side (evidence at 95% on this instance, not
  a certificate: the row says so). These claims are ``empirical``: a refutation is a finding about
  the instance, reported as such, not a contradiction of the package;
- ``inconclusive``: the interval contains 0.

The default instances are small (MNIST-1D and scikit-learn's 8 x 8 digits, a few epochs) so that
``sublevel verify`` stays fast; their verdicts speak about these instances, not about the
CIFAR-10 / MNIST-variations settings of the papers.

One claim is exact: filter normalisation makes a slice of a ReLU network invariant to rescaling
layer k by c > 0 and layer k + 1 by 1/c (Li et al. 2018, section 4). Proof: the rescaled
direction's filters scale with the rescaled weights, so theta' + a d' is the rescaling of
theta + a d, whose function is unchanged (ReLU is positively homogeneous).
"""
from __future__ import annotations

from sublevel.theory.claims import Claim, Instance, Verdict, register

LI = "Li, Xu, Taylor, Studer & Goldstein, NeurIPS 2018 (arXiv:1712.09913)"
ZHANG = "Zhang, Liang & Wainwright, ICML 2017 (arXiv:1609.01000)"

SKIP = {"depth": 20, "width": 4, "epochs": 6, "batch_size": 32, "samples": 800, "seeds": 6}
"""ResNet-20 (base width 4) on 800 MNIST-1D signals, 6 epochs of SGD, 6 paired seeds."""

TRAINING = {"depth": 8, "width": 4, "samples": 800, "seeds": 6}
"""ResNet-8 (base width 4) on 800 MNIST-1D signals, 6 paired seeds."""

CCNN = {"variations": ("basic", "rot"), "seeds": (0, 1, 2, 3, 4), "n_features": 128, "ccnn_epochs": 4,
        "cnn_epochs": 10, "max_train": 600}
"""Digits analogues of two MNIST variations, 5 paired seeds, small features and few epochs."""


def _any_architecture(arch, kappa) -> bool:
    return True


def _paired(name: str, metric: str, a: dict, b: dict, expect: Verdict | None = None) -> Instance:
    """An instance of the ``paired-training`` runner: ResNet-8 on MNIST-1D (:data:`TRAINING`)
    trained under settings ``a`` and ``b``, compared on ``metric``."""
    return Instance(name, "mnist1d", {}, "1-1", options=dict(TRAINING, metric=metric, a=a, b=b), expect=expect)


def _empirical(**fields) -> None:
    """Register a claim about trained models (:attr:`Claim.empirical`), judged by a runner."""
    register(Claim(applies=_any_architecture, empirical=True, **fields))


def _paired_claim(d: str, both: bool = False, **fields) -> None:
    """Register a ``paired-training`` claim: d (per seed, paired) is predicted to be > 0."""
    interval = "95% bootstrap intervals above 0" if both else "95% bootstrap interval above 0"
    _empirical(kind="paired-training", symbols={"d": d},
               prediction=f"mean paired difference d > 0{' in both settings' if both else ''} ({interval})", **fields)


register(Claim(
    id="li-filter-normalisation",
    statement="With filter-normalised directions, a loss slice of a ReLU network is unchanged when layer k is "
              "multiplied by c > 0 and layer k+1 by 1/c.",
    reference=LI + ", section 4 (filter normalisation)",
    hypotheses="ReLU (positively homogeneous) activations; directions drawn once and filter-normalised to each point",
    symbols={"c": "rescaling factor", "f(a)": "L(theta + a d), d filter-normalised to theta"},
    kind="rescaling-invariance",
    applies=_any_architecture,
    prediction="the two slices agree to rounding (relative difference <= 1e-9)",
    instances=(
        Instance("MLP 8-16-16-3 (ReLU), c = 10 on layer 1, 41 points on [-1, 1]", "gaussian", {}, "8-16-16-3",
                 activation="relu", bias=True, options={"factor": 10.0, "normalization": "filter"}),
        Instance("the same without filter normalisation, must fail", "gaussian", {}, "8-16-16-3", activation="relu",
                 bias=True, options={"factor": 10.0, "normalization": "none"}, expect=Verdict.REFUTED),
    ),
))

_empirical(
    id="li-skip-connections",
    statement="Skip connections lower the test error of deep residual networks trained with the same budget "
              "(ResNet-56: 5.89% with, 13.31% without, on CIFAR-10).",
    reference=LI + ", Table 1 and Figure 5",
    hypotheses="ResNet of depth 6n + 2 with and without shortcuts, same initialisation seed, data and SGD budget",
    symbols={"d": "test error without shortcuts minus test error with them, per seed (paired)"},
    kind="skip-connections",
    prediction="mean paired difference d > 0 (95% bootstrap interval above 0)",
    instances=(
        Instance("ResNet-20, width 4, MNIST-1D (800 signals), 6 epochs, 6 paired seeds", "mnist1d", {}, "1-1",
                 options=dict(SKIP)),
        Instance("the net with shortcuts left untrained (0 epochs), must fail", "mnist1d", {}, "1-1",
                 options=dict(SKIP, epochs_with_shortcuts=0), expect=Verdict.REFUTED),
    ),
)

_paired_claim(
    id="li-weight-decay-norm",
    d="||theta_T|| / ||theta_0|| without weight decay minus with it, per seed (paired)",
    statement="Without weight decay the weight norm grows steadily during training; weight decay keeps it smaller "
              "(Figure 2 (b, c, e, f)).",
    reference=LI + ", Figure 2 and section 5",
    hypotheses="the same network and SGD schedule trained with and without weight decay",
    instances=(
        _paired("ResNet-8, MNIST-1D, 6 epochs, weight decay 5e-3 vs 0, 6 paired seeds", "norm_growth",
                {"epochs": 6, "batch_size": 32, "weight_decay": 5e-3},
                {"epochs": 6, "batch_size": 32, "weight_decay": 0.0}),
        _paired("the sides swapped (weight decay said to grow the norm), must fail", "norm_growth",
                {"epochs": 6, "batch_size": 32, "weight_decay": 0.0},
                {"epochs": 6, "batch_size": 32, "weight_decay": 5e-3}, expect=Verdict.REFUTED),
    ),
)

_paired_claim(
    id="li-weight-histograms",
    d="mean |w| of the small-batch net minus the large-batch net (no weight decay), or the reverse "
      "(with weight decay), per seed (paired)",
    both=True,
    statement="Small-batch training produces more large weights than large-batch training without weight decay, "
              "and more small weights with weight decay (Figure 2 (c, f): the weight histograms).",
    reference=LI + ", Figure 2",
    hypotheses="the same network, epochs and schedule; batch size and weight decay as stated",
    instances=(
        _paired("ResNet-8, MNIST-1D, 12 epochs, batch 16 vs 128, no weight decay", "mean_abs_weight",
                {"epochs": 12, "batch_size": 128}, {"epochs": 12, "batch_size": 16}),
        _paired("the same with weight decay 5e-3 (small batch: smaller weights)", "mean_abs_weight",
                {"epochs": 12, "batch_size": 16, "weight_decay": 5e-3},
                {"epochs": 12, "batch_size": 128, "weight_decay": 5e-3}),
        _paired("an untrained small-batch net said to hold larger weights than a trained one, must fail",
                "mean_abs_weight", {"epochs": 12, "batch_size": 16}, {"epochs": 0, "batch_size": 16},
                expect=Verdict.REFUTED),
    ),
)

_paired_claim(
    id="li-batch-size",
    d="test error with the large batch minus with the small one, per seed (paired)",
    statement="Small-batch training reaches lower test error than large-batch training for the same number of "
              "epochs (VGG-9, batch 128 vs 8192: 7.37% vs 11.07%).",
    reference=LI + ", Figure 3 and Table 2",
    hypotheses="the same network, epochs and learning-rate schedule; only the batch size differs",
    instances=(
        _paired("ResNet-8, MNIST-1D, 12 epochs, batch 16 vs 128, 6 paired seeds", "test_error",
                {"epochs": 12, "batch_size": 16}, {"epochs": 12, "batch_size": 128}),
        _paired("the small-batch net left untrained, must fail", "test_error",
                {"epochs": 0, "batch_size": 16}, {"epochs": 12, "batch_size": 128}, expect=Verdict.REFUTED),
    ),
)

_empirical(
    id="ccnn-table-1-ordering",
    statement="A convexified CNN has lower test error than the CNN of the same depth trained by backpropagation "
              "(CCNN-1 < CNN-1 and CCNN-2 < CNN-2 on every MNIST variation, lecture Table 1).",
    reference=ZHANG + ", Table 1",
    hypotheses="same data, patches and number of filters; CNN trained with Adam, CCNN by projected SGD on the "
               "nuclear-norm ball",
    symbols={"d_k": "error of CNN-k minus error of CCNN-k, per (variation, seed), paired"},
    kind="ccnn-ordering",
    prediction="for k = 1 and 2 the mean paired difference d_k > 0 (95% bootstrap interval above 0)",
    instances=(
        Instance("digits analogues of basic and rot (16 x 16), 5 paired seeds, small budget", "digits", {}, "1-1",
                 options=dict(CCNN)),
        Instance("CCNN with nuclear-norm radius R = 1e-6 (chance accuracy), must fail", "digits", {}, "1-1",
                 options=dict(CCNN, radius=1e-6), expect=Verdict.REFUTED),
    ),
)
