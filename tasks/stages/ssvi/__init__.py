"""SSVI stages (dvc.yaml `ssvi-*`): one module per step, so DVC can track each step's code on its own."""

from tasks.stages.ssvi.evaluate import evaluate
from tasks.stages.ssvi.prepare import prepare
from tasks.stages.ssvi.report import write_report
from tasks.stages.ssvi.train import train

STEPS = {"prepare": prepare, "train": train, "evaluate": evaluate, "report": write_report}
