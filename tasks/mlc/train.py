"""mlc-train: fit MLC on every prepared dataset and seed; per-step losses to MLflow, checkpoints to disk."""
from __future__ import annotations

import json
import time
from typing import Any

import mlflow
import numpy as np
import polars as pl
import torch
from mlflow.models import ModelSignature
from mlflow.types import Schema, TensorSpec

from studies.mlc.config import MLCConfig
from studies.mlc.train import fit_mlc
from tasks.mlc import catalogue
from tasks.stages import StageContext


def config_for(train_params: dict[str, Any], dataset: str) -> MLCConfig:
    """Digits use `train.digits`; every synthetic set uses `train.synthetic`."""
    return MLCConfig.from_dict(train_params["digits" if dataset == "digits" else "synthetic"])


def train(ctx: StageContext) -> None:
    p = ctx.params["train"]
    prepared, out = ctx.inputs["prepared"], ctx.outputs["train"]
    timings: dict[str, float] = {}
    for entry in catalogue.entries(prepared):
        X, _ = catalogue.load(prepared, entry["name"])
        cfg = config_for(p, entry["name"])
        for seed in p["seeds"]:
            key = f"{entry['name']}/seed{seed}"
            print(f"training MLC on {key} ({len(X)} points)")
            start = time.perf_counter()
            fit = fit_mlc(X, cfg, seed=seed, image_shape=catalogue.image_shape(entry), on_step=_logger(key))
            timings[key] = round(time.perf_counter() - start, 2)
            folder = out / entry["name"] / f"seed{seed}"
            folder.mkdir(parents=True, exist_ok=True)
            torch.save(fit.model.state_dict(), folder / "model.pt")
            np.savez(folder / "embedding.npz", Z=fit.Z, gamma=fit.gamma)
            pl.DataFrame(fit.history, infer_schema_length=None).write_parquet(folder / "history.parquet")
            mlflow.log_artifact(str(folder / "model.pt"), f"checkpoints/{entry['name']}/seed{seed}")
            if entry["name"] == "digits" and seed == p["seeds"][0]:
                _log_model(fit.model, X)
    (out / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    mlflow.log_metrics({f"train_seconds/{k}": v for k, v in timings.items()})


def _log_model(model: torch.nn.Module, X: np.ndarray) -> None:
    """MLflow's pt2 format (torch.export, dynamic batch): it loads back without this package's classes."""
    signature = ModelSignature(inputs=Schema([TensorSpec(np.dtype("float32"), (-1, X.shape[1]))]))
    mlflow.pytorch.log_model(model, name="mlc-digits", input_example=torch.from_numpy(X[:8]), signature=signature,
                             pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"])


def _logger(key: str):
    """MLflow metrics `<dataset>/seed<k>/<term>` at the fit's own step (TCR steps, then MLC steps)."""

    def log(record: dict[str, Any]) -> None:
        mlflow.log_metrics({f"{key}/{k}": float(v) for k, v in record.items() if k not in ("phase", "step")}, step=int(record["step"]))

    return log
