"""Prefect tasks that drive DVC: bring data in, reproduce one stage, push outputs, summarise a study.

Stages run through `dvc repro --single-item`, so DVC decides what is up to date,
restores from its run-cache, and records dvc.lock exactly as a bare `dvc repro`
would; Prefect adds retries, logs, artifacts and the MLflow parent run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task

from tasks.orchestration.caching import cache_key
from tasks.orchestration.repro import repro, stage_env
from tasks.platform import tracking
from tasks.platform.project import Project
from tasks.platform.redact import redact_url
from tasks.platform.versioning import DvcError, dvc_pull, run_dvc

# Logged on each study run: every stage's verdict and seconds (the next run's plan reads it).
STAGES_ARTIFACT = "stages.json"


def _transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry network and DVC hiccups, not bad input: a failed checksum fails the same way twice."""
    from tasks.data.ingest import IngestError

    return not isinstance(state.result(raise_on_failure=False), IngestError)


@task(name="ensure-data", retries=2, retry_delay_seconds=5, retry_condition_fn=_transient)
def ensure_data(root: Path) -> str:
    """data/ must match data.dvc: pull it from the DVC remote, or ingest when nothing was ever recorded."""
    logger = get_run_logger()
    if not (root / "data.dvc").exists():
        from tasks.data.ingest import ingest

        logger.info("No data.dvc yet: ingesting the sources")
        ingest(root, progress=logger.info)
        return "ingested"
    status = json.loads(run_dvc(root, "status", "--json", "data.dvc") or "{}")
    if not status:
        return "up to date"
    logger.info("data/ differs from data.dvc (%s): pulling from the DVC remote", status)
    try:
        dvc_pull(root, ["data.dvc"])
        return "pulled"
    except DvcError:
        from tasks.data.ingest import ingest

        logger.info("The remote lacks it: re-ingesting from the pinned sources")
        ingest(root, progress=logger.info)
        return "ingested"


@task(name="reproduce-stage", task_run_name="{stage}", cache_key_fn=cache_key, persist_result=True)
def reproduce_stage(root: Path, stage: str, parent_run_id: str, flow_run_id: str) -> dict[str, Any]:
    """Reproduce the stage in this process; a Prefect cache hit (same inputs, params and code) skips even
    DVC."""
    return repro(root, stage, stage_env(root, stage, parent_run_id, flow_run_id))


@task(name="dispatch-stage", task_run_name="{stage} → {pool}", cache_key_fn=cache_key, persist_result=True)
def dispatch_stage(root: Path, stage: str, parent_run_id: str, flow_run_id: str, pool: str) -> dict[str, Any]:
    """Reproduce the stage on a worker of `pool` (tasks/orchestration/dispatch.py); same cache key as
    in-process."""
    from tasks.orchestration.dispatch import dispatch

    return dispatch(root, stage, pool, stage_env(root, stage, parent_run_id, flow_run_id))


@task(name="push-outputs", retries=2, retry_delay_seconds=5)
def push_outputs(root: Path, stages: list[str]) -> None:
    """Share data and stage outputs through the DVC remote (the only exchange between machines)."""
    run_dvc(root, "push", "data.dvc", *stages)


def read_metrics(root: Path, paths: list[str]) -> dict[str, float]:
    """Flatten the study's DVC metrics files into {"digits/mlc/acc_mean": 0.89, ...}."""
    flat: dict[str, float] = {}
    for rel in paths:
        data = json.loads((root / rel).read_text())
        flat.update(
            {k: float(v) for k, v in tracking.flatten(data, sep="/").items() if isinstance(v, (int, float))}
        )
    return flat


@task(name="publish-summary", retries=2, retry_delay_seconds=3)
def publish_summary(
    project_root: Path,
    study: str,
    profile: str,
    parent_run_id: str,
    results: list[dict[str, Any]],
    metric_files: list[str],
) -> str:
    """Log the study's metrics on its MLflow parent run and publish a Prefect markdown artifact."""
    import mlflow
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    metrics = read_metrics(project_root, metric_files)
    project = Project(project_root)
    tracking.configure(project)
    with mlflow.start_run(run_id=parent_run_id):
        mlflow.log_metrics(metrics)
        mlflow.log_dict({"stages": results}, STAGES_ARTIFACT)
    lines = [
        f"# {study} — profile `{profile}`",
        "",
        f"MLflow run `{parent_run_id}` in experiment `{study}` "
        f"({redact_url(project.mlflow_uri)}; `studies ui` to browse).",
        "",
        "| stage | verdict | seconds |",
        "|---|---|---|",
    ]
    lines += [f"| {r['stage']} | {r['verdict']} | {r['seconds']} |" for r in results]
    lines += ["", "| metric | value |", "|---|---|"] + [
        f"| {k} | {v:.4f} |" for k, v in sorted(metrics.items()) if not k.endswith(("_std", "n_seeds"))
    ]
    markdown = "\n".join(lines)
    create_markdown_artifact(
        markdown=markdown, key=f"{study}-summary", description=f"{study} pipeline summary"
    )
    link = run_link(project, study, parent_run_id)
    create_table_artifact(
        table=[
            {"metric": k, "value": round(v, 6), "mlflow_run": link}
            for k, v in sorted(metrics.items())
            if not k.endswith(("_std", "n_seeds"))
        ],
        key=f"{study}-metrics",
        description=f"{study} metrics ({profile}); MLflow run {parent_run_id}",
    )
    return markdown


def run_link(project: Project, study: str, run_id: str) -> str:
    """The run's page in the MLflow UI: the tracking server's own address, or `studies ui`'s default for the
    embedded store."""
    base = (
        redact_url(project.mlflow_uri) if project.mlflow_uri.startswith("http") else "http://127.0.0.1:5000"
    )
    return f"{base.rstrip('/')}/#/experiments/{tracking.experiment_id(project, study)}/runs/{run_id}"


@task(name="register-champions", retries=2, retry_delay_seconds=3)
def register_champions(
    project_root: Path,
    study: str,
    parent_run_id: str,
    results: list[dict[str, Any]],
    champions: dict[str, dict[str, Any]],
    metric_files: list[str],
) -> list[dict[str, Any]]:
    """For each stage that ran and declares `meta.champion`, register its model and move `champion` if it
    improved."""
    from mlflow.tracking import MlflowClient

    from tasks.platform.registry import ChampionSpec, register

    ran = {r["stage"] for r in results if r["verdict"] == "ran"}
    todo = {stage: spec for stage, spec in champions.items() if stage in ran}
    if not todo:
        return []
    project = Project(project_root)
    tracking.configure(project)
    client, metrics = MlflowClient(), read_metrics(project_root, metric_files)
    outcome = []
    for stage, spec in todo.items():
        step = stage.split("-", 1)[1]
        runs = client.search_runs(
            [tracking.experiment_id(project, study)],
            f"tags.mlflow.parentRunId = '{parent_run_id}' and tags.stage = '{step}'",
        )
        outcome.append(register(client, ChampionSpec(**spec), runs[0].info.run_id, metrics))
        get_run_logger().info("registry: %s", outcome[-1])
    return outcome
