"""The figure "energy gap against width" for two-layer ReLU nets.

Each dot is one pair of trained minima: eps_emp = certified path maximum - max(L_A, L_B)
(a certified upper bound on that pair's minimax gap, Freeman & Bruna 2017, arXiv:1611.01540,
Thm 2.4); the line is the mean per width with its fitted log-log slope (estimated), the dashed
line the lecture's rate m^(-1/n). Zero gaps are drawn at the bottom of the axis.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sublevel.figures.saving import save_figure


def draw(result: dict, out: str | Path) -> Path:
    """Write the PNG for an energy-gap result (its ``to_json()`` form) to ``out``."""
    from matplotlib.figure import Figure

    widths = np.array(result["widths"], dtype=float)
    means = np.array(result["mean_gaps"])
    gaps = np.array([row["gap"] for row in result["rows"]])
    positive = gaps[gaps > 0]
    floor = positive.min() / 3 if len(positive) else 1e-6
    fig = Figure(figsize=(5.5, 4))
    ax = fig.subplots()
    ax.scatter([row["width"] for row in result["rows"]], np.maximum(gaps, floor), s=14, alpha=0.5,
               label="pairs (certified upper bounds)")
    slope = result["slope"]
    label = "mean" + ("" if slope is None else f", fitted slope {slope:.2f} (estimated)")
    ax.plot(widths, np.maximum(means, floor), "o-", color="C1", label=label)
    n = result["input_dim"]
    ax.plot(widths, widths ** (-1.0 / n), "--", color="gray", label=f"lecture rate m^(-1/n), n = {n}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("hidden width m")
    ax.set_ylabel("energy gap eps_emp(m)")
    ax.set_title("Two-layer ReLU: energy gap vs width")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out, format="png")


def draw_study(report: dict, out: str | Path) -> Path:
    """One panel per input dimension n of an :func:`energy_gap_study` report: each pair's gap
    (dots, certified upper bounds), the pooled mean per width with its 95% interval over data
    seeds and pairs, the first seed's means with every finder's budget doubled (crosses), the
    straight line between the minima as trained (triangles: permutation barriers included), and
    the lecture's rate m^(-1/n) (dashed), on log-log axes."""
    from matplotlib.figure import Figure

    panels = sorted(report["inputs"].items(), key=lambda item: int(item[0]))
    fig = Figure(figsize=(4.2 * len(panels), 4.6))
    axes = np.atleast_1d(fig.subplots(1, len(panels), squeeze=False)[0])
    for ax, (n, result) in zip(axes, panels):
        n = int(n)
        widths = np.array(result["widths"], dtype=float)
        means = np.array(result["mean_gaps"])
        gaps = np.array([row["gap"] for row in result["rows"]])
        positive = np.concatenate([gaps[gaps > 0], means[means > 0]])
        floor = positive.min() / 3 if len(positive) else 1e-6
        ax.scatter([row["width"] for row in result["rows"]], np.maximum(gaps, floor), s=8, alpha=0.35, color="C0",
                   label="pairs (certified upper bounds)")
        low, high = np.array(result["mean_gap_interval_95"]).T
        slope, interval = result["slope"], result["slope_interval_95"]
        fitted = ("" if slope is None else f"slope {slope:.2f}") + \
            ("" if interval is None else f" [{interval[0]:.2f}, {interval[1]:.2f}]")
        label = "mean gap with its 95% interval (data seeds, pairs)"
        ax.errorbar(widths, np.maximum(means, floor), yerr=[np.maximum(means - low, 0), np.maximum(high - means, 0)],
                    fmt="o-", color="C1", capsize=3, label=label)
        if result.get("budget_check"):
            ax.plot(widths, [max(b["mean_doubled_budget"], floor) for b in result["budget_check"]], "x", color="C3",
                    markersize=7, label="first seed, finders' budget doubled")
        ax.plot(widths, np.maximum(result["permutation_barriers"], floor), "^", color="0.5", markersize=5,
                label="straight line, minima as trained")
        ax.plot(widths, widths ** (-1.0 / n), "--", color="0.3", label=rf"$m^{{-1/{n}}}$ (lecture rate)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("hidden width $m$")
        ax.set_ylabel(r"energy gap $\varepsilon_{emp}(m)$")
        ax.set_title(f"$n = {n}$: {len(set(r['data_seed'] for r in result['rows']))} data seeds x "
                     f"{result['settings']['pairs']} pairs; {fitted}", fontsize=8.5)
    handles, labels = axes[0].get_legend_handles_labels()
    labels = [r"$m^{-1/n}$ (lecture rate)" if "lecture" in label else label for label in labels]
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7, frameon=False)
    fig.suptitle("Two-layer ReLU, hidden units aligned before every search: energy gap vs width", fontsize=10)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return save_figure(fig, out, format="png")
