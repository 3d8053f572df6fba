"""cdvae-evaluate-generation (and `studies evaluate-cifs`): Table 2 for CDVAE's samples and a random baseline.

Both sets are scored against the same reference (the test crystals, as upstream) with the
same property model, so the baseline row shows what the decoder adds over random positions.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import polars as pl
from tqdm import tqdm

from studies.cdvae.baseline import random_crystals
from studies.cdvae.crystal import CrystalArrays, build_structure
from studies.cdvae.generation_metrics import (
    Assessment,
    assess_all,
    generation_metrics,
    property_sample,
)
from studies.cdvae.metric_settings import CompositionScale
from studies.cdvae.property_model import PropertyModel, crystal_set
from studies.cdvae.render import render_grid
from studies.common import plots
from tasks.orchestration.stage_runner import StageContext
from tasks.stages.cdvae import modelio
from tasks.stages.cdvae.dataset_settings import fill, generation_defaults
from tasks.stages.cdvae.generate import SAMPLES
from tasks.stages.cdvae.reconstruct import from_table


@dataclass
class Scored:
    metrics: dict
    assessments: list[Assessment]
    sample: np.ndarray  # indices of the valid crystals drawn for the property statistics
    prop: np.ndarray | None  # the property model's predictions for them


def _assess(crystals: Sequence[CrystalArrays | None], workers: int, label: str) -> list[Assessment]:
    bar = tqdm(
        total=len(crystals), desc=f"fingerprints ({label})", unit="crystal", file=sys.stderr, mininterval=5
    )
    out = assess_all(crystals, workers, lambda done, total: bar.update(done - bar.n))
    bar.close()
    return out


def _predict(model: PropertyModel | None, crystals: Sequence[CrystalArrays]) -> np.ndarray | None:
    return None if model is None or not crystals else model.predict(crystal_set(crystals))


@dataclass
class Reference:
    crystals: list[CrystalArrays]
    assessments: list[Assessment]
    prop: np.ndarray | None

    @classmethod
    def build(cls, crystals: list[CrystalArrays], model: PropertyModel | None, workers: int) -> Reference:
        return cls(crystals, _assess(crystals, workers, "reference"), _predict(model, crystals))


def score(
    crystals: Sequence[CrystalArrays | None],
    reference: Reference,
    cutoffs: tuple[float, float],
    scale: CompositionScale,
    model: PropertyModel | None,
    n_property_samples: int,
    seed: int,
    workers: int,
    label: str,
) -> Scored:
    """Every Table 2 metric of one set of crystals against the reference (None: a crystal that could not be
    built, invalid on every count)."""
    assessments = _assess(crystals, workers, label)
    sample = property_sample(assessments, n_property_samples, seed)
    prop = _predict(model, [crystals[i] for i in sample])
    metrics = generation_metrics(
        assessments, reference.assessments, cutoffs, sample, prop, reference.prop, scale
    )
    return Scored(metrics, assessments, sample, prop)


def evaluate_generation(ctx: StageContext) -> None:
    prepared = ctx.inputs["prepared"]
    dataset = json.loads((prepared / "splits.json").read_text())["dataset"]
    p = fill(ctx.params["evaluate-generation"], generation_defaults(dataset))
    cutoffs = tuple(p["coverage_cutoffs"])
    samples = from_table(pl.read_parquet(ctx.inputs["generate"] / SAMPLES))
    training = from_table(pl.read_parquet(prepared / "train.parquet"))
    model = modelio.load_property_model(ctx.inputs["property_model"])
    reference = Reference.build(from_table(pl.read_parquet(prepared / "test.parquet")), model, p["workers"])
    scale = p["composition_scale"]
    args = (reference, cutoffs, scale, model, p["n_property_samples"], p["seed"], p["workers"])
    results = {
        "cdvae": score(samples, *args, label="cdvae"),
        "random_baseline": score(
            random_crystals(training, len(samples), p["seed"]), *args, label="random baseline"
        ),
    }
    metrics = {
        "dataset": dataset,
        "coverage_cutoffs": list(cutoffs),
        "composition_scale": scale,
        **{k: r.metrics for k, r in results.items()},
    }
    ctx.outputs["metrics"].write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    for name, r in results.items():
        mlflow.log_metrics({f"{name}/{k}": v for k, v in r.metrics.items() if isinstance(v, (int, float))})
        print(f"{name}: " + ", ".join(f"{k} {v:.4g}" for k, v in r.metrics.items() if isinstance(v, float)))
    tables, figures = ctx.outputs["tables"], ctx.outputs["figures"]
    tables.mkdir(parents=True, exist_ok=True)
    _table(samples, results["cdvae"]).write_parquet(tables / "generated.parquet")
    _figures(samples, results, reference, figures, p["n_render"])
    mlflow.log_artifacts(str(tables), "generation/tables")
    mlflow.log_artifacts(str(figures), "generation/figures")


def _table(crystals: list[CrystalArrays], scored: Scored) -> pl.DataFrame:
    picked = set(scored.sample.tolist())
    a = scored.assessments
    return pl.DataFrame(
        {
            "sample_id": [f"gen-{k:05d}" for k in range(len(crystals))],
            "formula": [
                s.composition.reduced_formula if (s := build_structure(c)) else None for c in crystals
            ],
            "struct_valid": [x.struct_valid for x in a],
            "comp_valid": [x.comp_valid for x in a],
            "valid": [x.valid for x in a],
            "density": [x.density for x in a],
            "n_elements": [x.n_elements for x in a],
            "in_property_sample": [k in picked for k in range(len(crystals))],
        }
    )


def _figures(
    samples: list[CrystalArrays],
    results: dict[str, Scored],
    reference: Reference,
    folder: Path,
    n_render: int,
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    cdvae = results["cdvae"]
    shown = [k for k in cdvae.sample.tolist()][:n_render]
    if shown:
        render_grid(
            [
                (
                    f"gen-{k:05d}: {build_structure(samples[k]).composition.reduced_formula}",
                    build_structure(samples[k]),
                )
                for k in shown
            ],
            folder / "generated.png",
        )
    ref = reference.assessments
    for name, field, label in (
        ("density", "density", "density (g/cm³)"),
        ("num-elements", "n_elements", "number of elements"),
    ):
        series = {"test crystals": [getattr(a, field) for a in ref]}
        series |= {k: [getattr(r.assessments[i], field) for i in r.sample] for k, r in results.items()}
        plots.histograms(
            series, folder / f"generation-{name}.png", f"{label}: valid samples vs test crystals", label
        )
    if reference.prop is not None:
        series = {
            "test crystals": reference.prop,
            **{k: r.prop for k, r in results.items() if r.prop is not None},
        }
        plots.histograms(
            series,
            folder / "generation-property.png",
            "predicted property: valid samples vs test crystals",
            "property",
        )
