"""SSVI stages (dvc.yaml `ssvi-*`): one module per step, so DVC can track each step's code on its own."""

from collections import ChainMap
from typing import Any

from tasks.platform.params import filled
from tasks.stages.ssvi.evaluate import evaluate
from tasks.stages.ssvi.prepare import prepare
from tasks.stages.ssvi.report import write_report
from tasks.stages.ssvi.train import run_configs, train

STEPS = {"prepare": prepare, "train": train, "evaluate": evaluate, "report": write_report}


def resolved_params(params: dict[str, Any]) -> dict[str, Any]:
    """The profile's `ssvi` block as it runs (`studies params`): each of train.runs as the SSVIConfig
    ssvi-train builds from it (its overrides on train.defaults, on the dataclass defaults)."""
    train = params["train"]
    defaults = train.get("defaults", {})
    runs = {
        name: filled(ChainMap(train["runs"][name] or {}, defaults), cfg)
        for name, cfg in run_configs(train).items()
    }
    return {**params, "train": {**train, "runs": runs}}
