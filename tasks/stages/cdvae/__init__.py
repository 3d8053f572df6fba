"""CDVAE stages (dvc.yaml `cdvae-*`): one module per step, so DVC can track each step's code on its own."""

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
