"""`studies`: the one command line of subspace-studies.

Heavy imports (Prefect, MLflow, torch) happen inside the commands, after the
embedded-default environment is set, so `studies --help` is instant.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from tasks.platform.project import Project

app = typer.Typer(
    help="Run the subspace-studies pipeline (MLC; CDVAE and SSVI as they land): data in with DVC, "
    "steps as Prefect flows, every run tracked in MLflow, reports in reports/.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _project() -> Project:
    from flows.environment import configure
    from tasks.platform.settings import SettingsError

    try:
        project = Project.here()
        configure(project)
    except (FileNotFoundError, SettingsError) as exc:
        _fail(str(exc))
    return project


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(2)


def _pairs(values: list[str], flag: str) -> dict[str, Path]:
    out = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep:
            _fail(f"{flag} {value}: expected name=path")
        out[name] = Path(path)
    return out


@contextmanager
def _owning(project: Project, command: str) -> Iterator[None]:
    """Hold the checkout (tasks/platform/checkout_lock.py) and a slot of a SQLite MLflow store (tasks/platform/sqlite_slots.py) for
    this command, or refuse up front naming what is busy."""
    from tasks.platform.checkout_lock import CheckoutBusy, own_checkout
    from tasks.platform.sqlite_slots import SqliteBusy, sqlite_slot

    try:
        with own_checkout(project.root, command), sqlite_slot(project.mlflow_uri):
            yield
    except (CheckoutBusy, SqliteBusy) as exc:
        _fail(str(exc))


def _allowed(project: Project, path: Path | None, what: str) -> Path | None:
    """A path option, refused when served and outside the allowed folders (tasks/platform/paths.py)."""
    from tasks.platform.paths import PathNotAllowed, confine

    if path is None:
        return None
    try:
        return confine(path, project.root, what)
    except PathNotAllowed as exc:
        _fail(str(exc))


def _dispatch(project: Project, pools: list[str]) -> None:
    """`--dispatch gpu`: checked against the resources dvc.yaml names, then handed to the flows through the environment."""
    if not pools:
        return
    from flows import dag

    known = {s.resources for s in dag.stages(project.root) if s.resources}
    if unknown := sorted(set(pools) - known):
        _fail(
            f"--dispatch {', '.join(unknown)}: no stage has that resource; dvc.yaml's are: {', '.join(sorted(known))}."
        )
    if not os.environ.get("PREFECT_API_URL"):
        _fail(
            "--dispatch needs a Prefect server that the workers share: start `studies server` and export "
            "PREFECT_API_URL=http://127.0.0.1:4200/api, then `studies worker --pool POOL` in another checkout."
        )
    os.environ["STUDIES_DISPATCH"] = ",".join(pools)


@app.command()
def ingest(
    mirror: Annotated[
        Path | None,
        typer.Option(
            help="Folder with CDVAE-format datasets (cdvae/<name>/<split>.csv); default $STUDIES_DATA_MIRROR or ../shared/datasets."
        ),
    ] = None,
    dataset: Annotated[list[str], typer.Option(help="CDVAE-format dataset to bring in (repeatable).")] = [
        "perov_5"
    ],
    online: Annotated[
        bool, typer.Option(help="Download splits missing from the mirror from the CDVAE repository.")
    ] = False,
    allow_unpinned: Annotated[
        bool, typer.Option(help="Accept files without a pinned sha256 (their observed hash is recorded).")
    ] = False,
    push: Annotated[bool, typer.Option(help="Push data to the DVC remote afterwards.")] = True,
) -> None:
    """Bring every dataset into data/, checksummed, recorded in data.dvc and pushed to the DVC remote."""
    project = _project()
    mirror = _allowed(project, mirror, "--mirror")
    from tasks.data.ingest import IngestError
    from tasks.data.ingest import ingest as run_ingest
    from tasks.platform.versioning import DvcError

    try:
        summary = run_ingest(
            project.root,
            mirror=mirror,
            datasets=tuple(dataset),
            online=online,
            allow_unpinned=allow_unpinned,
            push=push,
            progress=typer.echo,
        )
    except (IngestError, DvcError) as exc:
        _fail(str(exc))
    typer.echo(f"data.dvc → {summary.get('data_hash', '?')}")


@app.command()
def run(
    study: Annotated[str | None, typer.Argument(help="One study (e.g. mlc); default: all of them.")] = None,
    profile: Annotated[
        str,
        typer.Option(
            "--profile", "-p", help="Named profile in params.yaml: ci (seconds), cpu (minutes), paper (GPU)."
        ),
    ] = "cpu",
    set_: Annotated[
        list[str],
        typer.Option(
            "--set",
            "-s",
            help="Override a param of the profile, e.g. -s mlc.train.seeds=[0]. Written to params.yaml, as `dvc exp run -S` does.",
        ),
    ] = [],
    push: Annotated[bool, typer.Option(help="Push data and outputs to the DVC remote at the end.")] = True,
    dispatch: Annotated[
        list[str],
        typer.Option(
            help="Send steps of this resource (dvc.yaml meta.resources, e.g. gpu) to `studies worker --pool` workers (repeatable); default $STUDIES_DISPATCH, else in-process."
        ),
    ] = [],
) -> None:
    """Run the pipeline flow (ingest → prepare → train → evaluate → report) on a profile.

    Steps whose inputs, params and code are unchanged are skipped by DVC; the
    run, its metrics and artifacts land in MLflow (`studies ui`), the report in reports/.
    """
    project = _project()
    _dispatch(project, dispatch)
    from tasks.platform import params

    with _owning(project, "run"):
        try:
            changes = params.apply(project.params_file, profile, params.parse_overrides(set_))
        except params.ParamsError as exc:
            _fail(str(exc))
        for change in changes:
            typer.echo(f"params.yaml: {change}")
        from flows.pipeline import pipeline
        from tasks.data.ingest import IngestError
        from tasks.platform.versioning import DvcError

        try:
            summaries = pipeline(
                root=str(project.root), profile=profile, studies=[study] if study else None, push=push
            )
        except (IngestError, DvcError, ValueError) as exc:
            _fail(f"the pipeline stopped: {exc}")
    for summary in summaries:
        typer.echo(summary["summary"])


@app.command(hidden=False)
def stage(
    study: Annotated[str, typer.Argument(help="Study name, e.g. mlc.")],
    step: Annotated[str, typer.Argument(help="Step name, e.g. train.")],
    profile: Annotated[str, typer.Option(help="Profile whose params to use.")],
    inputs: Annotated[list[str], typer.Option("-i", help="name=path of an input (from dvc.yaml).")] = [],
    outputs: Annotated[list[str], typer.Option("-o", help="name=path of an output (from dvc.yaml).")] = [],
) -> None:
    """Run one stage's body. dvc.yaml calls this; you normally run `dvc repro` or `studies run` instead."""
    project = _project()
    from tasks.orchestration.stage_runner import run_stage_body

    run_stage_body(
        project,
        study,
        step,
        profile,
        {k: project.root / v for k, v in _pairs(inputs, "-i").items()},
        {k: project.root / v for k, v in _pairs(outputs, "-o").items()},
    )


