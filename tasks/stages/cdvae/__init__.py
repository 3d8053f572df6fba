"""CDVAE stages (dvc.yaml `cdvae-*`): one module per step, so DVC can track each step's code on its own."""

from typing import Any

from ruamel.yaml.comments import CommentedMap

from tasks.platform.params import filled

# Step name -> "module:function" (tasks/orchestration/stage_runner.py imports only the one that runs).
STEPS = {
    "prepare": "tasks.stages.cdvae.prepare:prepare",
    "train": "tasks.stages.cdvae.train:train",
    "reconstruct": "tasks.stages.cdvae.reconstruct:reconstruct",
    "evaluate": "tasks.stages.cdvae.evaluate:evaluate",
    "train-property-model": "tasks.stages.cdvae.train_property_model:train_property_model",
    "generate": "tasks.stages.cdvae.generate:generate",
    "evaluate-generation": "tasks.stages.cdvae.evaluate_generation:evaluate_generation",
    "report": "tasks.stages.cdvae.report:write_report",
}


def resolved_params(params: dict[str, Any]) -> dict[str, Any]:
    """The profile's `cdvae` block as it runs (`studies params`): what it leaves to the dataset filled from
    the dataset's declaration (`# <dataset>'s`), each config block as the record built from it (defaults: the
    paper's configuration)."""
    from studies.cdvae.config import LangevinConfig, ModelConfig, TrainConfig  # torch: only when asked
    from tasks.stages.cdvae import dataset_settings as ds

    dataset = params["prepare"]["dataset"]
    max_atoms = ds.fill(params["prepare"], ds.prepare_defaults(dataset))["max_atoms"]
    # What the steps fill from the dataset (prepare.py, train.py, evaluate_generation.py).
    supplied = {
        ("prepare", None): ds.prepare_defaults(dataset),
        ("train", "model"): ds.model_defaults(max_atoms),
        ("train", "optim"): ds.optim_defaults(dataset),
        ("evaluate-generation", None): ds.generation_defaults(dataset),
    }
    # The params blocks each step turns into a config record (train.py, train_property_model.py,
    # reconstruct.py and generate.py call `<record>.from_dict(p[block])`).
    records = {
        ("train", "model"): ModelConfig,
        ("train", "optim"): TrainConfig,
        ("train-property-model", "model"): ModelConfig,
        ("train-property-model", "optim"): TrainConfig,
        ("reconstruct", "langevin"): LangevinConfig,
        ("generate", "langevin"): LangevinConfig,
    }

    def shown(step: str, block: str | None) -> CommentedMap:
        given = params[step] if block is None else params[step][block]
        defaults = supplied.get((step, block), {})
        value = ds.fill(given, defaults)
        record = records.get((step, block))
        out = filled(value, record.from_dict(value)) if record else CommentedMap(value)
        for key in defaults:
            if given.get(key) is None:
                out.yaml_add_eol_comment(f"{dataset}'s", key, column=0)
        return out

    out = {step: dict(block) for step, block in params.items()}
    for step, block in dict.fromkeys([*records, *supplied]):
        if block is None:
            out[step] = shown(step, None)
        else:
            out[step][block] = shown(step, block)
    return out
