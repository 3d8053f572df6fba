"""mlc-prepare: every dataset the profile names under `prepare.datasets` (any declared one: digits, mnist,
fashion_mnist, cifar10, ...), read from data/ as ingest wrote it, plus the synthetic sets of
`prepare.synthetic` (unions of subspaces, or of non-linear manifolds: `kind: curves | spirals | tori`).

Image datasets: the training and test images together (70,000 for MNIST and Fashion-MNIST), as the deep
clustering literature clusters them; `n` keeps a seeded random subset of that size instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import polars as pl

from studies.mlc.data import PIXELS, digits_arrays, union_of_manifolds, union_of_subspaces
from tasks.orchestration.stage_runner import StageContext
from tasks.platform.errors import NotReady
from tasks.stages.mlc import catalogue

DIGITS_SHAPE = (8, 8)


def prepare(ctx: StageContext) -> None:
    p = ctx.params["prepare"]
    data, out = ctx.inputs["data"], ctx.outputs["prepared"]
    out.mkdir(parents=True, exist_ok=True)
    entries = [_dataset(data, out, name, spec or {}) for name, spec in (p.get("datasets") or {}).items()]
    for spec in p.get("synthetic", []):
        entries.append(catalogue.save(out, spec["name"], *synthetic(spec), None))
    catalogue.write_index(out, entries)
    mlflow.log_dict({"datasets": entries}, "datasets.json")
    for e in entries:
        print(f"prepared {e['name']}: {e['n']} points, {e['n_clusters']} clusters, dim {e['dim']}")


def synthetic(spec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic set from its params entry: `kind` subspaces (the default) or a union_of_manifolds kind."""
    args = {k: v for k, v in spec.items() if k not in ("name", "kind")}
    kind = spec.get("kind", "subspaces")
    return union_of_subspaces(**args) if kind == "subspaces" else union_of_manifolds(kind, **args)


def _subset(n_total: int, n: int | None) -> np.ndarray:
    """All indices, or a seeded random subset of n of them (sorted)."""
    if not n or n >= n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng(0).permutation(n_total)[:n])


def _dataset(data: Path, out: Path, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    if not (data / name).is_dir():
        raise NotReady(
            f"data/{name} is missing: this profile's mlc.prepare.datasets names it.",
            f"run `studies ingest --dataset {name}` (it keeps the datasets already in data/).",
        )
    if name == "digits":  # a table of 0..16 pixel counts, not image arrays
        table = pl.read_parquet(data / "digits" / "digits.parquet")
        keep = _subset(table.height, spec.get("n"))
        X, y = digits_arrays(table)
        X_raw = table.select(PIXELS).to_numpy()  # the baselines' usual input (ANCHORS.md measured them on it)
        return catalogue.save(out, name, X[keep], y[keep], DIGITS_SHAPE, X_raw[keep])
    images, labels = [], []
    for split in ("train", "test"):
        with np.load(data / name / f"{split}.npz") as table:
            images.append(table["images"])
            labels.append(table["labels"])
    X, y = np.concatenate(images), np.concatenate(labels)
    keep = _subset(len(y), spec.get("n"))
    source = json.loads((data / name / "source.json").read_text())["source"]
    return catalogue.save_images(out, name, X[keep], y[keep], source)