@app.command()
def report(study: Annotated[str | None, typer.Argument(help="One study; default: all.")] = None) -> None:
    """Rebuild reports/<study>.md from the current results (`dvc repro <study>-report`)."""
    project = _project()
    from flows import dag
    from tasks.platform.versioning import DvcError, run_dvc

    names = [study] if study else dag.studies(project.root)
    try:
        run_dvc(project.root, "repro", *(f"{n}-report" for n in names), stream=True)
    except DvcError as exc:
        _fail(str(exc))


@app.command()
def generate(
    n: Annotated[int, typer.Option("--n", help="How many crystals to generate.")] = 100,
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            "-p",
            help="Profile whose trained CDVAE (results/<profile>/cdvae/train) and Langevin settings to use.",
        ),
    ] = "cpu",
    out: Annotated[
        Path | None,
        typer.Option(
            help="New folder for samples.parquet, structures/*.cif and timing.json; default results/<profile>/cdvae/generated/<time>."
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
    """Generate crystals from a trained CDVAE by annealed Langevin dynamics (logged as an MLflow run)."""
    project = _project()
    out = _allowed(project, out, "--out")
    import time as _time

    from studies.cdvae.config import LangevinConfig
    from studies.common.devices import resolve_device
    from tasks.platform import params as params_mod
    from tasks.platform import tracking
    from tasks.stages.cdvae import modelio
    from tasks.stages.cdvae.generate import generate_to

    trained = project.root / "results" / profile / "cdvae" / "train"
    if not (trained / modelio.WEIGHTS).exists():
        _fail(
            f"no trained CDVAE in {trained}. Fix: train one first (`studies run cdvae --profile {profile}` "
            f"or `dvc repro cdvae-train` with profile {profile})."
        )
    folder = out or project.root / "results" / profile / "cdvae" / "generated" / _time.strftime(
        "%Y%m%d-%H%M%S"
    )
    if folder.exists() and any(folder.iterdir()):
        _fail(
            f"{folder} already holds files, which generation would overwrite. Fix: pass a new --out folder."
        )
    p = params_mod.study_params(project.params_file, "cdvae", profile)["generate"]
    langevin = {**p["langevin"], **({"n_step_each": steps} if steps is not None else {})}
    try:
        torch_device = resolve_device(device or p["device"])
        cfg = LangevinConfig.from_dict(langevin)
    except ValueError as exc:
        _fail(str(exc))
    if n < 1:
        _fail(f"--n {n}: generate at least one crystal.")
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
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            "-p",
            help="Profile whose property model (results/<profile>/cdvae/property-model) scores d_E.",
        ),
    ] = "cpu",
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
) -> None:
    """CDVAE's generation metrics (validity, COV-R/COV-P, d_ρ, d_E, d_elem) for any folder of CIF files."""
    project = _project()
    folder, out = _allowed(project, folder, "FOLDER"), _allowed(project, out, "--out")
    import json

    import polars as pl

    from studies.cdvae.crystal import CrystalArrays, read_cifs
    from studies.cdvae.data import structures_from_table
    from studies.cdvae.generation_metrics import coverage_cutoffs
    from tasks.stages.cdvae import modelio
    from tasks.stages.cdvae.evaluate_generation import Reference, score

    if out is not None and out.exists():
        _fail(f"{out} exists. Fix: pass a new --out path (nothing is overwritten).")
    try:
        crystals = read_cifs(folder)
    except ValueError as exc:
        _fail(str(exc))
    test = project.root / "data" / "cdvae" / reference / "test.parquet"
    if not test.exists():
        _fail(
            f"no ingested test split for '{reference}' ({test}). Fix: `studies ingest --dataset {reference}`."
        )
    try:
        cutoffs = coverage_cutoffs(reference)
    except ValueError as exc:
        _fail(str(exc))
    model_dir = project.root / "results" / profile / "cdvae" / "property-model"
    summary = (
        json.loads((model_dir / "summary.json").read_text()) if (model_dir / "summary.json").exists() else {}
    )
    model = modelio.load_property_model(model_dir) if summary.get("dataset") == reference else None
    if model is None:
        typer.echo(
            f"d_E skipped: no property model trained on {reference} in {model_dir} (`dvc repro cdvae-train-property-model`)."
        )
    table = pl.read_parquet(test)
    table = table.head(reference_limit) if reference_limit else table
    ref = Reference.build(
        [CrystalArrays.from_structure(s) for s in structures_from_table(table)], model, workers
    )
    metrics = score(
        list(crystals.values()), ref, cutoffs, model, n_property_samples, seed, workers, folder.name
    ).metrics
    for key, value in metrics.items():
        typer.echo(f"{key:>20}  {value if not isinstance(value, float) else f'{value:.4f}'}")
    if out is not None:
        out.write_text(
            json.dumps({"folder": str(folder), "reference": reference, **metrics}, indent=2) + "\n"
        )


