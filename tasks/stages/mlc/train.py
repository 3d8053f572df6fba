"""mlc-train: fit MLC on every prepared dataset and seed; per-step losses to MLflow, checkpoints to disk.

Each finished fit is also kept in `results/<profile>/mlc/train-state/` (tasks/orchestration/resume.py), so a
stage that was killed redoes only the fits it had not finished; a reused fit logs the same metrics and
artifacts as a fresh one.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Any

import mlflow
import numpy as np
import polars as pl
import torch
from mlflow.models import ModelSignature
from mlflow.types import Schema, TensorSpec

from studies.common.devices import resolve_device
from studies.mlc.config import MLCConfig
from studies.mlc.train import MLCFit, fit_mlc
from tasks.orchestration import resume
from tasks.orchestration.resume import FitStore
from tasks.orchestration.stage_runner import StageContext
from tasks.stages.mlc import catalogue


def config_for(train_params: dict[str, Any], dataset: str) -> MLCConfig:
    """A dataset named under `train` (digits, mnist, ...) uses its own block; every other (the synthetic sets)
    uses `train.synthetic`."""
    return MLCConfig.from_dict(
        train_params[dataset if isinstance(train_params.get(dataset), dict) else "synthetic"]
    )


def train(ctx: StageContext) -> None:
    p = ctx.params["train"]
    prepared, out = ctx.inputs["prepared"], ctx.outputs["train"]
    entries = catalogue.entries(prepared)
    data = {entry["name"]: catalogue.load(prepared, entry["name"])[0] for entry in entries}
    jobs = {f"{entry['name']}/seed{seed}": (entry, seed) for entry in entries for seed in p["seeds"]}
    code = resume.step_code("mlc", ctx.step)
    fingerprints = {
        key: resume.fingerprint(
            asdict(config_for(p, entry["name"])), seed, data[entry["name"]], entry["image_shape"], files=code
        )
        for key, (entry, seed) in jobs.items()
    }
    devices = {str(resolve_device(config_for(p, entry["name"]).device)) for entry in entries}
    mlflow.set_tag(
        "device", ",".join(sorted(devices))
    )  # chosen now, from the configs (e.g. `auto` on a GPU worker)
    store = FitStore(resume.state_dir(ctx))
    done = store.load_done(fingerprints)
    timings: dict[str, float] = {}
    for key, (entry, seed) in jobs.items():
        X, cfg, log = data[entry["name"]], config_for(p, entry["name"]), _logger(key)
        if key in done:
            fit = MLCFit.from_state(done[key]["fit"], X.shape[1], cfg, catalogue.image_shape(entry))
            timings[key] = done[key]["seconds"]
            for record in fit.history:  # the metrics a fresh fit logs as it goes
                log(record)
        else:
            print(f"training MLC on {key} ({len(X)} points)")
            start = time.perf_counter()
            fit = fit_mlc(X, cfg, seed=seed, image_shape=catalogue.image_shape(entry), on_step=log)
            timings[key] = round(time.perf_counter() - start, 2)
            store.save(key, fingerprints[key], {"fit": fit.to_state(), "seconds": timings[key]})
        folder = out / entry["name"] / f"seed{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(fit.model.state_dict(), folder / "model.pt")
        np.savez(
            folder / "embedding.npz", Z=fit.Z, C=fit.C, gamma=fit.gamma, anchors=fit.anchors, eta=cfg.eta
        )  # η: evaluate extends the anchors' labels with Γ's kernel
        pl.DataFrame(fit.history, infer_schema_length=None).write_parquet(folder / "history.parquet")
        mlflow.log_artifact(str(folder / "model.pt"), f"checkpoints/{entry['name']}/seed{seed}")
        if entry["name"] == "digits" and seed == p["seeds"][0]:
            _log_model(fit.model, X)
    (out / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    mlflow.log_metrics({f"train_seconds/{k}": v for k, v in timings.items()})
    store.clear()


def _log_model(model: torch.nn.Module, X: np.ndarray) -> None:
    """MLflow's pt2 format (torch.export, dynamic batch): it loads back without this package's classes."""
    signature = ModelSignature(inputs=Schema([TensorSpec(np.dtype("float32"), (-1, X.shape[1]))]))
    mlflow.pytorch.log_model(
        model,
        name="mlc-digits",
        input_example=torch.from_numpy(X[:8]),
        signature=signature,
        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],
    )


def _logger(key: str):
    """MLflow metrics `<dataset>/seed<k>/<term>` at the fit's own step (TCR steps, then MLC steps)."""

    def log(record: dict[str, Any]) -> None:
        mlflow.log_metrics(
            {f"{key}/{k}": float(v) for k, v in record.items() if k not in ("phase", "step")},
            step=int(record["step"]),
        )

    return log
