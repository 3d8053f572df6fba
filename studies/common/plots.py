"""Matplotlib figures shared by the studies: each returns the PNG path it wrote."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})  # no version stamp: same inputs, same bytes
    plt.close(fig)
    return path


def curves(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    path: Path,
    title: str,
    ylabel: str,
    xlabel: str = "step",
    logx: bool = False,
    logy: bool = False,
    marker: str | None = None,
) -> Path:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, (x, y) in series.items():
        ax.plot(x, y, label=label, lw=1.2, marker=marker)
    ax.set(
        title=title,
        xlabel=xlabel,
        ylabel=ylabel,
        xscale="log" if logx else "linear",
        yscale="log" if logy else "linear",
    )
    ax.legend(fontsize=7)
    return _save(fig, path)


def matrix(
    values: np.ndarray, path: Path, title: str, xlabel: str = "", ylabel: str = "", annotate: bool = False
) -> Path:
    fig, ax = plt.subplots(figsize=(4.6, 4))
    im = ax.imshow(values, cmap="viridis", interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.046)
    if annotate:
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=6, color="w")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return _save(fig, path)


def scatter(points: np.ndarray, labels: np.ndarray, path: Path, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(4.6, 4))
    sc = ax.scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", s=4)
    fig.colorbar(sc, ax=ax, fraction=0.046)
    ax.set(title=title)
    return _save(fig, path)


def bars(groups: Mapping[str, Mapping[str, float]], path: Path, title: str) -> Path:
    """groups: method → {metric: value}; one bar per (method, metric)."""
    methods = list(groups)
    metrics = sorted({m for v in groups.values() for m in v})
    width = 0.8 / max(len(metrics), 1)
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    for k, metric in enumerate(metrics):
        ax.bar(
            np.arange(len(methods)) + k * width,
            [groups[m].get(metric, np.nan) for m in methods],
            width,
            label=metric,
        )
    ax.set_xticks(np.arange(len(methods)) + width * (len(metrics) - 1) / 2, methods, rotation=20, fontsize=7)
    ax.set(title=title, ylim=(0, 1))
    ax.legend(fontsize=7)
    return _save(fig, path)


def histograms(
    series: Mapping[str, Sequence[float]], path: Path, title: str, xlabel: str, bins: int = 40
) -> Path:
    """Overlaid density histograms on shared bins (e.g. generated vs reference crystals)."""
    finite = [np.asarray(v, dtype=float)[np.isfinite(v)] for v in series.values()]
    edges = np.histogram_bin_edges(np.concatenate(finite) if finite else [0.0], bins=bins)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for label, values in zip(series, finite):
        ax.hist(values, bins=edges, density=True, histtype="step", lw=1.3, label=f"{label} (n={len(values)})")
    ax.set(title=title, xlabel=xlabel, ylabel="density")
    ax.legend(fontsize=7)
    return _save(fig, path)


def reliability(diagrams: Mapping[str, Mapping[str, np.ndarray]], path: Path, title: str) -> Path:
    """Reliability diagrams side by side: accuracy per confidence bin against the diagonal, with bin counts
    shaded."""
    cols = min(3, len(diagrams))
    rows = -(-len(diagrams) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.8 * cols, 2.7 * rows), sharey=True, squeeze=False)
    for ax in axes.flat[len(diagrams) :]:
        ax.axis("off")
    for ax, (label, r) in zip(axes.flat, diagrams.items()):
        centres, width = (r["edges"][:-1] + r["edges"][1:]) / 2, np.diff(r["edges"])
        used = r["count"] > 0
        ax.bar(centres[used], r["accuracy"][used], width[used], edgecolor="k", lw=0.4, label="accuracy")
        ax.bar(
            centres,
            r["count"] / max(r["count"].sum(), 1),
            width,
            color="grey",
            alpha=0.3,
            label="share of examples",
        )
        ax.plot([0, 1], [0, 1], "r--", lw=0.8)
        ax.set(title=label, xlabel="confidence", xlim=(0, 1), ylim=(0, 1))
    for row in axes:
        row[0].set_ylabel("accuracy")
    axes[0][0].legend(fontsize=6, loc="upper left")
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)
