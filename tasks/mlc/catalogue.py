"""The prepared datasets folder: one .npz per dataset plus datasets.json describing them."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def save(folder: Path, name: str, X: np.ndarray, y: np.ndarray, image_shape: tuple[int, int] | None) -> dict[str, Any]:
    np.savez(folder / f"{name}.npz", X=X.astype(np.float32), y=y.astype(np.int64))
    return {"name": name, "n": int(len(y)), "dim": int(X.shape[1]), "n_clusters": int(len(np.unique(y))), "image_shape": image_shape}


def write_index(folder: Path, entries: list[dict[str, Any]]) -> None:
    (folder / "datasets.json").write_text(json.dumps(entries, indent=2) + "\n")


def entries(folder: Path) -> list[dict[str, Any]]:
    return json.loads((folder / "datasets.json").read_text())


def load(folder: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(folder / f"{name}.npz") as f:
        return f["X"], f["y"]


def image_shape(entry: dict[str, Any]) -> tuple[int, int] | None:
    return tuple(entry["image_shape"]) if entry["image_shape"] else None
