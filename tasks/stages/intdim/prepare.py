"""intdim-prepare: each dataset's images (all, or stratified subsets where the profile says so) and the split
of every condition the networks train on: plain, shuffled pixels (one fixed permutation for every image,
train and test alike) and shuffled labels (the training labels permuted).

Splits are stored as uint8 N×C×H×W with the scale that maps them to [0, 1] (255 for MNIST and CIFAR-10, 16
for scikit-learn's digits): a quarter of float32's size, in the DVC cache and on the way to worker processes.
prepared.json says, per dataset, which copy of the data it came from (the dataset's source.json, or
data/SOURCES.json for a dataset without one), how many images it kept and the shuffle seed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import polars as pl
from sklearn.model_selection import train_test_split

from studies.intdim.data import apply_shuffle, channels_first, stratified_subset
from tasks.data.manifest import Manifest
from tasks.data.tables import write_json, write_npz
from tasks.orchestration.stage_runner import StageContext
from tasks.platform.errors import NotReady

INDEX = "prepared.json"
DIGITS_SIDE = 8
DIGITS_SCALE = 16  # scikit-learn's digits count ink in 0..16
IMAGE_SCALE = 255


def prepare(ctx: StageContext) -> None:
    p = ctx.params["prepare"]
    data, out = ctx.inputs["data"], ctx.outputs["prepared"]
    out.mkdir(parents=True, exist_ok=True)
    index: dict[str, Any] = {}
    for name, spec in p["datasets"].items():
        split, scale, available = _load(data, name, spec, p["subset_seed"])
        for condition in spec["conditions"]:
            write_npz(out / f"{name}-{condition}.npz", apply_shuffle(split, condition, p["shuffle_seed"]))
        index[name] = {
            "copy": _copy(data, name),
            "n_train": len(split["y_train"]),
            "n_test": len(split["y_test"]),
            "available": available,
            "input_shape": list(split["X_train"].shape[1:]),
            "scale": scale,
            "conditions": list(spec["conditions"]),
            "shuffle_seed": p["shuffle_seed"],
        }
        print(
            f"prepared {name} ({index[name]['copy']['source']}): {index[name]['n_train']} of "
            f"{available['train']} training and {index[name]['n_test']} of {available['test']} test images, "
            f"conditions {', '.join(spec['conditions'])}"
        )
    write_json(index, out / INDEX)
    mlflow.log_dict(index, INDEX)


def load_index(folder: Path) -> dict[str, Any]:
    return json.loads((folder / INDEX).read_text())


def load_split(folder: Path, dataset: str, condition: str) -> dict[str, np.ndarray]:
    """One condition's arrays as `prepare` wrote them (uint8 images, int64 labels)."""
    with np.load(folder / f"{dataset}-{condition}.npz") as arrays:
        return {k: arrays[k] for k in arrays.files}


def _load(
    data: Path, name: str, spec: dict[str, Any], seed: int
) -> tuple[dict[str, np.ndarray], int, dict[str, int]]:
    """(split of uint8 N×C×H×W images and labels, scale, images available per split)."""
    if not (data / name).is_dir():
        raise NotReady(
            f"data/{name} is missing: this profile's intdim.prepare.datasets names it.",
            f"run `studies ingest --dataset {name}` (it keeps the datasets already in data/).",
        )
    if (
        name == "digits"
    ):  # no test set of its own: both parts are drawn, disjoint and stratified, from all 1,797
        table = pl.read_parquet(data / "digits" / "digits.parquet")
        images = table.drop("target").to_numpy().astype(np.uint8).reshape(-1, DIGITS_SIDE, DIGITS_SIDE)
        labels = table["target"].to_numpy()
        X_train, X_test, y_train, y_test = train_test_split(
            images,
            labels,
            train_size=spec["n_train"],
            test_size=spec["n_test"],
            random_state=seed,
            stratify=labels,
        )
        split = {"X_train": X_train, "y_train": y_train, "X_test": X_test, "y_test": y_test}
        available, scale = {"train": len(labels), "test": len(labels)}, DIGITS_SCALE
    else:
        split, available = {}, {}
        for part in ("train", "test"):
            with np.load(data / name / f"{part}.npz") as table:
                images, labels = table["images"], table["labels"]
            available[part] = len(labels)
            split[f"X_{part}"], split[f"y_{part}"] = stratified_subset(
                images, labels, spec.get(f"n_{part}") or len(labels), seed
            )
        scale = IMAGE_SCALE
    split = {k: channels_first(v) if k.startswith("X") else v.astype(np.int64) for k, v in split.items()}
    return split, scale, available


def _copy(data: Path, name: str) -> dict[str, Any]:
    """Which copy of the dataset this is: its source.json (image datasets), else its SOURCES.json entries."""
    sidecar = data / name / "source.json"
    if sidecar.is_file():
        info = json.loads(sidecar.read_text())
        return {"source": info["source"], "files": info["files"]}
    files = {path: entry for path, entry in Manifest.read(data).files.items() if path.startswith(f"{name}/")}
    sources = sorted({entry["source"] for entry in files.values()})
    return {"source": ", ".join(sources) or "unrecorded (not in data/SOURCES.json)", "files": files}