@app.command()
def server(
    port: Annotated[int, typer.Option(help="Port.")] = 4200,
    host: Annotated[
        str, typer.Option(help="Interface to bind; keep 127.0.0.1 unless you mean to share it.")
    ] = "127.0.0.1",
) -> None:
    """Start a Prefect server for this project (SQLite in .prefect/, telemetry off); then export PREFECT_API_URL."""
    _project()
    exe = Path(sys.executable).with_name("prefect")
    typer.echo(
        f"Prefect server on http://{host}:{port} (home {os.environ['PREFECT_HOME']}); "
        f"in other shells: export PREFECT_API_URL=http://{host}:{port}/api"
    )
    # Concurrency slots (the `gpu` limit) on disk, not in memory: a restarted server still knows who holds them.
    os.environ.setdefault(
        "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE", "prefect.server.concurrency.lease_storage.filesystem"
    )
    os.execv(str(exe), [str(exe), "server", "start", "--host", host, "--port", str(port)])


@app.command()
def serve(
    profile: Annotated[str, typer.Option("--profile", "-p", help="Profile the scheduled runs use.")] = "cpu",
    cron: Annotated[
        str | None, typer.Option(help="Cron schedule; default params.yaml `schedule.cron`.")
    ] = None,
    interval: Annotated[
        float | None, typer.Option(help="Run every N seconds instead of a cron schedule.")
    ] = None,
    study: Annotated[
        list[str],
        typer.Option(help="Only these studies in the scheduled pipeline (repeatable); default all."),
    ] = [],
    dispatch: Annotated[
        list[str],
        typer.Option(
            help="Send steps of this resource (dvc.yaml meta.resources, e.g. gpu) to `studies worker --pool` workers (repeatable); default $STUDIES_DISPATCH, else in-process."
        ),
    ] = [],
) -> None:
    """Publish the `pipeline` deployment on a schedule (and one deployment per study) and run them as they come due.

    Needs a Prefect server (`studies server`, then PREFECT_API_URL). Unchanged steps are skipped, so a
    scheduled run over unchanged data, params and code costs seconds.
    """
    project = _project()
    _dispatch(project, dispatch)
    from tasks.platform.paths import SERVED_ENV

    os.environ[SERVED_ENV] = "1"  # flow parameters come from whoever reaches the server: confine their paths
    if not os.environ.get("PREFECT_API_URL"):
        _fail(
            "serving needs a Prefect server: start one with `studies server` and export "
            "PREFECT_API_URL=http://127.0.0.1:4200/api (or point it at your team's server)."
        )
    from flows import deploy
    from tasks.platform import params

    try:
        schedule = deploy.schedule_from(params.load(project.params_file), cron, interval)
        params.resolve(params.load(project.params_file), profile)
        with _owning(project, "serve"):
            deploy.serve_forever(project.root, profile, schedule, study or None)
    except (ValueError, params.ParamsError) as exc:
        _fail(str(exc))


