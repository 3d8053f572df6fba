"""MLflow run context for pipeline stages: one experiment per study, tags that tie a run to its inputs.

A stage run started by a Prefect flow is nested under that flow's study run
(STUDIES_PARENT_RUN_ID) and carries the flow-run id; a stage started by a bare
`dvc repro` is a top-level run tagged `prefect.flow_run_id=none`.
"""
from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import mlflow

from tasks.project import Project

PARENT_RUN_ENV = "STUDIES_PARENT_RUN_ID"
FLOW_RUN_ENV = "STUDIES_FLOW_RUN_ID"


def configure(project: Project) -> None:
    mlflow.set_tracking_uri(project.mlflow_uri)


# MLflow 3's UI opens an experiment in its GenAI (traces) view unless told it holds model training.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def experiment_id(project: Project, study: str) -> str:
    """The study's experiment, created with its artifacts inside the project (embedded default) and marked as
    model training, so the UI lands on its runs."""
    configure(project)
    found = mlflow.get_experiment_by_name(study)
    if found is not None:
        if found.tags.get("mlflow.experimentKind") is None:
            mlflow.MlflowClient().set_experiment_tag(found.experiment_id, *next(iter(EXPERIMENT_KIND.items())))
        return found.experiment_id
    location = None
    if project.mlflow_uri.startswith("sqlite:"):
        location = (project.mlflow_artifacts / study).as_uri()
    return mlflow.create_experiment(study, artifact_location=location, tags=EXPERIMENT_KIND)


def git_commit(root: Path) -> tuple[str, bool]:
    """(commit, dirty); ('unknown', True) outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True, text=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                # outputs the pipeline itself rewrites do not make the code dirty
                ["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                 ":(exclude)dvc.lock", ":(exclude)data.dvc", ":(exclude)reports"],
                cwd=root, check=True, capture_output=True, text=True,
            ).stdout.strip()
        )
        return commit, dirty
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "unknown", True


def run_tags(project: Project, study: str, profile: str, stage: str | None) -> dict[str, str]:
    from tasks.versioning import data_hash

    commit, dirty = git_commit(project.root)
    tags = {
        "study": study,
        "profile": profile,
        "git.commit": commit,
        "git.dirty": str(dirty).lower(),
        "mlflow.source.git.commit": commit,
        "dvc.data_hash": data_hash(project.root),
        "prefect.flow_run_id": os.environ.get(FLOW_RUN_ENV, "none"),
    }
    if stage:
        tags["stage"] = stage
    return tags


def flatten(params: Mapping[str, Any], prefix: str = "", sep: str = ".") -> dict[str, Any]:
    """Nested params → {"train.lr": ...} as MLflow wants them (metrics use sep="/")."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}{sep}", sep))
        else:
            out[name] = value
    return out


@contextmanager
def stage_run(project: Project, study: str, stage: str, profile: str, params: Mapping[str, Any]) -> Iterator[mlflow.ActiveRun]:
    exp = experiment_id(project, study)
    parent = os.environ.get(PARENT_RUN_ENV) or None
    with mlflow.start_run(
        experiment_id=exp,
        run_name=f"{study}-{stage} ({profile})",
        tags=run_tags(project, study, profile, stage),
        parent_run_id=parent,
    ) as run:
        mlflow.log_params({k: str(v)[:6000] for k, v in flatten(params).items()})
        yield run
