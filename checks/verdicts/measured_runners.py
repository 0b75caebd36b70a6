"""Runners of the empirical claims (:mod:`sublevel.theory.measured_claims`).

- ``rescaling-invariance``: a 1-D slice of a ReLU MLP before and after rescaling layer k by c and
  layer k + 1 by 1/c, with the same raw random direction normalised to each point.
- ``skip-connections``: ResNets with and without shortcuts trained on the same MNIST-1D split,
  paired by seed (:class:`~sublevel.checks.verdicts.paired.PairedComparison`).
- ``ccnn-ordering``: CNN-k against CCNN-k on digits analogues of MNIST variations, paired by
  (variation, seed).
- ``paired-training``: one ResNet trained twice per seed under two settings ``a`` and ``b``
  (batch size, weight decay, epochs), compared on test error or on the growth of the weight
  norm ||theta_T|| / ||theta_0||; d = metric(b) - metric(a).
"""
from __future__ import annotations

import numpy as np
import torch
from torch.func import functional_call

from sublevel.checks.experiments.ccnn_table import TableConfig, run_table
from sublevel.checks.landscapes.directions import parameters_of, random_direction
from sublevel.checks.landscapes.models import ResNet, mlp
from sublevel.checks.verdicts.paired import PairedComparison
from sublevel.checks.verdicts.verify import Row, runner
from sublevel.theory.claims import Claim, Instance, Verdict

INVARIANCE_TOLERANCE = 1e-9
"""Relative difference of two slices below which they count as equal (float64 rounding)."""


def _slice(model: torch.nn.Module, params: dict, direction: dict, x: torch.Tensor, y: torch.Tensor,
           alphas: torch.Tensor) -> torch.Tensor:
    loss = torch.nn.CrossEntropyLoss()
    with torch.no_grad():
        return torch.stack([loss(functional_call(model, {k: params[k] + a * direction[k] for k in params}, (x,)), y)
                            for a in alphas])


@runner("rescaling-invariance")
def run_rescaling_invariance(claim: Claim, instance: Instance) -> Row:
    """Slices of theta and of its rescaling (layer 1 times c, layer 2 divided by c), each with the
    raw direction of one seed normalised to its own point."""
    arch = instance.architecture()
    torch.manual_seed(0)
    model = mlp(arch).double()
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(64, arch.widths[0], generator=generator, dtype=torch.float64)
    y = torch.randint(0, arch.widths[-1], (64,), generator=generator)
    params = parameters_of(model)
    factor = float(instance.options["factor"])
    names = [name for name in params if name.endswith("weight")]
    rescaled = dict(params)
    first, second = names[0], names[1]
    rescaled[first] = params[first] * factor
    rescaled[first.replace("weight", "bias")] = params[first.replace("weight", "bias")] * factor
    rescaled[second] = params[second] / factor
    alphas = torch.linspace(-1, 1, 41, dtype=torch.float64)
    normalization = instance.options["normalization"]
    before = _slice(model, params, random_direction(params, 7, normalization), x, y, alphas)
    after = _slice(model, rescaled, random_direction(rescaled, 7, normalization), x, y, alphas)
    difference = float((before - after).abs().max() / before.abs().max())
    verdict = Verdict.SUPPORTED if difference <= INVARIANCE_TOLERANCE else Verdict.REFUTED
    observed = (f"{normalization} directions: largest relative difference of the two slices {difference:.2e} over "
                f"{len(alphas)} points (rounding tolerance {INVARIANCE_TOLERANCE:g}); float64 evaluation at each point")
    return Row.of(claim, instance, observed, verdict, {"relative_difference": difference, "factor": factor},
                  applies=True)


