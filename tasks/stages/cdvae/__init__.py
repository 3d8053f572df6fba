"""CDVAE stages (dvc.yaml `cdvae-*`): one module per step, so DVC can track each step's code on its own."""

from typing import Any

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
    """The profile's `cdvae` block as it runs (`studies params`): each config block as the record built
    from it (defaults: the paper's configuration)."""
    from studies.cdvae.config import LangevinConfig, ModelConfig, TrainConfig  # torch: only when asked

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
    out = {step: dict(block) for step, block in params.items()}
    for (step, block), record in records.items():
        out[step][block] = filled(params[step][block], record.from_dict(params[step][block]))
    return out
