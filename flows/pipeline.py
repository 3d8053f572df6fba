"""The end-to-end flow: data in, then every study (or the ones asked for), then outputs pushed."""

from __future__ import annotations

import importlib
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from flows import dag
from flows.study import RUN_PROGRESS, end_report, start_progress, tracking_errors, use_profile
from tasks.orchestration.prefect_tasks import ensure_data, push_outputs
from tasks.platform.paths import confine
from tasks.platform.project import Project, find_root


@flow(name="pipeline", flow_run_name="pipeline-{profile}", log_prints=True)
def pipeline(
    root: str, profile: str, studies: list[str] | None = None, push: bool = True
) -> list[dict[str, Any]]:
    """Prints the plan once data is in (DVC can judge the stages then), a line per stage, and the reports."""
    path = confine(root, find_root(), "root")
    chosen = dag.require_studies(path, studies)
    print(f"data: {ensure_data(path)}")
    project = Project(path)
    use_profile(project, profile)
    every = dag.stages(path)
    with tracking_errors(project, "the pipeline"):
        tracker = start_progress(project, [s for study in chosen for s in every if s.study == study], profile)
    token = RUN_PROGRESS.set(tracker)
    try:
        summaries = [
            importlib.import_module(f"flows.{study}").flow(root=root, profile=profile) for study in chosen
        ]
    finally:
        RUN_PROGRESS.reset(token)
    if push:
        push_outputs(path, [s["stage"] for summary in summaries for s in summary["stages"]])
    create_markdown_artifact(
        markdown="\n\n".join(s["summary"] for s in summaries),
        key="pipeline-summary",
        description=f"pipeline ({profile})",
    )
    print(end_report(project, tracker, summaries))
    return summaries
