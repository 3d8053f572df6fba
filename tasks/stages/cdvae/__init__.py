"""CDVAE stages (dvc.yaml `cdvae-*`): one module per step, so DVC can track each step's code on its own."""

from typing import Any

from studies.cdvae.config import LangevinConfig, ModelConfig, TrainConfig
from tasks.platform.params import filled
from tasks.stages.cdvae.evaluate import evaluate
from tasks.stages.cdvae.evaluate_generation import evaluate_generation
from tasks.stages.cdvae.generate import generate
from tasks.stages.cdvae.prepare import prepare
from tasks.stages.cdvae.reconstruct import reconstruct
from tasks.stages.cdvae.report import write_report
from tasks.stages.cdvae.train import train
from tasks.stages.cdvae.train_property_model import train_property_model

STEPS = {
    "prepare": prepare,
    "train": train,
    "reconstruct": reconstruct,
    "evaluate": evaluate,
    "train-property-model": train_property_model,
    "generate": generate,
    "evaluate-generation": evaluate_generation,
    "report": write_report,
}

# The params blocks each step turns into a config record (train.py, train_property_model.py, reconstruct.py
# and generate.py call `<record>.from_dict(p[block])`).
RECORDS = {
    ("train", "model"): ModelConfig,
    ("train", "optim"): TrainConfig,
    ("train-property-model", "model"): ModelConfig,
    ("train-property-model", "optim"): TrainConfig,
    ("reconstruct", "langevin"): LangevinConfig,
    ("generate", "langevin"): LangevinConfig,
}


def resolved_params(params: dict[str, Any]) -> dict[str, Any]:
    """The profile's `cdvae` block as it runs (`studies params`): each block of RECORDS as the record built
    from it (defaults: the paper's configuration)."""
    out = {step: dict(block) for step, block in params.items()}
    for (step, block), record in RECORDS.items():
        out[step][block] = filled(params[step][block], record.from_dict(params[step][block]))
    return out
