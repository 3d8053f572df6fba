"""CDVAE stages (dvc.yaml `cdvae-*`): one module per step, so DVC can track each step's code on its own."""
from tasks.cdvae.evaluate import evaluate
from tasks.cdvae.prepare import prepare
from tasks.cdvae.reconstruct import reconstruct
from tasks.cdvae.report import write_report
from tasks.cdvae.train import train

STEPS = {"prepare": prepare, "train": train, "reconstruct": reconstruct, "evaluate": evaluate, "report": write_report}
