"""One Prefect flow per study, built from the study's stages in dvc.yaml."""

from __future__ import annotations

import functools
import json
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient
from prefect import Task, flow
from prefect.runtime import flow_run

from flows import dag, progress
from tasks.orchestration import caching, dispatch
from tasks.orchestration.prefect_tasks import (
    STAGES_ARTIFACT,
    dispatch_stage,
    publish_summary,
    register_champions,
    reproduce_stage,
    run_link,
)
from tasks.platform import params, tracking
from tasks.platform.paths import confine
from tasks.platform.project import Project, find_root

# The progress of the pipeline run a study is part of (flows/pipeline.py sets it); unset when it runs alone.
RUN_PROGRESS: ContextVar[progress.Progress | None] = ContextVar("studies_run_progress", default=None)


def run_study(root: Path, study: str, profile: str) -> dict[str, Any]:
    """Reproduce the study's stages in DAG order under one MLflow parent run; returns the summary. A tracking
    server that went away mid-run ends it with TrackingUnavailable, which names the server and the fix. Says
    where it is: a line per stage, and (unless a pipeline run does it) the plan first and the reports last."""
    project = Project(root)
    use_profile(project, profile)
    tracking.configure(project)
    outer = RUN_PROGRESS.get()
    with tracking_errors(project, study):
        tracker = outer or start_progress(project, dag.stages(root, study), profile)
        summary = _tracked_study(project, study, profile, str(flow_run.get_id()), tracker)
    if outer is None:
        print(end_report(project, tracker, [summary]))
    return summary


def use_profile(project: Project, profile: str) -> None:
    """dvc.yaml's stages read the active profile from params.yaml: a scheduled or deployed run must set it as
    `studies run` does, or it would reproduce (and plan) whichever profile the workspace last ran."""
    for change in params.apply(project.params_file, profile, {}):
        print(f"params.yaml: {change}")


@contextmanager
def tracking_errors(project: Project, what: str) -> Iterator[None]:
    """A failure while the tracking server is gone becomes TrackingUnavailable naming the server and the fix,
    instead of MLflow's retry traceback."""
    try:
        yield
    except Exception as exc:
        if reason := tracking.unreachable(project.mlflow_uri):
            raise tracking.TrackingUnavailable(f"{what} stopped: {reason}") from exc
        raise


def start_progress(project: Project, stages: Sequence[dag.StageInfo], profile: str) -> progress.Progress:
    """Print the plan of a run over `stages` (DVC's verdict on each, their last timings in MLflow) and start
    its clock."""
    started = time.monotonic()
    changed = {s.name: caching.needs_refresh(project.root, s.name) for s in stages}
    tracking.configure(project)
    planned = progress.plan(stages, changed, last_durations(MlflowClient(), stages, profile))
    print("\n".join(progress.plan_lines(planned, profile)))
    return progress.Progress(planned, started)


def last_durations(client: MlflowClient, stages: Sequence[dag.StageInfo], profile: str) -> dict[str, float]:
    """{stage: seconds} of each stage's last FINISHED MLflow run on `profile`; stages never run there are left
    out. The figure is the one the flow printed for that run (`dvc repro` and the step's start-up included),
    from its study run's stages.json; a run without one (a bare `dvc repro`) counts from its start to end."""
    found: dict[str, float] = {}
    flow_seconds = functools.cache(lambda run_id: _flow_seconds(client, run_id))
    for study in dict.fromkeys(s.study for s in stages):
        experiment = client.get_experiment_by_name(study)
        if experiment is None:
            continue
        for stage in (s for s in stages if s.study == study):
            runs = client.search_runs(
                [experiment.experiment_id],
                f"tags.stage = '{stage.step}' and tags.profile = '{profile}' "
                "and attributes.status = 'FINISHED'",
                order_by=["attributes.start_time DESC"],
                max_results=1,
            )
            if not runs or not runs[0].info.end_time:
                continue
            info, parent = runs[0].info, runs[0].data.tags.get("mlflow.parentRunId")
            measured = flow_seconds(parent).get(stage.name) if parent else None
            found[stage.name] = measured if measured is not None else (info.end_time - info.start_time) / 1000
    return found


def _flow_seconds(client: MlflowClient, study_run_id: str) -> dict[str, float]:
    """{stage: seconds} of the stages that ran in a study run, from the stages.json its flow logged at the end
    (tasks/orchestration/prefect_tasks.py `publish_summary`); empty when it never got there."""
    if STAGES_ARTIFACT not in {a.path for a in client.list_artifacts(study_run_id)}:
        return {}
    with tempfile.TemporaryDirectory() as folder:
        logged = json.loads(
            Path(client.download_artifacts(study_run_id, STAGES_ARTIFACT, folder)).read_text()
        )
    return {r["stage"]: float(r["seconds"]) for r in logged["stages"] if r["verdict"] == "ran"}


def end_report(project: Project, tracker: progress.Progress, summaries: Sequence[dict[str, Any]]) -> str:
    """The run's last words: its reports and the MLflow pages of its study runs."""
    links = {s["study"]: run_link(project, s["study"], s["mlflow_run_id"]) for s in summaries}
    embedded = not project.mlflow_uri.startswith("http")
    return "\n".join(tracker.finished(links, embedded, time.monotonic()))


def _tracked_study(
    project: Project, study: str, profile: str, flow_run_id: str, tracker: progress.Progress
) -> dict[str, Any]:
    root, client = project.root, MlflowClient()
    experiment = tracking.experiment_id(project, study)
    close_abandoned_parents(client, experiment)
    tags = tracking.run_tags(project, study, profile, stage=None) | {"prefect.flow_run_id": flow_run_id}
    run_id = client.create_run(experiment, tags=tags, run_name=f"{study} pipeline ({profile})").info.run_id
    try:
        stages = dag.stages(root, study)
        results = []
        for stage in stages:
            results.append(run_stage(root, stage, run_id, flow_run_id))
            print(tracker.ended(results[-1], time.monotonic()))
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
    """Mark FAILED the study runs still RUNNING whose Prefect flow run has ended: their flow could not close
    them (the tracking server was down when it failed, or the process was killed). Runs of live flows are left
    alone."""
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
    """One stage as a cached Prefect task. The cache entry is refreshed instead of read when DVC says the
    stage is not up to date (tasks/orchestration/caching.py); a hit is reported as `cached`."""
    task, extra = stage_task(stage, refresh=caching.needs_refresh(root, stage.name))
    state = task(root, stage.name, parent_run_id, flow_run_id, **extra, return_state=True)
    result = state.result()
    if state.name == "Cached":
        return {**result, "verdict": "cached", "seconds": 0.0}
    return result


def stage_task(stage: dag.StageInfo, refresh: bool = False) -> tuple[Task, dict[str, str]]:
    """On a worker of the stage's pool when that pool is configured (tasks/orchestration/dispatch.py), in this
    process otherwise, still tagged with its resource so a `gpu` concurrency limit covers it here too."""
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
