"""cdvae-evaluate: the paper's Table 1 metrics (match rate, RMSE), CIF files, renders and training curves."""

from __future__ import annotations

import json
import sys

import mlflow
import numpy as np
import polars as pl
from tqdm import tqdm

from studies.cdvae.crystal import build_structure, write_cifs
from studies.cdvae.metrics import reconstruction_metrics
from studies.cdvae.render import render_pairs
from studies.common import plots
from tasks.orchestration.stage_runner import StageContext
from tasks.stages.cdvae.reconstruct import PREDICTIONS, from_table

CURVES = ("loss", "coord", "type", "composition", "lattice", "natom", "kld")


def evaluate(ctx: StageContext) -> None:
    p = ctx.params["evaluate"]
    predictions = pl.read_parquet(ctx.inputs["reconstruct"] / PREDICTIONS)
    truth = pl.read_parquet(ctx.inputs["prepared"] / "test.parquet").head(predictions.height)
    if truth["material_id"].to_list() != predictions["material_id"].to_list():
        raise ValueError(
            "predictions and the prepared test split list different crystals. Fix: rerun cdvae-reconstruct "
            "(`dvc repro cdvae-reconstruct`) so both come from the same prepare run."
        )
    preds, targets = from_table(predictions), from_table(truth)
    bar = tqdm(total=len(preds), desc="StructureMatcher", unit="pair", file=sys.stderr, mininterval=5)
    result = reconstruction_metrics(
        preds,
        targets,
        workers=p["workers"],
        progress=lambda done, total: bar.update(done - bar.n),
        stol=p["stol"],
        angle_tol=p["angle_tol"],
        ltol=p["ltol"],
    )
    bar.close()
    ids = predictions["material_id"].to_list()
    tables, figures, structures = ctx.outputs["tables"], ctx.outputs["figures"], ctx.outputs["structures"]
    for folder in (tables, figures, structures):
        folder.mkdir(parents=True, exist_ok=True)
    per_crystal = pl.DataFrame(
        {
            "material_id": ids,
            "valid": result.valid,
            "rms": result.rms,
            "true_formula": [build_structure(t).composition.reduced_formula for t in targets],
            "predicted_formula": [
                s.composition.reduced_formula if (s := build_structure(c)) else None for c in preds
            ],
            "num_atoms_correct": [len(c.atom_types) == len(t.atom_types) for c, t in zip(preds, targets)],
            "composition_correct": [
                sorted(c.atom_types.tolist()) == sorted(t.atom_types.tolist()) for c, t in zip(preds, targets)
            ],
            "length_abs_error": [float(np.abs(c.lengths - t.lengths).mean()) for c, t in zip(preds, targets)],
            "angle_abs_error": [float(np.abs(c.angles - t.angles).mean()) for c, t in zip(preds, targets)],
        },
        schema_overrides={"rms": pl.Float64},
    )
    per_crystal.write_parquet(tables / "reconstruction.parquet")
    metrics = {
        "match_rate": result.match_rate,
        "rmse": None if np.isnan(result.rmse) else result.rmse,
        "n_test": result.n,
        "valid_rate": result.n_valid / result.n,
        "composition_accuracy": float(per_crystal["composition_correct"].mean()),
        "num_atoms_accuracy": float(per_crystal["num_atoms_correct"].mean()),
        "length_mae": float(per_crystal["length_abs_error"].mean()),
        "angle_mae": float(per_crystal["angle_abs_error"].mean()),
    }
    ctx.outputs["metrics"].write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    mlflow.log_metrics({k: v for k, v in metrics.items() if v is not None})
    print("reconstruction: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if v is not None))

    pairs = {f"{i}-true": build_structure(t) for i, t in zip(ids, targets)}
    pairs |= {f"{i}-reconstructed": build_structure(c) for i, c in zip(ids, preds)}
    write_cifs(pairs, structures)
    mlflow.log_artifacts(str(structures), "structures")
    _figures(ctx, ids, preds, targets, result.rms, p["n_render"])
    mlflow.log_artifacts(str(figures), "figures")
    mlflow.log_artifacts(str(tables), "tables")


def _figures(ctx: StageContext, ids, preds, targets, rms, n_render: int) -> None:
    """Ground truth beside reconstruction for matched and unmatched examples, and the training curves."""
    figures = ctx.outputs["figures"]
    matched = [k for k, r in enumerate(rms) if r is not None][: (n_render + 1) // 2]
    missed = [k for k, r in enumerate(rms) if r is None][: n_render - len(matched)]
    picks = sorted(matched + missed)
    render_pairs(
        [
            (
                f"{ids[k]} ({f'match, RMS {rms[k]:.3f}' if rms[k] is not None else 'no match'})",
                build_structure(targets[k]),
                build_structure(preds[k]),
            )
            for k in picks
        ],
        figures / "reconstructions.png",
    )
    history = pl.read_parquet(ctx.inputs["train"] / "history.parquet")
    epochs = history["epoch"].to_list()
    for term in CURVES:
        if f"train_{term}" in history.columns:
            plots.curves(
                {split: (epochs, history[f"{split}_{term}"].to_list()) for split in ("train", "val")},
                figures / f"loss-{term}.png",
                f"CDVAE {term} loss per epoch",
                term,
            )
