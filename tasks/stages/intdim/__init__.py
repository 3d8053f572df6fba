"""Intrinsic-dimension stages (dvc.yaml `intdim-*`): one module per step, so DVC can track each step's code on
its own."""

from typing import Any

from tasks.platform.params import filled
from tasks.stages.intdim.evaluate import evaluate
from tasks.stages.intdim.prepare import prepare
from tasks.stages.intdim.report import write_report
from tasks.stages.intdim.train import network_configs, train

STEPS = {"prepare": prepare, "train": train, "evaluate": evaluate, "report": write_report}


def resolved_params(params: dict[str, Any]) -> dict[str, Any]:
    """The profile's `intdim` block as it runs (`studies params`): each of train.networks as the IntDimConfig
    intdim-train builds for its subspace runs (its overrides on train.defaults, on the dataclass defaults),
    with its dataset and grid."""
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