@app.command()
def worker(
    pool: Annotated[
        str, typer.Option(help="Which steps to take: dvc.yaml `meta.resources` (e.g. gpu).")
    ] = "gpu",
    name: Annotated[
        str | None, typer.Option(help="Worker name recorded in MLflow; default host-pid.")
    ] = None,
    slots: Annotated[
        int | None, typer.Option(help="Steps at a time; default one per visible GPU (at least 1).")
    ] = None,
) -> None:
    """Run the pool's steps (e.g. training, Langevin generation) for flows started with `--dispatch POOL`.

    Start it in its own checkout of the same commit, with the flow's PREFECT_API_URL, MLFLOW_TRACKING_URI,
    DVC remote and Prefect result storage (PREFECT_LOCAL_STORAGE_PATH or a storage block): inputs and outputs
    travel through the DVC remote, never through a shared folder.
    """
    project = _project()
    if not os.environ.get("PREFECT_API_URL"):
        _fail("a worker needs the flow's Prefect server: export PREFECT_API_URL=http://HOST:4200/api.")
    if slots is not None and slots < 1:
        _fail(f"--slots {slots}: must be at least 1.")
    if not (
        os.environ.get("PREFECT_LOCAL_STORAGE_PATH")
        or os.environ.get("PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK")
    ):
        typer.secho(
            "warning: no shared result storage, so results go to this checkout's .prefect/storage and the flow "
            "must read the same folder or it waits forever. On other hosts: `studies result-storage s3://...` "
            "once, then prefect.result_storage_block in studies.toml.",
            fg="yellow",
            err=True,
        )
    from tasks.orchestration.dispatch import serve_pool

    with _owning(project, "worker"):
        serve_pool(pool, name, slots)


