"""ssvi-prepare: the digits split (x/16, stratified) or CIFAR (`paper`), and the shifted test sets of the
entropy test."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import polars as pl

from studies.ssvi.data import PIXELS, digits_split, load_cifar, shifted_sets
from tasks.orchestration.stage_runner import StageContext


def prepare(ctx: StageContext) -> None:
    p = ctx.params["prepare"]
    out = ctx.outputs["prepared"]
    out.mkdir(parents=True, exist_ok=True)
    if p["dataset"] == "digits":
        table = pl.read_parquet(ctx.inputs["digits"])
        split = digits_split(
            table.select(PIXELS).to_numpy(), table["target"].to_numpy(), p["test_size"], p["split_seed"]
        )
    else:
        # CIFAR's own train/test split; the files are placed by hand
        # (not ingested: no internet on the laptops)
        split = load_cifar(ctx.project.root / p["cifar_root"], p["dataset"])
    np.savez(out / "digits.npz", **split)
    shift = p["shift"]
    shifted = shifted_sets(split["X_test"], shift["rotations"], shift["noise_stds"], shift["seed"])
    np.savez(out / "shifted.npz", **shifted)
    summary = {
        "dataset": p["dataset"],
        "train": len(split["y_train"]),
        "test": len(split["y_test"]),
        "shifted": sorted(shifted),
    }
    mlflow.log_dict(summary, "prepared.json")
    print(
        f"prepared {p['dataset']}: {summary['train']} train, {summary['test']} test; shifted sets "
        f"{', '.join(summary['shifted'])}"
    )


def load(folder: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(split arrays, shifted test sets) as written by `prepare`."""
    with np.load(folder / "digits.npz") as d, np.load(folder / "shifted.npz") as s:
        return {k: d[k] for k in d.files}, {k: s[k] for k in s.files}
