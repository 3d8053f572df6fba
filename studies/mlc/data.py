"""Inputs for MLC: the digits table and image datasets as arrays, synthetic unions of subspaces and of
non-linear manifolds."""

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


def image_arrays(images: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """uint8 images N×H×W (grey) or N×H×W×C → (float32 rows, pixels/255 flattened channel-last, on the unit
    sphere as MLC wants them; (H, W)); the channels are D / (H·W)."""
    flat = images.reshape(len(images), -1).astype(np.float64) / 255.0
    return _unit_rows(flat).astype(np.float32), (int(images.shape[1]), int(images.shape[2]))


def _frames(rng: np.random.Generator, ambient_dim: int, k: int) -> np.ndarray:
    """k orthonormal directions of R^ambient_dim as columns (a random frame)."""
    return np.linalg.qr(rng.standard_normal((ambient_dim, k)))[0]


def _curve(rng: np.random.Generator, t: np.ndarray, ambient_dim: int, harmonics: int) -> np.ndarray:
    """A random closed curve Σ_f (a_f cos ft + b_f sin ft), passing through 0 at t = 0: curves built this way
    all cross there."""
    coef = rng.standard_normal((2, harmonics, ambient_dim)) / np.arange(1, harmonics + 1)[:, None]
    f = np.arange(1, harmonics + 1)
    X = np.cos(np.outer(t, f)) @ coef[0] + np.sin(np.outer(t, f)) @ coef[1]
    return X - coef[0].sum(0)  # x(0) = Σ a_f, moved to the origin


def _spiral(t: np.ndarray, frame: np.ndarray, index: int, count: int) -> np.ndarray:
    """Arm `index` of `count` interleaved planar spirals r = t (1.5 turns), lifted by a (D, 2) frame."""
    angle = 3 * np.pi * t + 2 * np.pi * index / count
    return np.stack([t * np.cos(angle), t * np.sin(angle)], 1) @ frame.T


def _torus(rng: np.random.Generator, n: int, ambient_dim: int, dim: int) -> np.ndarray:
    """A flat `dim`-torus: a product of `dim` circles of random radii in random orthogonal planes."""
    frame = _frames(rng, ambient_dim, 2 * dim)
    angles = rng.uniform(0, 2 * np.pi, (n, dim))
    radii = rng.uniform(0.5, 1.0, dim)
    planes = np.concatenate([radii * np.cos(angles), radii * np.sin(angles)], 1)  # (n, 2·dim)
    return planes @ np.concatenate([frame[:, 0::2], frame[:, 1::2]], 1).T


def union_of_manifolds(
    kind: str,
    n_manifolds: int,
    ambient_dim: int,
    points_per_manifold: int,
    noise: float,
    seed: int,
    manifold_dim: int = 1,
    harmonics: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm points on a union of non-linear manifolds that meet, plus Gaussian noise, shuffled.

    kind: `curves` (random closed curves, all through one point), `spirals` (interleaved arms of one planar
    spiral, lifted), `tori` (flat tori of dimension `manifold_dim`, one centre). Every manifold is offset by
    one common vector before the rows go onto the sphere, so they still meet there.
    These are not unions of subspaces: a linear method needs far more than the intrinsic dimension per class.
    """
    if kind not in ("curves", "spirals", "tori"):
        raise ValueError(f"unknown manifold kind {kind!r}: curves, spirals or tori")
    rng = np.random.default_rng(seed)
    centre = 2.0 * _unit_rows(rng.standard_normal((1, ambient_dim)))
    spiral_frame = _frames(rng, ambient_dim, 2)
    X, y = [], []
    for label in range(n_manifolds):
        if kind == "curves":
            points = _curve(rng, rng.uniform(0, 2 * np.pi, points_per_manifold), ambient_dim, harmonics)
        elif kind == "spirals":
            t = rng.uniform(0.1, 1.0, points_per_manifold)
            points = _spiral(t, spiral_frame, label, n_manifolds)
        else:
            points = _torus(rng, points_per_manifold, ambient_dim, manifold_dim)
        X.append(centre + points + noise * rng.standard_normal(points.shape))
        y.append(np.full(points_per_manifold, label))
    order = rng.permutation(n_manifolds * points_per_manifold)
    return _unit_rows(np.vstack(X))[order].astype(np.float32), np.concatenate(y)[order].astype(np.int64)
