"""Intrinsic-dimension stages (dvc.yaml `intdim-*`): one module per step, so DVC can track each step's code on
its own."""

from typing import Any

from tasks.platform.params import filled

# Step name -> "module:function" (tasks/orchestration/stage_runner.py imports only the one that runs).
STEPS = {
    "prepare": "tasks.stages.intdim.prepare:prepare",
    "train": "tasks.stages.intdim.train:train",
    "evaluate": "tasks.stages.intdim.evaluate:evaluate",
    "report": "tasks.stages.intdim.report:write_report",
}


def resolved_params(params: dict[str, Any]) -> dict[str, Any]:
    """The profile's `intdim` block as it runs (`studies params`): each of train.networks as the IntDimConfig
    intdim-train builds for its subspace runs (its overrides on train.defaults, on the dataclass defaults),
    with its dataset and grid."""
    from tasks.stages.intdim.train import network_configs  # the step's imports: only when asked

    train = params["train"]
    shuffle_seed = params["prepare"]["shuffle_seed"]
    given = train.get("defaults", {})
    networks = {}
    for name, network in network_configs(train, shuffle_seed).items():
        spec = train["networks"][name]
        record = filled({**given, **spec, "shuffle_seed": shuffle_seed}, network["subspace"])
        del record["d"]  # the grid says it
        record.insert(0, "dataset", network["dataset"])
        record.insert(1, "dims", network["dims"])
        networks[name] = record
    return {**params, "train": {**train, "networks": networks}}
