"""The service side of `studies`: the Prefect server, scheduled runs, workers, result storage, the MLflow UI,
and where each endpoint comes from. flows/cli.py adds these commands to the one `studies` app."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from flows.cli_support import DISPATCH_HELP, dispatch_to, owning, require_prefect_server
from tasks.platform.environment import configure, current_project
from tasks.platform.errors import UsageError
from tasks.platform.project import Project

PANEL = "Service commands"
app = typer.Typer()

Host = Annotated[str, typer.Option(help="Interface to bind; keep 127.0.0.1 unless you mean to share it.")]


@app.command(rich_help_panel=PANEL)
def server(port: Annotated[int, typer.Option(help="Port.")] = 4200, host: Host = "127.0.0.1") -> None:
    """Start a Prefect server for this project (SQLite in .prefect/, no telemetry); export PREFECT_API_URL."""
    current_project()
    exe = Path(sys.executable).with_name("prefect")
    typer.echo(
        f"Prefect server on http://{host}:{port} (home {os.environ['PREFECT_HOME']}); "
        f"in other shells: export PREFECT_API_URL=http://{host}:{port}/api"
    )
    # Concurrency slots (the `gpu` limit) on disk, not in memory: a restarted server knows who holds them.
    os.environ.setdefault(
        "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE", "prefect.server.concurrency.lease_storage.filesystem"
    )
    os.execv(str(exe), [str(exe), "server", "start", "--host", host, "--port", str(port)])


@app.command(rich_help_panel=PANEL)
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
    dispatch: Annotated[list[str], typer.Option(help=DISPATCH_HELP)] = [],
) -> None:
    """Publish the `pipeline` deployment on a schedule (and one per study) and run them as they come due.

    Needs a Prefect server (`studies server`, then PREFECT_API_URL). Unchanged steps are skipped, so a
    scheduled run over unchanged data, params and code costs seconds.
    """
    project = current_project()
    dispatch_to(project, dispatch)
    from tasks.platform.paths import SERVED_ENV

    os.environ[SERVED_ENV] = "1"  # flow parameters come from whoever reaches the server: confine their paths
    require_prefect_server("serving scheduled runs")
    from flows import deploy
    from tasks.platform import params

    doc = params.load(project.params_file)
    schedule = deploy.schedule_from(doc, cron, interval)
    params.resolve(doc, profile)
    with owning(project, "serve"):
        deploy.serve_forever(project.root, profile, schedule, study or None)


@app.command(rich_help_panel=PANEL)
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
    project = current_project()
    require_prefect_server("a worker")
    if slots is not None and slots < 1:
        raise UsageError(
            f"--slots {slots}: a worker takes at least one step at a time.",
            fix="pass --slots 1 or more, or leave it out (one per visible GPU).",
        )
    if not (
        os.environ.get("PREFECT_LOCAL_STORAGE_PATH")
        or os.environ.get("PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK")
    ):
        typer.secho(
            "warning: no shared result storage, so results go to this checkout's .prefect/storage and the "
            "flow must read the same folder or it waits forever. On other hosts: `studies result-storage "
            "s3://...` once, then prefect.result_storage_block in studies.toml.",
            fg="yellow",
            err=True,
        )
    from tasks.orchestration.dispatch import serve_pool

    with owning(project, "worker"):
        serve_pool(pool, name, slots)


@app.command("result-storage", rich_help_panel=PANEL)
def result_storage(
    url: Annotated[
        str,
        typer.Argument(
            help="Where Prefect keeps task results for flows and workers on other hosts, e.g. "
            "s3://bucket/prefect-results."
        ),
    ],
    name: Annotated[str, typer.Option(help="Block name.")] = "studies-results",
    endpoint_url: Annotated[
        str | None,
        typer.Option(help="S3-compatible endpoint (MinIO, Ceph); default $AWS_ENDPOINT_URL_S3 / AWS."),
    ] = None,
) -> None:
    """Create the Prefect storage block that flows and `studies worker`s on other hosts share.

    Credentials are not stored in the block: each host reads its own (AWS_ACCESS_KEY_ID /
    AWS_SECRET_ACCESS_KEY, ~/.aws). Then set `prefect.result_storage_block = "remote-file-system/NAME"` in
    studies.toml on every host.
    """
    current_project()
    require_prefect_server("a storage block (it lives on the server the hosts share)")
    if "://" not in url or url.startswith("file://"):
        raise UsageError(
            f"{url}: not object storage every host can reach.", fix="give e.g. s3://bucket/prefect-results."
        )
    from prefect.filesystems import RemoteFileSystem

    settings = {"client_kwargs": {"endpoint_url": endpoint_url}} if endpoint_url else {}
    RemoteFileSystem(basepath=url, settings=settings).save(name, overwrite=True)
    typer.echo(
        f"block remote-file-system/{name} → {url}; on every host, in studies.toml:\n"
        f'[prefect]\nresult_storage_block = "remote-file-system/{name}"'
    )


@app.command(rich_help_panel=PANEL)
def ui(host: Host = "127.0.0.1", port: Annotated[int, typer.Option(help="Port.")] = 5000) -> None:
    """Serve the MLflow UI on the project's tracking store (open http://HOST:PORT)."""
    project = current_project()
    exe = Path(sys.executable).with_name("mlflow")
    from tasks.platform.redact import redact_url

    typer.echo(f"MLflow UI on http://{host}:{port} (store {redact_url(project.mlflow_uri)}); Ctrl-C to stop")
    # MLflow 3 starts six job-runner (huey) processes beside the UI's web worker, ~5 s of CPU each at start,
    # for jobs (GenAI evaluation, trace roll-ups) the project never submits. Set it to true to have them.
    os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
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


@app.command(rich_help_panel=PANEL)
def config() -> None:
    """Show where each endpoint comes from: the environment, studies.toml ($STUDIES_CONFIG) or the default."""
    from tasks.platform import settings
    from tasks.platform.redact import redact_url

    project = Project.here()
    before = dict(os.environ)  # read before the file and the defaults are applied, to tell the sources apart
    path = settings.config_file(project.root)
    from_file = settings.read(path) if path else {}
    configure(project)
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
        value = redact_url(os.environ.get(var, "-"))
        typer.echo(f"{section + '.' + key:<29} {var:<38} {value:<40} {source:<12} {what}")
    typer.echo(f"{'(embedded Prefect)':<29} {'PREFECT_HOME':<38} {os.environ['PREFECT_HOME']}")
