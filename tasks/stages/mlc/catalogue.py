"""The prepared datasets folder: one .npz per dataset plus datasets.json describing them.

Image datasets keep their uint8 pixels (a quarter of float32's size in the DVC cache); `load` turns them into
what MLC trains on (rows on the unit sphere), `load_raw` into the baselines' usual input (pixels / 255)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from studies.mlc.data import image_arrays


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


def save_images(folder: Path, name: str, images: np.ndarray, y: np.ndarray, source: str) -> dict[str, Any]:
    """uint8 images N×H×W[×C] and labels; `source` says which copy of the data they are (e.g. JPEG q75)."""
    np.savez(folder / f"{name}.npz", images=images.astype(np.uint8), y=y.astype(np.int64))
    return {
        "name": name,
        "n": int(len(y)),
        "dim": int(np.prod(images.shape[1:])),
        "n_clusters": int(len(np.unique(y))),
        "image_shape": [int(images.shape[1]), int(images.shape[2])],
        "raw": True,
        "source": source,
    }


def write_index(folder: Path, entries: list[dict[str, Any]]) -> None:
    (folder / "datasets.json").write_text(json.dumps(entries, indent=2) + "\n")


def entries(folder: Path) -> list[dict[str, Any]]:
    return json.loads((folder / "datasets.json").read_text())


def load(folder: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(folder / f"{name}.npz") as f:
        if "images" in f:
            return image_arrays(f["images"])[0], f["y"]
        return f["X"], f["y"]


def load_raw(folder: Path, name: str) -> np.ndarray | None:
    with np.load(folder / f"{name}.npz") as f:
        if "images" in f:
            return f["images"].reshape(len(f["images"]), -1).astype(np.float32) / 255.0
        return f["X_raw"] if "X_raw" in f else None


def image_shape(entry: dict[str, Any]) -> tuple[int, int] | None:
    return tuple(entry["image_shape"]) if entry["image_shape"] else None