@app.command("result-storage")
def result_storage(
    url: Annotated[
        str,
        typer.Argument(
            help="Where Prefect keeps task results for flows and workers on other hosts, e.g. s3://bucket/prefect-results."
        ),
    ],
    name: Annotated[str, typer.Option(help="Block name.")] = "studies-results",
    endpoint_url: Annotated[
        str | None,
        typer.Option(help="S3-compatible endpoint (MinIO, Ceph); default $AWS_ENDPOINT_URL_S3 / AWS."),
    ] = None,
) -> None:
    """Create the Prefect storage block that flows and `studies worker`s on other hosts share (no shared folder needed).

    Credentials are not stored in the block: each host reads its own (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
    ~/.aws). Then set `prefect.result_storage_block = "remote-file-system/NAME"` in studies.toml on every host.
    """
    _project()
    if not os.environ.get("PREFECT_API_URL"):
        _fail(
            "a storage block lives on the Prefect server the hosts share: export PREFECT_API_URL (or set prefect.api_url)."
        )
    if "://" not in url or url.startswith("file://"):
        _fail(f"{url}: give object storage every host can reach, e.g. s3://bucket/prefect-results.")
    from prefect.filesystems import RemoteFileSystem

    settings = {"client_kwargs": {"endpoint_url": endpoint_url}} if endpoint_url else {}
    RemoteFileSystem(basepath=url, settings=settings).save(name, overwrite=True)
    typer.echo(
        f"block remote-file-system/{name} → {url}; on every host, in studies.toml:\n"
        f'[prefect]\nresult_storage_block = "remote-file-system/{name}"'
    )


@app.command()
def ui(
    host: Annotated[
        str, typer.Option(help="Interface to bind; keep 127.0.0.1 unless you mean to share it.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 5000,
) -> None:
    """Serve the MLflow UI on the project's tracking store (open http://HOST:PORT)."""
    project = _project()
    exe = Path(sys.executable).with_name("mlflow")
    from tasks.platform.redact import redact_url

    typer.echo(f"MLflow UI on http://{host}:{port} (store {redact_url(project.mlflow_uri)}); Ctrl-C to stop")
    os.execv(
        str(exe),
        [
            str(exe),
            "server",
            "--backend-store-uri",
            project.mlflow_uri,
            "--default-artifact-root",
            project.mlflow_artifacts.as_uri(),
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            "1",
        ],
    )


@app.command()
def config() -> None:
    """Show where each endpoint comes from: the environment, studies.toml ($STUDIES_CONFIG) or the embedded default."""
    from tasks.platform import settings
    from tasks.platform.redact import redact_url

    project = Project.here()
    before = dict(os.environ)
    try:
        path = settings.config_file(project.root)
        from_file = settings.read(path) if path else {}
    except settings.SettingsError as exc:
        _fail(str(exc))
    _project()
    typer.echo(
        f"config file: {path or f'none ({settings.CONFIG_FILE} in {project.root} or ${settings.CONFIG_ENV})'}"
    )
    for (section, key), (variables, what) in settings.KEYS.items():
        var = variables[0]
        source = (
            "environment"
            if var in before
            else "studies.toml"
            if var in from_file
            else "default"
            if var in os.environ
            else "unset"
        )
        typer.echo(
            f"{section + '.' + key:<29} {var:<38} {redact_url(os.environ.get(var, '-')):<40} {source:<12} {what}"
        )
    typer.echo(f"{'(embedded Prefect)':<29} {'PREFECT_HOME':<38} {os.environ['PREFECT_HOME']}")


def main() -> None:
    app()
