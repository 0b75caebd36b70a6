"""The figure "spurious minima against width" for one-hidden-layer quadratic nets.

One panel per sample count N: the fraction of random starts whose descent end point is a
verified spurious local minimum (:mod:`sublevel.checks.verdicts.spurious`), against the width p, with a vertical
line at every threshold T(n, N) of :mod:`sublevel.theory.quadratic_claims` (thresholds beyond the swept
widths are listed in the legend with their value). Filled markers: the reference minimum is
certified (convex least squares); hollow: it is the lowest loss found (estimated). Red crosses
mark widths with a candidate spurious valley (a spurious minimum from which no certified path
to the best minimum was found at its level; evidence, not a certificate).
"""
from __future__ import annotations

from pathlib import Path

from sublevel.figures.saving import save_figure

LINESTYLES = ("-", "--", "-.", ":")


def draw(result: dict, out: str | Path) -> Path:
    """Write the PNG for a quadratic sweep (its ``to_json()`` form) to ``out``."""
    from matplotlib.figure import Figure

    samples = sorted({row["samples"] for row in result["rows"]})
    fig = Figure(figsize=(5 * len(samples), 4))
    axes = fig.subplots(1, len(samples), squeeze=False)
    for ax, n_samples in zip(axes[0], samples):
        rows = sorted((r for r in result["rows"] if r["samples"] == n_samples), key=lambda r: r["width"])
        widths = [r["width"] for r in rows]
        fractions = [r["spurious"] / r["starts"] for r in rows]
        ax.plot(widths, fractions, color="k", lw=1)
        for r, f in zip(rows, fractions):
            ax.plot(r["width"], f, "o", color="k", fillstyle="full" if r["best_certified"] else "none")
        valleys = [r for r in rows if r["valley_candidates"]]
        ax.plot([r["width"] for r in valleys], [r["spurious"] / r["starts"] for r in valleys], "x", color="red",
                ms=10, label="candidate spurious valley (no path found)")
        top = max(widths)
        for index, (claim, value) in enumerate(sorted(result["thresholds"][str(n_samples)].items(), key=lambda kv: kv[1])):
            style = dict(color=f"C{index}", ls=LINESTYLES[index % len(LINESTYLES)])
            if value <= top + 0.5:
                ax.axvline(value, label=f"{claim}: p = {value:g}", **style)
            else:
                ax.plot([], [], label=f"{claim}: p = {value:g} (off the axis)", **style)
        clean = result["clean_from"][str(n_samples)]
        valley_free = result["valley_free_from"][str(n_samples)]
        ax.set_title(f"n = {result['inputs']}, N = {n_samples}: no spurious minimum found from p = {clean},\n"
                     f"no candidate valley from p = {valley_free}", fontsize=10)
        ax.set_xlabel("hidden width p")
        ax.set_ylabel("fraction of starts ending at a spurious minimum")
        ax.set_ylim(-0.03, 1.03)
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return save_figure(fig, out, format="png")


def draw_study(report: dict, out: str | Path) -> Path:
    """One panel per (n, N) of a :func:`~sublevel.checks.experiments.quadratic_sweep.quadratic_study`
    report: the pooled fraction of starts ending at a verified spurious minimum against p, with
    its 95% interval over data seeds; a vertical line per threshold T(n, N) within the axis, its
    status (tight / loose / contradicted on these instances) in the legend; hollow markers where
    the reference minimum is estimated (p < n), red crosses where a candidate spurious valley
    was left."""
    import numpy as np
    from matplotlib.figure import Figure

    inputs = sorted({p["inputs"] for p in report["panels"]})
    samples = sorted({p["samples"] for p in report["panels"]})
    fig = Figure(figsize=(5.2 * len(samples), 5.4 * len(inputs)))
    axes = fig.subplots(len(inputs), len(samples), squeeze=False)
    for panel in report["panels"]:
        ax = axes[inputs.index(panel["inputs"])][samples.index(panel["samples"])]
        rows = panel["rows"]
        widths = np.array([r["width"] for r in rows])
        fractions = np.array([r["fraction"] for r in rows])
        low, high = np.array([r["interval_95"] for r in rows]).T
        ax.errorbar(widths, fractions, yerr=[fractions - low, high - fractions], color="k", lw=1, capsize=2,
                    fmt="none")
        for r in rows:
            ax.plot(r["width"], r["fraction"], "o", color="k", ms=4, fillstyle="full" if r["best_certified"] else "none")
        valleys = [r for r in rows if r["valley_candidates"]]
        ax.plot([r["width"] for r in valleys], [r["fraction"] for r in valleys], "x", color="red", ms=8,
                label="candidate spurious valley")
        shown = 0
        for claim, value in sorted(panel["thresholds"].items(), key=lambda kv: kv[1]):
            if value > widths.max() + 0.5:
                continue
            ax.axvline(value, color=f"C{shown}", ls=LINESTYLES[shown % len(LINESTYLES)], lw=1,
                       label=f"{claim.replace('quadratic-', '')}: p = {value:g}, {panel['threshold_status'][claim]}")
            shown += 1
        edge = panel["edge"]
        ax.set_title(f"n = {panel['inputs']}, N = {panel['samples']}: "
                     + (f"none seen from p = {edge}" if edge is not None else "spurious minima up to the widest p"),
                     fontsize=9)
        ax.set_xlabel("hidden width $p$")
        ax.set_ylabel("fraction of starts: spurious minimum")
        ax.set_ylim(-0.03, 1.03)
        ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, frameon=False)
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(f"One-hidden-layer quadratic nets:\n{len(report['seeds'])} data seeds x {report['starts']} starts "
                 f"per width (95% intervals over seeds)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, out, format="png")
