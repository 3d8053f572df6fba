"""The prepared datasets folder: one .npz per dataset plus datasets.json describing them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def save(
    folder: Path,
    name: str,
    X: np.ndarray,
    y: np.ndarray,
    image_shape: tuple[int, int] | None,
    X_raw: np.ndarray | None = None,
) -> dict[str, Any]:
    """X is what MLC trains on; X_raw (optional) the untransformed features, for baselines in their usual
    setting."""
    extra = {} if X_raw is None else {"X_raw": X_raw.astype(np.float32)}
    np.savez(folder / f"{name}.npz", X=X.astype(np.float32), y=y.astype(np.int64), **extra)
    return {
        "name": name,
        "n": int(len(y)),
        "dim": int(X.shape[1]),
        "n_clusters": int(len(np.unique(y))),
        "image_shape": image_shape,
        "raw": X_raw is not None,
    }


def write_index(folder: Path, entries: list[dict[str, Any]]) -> None:
    (folder / "datasets.json").write_text(json.dumps(entries, indent=2) + "\n")


def entries(folder: Path) -> list[dict[str, Any]]:
    return json.loads((folder / "datasets.json").read_text())


def load(folder: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(folder / f"{name}.npz") as f:
        return f["X"], f["y"]


def load_raw(folder: Path, name: str) -> np.ndarray | None:
    with np.load(folder / f"{name}.npz") as f:
        return f["X_raw"] if "X_raw" in f else None


def image_shape(entry: dict[str, Any]) -> tuple[int, int] | None:
    return tuple(entry["image_shape"]) if entry["image_shape"] else None
