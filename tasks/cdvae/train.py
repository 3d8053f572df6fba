"""cdvae-train: fit CDVAE on the prepared train split; resumable, per-epoch losses to MLflow, best model logged.

A crash mid-run loses at most `checkpoint_every` steps: the resumable state lives in
`results/<profile>/cdvae/train-state/` (outside the stage's DVC outputs, which DVC
deletes before rerunning a stage) and is picked up when the stage runs again with the
same configuration, data and code (its fingerprint). It is removed once the stage succeeds.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict
from pathlib import Path

import mlflow
import polars as pl
import torch

from studies.cdvae.config import ModelConfig, TrainConfig
from studies.cdvae.model import CDVAE
from studies.cdvae.train import BEST, fit_cdvae
from studies.common.devices import resolve_device
from studies.common.seeding import seed_everything
from tasks.cdvae import modelio
from tasks.stages import StageContext

STUDY_CODE = Path(__file__).resolve().parents[2] / "studies" / "cdvae"


def fingerprint(model_cfg: ModelConfig, train_cfg: TrainConfig, seed: int, prepared: Path) -> str:
    """What a resumable checkpoint must agree with: hyperparameters, seed, the prepared splits and the study code."""
    h = hashlib.sha256(json.dumps([asdict(model_cfg), asdict(train_cfg), seed], sort_keys=True).encode())
    for path in sorted([*prepared.glob("*.parquet"), prepared / "scalers.json", *STUDY_CODE.glob("*.py")]):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def state_dir(ctx: StageContext) -> Path:
    return ctx.project.root / "results" / ctx.profile / "cdvae" / "train-state"


def train(ctx: StageContext) -> None:
    p = ctx.params["train"]
    prepared, out = ctx.inputs["prepared"], ctx.outputs["train"]
    model_cfg, train_cfg = ModelConfig.from_dict(p["model"]), TrainConfig.from_dict(p["optim"])
    if train_cfg.num_threads:
        torch.set_num_threads(train_cfg.num_threads)
    device = resolve_device(train_cfg.device)
    train_set, val_set = modelio.crystal_set(prepared, "train"), modelio.crystal_set(prepared, "val")
    lattice_scaler, prop_scaler = modelio.scalers(prepared)
    seed_everything(p["seed"])
    model = CDVAE(model_cfg, lattice_scaler, prop_scaler).to(device)
    n_params = sum(t.numel() for t in model.parameters())
    mlflow.log_params({"n_parameters": n_params, "n_train": len(train_set), "n_val": len(val_set)})
    print(f"CDVAE: {n_params / 1e6:.2f} M parameters; {len(train_set)} train / {len(val_set)} val crystals; "
          f"{train_cfg.epochs} epochs of batch {train_cfg.batch_size} on {device}")

    logged: set[int] = set()

    def log_epoch(record: dict) -> None:
        mlflow.log_metrics({k.replace("_", "/", 1): v for k, v in record.items() if k.startswith(("train_", "val_"))}
                           | {"lr": record["lr"], "epoch_seconds": record["seconds"]}, step=record["epoch"])
        logged.add(record["epoch"])

    states = state_dir(ctx)
    fit = fit_cdvae(model, train_set, val_set, train_cfg, p["seed"], states,
                    fingerprint(model_cfg, train_cfg, p["seed"], prepared), on_epoch=log_epoch, device=device)
    for record in fit.state.history:  # after a resume, this run also carries the curves of the attempt that crashed
        if record["epoch"] not in logged:
            log_epoch(record)
    model.load_state_dict(torch.load(states / BEST, map_location=device))
    out.mkdir(parents=True, exist_ok=True)
    modelio.save(model, out)
    pl.DataFrame(fit.state.history, infer_schema_length=None).write_parquet(out / "history.parquet")
    summary = {"epochs": fit.state.epoch, "steps": fit.state.global_step, "best_epoch": fit.state.best_epoch,
               "best_val_loss": fit.state.best_val, "train_seconds": round(fit.state.seconds, 1),
               "crystals_per_second": round(fit.state.epoch * len(train_set) / max(fit.state.seconds, 1e-9), 2),
               "resumed_from_step": fit.resumed_from_step, "n_parameters": n_params}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    mlflow.log_metrics({"best_val_loss": fit.state.best_val, "train_seconds": fit.state.seconds,
                        "crystals_per_second": summary["crystals_per_second"]})
    mlflow.set_tag("cdvae.resumed_from_step", str(fit.resumed_from_step))
    mlflow.log_artifacts(str(out), "checkpoint")
    # pickled with its source (code_paths): `mlflow.pytorch.load_model` returns a working CDVAE without this checkout
    mlflow.pytorch.log_model(model.cpu(), name="cdvae", serialization_format="pickle", code_paths=[str(STUDY_CODE.parent)],
                             pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "torch-geometric", "pymatgen"])
    shutil.rmtree(states)
