"""SSVI stages (dvc.yaml `ssvi-*`): one module per step, so DVC can track each step's code on its own."""

from collections import ChainMap
from typing import Any

from tasks.platform.params import filled

FMNIST = "fmnist-"  # the prefix of the Fashion-MNIST runs' names (their own rows and targets in the report)

# Step name -> "module:function" (tasks/orchestration/stage_runner.py imports only the one that runs).
STEPS = {
    "prepare": "tasks.stages.ssvi.prepare:prepare",
    "train": "tasks.stages.ssvi.train:train",
    "evaluate": "tasks.stages.ssvi.evaluate:evaluate",
    "report": "tasks.stages.ssvi.report:write_report",
}


def resolved_params(params: dict[str, Any]) -> dict[str, Any]:
    """The profile's `ssvi` block as it runs (`studies params`): each of train.runs as the SSVIConfig
    ssvi-train builds from it (its overrides on train.defaults, on the dataclass defaults)."""
    from tasks.stages.ssvi.train import run_configs  # the step's imports: only when asked

    train = params["train"]
    defaults = train.get("defaults", {})
    runs = {
        name: filled(ChainMap(train["runs"][name] or {}, defaults), cfg)
        for name, cfg in run_configs(train).items()
    }
    return {**params, "train": {**train, "runs": runs}}