@runner("skip-connections")
def run_skip_connections(claim: Claim, instance: Instance) -> Row:
    """Test error without shortcuts minus with, per seed (same data split and seed for both)."""
    from sublevel.checks.experiments.landscapes import train
    from sublevel.constructions.image_data import mnist1d

    o = instance.options
    data = mnist1d(o["samples"], seed=0)
    errors = {True: [], False: []}
    for seed in range(o["seeds"]):
        for skip in (True, False):
            torch.manual_seed(seed)
            model = ResNet(o["depth"], o["width"], skip)
            epochs = o.get("epochs_with_shortcuts", o["epochs"]) if skip else o["epochs"]
            errors[skip].append(train(model, data, epochs=epochs, batch_size=o["batch_size"], seed=seed).test_error)
    comparison = PairedComparison.of([b - a for a, b in zip(errors[True], errors[False])])
    observed = (f"test error with shortcuts {100 * np.mean(errors[True]):.1f}%, without {100 * np.mean(errors[False]):.1f}% "
                f"(means over {o['seeds']} seeds); {comparison.describe(' (error fraction)')}; evidence on this "
                f"instance, not a certificate")
    return Row.of(claim, instance, observed, comparison.verdict,
                  {"errors_with": errors[True], "errors_without": errors[False], **comparison.to_json()}, applies=True)


@runner("ccnn-ordering")
def run_ccnn_ordering(claim: Claim, instance: Instance) -> Row:
    """d_k = error(CNN-k) - error(CCNN-k) per (variation, seed), for k = 1, 2."""
    config = TableConfig(**instance.options)
    result = run_table(config)
    parts, verdicts, evidence = [], [], {}
    for depth in (1, 2):
        d = [result.runs[v][str(s)][f"CNN-{depth}"] - result.runs[v][str(s)][f"CCNN-{depth}"]
             for v in config.variations for s in config.seeds]
        comparison = PairedComparison.of(d)
        verdicts.append(comparison.verdict)
        parts.append(f"k = {depth}: {comparison.describe(' points of error %')}")
        evidence[f"depth_{depth}"] = comparison.to_json()
    if Verdict.REFUTED in verdicts:
        verdict = Verdict.REFUTED
    elif all(v is Verdict.SUPPORTED for v in verdicts):
        verdict = Verdict.SUPPORTED
    else:
        verdict = Verdict.INCONCLUSIVE
    observed = "; ".join(parts) + "; evidence on this instance, not a certificate"
    return Row.of(claim, instance, observed, verdict, evidence, applies=True)


METRICS = {"test_error": "test error", "norm_growth": "weight-norm growth ||theta_T|| / ||theta_0||",
           "mean_abs_weight": "mean |w| over the weights of convolutions and linear layers"}


def _metric(trained, name: str) -> float:
    if name == "test_error":
        return trained.test_error
    if name == "norm_growth":
        return trained.norms[-1] / trained.norms[0]
    weights = [p.detach().abs().reshape(-1) for p in trained.model.parameters() if p.dim() > 1]
    return float(torch.cat(weights).mean())


@runner("paired-training")
def run_paired_training(claim: Claim, instance: Instance) -> Row:
    """d = metric(b) - metric(a) per seed, for settings ``a`` and ``b`` of one ResNet."""
    from sublevel.checks.experiments.landscapes import train
    from sublevel.constructions.image_data import mnist1d

    o = instance.options
    data = mnist1d(o["samples"], seed=0)
    values: dict[str, list[float]] = {"a": [], "b": []}
    for seed in range(o["seeds"]):
        for side in ("a", "b"):
            torch.manual_seed(seed)
            trained = train(ResNet(o["depth"], o["width"]), data, seed=seed, **o[side])
            values[side].append(_metric(trained, o["metric"]))
    comparison = PairedComparison.of([b - a for a, b in zip(values["a"], values["b"])])
    name = METRICS[o["metric"]]
    observed = (f"{name}: a = {o['a']} mean {np.mean(values['a']):.3g}, b = {o['b']} mean {np.mean(values['b']):.3g} "
                f"over {o['seeds']} seeds; {comparison.describe()} (d = b - a); evidence on this instance, not a "
                f"certificate")
    return Row.of(claim, instance, observed, comparison.verdict, {**values, **comparison.to_json()}, applies=True)
