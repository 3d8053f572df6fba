"""CDVAE's own commands: generate crystals from its trained model, score any folder of CIF files.

`studies cdvae ...` (flows/study_commands.py finds this module). The files they read are the pipeline's,
found where dvc.yaml puts them (`Project.stage_path`) for the profile asked for.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from tasks.platform.environment import current_project
from tasks.platform.errors import NotReady, UsageError, refused_input
from tasks.platform.paths import confine

app = typer.Typer(
    help=__doc__.split("\n")[0], no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
)

Profile = Annotated[
    str,
    typer.Option("--profile", "-p", help="Profile in params.yaml whose trained models and settings to use."),
]


@app.command()
def generate(
    n: Annotated[int, typer.Option("--n", help="How many crystals to generate.")] = 100,
    profile: Profile = "cpu",
    out: Annotated[
        Path | None,
        typer.Option(
            help="New folder for samples.parquet, structures/*.cif and timing.json; default: "
            "`generated/<time>` beside the cdvae-generate stage's output."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of z and of the Langevin noise.")] = 0,
    device: Annotated[
        str | None, typer.Option(help="cpu, cuda or auto; default: the profile's cdvae.generate.device.")
    ] = None,
    steps: Annotated[
        int | None,
        typer.Option(help="Langevin steps per noise level; default: the profile's (upstream: 100)."),
    ] = None,
) -> None:
    """Generate crystals from the profile's trained CDVAE by annealed Langevin dynamics (an MLflow run)."""
    project = current_project()
    out = confine(out, project.root, "--out") if out else None
    if n < 1:
        raise UsageError(f"--n {n}: nothing to generate.", fix="pass --n 1 or more.")
    from tasks.platform import params
    from tasks.stages.cdvae.model_files import WEIGHTS

    p = params.study_params(project.params_file, "cdvae", profile)["generate"]
    trained = project.stage_path("cdvae-train", "train", profile)
    if not (trained / WEIGHTS).exists():
        raise NotReady(
            f"no trained CDVAE in {trained}.",
            fix=f"train one first (`studies run cdvae --profile {profile}` or `dvc repro cdvae-train` with "
            f"profile {profile}).",
        )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = out or project.stage_path("cdvae-generate", "generate", profile).with_name("generated") / stamp
    if folder.exists() and any(folder.iterdir()):
        raise UsageError(
            f"{folder} already holds files, which generation would overwrite.", fix="pass a new --out folder."
        )
    # the checks above refuse bad input in ~1 s; torch and the model load only now
    from studies.cdvae.config import LangevinConfig
    from studies.common.devices import resolve_device
    from tasks.platform import tracking
    from tasks.stages.cdvae import modelio
    from tasks.stages.cdvae.generate import generate_to

    langevin = {**p["langevin"], **({"n_step_each": steps} if steps is not None else {})}
    with refused_input():
        torch_device = resolve_device(device or p["device"])
        cfg = LangevinConfig.from_dict(langevin)
    with tracking.stage_run(
        project, "cdvae", "generate-cli", profile, {"n": n, "seed": seed, "langevin": langevin}
    ):
        import mlflow

        timing = generate_to(modelio.load(trained, torch_device), n, cfg, seed, folder, str(torch_device))
        mlflow.set_tag("device", str(torch_device))
        mlflow.log_metrics(
            {
                "generate_seconds": timing["seconds"],
                "generate_crystals_per_second": timing["crystals_per_second"],
            }
        )
        mlflow.log_artifacts(str(folder), "generated")
    typer.echo(f"{n} crystals in {folder}")


