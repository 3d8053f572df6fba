"""ssvi-prepare: every dataset of the profile (digits split x/16 as in ANCHORS.md, or an ingested image set
such as Fashion-MNIST or CIFAR-10, stratified subsets where the profile says so), the validation part of each
training set, and the shifted test sets of the entropy test.

Per dataset it writes `<name>.npz` (X_train, y_train, X_test, y_test as float32 N×C×H×W, and val_index: the
rows of the training set held out for choosing weight decay and epochs) and `<name>-shifted.npz`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import polars as pl

from studies.ssvi.data import PIXELS, digits_split, image_split, shifted_sets, validation_index
from tasks.orchestration.stage_runner import StageContext
from tasks.platform.errors import NotReady

Arrays = dict[str, np.ndarray]


def prepare(ctx: StageContext) -> None:
    p = ctx.params["prepare"]
    data, out = ctx.inputs["data"], ctx.outputs["prepared"]
    out.mkdir(parents=True, exist_ok=True)
    summary = {}
    for name, spec in p["datasets"].items():
        split = _load(data, name, spec or {})
        split["val_index"] = validation_index(split["y_train"], p["val_size"], p["val_seed"])
        np.savez(out / f"{name}.npz", **split)
        shift = p["shift"]
        shifted = shifted_sets(split["X_test"], shift["rotations"], shift["noise_stds"], shift["seed"])
        np.savez(out / f"{name}-shifted.npz", **shifted)
        summary[name] = {
            "train": len(split["y_train"]) - len(split["val_index"]),
            "validation": len(split["val_index"]),
            "test": len(split["y_test"]),
            "shifted": sorted(shifted),
        }
        print(
            f"prepared {name}: {summary[name]['train']} train + {summary[name]['validation']} validation, "
            f"{summary[name]['test']} test; shifted sets {', '.join(summary[name]['shifted'])}"
        )
    mlflow.log_dict(summary, "prepared.json")


def _load(data: Path, name: str, spec: dict[str, Any]) -> Arrays:
    if not (data / name).is_dir():
        raise NotReady(
            f"data/{name} is missing: this profile's ssvi.prepare.datasets names it.",
            f"run `studies ingest --dataset {name}` (it keeps the datasets already in data/).",
        )
    if name == "digits":  # no test set of its own: ANCHORS.md's stratified 75/25 split
        table = pl.read_parquet(data / "digits" / "digits.parquet")
        return digits_split(
            table.select(PIXELS).to_numpy(),
            table["target"].to_numpy(),
            spec.get("test_size", 0.25),
            spec.get("split_seed", 0),
        )
    parts = []
    for part in ("train", "test"):
        with np.load(data / name / f"{part}.npz") as table:
            parts.append((table["images"], table["labels"]))
    return image_split(
        parts[0],
        parts[1],
        spec.get("n_train") or len(parts[0][1]),
        spec.get("n_test") or len(parts[1][1]),
        spec.get("subset_seed", 0),
    )


def load(folder: Path) -> dict[str, tuple[Arrays, Arrays]]:
    """dataset → (split arrays with val_index, shifted test sets), as written by `prepare`."""
    out = {}
    for path in sorted(folder.glob("*-shifted.npz")):
        name = path.name.removesuffix("-shifted.npz")
        with np.load(folder / f"{name}.npz") as d, np.load(path) as s:
            out[name] = ({k: d[k] for k in d.files}, {k: s[k] for k in s.files})
    return out
