"""MLC stages (dvc.yaml `mlc-*`): one module per step, so DVC can track each step's code on its own."""

from typing import Any

from tasks.platform.params import filled
from tasks.stages.mlc.evaluate import evaluate
from tasks.stages.mlc.prepare import prepare
from tasks.stages.mlc.report import write_report
from tasks.stages.mlc.train import config_for, train

STEPS = {"prepare": prepare, "train": train, "evaluate": evaluate, "report": write_report}


def resolved_params(params: dict[str, Any]) -> dict[str, Any]:
    """The profile's `mlc` block as it runs (`studies params`): train.digits and train.synthetic as the
    MLCConfig that mlc-train builds from them."""
    train = params["train"]
    records = {which: filled(train[which], config_for(train, which)) for which in ("digits", "synthetic")}
    return {**params, "train": {**train, **records}}
