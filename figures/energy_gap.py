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
