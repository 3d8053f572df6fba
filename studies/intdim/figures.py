"""The study's two figures: a network's accuracy against d, and d_int90 per network with its interval.

Bare matplotlib `Figure`s (Agg, no pyplot state), so they draw headless inside pipeline workers; PNGs carry no
version stamp, so the same numbers give the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from studies.intdim.intrinsic import Sweep


@dataclass(frozen=True)
class Crossing:
    """One network's d_int90 under one definition, for the interval figure."""

    network: str
    definition: str
    value: float | None  # interpolated; None: not reached, drawn at `grid_max` as a lower bound
    low: float
    high: float
    grid_max: int


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    return path


def accuracy_vs_d(sweep: Sweep, thresholds: Mapping[str, float], title: str, ylabel: str, path: Path) -> Path:
    """Every run (dots) and the mean ± std over seeds at each d, on a log d axis; the full-space runs as a
    band (mean ± std) and each definition's threshold as a horizontal line."""
    fig = Figure(figsize=(6, 3.6))
    ax = fig.add_subplot()
    grid, means = sweep.grid, sweep.means()
    stds = np.array([sweep.runs[d].std() for d in grid])
    for d in grid:
        ax.scatter(np.full(len(sweep.runs[d]), d), sweep.runs[d], s=8, color="tab:blue", alpha=0.4)
    ax.errorbar(
        grid, means, yerr=stds, color="tab:blue", marker="o", ms=4, capsize=3, label="subspace, mean ± std"
    )
    base, spread = float(sweep.baseline.mean()), float(sweep.baseline.std())
    ax.axhspan(
        base - spread,
        base + spread,
        color="tab:green",
        alpha=0.2,
        label=f"full space {base:.3f} ± {spread:.3f}",
    )
    ax.axhline(base, color="tab:green", lw=1)
    for (label, value), style in zip(thresholds.items(), ("--", ":")):
        ax.axhline(value, color="tab:red", ls=style, lw=1, label=f"{label}: {value:.3f}")
    ax.set(xscale="log", xlabel="subspace dimension d", ylabel=ylabel, title=title)
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def d_int_intervals(
    crossings: Sequence[Crossing], paper: Mapping[str, float], level: float, path: Path
) -> Path:
    """d_int90 per network (log axis), one marker per definition with its bootstrap interval; a sweep that
    never reached the threshold is a ▶ at its largest d; the paper's value, where it has one, a black ×."""
    networks = list(dict.fromkeys(c.network for c in crossings))
    definitions = list(dict.fromkeys(c.definition for c in crossings))
    fig = Figure(figsize=(6.5, 0.5 * len(networks) + 1.6))
    ax = fig.add_subplot()
    labelled: set[str] = set()

    def label(text: str) -> str | None:
        """Each legend entry once."""
        if text in labelled:
            return None
        labelled.add(text)
        return text

    for k, (definition, colour) in enumerate(zip(definitions, ("tab:blue", "tab:orange", "tab:purple"))):
        offset = (k - (len(definitions) - 1) / 2) * 0.2
        for c in (c for c in crossings if c.definition == definition):
            y = networks.index(c.network) + offset
            if c.value is None:
                ax.scatter(
                    [c.grid_max], [y], marker=">", color=colour, label=label(f"{definition}: not reached")
                )
                continue
            high = c.high if math.isfinite(c.high) else c.grid_max
            ax.errorbar(
                [c.value],
                [y],
                xerr=[[c.value - min(c.low, c.value)], [max(high - c.value, 0)]],
                fmt="o",
                color=colour,
                capsize=3,
                label=label(definition),
            )
    for network, value in paper.items():
        ax.scatter(
            [value],
            [networks.index(network)],
            marker="x",
            color="k",
            zorder=3,
            label=label("paper (Table 1)"),
        )
    ax.set_yticks(range(len(networks)), networks, fontsize=8)
    ax.invert_yaxis()
    ax.set(xscale="log", xlabel=f"d_int90 (interpolated; bars: {level:.0%} bootstrap over seeds)")
    ax.legend(fontsize=7)
    return _save(fig, path)
