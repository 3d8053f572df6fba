"""MLC stages (dvc.yaml `mlc-*`): one module per step, so DVC can track each step's code on its own."""
from tasks.mlc.evaluate import evaluate
from tasks.mlc.prepare import prepare
from tasks.mlc.report import write_report
from tasks.mlc.train import train

STEPS = {"prepare": prepare, "train": train, "evaluate": evaluate, "report": write_report}
