"""CDVAE stages (dvc.yaml `cdvae-*`): one module per step, so DVC can track each step's code on its own."""
from tasks.cdvae.evaluate import evaluate
from tasks.cdvae.evaluate_generation import evaluate_generation
from tasks.cdvae.generate import generate
from tasks.cdvae.prepare import prepare
from tasks.cdvae.reconstruct import reconstruct
from tasks.cdvae.report import write_report
from tasks.cdvae.train import train
from tasks.cdvae.train_property_model import train_property_model

STEPS = {"prepare": prepare, "train": train, "reconstruct": reconstruct, "evaluate": evaluate,
         "train-property-model": train_property_model, "generate": generate, "evaluate-generation": evaluate_generation,
         "report": write_report}
