"""cdvae-train: fit CDVAE on the prepared train split; resumable, per-epoch losses to MLflow, best model
logged.

A crash mid-run loses at most `checkpoint_every` steps: the resumable state lives in
`results/<profile>/cdvae/train-state/` (outside the stage's DVC outputs, which DVC
deletes before rerunning a stage) and is picked up when the stage runs again with the
same configuration, data and code (its fingerprint). It is removed once the stage succeeds.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import mlflow
import polars as pl
import torch

from studies.cdvae.config import ModelConfig, TrainConfig
from studies.cdvae.dataset import CrystalSet
from studies.cdvae.model import CDVAE
from studies.cdvae.train import BEST, FitResult, fit
from studies.common.devices import resolve_device
from studies.common.seeding import seed_everything
from tasks.orchestration import resume
from tasks.orchestration.stage_runner import StageContext
from tasks.platform.errors import StudiesError
from tasks.stages.cdvae import modelio
from tasks.stages.cdvae.dataset_settings import fill, model_defaults, optim_defaults

STUDY_CODE = Path(__file__).resolve().parents[3] / "studies" / "cdvae"


def fingerprint(model_cfg: ModelConfig, train_cfg: TrainConfig, seed: int, prepared: Path, step: str) -> str:
    """What a resumable checkpoint must agree with: hyperparameters, seed, the prepared splits and the study
    code."""
    return resume.fingerprint(
        asdict(model_cfg),
        asdict(train_cfg),
        seed,
        files=[*prepared.glob("*.parquet"), prepared / "scalers.json", *resume.step_code("cdvae", step)],
    )


def train(ctx: StageContext) -> None:
    p = ctx.params["train"]
    prepared, out = ctx.inputs["prepared"], ctx.outputs["train"]
    model_cfg, train_cfg = configs(p, prepared)
    device = setup_device(train_cfg)
    train_set, val_set = modelio.crystal_set(prepared, "train"), modelio.crystal_set(prepared, "val")
    lattice_scaler, prop_scaler = modelio.scalers(prepared)
    seed_everything(p["seed"])
    model = CDVAE(model_cfg, lattice_scaler, prop_scaler).to(device)
    # GemNet-dT's scale factors, on the first batch of the split as stored; a resumed run then loads the
    # checkpoint's, which this same batch and seed gave
    first = torch.arange(min(train_cfg.batch_size, len(train_set)))
    model.fit_scales(train_set.batch(first).to(device), p["seed"])
    result = fit_logged(
        model,
        train_set,
        val_set,
        model_cfg,
        train_cfg,
        p["seed"],
        prepared,
        resume.state_dir(ctx),
        device,
        ctx.step,
    )
    modelio.save(model, out)
    save_history(result, out, len(train_set), model)
    mlflow.log_artifacts(str(out), "checkpoint")
    # pickled with its source (code_paths): `mlflow.pytorch.load_model` returns a working CDVAE without this
    # checkout
    log_model(model, "cdvae")
    shutil.rmtree(resume.state_dir(ctx))


def configs(p: Mapping[str, Any], prepared: Path) -> tuple[ModelConfig, TrainConfig]:
    """The model and its training for the prepared dataset: what the profile leaves open is the dataset's
    (the atom-count head sized by the `max_atoms` the crystals were prepared with; upstream's schedule)."""
    splits = json.loads((prepared / "splits.json").read_text())
    model_cfg = ModelConfig.from_dict(fill(p["model"], model_defaults(splits["max_atoms"])))
    largest = max(
        pl.read_parquet(prepared / f"{s}.parquet", columns=["num_atoms"])["num_atoms"].max() or 0
        for s in splits["sizes"]
    )
    if model_cfg.max_atoms < largest:
        raise StudiesError(
            f"cdvae.train.model.max_atoms = {model_cfg.max_atoms} is smaller than the prepared "
            f"{splits['dataset']} crystals need: {largest} atoms (prepared with max_atoms "
            f"{splits['max_atoms']}).",
            fix=f"raise cdvae.train.model.max_atoms to at least {largest}, or remove it so that the head is "
            f"sized from the prepared data ({splits['max_atoms']}).",
        )
    return model_cfg, TrainConfig.from_dict(fill(p["optim"], optim_defaults(splits["dataset"])))


def setup_device(cfg: TrainConfig) -> torch.device:
    """The configured device (`auto`: a GPU when the worker has one), recorded on the stage's MLflow run."""
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    device = resolve_device(cfg.device)
    mlflow.set_tag("device", str(device))
    return device


def fit_logged(
    model: torch.nn.Module,
    train_set: CrystalSet,
    val_set: CrystalSet,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    seed: int,
    prepared: Path,
    states: Path,
    device: torch.device,
    step: str,
) -> FitResult:
    """`fit` with per-epoch losses to MLflow (also those of an attempt that crashed before a resume); loads
    the best weights."""
    n_params = sum(t.numel() for t in model.parameters())
    mlflow.log_params({"n_parameters": n_params, "n_train": len(train_set), "n_val": len(val_set)})
    print(
        f"{type(model).__name__}: {n_params / 1e6:.2f} M parameters; {len(train_set)} train / {len(val_set)} "
        f"val crystals; {train_cfg.epochs} epochs of batch {train_cfg.batch_size} on {device}"
    )
    logged: set[int] = set()

    def log_epoch(record: dict) -> None:
        mlflow.log_metrics(
            {k.replace("_", "/", 1): v for k, v in record.items() if k.startswith(("train_", "val_"))}
            | {"lr": record["lr"], "epoch_seconds": record["seconds"]},
            step=record["epoch"],
        )
        logged.add(record["epoch"])

    result = fit(
        model,
        train_set,
        val_set,
        train_cfg,
        seed,
        states,
        fingerprint(model_cfg, train_cfg, seed, prepared, step),
        on_epoch=log_epoch,
        device=device,
    )
    for record in result.state.history:
        if record["epoch"] not in logged:
            log_epoch(record)
    model.load_state_dict(torch.load(states / BEST, map_location=device, weights_only=True))
    mlflow.set_tag("cdvae.resumed_from_step", str(result.resumed_from_step))
    return result


def save_history(result: FitResult, out: Path, n_train: int, model: torch.nn.Module) -> dict:
    """history.parquet and summary.json beside the weights, and the summary's numbers in MLflow."""
    state = result.state
    pl.DataFrame(state.history, infer_schema_length=None).write_parquet(out / "history.parquet")
    summary = {
        "epochs": state.epoch,
        "steps": state.global_step,
        "best_epoch": state.best_epoch,
        "best_val_loss": state.best_val,
        "train_seconds": round(state.seconds, 1),
        "crystals_per_second": round(state.epoch * n_train / max(state.seconds, 1e-9), 2),
        "resumed_from_step": result.resumed_from_step,
        "n_parameters": sum(t.numel() for t in model.parameters()),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    mlflow.log_metrics(
        {
            "best_val_loss": state.best_val,
            "train_seconds": state.seconds,
            "crystals_per_second": summary["crystals_per_second"],
        }
    )
    return summary


def log_model(model: torch.nn.Module, name: str) -> None:
    """The model pickled with the study's source (code_paths), so it loads back without this checkout."""
    mlflow.pytorch.log_model(
        model.cpu(),
        name=name,
        serialization_format="pickle",
        code_paths=[str(STUDY_CODE.parent)],
        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "torch-geometric", "pymatgen"],
    )
