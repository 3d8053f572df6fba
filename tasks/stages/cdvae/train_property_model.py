"""cdvae-train-property-model: the regressor that scores generated crystals for d_E (see
studies/cdvae/property_model.py).

Trained on the same prepared splits as CDVAE, resumable like cdvae-train; its test MAE is
reported beside the MAE of always predicting the training mean, so a reader can judge it.
"""

from __future__ import annotations

import json
import shutil

import mlflow
import numpy as np

from studies.cdvae.config import ModelConfig, TrainConfig
from studies.cdvae.property_model import PropertyModel
from studies.common.seeding import seed_everything
from tasks.orchestration import resume
from tasks.orchestration.stage_runner import StageContext
from tasks.stages.cdvae import modelio
from tasks.stages.cdvae.train import fit_logged, log_model, save_history, setup_device

STATE = "property-model-state"


def train_property_model(ctx: StageContext) -> None:
    p = ctx.params["train-property-model"]
    prepared, out = ctx.inputs["prepared"], ctx.outputs["property_model"]
    splits = json.loads((prepared / "splits.json").read_text())
    if not splits.get("property"):
        raise ValueError(
            f"the prepared {splits['dataset']} data carry no property, so there is nothing to regress. "
            "Fix: set cdvae.prepare.property (e.g. heat_ref for perov_5) and rerun cdvae-prepare."
        )
    model_cfg, train_cfg = ModelConfig.from_dict(p["model"]), TrainConfig.from_dict(p["optim"])
    device = setup_device(train_cfg)
    train_set, val_set, test_set = (modelio.crystal_set(prepared, s) for s in ("train", "val", "test"))
    _, prop_scaler = modelio.scalers(prepared)
    seed_everything(p["seed"])
    model = PropertyModel(model_cfg, prop_scaler).to(device)
    result = fit_logged(
        model,
        train_set,
        val_set,
        model_cfg,
        train_cfg,
        p["seed"],
        prepared,
        resume.state_dir(ctx, STATE),
        device,
        ctx.step,
    )
    modelio.save(model, out)
    summary = save_history(result, out, len(train_set), model)
    truth = test_set.prop.double().numpy()
    mae = float(np.abs(model.predict(test_set) - truth).mean())
    mean_mae = float(np.abs(train_set.prop.double().numpy().mean() - truth).mean())
    summary |= {
        "dataset": splits["dataset"],
        "property": splits["property"],
        "test_mae": mae,
        "test_mae_of_train_mean": mean_mae,
        "n_test": len(test_set),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    mlflow.log_metrics({"test_mae": mae, "test_mae_of_train_mean": mean_mae})
    print(
        f"property model ({splits['property']}): test MAE {mae:.4f} (predicting the training mean: "
        f"{mean_mae:.4f})"
    )
    mlflow.log_artifacts(str(out), "property-model")
    log_model(model, "property-model")
    shutil.rmtree(resume.state_dir(ctx, STATE))
