"""The end-to-end flow: data in, then every study (or the ones asked for), then outputs pushed."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from flows import dag
from tasks.paths import confine
from tasks.project import find_root
from tasks.steps import ensure_data, push_outputs


@flow(name="pipeline", flow_run_name="pipeline-{profile}", log_prints=True)
def pipeline(root: str, profile: str, studies: list[str] | None = None, push: bool = True) -> list[dict[str, Any]]:
    path = confine(root, find_root(), "root")
    known = dag.studies(path)
    chosen = studies or known
    if unknown := sorted(set(chosen) - set(known)):
        raise ValueError(f"Unknown study {unknown}; dvc.yaml defines: {', '.join(known)}.")
    print(f"data: {ensure_data(path)}")
    summaries = [importlib.import_module(f"flows.{study}").flow(root=root, profile=profile) for study in chosen]
    if push:
        push_outputs(path, [s["stage"] for summary in summaries for s in summary["stages"]])
    create_markdown_artifact(
        markdown="\n\n".join(s["summary"] for s in summaries), key="pipeline-summary", description=f"pipeline ({profile})"
    )
    return summaries
