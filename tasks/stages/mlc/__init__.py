"""MLC stages (dvc.yaml `mlc-*`): one module per step, so DVC can track each step's code on its own."""

from tasks.stages.mlc.evaluate import evaluate
from tasks.stages.mlc.prepare import prepare
from tasks.stages.mlc.report import write_report
from tasks.stages.mlc.train import train

STEPS = {"prepare": prepare, "train": train, "evaluate": evaluate, "report": write_report}
