"""One Prefect flow per study, built from the study's stages in dvc.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient
from prefect import Task, flow
from prefect.runtime import flow_run

from flows import dag
from tasks.orchestration import caching, dispatch
from tasks.orchestration.prefect_tasks import (
    dispatch_stage,
    publish_summary,
    register_champions,
    reproduce_stage,
)
from tasks.platform import params, tracking
from tasks.platform.paths import confine
from tasks.platform.project import Project, find_root


def run_study(root: Path, study: str, profile: str) -> dict[str, Any]:
    """Reproduce the study's stages in DAG order under one MLflow parent run; returns the summary. A tracking server
    that went away mid-run ends it with TrackingUnavailable, which names the server and the fix."""
    project = Project(root)
    # dvc.yaml's stages read the active profile from params.yaml: a scheduled or deployed run must set it as
    # `studies run` does, or it would reproduce whichever profile the workspace last ran.
    for change in params.apply(project.params_file, profile, {}):
        print(f"params.yaml: {change}")
    tracking.configure(project)
    try:
        return _tracked_study(project, study, profile, str(flow_run.get_id()))
    except Exception as exc:
        if reason := tracking.unreachable(project.mlflow_uri):
            raise tracking.TrackingUnavailable(f"{study} stopped: {reason}") from exc
        raise


def _tracked_study(project: Project, study: str, profile: str, flow_run_id: str) -> dict[str, Any]:
    root, client = project.root, MlflowClient()
    experiment = tracking.experiment_id(project, study)
    close_abandoned_parents(client, experiment)
    tags = tracking.run_tags(project, study, profile, stage=None) | {"prefect.flow_run_id": flow_run_id}
    run_id = client.create_run(experiment, tags=tags, run_name=f"{study} pipeline ({profile})").info.run_id
    try:
        stages = dag.stages(root, study)
        results = [run_stage(root, s, run_id, flow_run_id) for s in stages]
        metrics = [m for s in stages for m in s.metrics]
        markdown = publish_summary(root, study, profile, run_id, results, metrics)
        champions = {s.name: s.champion for s in stages if s.champion}
        registered = register_champions(root, study, run_id, results, champions, metrics) if champions else []
    except BaseException:
        if not tracking.unreachable(
            project.mlflow_uri
        ):  # else the next run closes it (close_abandoned_parents)
            client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return {
        "study": study,
        "mlflow_run_id": run_id,
        "stages": results,
        "summary": markdown,
        "registered": registered,
    }


def close_abandoned_parents(client: MlflowClient, experiment: str) -> None:
    """Mark FAILED the study runs still RUNNING whose Prefect flow run has ended: their flow could not close them
    (the tracking server was down when it failed, or the process was killed). Runs of live flows are left alone."""
    running = [
        r
        for r in client.search_runs([experiment], "attributes.status = 'RUNNING'")
        if "stage" not in r.data.tags and r.data.tags.get("prefect.flow_run_id", "none") != "none"
    ]
    for run in running:
        if ended := tracking.ended_flow_run_state(run.data.tags["prefect.flow_run_id"]):
            client.set_tag(run.info.run_id, "studies.closed_because", f"its Prefect flow run ended {ended}")
            client.set_terminated(run.info.run_id, "FAILED")


def run_stage(root: Path, stage: dag.StageInfo, parent_run_id: str, flow_run_id: str) -> dict[str, Any]:
    """One stage as a cached Prefect task. The cache entry is refreshed instead of read when DVC says the stage
    is not up to date (tasks/orchestration/caching.py); a hit is reported as `cached`."""
    task, extra = stage_task(stage, refresh=caching.needs_refresh(root, stage.name))
    state = task(root, stage.name, parent_run_id, flow_run_id, **extra, return_state=True)
    result = state.result()
    if state.name == "Cached":
        return {**result, "verdict": "cached", "seconds": 0.0}
    return result


def stage_task(stage: dag.StageInfo, refresh: bool = False) -> tuple[Task, dict[str, str]]:
    """On a worker of the stage's pool when that pool is configured (tasks/orchestration/dispatch.py), in this process otherwise,
    still tagged with its resource so a `gpu` concurrency limit covers it here too."""
    if stage.resources and stage.resources in dispatch.configured_pools():
        return dispatch_stage.with_options(refresh_cache=refresh), {"pool": stage.resources}
    return reproduce_stage.with_options(
        refresh_cache=refresh, tags={stage.resources} if stage.resources else set()
    ), {}


def make_study_flow(study: str):
    @flow(name=study, flow_run_name=f"{study}-{{profile}}", log_prints=True)
    def study_flow(root: str, profile: str) -> dict[str, Any]:
        return run_study(confine(root, find_root(), "root"), study, profile)

    return study_flow
