"""Inputs for MLC: the digits table as arrays, and synthetic unions of subspaces."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # only the digits path needs polars; synthetic data must not pull it in
    import polars as pl

PIXELS = [f"p{i:02d}" for i in range(64)]


def _unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (all-zero rows stay zero): MLC works on the sphere."""
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.maximum(norms, 1e-12)


def digits_arrays(table: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Digits table (int columns p00..p63 in 0..16, `target`) → X float32 (n, 64) with unit rows, y int64."""
    missing = [c for c in [*PIXELS, "target"] if c not in table.columns]
    if missing:
        raise ValueError(f"digits table lacks column(s) {', '.join(missing)}")
    X = table.select(PIXELS).to_numpy().astype(np.float64)
    y = table["target"].to_numpy().astype(np.int64)
    return _unit_rows(X).astype(np.float32), y


def union_of_subspaces(
    n_subspaces: int,
    subspace_dim: int,
    ambient_dim: int,
    points_per_subspace: int,
    noise: float,
    seed: int,
    shared_dim: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm points from random linear subspaces plus per-entry Gaussian noise of std `noise`, shuffled.

    With `shared_dim > 0` every subspace contains one common `shared_dim`-dim
    subspace, so the subspaces intersect and are harder to tell apart.
    """
    if not 0 <= shared_dim < subspace_dim <= ambient_dim:
        raise ValueError("need 0 <= shared_dim < subspace_dim <= ambient_dim")
    rng = np.random.default_rng(seed)
    shared = np.linalg.qr(rng.standard_normal((ambient_dim, shared_dim)))[0] if shared_dim else None
    X, y = [], []
    for label in range(n_subspaces):
        G = rng.standard_normal((ambient_dim, subspace_dim - shared_dim))
        if shared is not None:
            G = np.hstack([shared, G - shared @ (shared.T @ G)])
        basis = np.linalg.qr(G)[0]
        points = _unit_rows(rng.standard_normal((points_per_subspace, subspace_dim))) @ basis.T
        X.append(points + noise * rng.standard_normal(points.shape))
        y.append(np.full(points_per_subspace, label))
    order = rng.permutation(n_subspaces * points_per_subspace)
    return _unit_rows(np.vstack(X))[order].astype(np.float32), np.concatenate(y)[order].astype(np.int64)
