"""The figure "components against width": sweep rows -> brackets of N_lambda per family and level.

For each family (one panel) and level lambda (one colour), over the seeds at each hidden
width w: the median of the sampled counts (dotted, labelled "estimate": components of the
certified graph over sampled points, which can miss unsampled components) with their min-max
spread shaded, the median of the rigorous lower bounds (dashed) and, where every seed has one,
the median of the rigorous upper bounds (solid). Levels given relative to
L(0) = (1/N) sum ||y_mu||^2 are labelled as such. Where a registered claim's
hypotheses start to hold as w grows (e.g. n_l > min(n_0, n_L) for deep linear nets,
Freeman & Bruna 2017, arXiv:1611.01540, Prop. 2.2), or at the width threshold a claim states
(the quadratic thresholds of :mod:`sublevel.theory.quadratic_claims`), a dotted vertical line carries
the claim's id. Seeds where no point below lambda was found are left out of the statistics.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from sublevel.checks.sweeps.store import StoredRow
from sublevel.figures.saving import save_figure


@dataclass(frozen=True)
class WidthPoint:
    """Statistics over seeds of one (family, level, width); ``seeds`` counts those with points.
    ``level`` is the spec's level (a fraction of L(0) for families with relative levels)."""

    family: str
    level: float
    width: int
    seeds: int
    lower_median: float
    sampled_median: float
    sampled_min: int
    sampled_max: int
    upper_median: float | None
    exact: int


def summarise(rows: Sequence[StoredRow]) -> list[WidthPoint]:
    """Median and spread over seeds for every (family, level, width) of ``rows``."""
    groups: dict[tuple[str, float, int], list[tuple[int, int, int | None, str]]] = defaultdict(list)
    for row in rows:
        out = row.outcome
        for level, lower, sampled, upper, status, points in zip(row.config["levels"], out["lower"], out["sampled"],
                                                                out["upper"], out["status"], out["points"]):
            if points:
                groups[(row.family, level, row.width)].append((lower, sampled, upper, status))
    summary = []
    for (family, level, width), values in sorted(groups.items()):
        lower = np.array([v[0] for v in values])
        sampled = np.array([v[1] for v in values])
        uppers = [v[2] for v in values]
        upper = float(np.median(uppers)) if all(u is not None for u in uppers) else None
        summary.append(WidthPoint(family, level, width, len(values), float(np.median(lower)),
                                  float(np.median(sampled)), int(sampled.min()), int(sampled.max()), upper,
                                  sum(v[3] == "exact" for v in values)))
    return summary


def claim_thresholds(config: dict, max_width: int) -> list[tuple[str, int]]:
    """(claim id, w*) pairs to mark for the family described by a task ``config``, w* <= ``max_width``.

    A registered claim is marked where its hypotheses start to hold as w grows (they fail at
    w* - 1 and hold at w*, e.g. n_l > min(n_0, n_L) for deep linear nets), or, for claims that
    state a width threshold T(n, N) (:data:`sublevel.theory.quadratic_claims.THRESHOLDS`; n the input
    dimension, N the number of samples of the family's data), at w* = T(n, N).
    """
    from sublevel.theory.claims import all_claims
    from sublevel.theory.networks import Architecture
    from sublevel.theory.quadratic_claims import THRESHOLDS

    arch = config["architecture"]
    n0, nl = arch["widths"][0], arch["widths"][-1]
    hidden = config["hidden_layers"]

    def applies(claim, width):
        widths = (n0,) + (width,) * hidden + (nl,)
        return bool(claim.applies(Architecture(widths, arch["activation"], arch["bias"]), config["kappa"]))

    marks = []
    samples = None
    for claim in all_claims().values():
        if claim.id in THRESHOLDS and applies(claim, max_width):
            if samples is None:
                from sublevel.constructions.registry import construct

                samples = construct(config["data"]["family"], **config["data"]["params"]).num_samples
            marks.append((claim.id, THRESHOLDS[claim.id].width(n0, samples)))
            continue
        for width in range(2, max_width + 1):
            if applies(claim, width) and not applies(claim, width - 1):
                marks.append((claim.id, width))
                break
    return [(claim_id, width) for claim_id, width in marks if 1 <= width <= max_width]


