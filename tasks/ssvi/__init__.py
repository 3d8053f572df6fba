"""SSVI stages (dvc.yaml `ssvi-*`): one module per step, so DVC can track each step's code on its own."""
from tasks.ssvi.evaluate import evaluate
from tasks.ssvi.prepare import prepare
from tasks.ssvi.report import write_report
from tasks.ssvi.train import train

STEPS = {"prepare": prepare, "train": train, "evaluate": evaluate, "report": write_report}