@app.command("evaluate-cifs")
def evaluate_cifs(
    folder: Annotated[
        Path, typer.Argument(help="Folder of .cif files, one crystal each (e.g. another model's samples).")
    ],
    reference: Annotated[
        str,
        typer.Option(
            help="CDVAE-format dataset whose test split is the reference, e.g. perov_5 (must be ingested)."
        ),
    ],
    profile: Profile = "cpu",
    out: Annotated[
        Path | None, typer.Option(help="Also write the metrics as JSON here (a new file).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Processes for the fingerprints; 0: all cores.")] = 0,
    n_property_samples: Annotated[
        int, typer.Option(help="Valid crystals drawn for d_ρ, d_E, d_elem (upstream: 1000).")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of that draw.")] = 0,
    reference_limit: Annotated[
        int | None,
        typer.Option(help="Use only the first N reference crystals (a quick look; the paper uses all)."),
    ] = None,
    composition_scale: Annotated[
        str,
        typer.Option(
            help="Standardisation of the Magpie features behind COV: 'upstream' (the paper's fixed "
            "constants) or 'reference' (the reference set's own spread; not comparable with the paper)."
        ),
    ] = "upstream",
) -> None:
    """CDVAE's generation metrics (validity, COV-R/COV-P, d_ρ, d_E, d_elem) for any folder of CIF files.

    d_E uses the profile's property model when it was trained on the reference dataset.
    """
    project = current_project()
    folder = confine(folder, project.root, "FOLDER")
    out = confine(out, project.root, "--out") if out else None
    # Every refusal comes before the metrics' heavy imports (matminer, torch: ~15 s).
    from studies.cdvae.metric_settings import COMPOSITION_SCALES
    from tasks.data.crystal_sets import crystal_set
    from tasks.platform import params

    params.study_params(
        project.params_file, "cdvae", profile
    )  # an unknown profile fails here, naming the known
    cutoffs = crystal_set(reference).coverage_cutoffs  # and an unknown --reference, naming the known
    if out is not None and out.exists():
        raise UsageError(f"{out} exists.", fix="pass a new --out path (nothing is overwritten).")
    if composition_scale not in COMPOSITION_SCALES:
        raise UsageError(
            f"unknown --composition-scale '{composition_scale}'.",
            fix=f"use one of {', '.join(COMPOSITION_SCALES)}.",
        )
    from studies.cdvae.crystal import CrystalArrays, read_cifs

    with refused_input():
        cifs = read_cifs(folder)
    for name, why in cifs.unbuildable.items():
        typer.echo(f"{name}.cif: no crystal could be built from it, scored invalid ({why})", err=True)
    test = project.stage_path("cdvae-prepare", "data", profile) / reference / "test.parquet"
    if not test.exists():
        raise NotReady(
            f"no ingested test split for '{reference}' ({test}).",
            fix=f"`studies ingest --dataset {reference}`.",
        )
    import json

    import polars as pl

    from studies.cdvae.data import structures_from_table
    from tasks.stages.cdvae import modelio
    from tasks.stages.cdvae.evaluate_generation import Reference, score

    model_dir = project.stage_path("cdvae-train-property-model", "property_model", profile)
    summary = (
        json.loads((model_dir / "summary.json").read_text()) if (model_dir / "summary.json").exists() else {}
    )
    model = modelio.load_property_model(model_dir) if summary.get("dataset") == reference else None
    if model is None:
        typer.echo(
            f"d_E skipped: no property model trained on {reference} in {model_dir} "
            "(`dvc repro cdvae-train-property-model`)."
        )
    table = pl.read_parquet(test)
    table = table.head(reference_limit) if reference_limit else table
    ref = Reference.build(
        [CrystalArrays.from_structure(s) for s in structures_from_table(table)], model, workers
    )
    metrics = score(
        list(cifs.crystals.values()),
        ref,
        cutoffs,
        composition_scale,
        model,
        n_property_samples,
        seed,
        workers,
        folder.name,
    ).metrics
    metrics |= {"n_unbuildable": len(cifs.unbuildable)}
    for key, value in metrics.items():
        typer.echo(f"{key:>20}  {value if not isinstance(value, float) else f'{value:.4f}'}")
    if out is not None:
        out.write_text(
            json.dumps(
                {
                    "folder": str(folder),
                    "reference": reference,
                    "composition_scale": composition_scale,
                    "unbuildable": cifs.unbuildable,
                    **metrics,
                },
                indent=2,
            )
            + "\n"
        )