def draw(rows: Sequence[StoredRow], out_stem: str | Path, title: str | None = None) -> tuple[Path, Path]:
    """Write ``out_stem``.png and ``out_stem``.pdf; return their paths.

    Raises
    ------
    ValueError
        If ``rows`` is empty.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    if not rows:
        raise ValueError("no rows to plot")
    families = list(dict.fromkeys(row.family for row in rows))
    configs = {row.family: row.config for row in rows}
    summary = summarise(rows)
    fig = Figure(figsize=(4.2 * len(families), 3.6))
    axes = fig.subplots(1, len(families), squeeze=False)
    for ax, family in zip(axes[0], families):
        points = [p for p in summary if p.family == family]
        widths = sorted({row.width for row in rows if row.family == family})
        levels = sorted({p.level for p in points})
        colours = colormaps["viridis"](np.linspace(0.0, 0.85, max(1, len(levels))))
        unit = "·L(0)" if configs[family].get("relative_levels") else ""
        for level, colour in zip(levels, colours):
            at = [p for p in points if p.level == level]
            w = [p.width for p in at]
            ax.fill_between(w, [p.sampled_min for p in at], [p.sampled_max for p in at], color=colour, alpha=0.18,
                            lw=0)
            ax.plot(w, [p.sampled_median for p in at], "o:", color=colour, ms=4,
                    label=f"λ={level:g}{unit} sampled (estimate)")
            ax.plot(w, [p.lower_median for p in at], "s--", color=colour, ms=3, mfc="none",
                    label=f"λ={level:g}{unit} lower (proven)")
            proven = [p for p in at if p.upper_median is not None]
            if proven:
                ax.plot([p.width for p in proven], [p.upper_median for p in proven], "v-", color=colour, ms=4,
                        label=f"λ={level:g}{unit} upper (proven)")
        marks: dict[int, list[str]] = defaultdict(list)
        for claim_id, width in claim_thresholds(configs[family], max(widths)):
            marks[width].append(claim_id)
        for width, ids in marks.items():
            ax.axvline(width, color="0.4", ls=":", lw=1)
            ax.annotate("\n".join(ids), (width, 0.02), xycoords=("data", "axes fraction"), rotation=90,
                        va="bottom", ha="right", fontsize=6, color="0.3")
        cfg = configs[family]
        arch = cfg["architecture"]
        ax.set_title(f"{family}: {arch['widths'][0]}-{'w-' * cfg['hidden_layers']}{arch['widths'][-1]} "
                     f"{arch['activation']}, data {cfg['data']['family']}", fontsize=9)
        ax.set_xscale("log", base=2)
        ax.set_xticks(widths, [str(w) for w in widths])
        ax.set_xlim(min(widths) / 1.25, max(widths) * 1.25)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("hidden width w")
        ax.set_ylabel("components of Ω(λ)")
        ax.set_ylim(0, max([p.sampled_max for p in points] + [p.upper_median or 0 for p in points], default=1) + 0.5)
        ax.legend(fontsize=6, loc="best")
    seeds = len({row.seed for row in rows})
    fig.suptitle(title or f"Components of Ω(λ) against width over {seeds} seeds. Circles: median sampled count "
                 f"(certified graph over sampled points: an estimate), band: its min-max; squares: median proven "
                 f"lower bound;\ntriangles: median proven upper bound (where every seed has one); dotted: width "
                 f"thresholds of registered claims; L(0) = mean ||y||^2", fontsize=8)
    fig.tight_layout()
    stem = Path(out_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = (stem.with_suffix(".png"), stem.with_suffix(".pdf"))
    for path in paths:
        save_figure(fig, path, close=path == paths[-1])
    return paths
