"""Saving and loading trained models (CDVAE, the property model) as plain files: weights, ModelConfig and
scalers together."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import polars as pl
import torch

from studies.cdvae.config import ModelConfig
from studies.cdvae.dataset import CrystalSet, Scaler
from studies.cdvae.model import CDVAE
from studies.cdvae.property_model import PropertyModel
from tasks.stages.cdvae.model_files import CONFIG, WEIGHTS


def save(model: CDVAE | PropertyModel, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), folder / WEIGHTS)
    (folder / CONFIG).write_text(json.dumps({"model": asdict(model.cfg)}, indent=2) + "\n")


def load(folder: Path, device: torch.device = torch.device("cpu")) -> CDVAE:
    """The model `save` wrote; the scalers and GemNet-dT's scale factors come back with the weights (they are
    buffers)."""
    saved = json.loads((folder / CONFIG).read_text())["model"]
    # a model.json written before the decoder could be chosen names none: it holds the GemNet-T-style one
    cfg = ModelConfig.from_dict({"decoder": "gemnet_t_style", **saved})
    model = CDVAE(cfg, Scaler([0.0] * 6, [1.0] * 6))
    model.load_state_dict(torch.load(folder / WEIGHTS, map_location=device, weights_only=True))
    return model.to(device).eval()


def load_property_model(folder: Path, device: torch.device = torch.device("cpu")) -> PropertyModel:
    cfg = ModelConfig.from_dict(json.loads((folder / CONFIG).read_text())["model"])
    model = PropertyModel(cfg, Scaler([0.0], [1.0]))
    model.load_state_dict(torch.load(folder / WEIGHTS, map_location=device, weights_only=True))
    return model.to(device).eval()


def crystal_set(prepared: Path, split: str) -> CrystalSet:
    return CrystalSet(pl.read_parquet(prepared / f"{split}.parquet"))


def scalers(prepared: Path) -> tuple[Scaler, Scaler]:
    raw = json.loads((prepared / "scalers.json").read_text())
    return Scaler(**raw["lattice"]), Scaler(**raw["property"])
