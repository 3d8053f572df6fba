"""Pictures of crystals for the report: ground truth beside reconstruction, and grids of generated crystals.

Plain matplotlib 3-D axes on a bare `Figure` (Agg, no pyplot state), so it runs
headless inside pipeline workers; atoms use pymatgen's bundled Jmol colours.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from pymatgen.core import Element, Structure
from pymatgen.vis.structure_vtk import EL_COLORS

JMOL = EL_COLORS["Jmol"]  # symbol -> [r, g, b] in 0..255
_FALLBACK = colormaps["viridis"]


def _colour(symbol: str) -> tuple[float, float, float]:
    """Jmol colour of an element; a viridis shade by atomic number for any element the scheme lacks."""
    if symbol in JMOL:
        return tuple(v / 255 for v in JMOL[symbol])
    return _FALLBACK(Element(symbol).Z / 118)[:3]


def _cell_edges(matrix: np.ndarray) -> list[np.ndarray]:
    """The 12 edges of the unit cell as (2, 3) Cartesian segments."""
    corners = {c: np.array(c) @ matrix for c in itertools.product((0, 1), repeat=3)}
    return [
        np.stack([corners[a], corners[b]])
        for a, b in itertools.combinations(corners, 2)
        if sum(x != y for x, y in zip(a, b)) == 1
    ]


def _draw(ax: Axes, s: Structure | None, title: str) -> None:
    """Cell edges, atoms (wrapped into the cell) as spheres sized by atomic radius, element legend; None:
    empty panel."""
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()
    if s is None:
        return
    matrix = s.lattice.matrix
    for edge in _cell_edges(matrix):
        ax.plot(*edge.T, color="black", linewidth=0.8)
    xyz = (np.mod(s.frac_coords, 1.0)) @ matrix
    symbols = [site.specie.symbol for site in s]
    radii = np.array([float(site.specie.atomic_radius or 1.0) for site in s])
    colours = [_colour(e) for e in symbols]
    ax.scatter(*xyz.T, s=180 * radii**2, c=colours, edgecolors="black", linewidths=0.4, depthshade=False)
    corners = np.array(list(itertools.product((0, 1), repeat=3))) @ matrix
    ax.set_box_aspect(np.ptp(corners, axis=0))  # equal scale on all axes, so the cell is not distorted
    handles = [
        Line2D([], [], marker="o", linestyle="", markerfacecolor=_colour(e), markeredgecolor="black", label=e)
        for e in sorted(set(symbols), key=lambda e: Element(e).Z)
    ]
    ax.legend(handles=handles, loc="upper right", fontsize=7, frameon=False, handletextpad=0.2)


def render_pairs(pairs: Sequence[tuple[str, Structure, Structure | None]], path: Path) -> Path:
    """Save a PNG with one row per (material id, ground truth, reconstruction or None); return its path."""
    if not pairs:
        raise ValueError(
            "no pairs to render. Fix: pass at least one (material_id, ground truth, reconstruction)."
        )
    fig = Figure(figsize=(7.5, 3.4 * len(pairs)), layout="constrained")
    for row, (material_id, truth, recon) in enumerate(pairs):
        left = fig.add_subplot(len(pairs), 2, 2 * row + 1, projection="3d")
        right = fig.add_subplot(len(pairs), 2, 2 * row + 2, projection="3d")
        _draw(left, truth, f"{material_id} ground truth: {truth.composition.reduced_formula}")
        recon_title = (
            f"{material_id}: no valid reconstruction"
            if recon is None
            else f"{material_id} reconstruction: {recon.composition.reduced_formula}"
        )
        _draw(right, recon, recon_title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def render_grid(items: Sequence[tuple[str, Structure]], path: Path, columns: int = 3) -> Path:
    """Save a PNG of titled crystals, `columns` per row (thumbnails of generated samples); return its path."""
    if not items:
        raise ValueError("no crystals to render. Fix: pass at least one (title, structure).")
    rows = -(-len(items) // columns)
    fig = Figure(figsize=(3.6 * columns, 3.4 * rows), layout="constrained")
    for k, (title, s) in enumerate(items):
        _draw(fig.add_subplot(rows, columns, k + 1, projection="3d"), s, title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
