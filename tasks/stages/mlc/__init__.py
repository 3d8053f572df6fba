"""MLC stages (dvc.yaml `mlc-*`): one module per step, so DVC can track each step's code on its own."""

from typing import Any

from tasks.platform.params import filled

# Step name -> "module:function" (tasks/orchestration/stage_runner.py imports only the one that runs).
STEPS = {
    "prepare": "tasks.stages.mlc.prepare:prepare",
    "train": "tasks.stages.mlc.train:train",
    "evaluate": "tasks.stages.mlc.evaluate:evaluate",
    "report": "tasks.stages.mlc.report:write_report",
}


def resolved_params(params: dict[str, Any]) -> dict[str, Any]:
    """The profile's `mlc` block as it runs (`studies params`): each dataset block under train (digits,
    synthetic, mnist, ...) as the MLCConfig that mlc-train builds from it."""
    from tasks.stages.mlc.train import config_for  # the step's imports: only when asked

    train = params["train"]
    records = {
        which: filled(block, config_for(train, which))
        for which, block in train.items()
        if isinstance(block, dict)
    }
    return {**params, "train": {**train, **records}}
