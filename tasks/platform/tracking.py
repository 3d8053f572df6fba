"""MLflow run context for pipeline stages: one experiment per study, tags that tie a run to its inputs.

A stage run started by a Prefect flow is nested under that flow's study run
(STUDIES_PARENT_RUN_ID) and carries the flow-run id; a stage started by a bare
`dvc repro` is a top-level run tagged `prefect.flow_run_id=none`.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import mlflow

from tasks.platform.errors import StudiesError
from tasks.platform.project import Project
from tasks.platform.redact import redact_url

PARENT_RUN_ENV = "STUDIES_PARENT_RUN_ID"
FLOW_RUN_ENV = "STUDIES_FLOW_RUN_ID"
INPUT_KEY_ENV = "STUDIES_INPUT_KEY"  # the step's cache key: attempts at the same inputs share it
EXECUTOR_ENV = "STUDIES_EXECUTOR"  # the flow or worker process that ran `dvc repro`


# MLflow's own defaults (7 retries, backoff factor 2, 120 s timeout) turn a stopped tracking server into
# minutes of silent retrying before a traceback; these ride out a blip of ~15 s and then let the step fail and
# say why.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "4",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
}


class TrackingUnavailable(StudiesError):
    """The MLflow tracking server stopped answering during a run: the message names the server, the fix
    says how to resume."""


def configure(project: Project) -> None:
    """Point MLflow at the project's store; a setting already in the environment wins (a team's own
    retries)."""
    for key, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
    mlflow.set_tracking_uri(project.mlflow_uri)


def unreachable(uri: str) -> str | None:
    """Why the tracking server at `uri` does not answer its health check, or None when it does (or is a local
    store). Asked after a failure, so the error can name the server and the fix instead of MLflow's retry
    traceback."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        return None
    health = urlunsplit(
        parts._replace(netloc=parts.netloc.rpartition("@")[2], path=parts.path.rstrip("/") + "/health")
    )
    try:
        with urllib.request.urlopen(health, timeout=5):
            return None
    except urllib.error.HTTPError:  # it answered, if only to refuse: up
        return None
    except OSError as exc:  # refused, reset, timed out
        reason = getattr(exc, "reason", None) or exc
        return (
            f"the MLflow tracking server {redact_url(uri)} does not answer ({reason}). Fix: start it again "
            "with the same backend store and artifact location, then rerun the same `studies run` command: "
            "the runs already logged are kept, finished steps are cached, and a training step resumes from "
            "its saved fits."
        )


# MLflow 3's UI opens an experiment in its GenAI (traces) view unless told it holds model training.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def experiment_id(project: Project, study: str) -> str:
    """The study's experiment, created with its artifacts inside the project (embedded default) and marked as
    model training, so the UI lands on its runs."""
    configure(project)
    found = mlflow.get_experiment_by_name(study)
    if found is not None:
        if found.tags.get("mlflow.experimentKind") is None:
            mlflow.MlflowClient().set_experiment_tag(
                found.experiment_id, *next(iter(EXPERIMENT_KIND.items()))
            )
        return found.experiment_id
    location = None
    if project.mlflow_uri.startswith("sqlite:"):
        location = (project.mlflow_artifacts / study).as_uri()
    return mlflow.create_experiment(study, artifact_location=location, tags=EXPERIMENT_KIND)


def git_commit(root: Path) -> tuple[str, bool]:
    """(commit, dirty); ('unknown', True) outside git."""
    commit, changed = git_state(root)
    return commit, bool(changed)


def git_state(root: Path) -> tuple[str, list[str]]:
    """(commit, tracked files changed since it); ('unknown', ['(not a git checkout)']) outside git. Outputs
    the pipeline itself rewrites (dvc.lock, data.dvc, reports/) do not make the code dirty."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True, text=True
        ).stdout.strip()
        status = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                ":(exclude)dvc.lock",
                ":(exclude)data.dvc",
                ":(exclude)reports",
            ],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return commit, [line[3:] for line in status.splitlines() if line.strip()]
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "unknown", ["(not a git checkout)"]


def run_tags(project: Project, study: str, profile: str, stage: str | None) -> dict[str, str]:
    from tasks.platform.versioning import data_hash

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
def stage_run(
    project: Project, study: str, stage: str, profile: str, params: Mapping[str, Any]
) -> Iterator[mlflow.ActiveRun]:
    exp = experiment_id(project, study)
    parent = os.environ.get(PARENT_RUN_ENV) or None
    tags = run_tags(project, study, profile, stage) | execution_tags()
    previous = previous_attempt(exp, stage, tags.get("studies.input_key"))
    if previous is not None:
        tags |= {
            "studies.previous_attempt": previous.info.run_id,
            "studies.attempt": str(int(previous.data.tags.get("studies.attempt", "1")) + 1),
        }
    with mlflow.start_run(
        experiment_id=exp,
        run_name=f"{study}-{stage} ({profile})",
        tags=tags,
        parent_run_id=parent,
    ) as run:
        if previous is not None:
            close_attempt(previous, run.info.run_id)
        mlflow.log_params({k: str(v)[:6000] for k, v in flatten(params).items()})
        try:
            yield run
        except Exception:
            if unreachable(project.mlflow_uri):  # closing the run would only wait out the retries again
                os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
            raise


def execution_tags() -> dict[str, str]:
    """Where and how the step runs: the process that ran it (flow or worker), the device torch would pick, the
    step's cache key (attempts at the same inputs share it). Stages that choose a device themselves overwrite
    `device`."""
    import torch

    cuda = torch.cuda.is_available()
    tags = {
        "studies.executor": os.environ.get(EXECUTOR_ENV, "dvc repro (no flow)"),
        "host": socket.gethostname(),
        "device": "cuda" if cuda else "cpu",
        "device.name": torch.cuda.get_device_name(0) if cuda else platform.processor() or "cpu",
        "device.gpus": str(torch.cuda.device_count()),
    }
    if key := os.environ.get(INPUT_KEY_ENV):
        tags["studies.input_key"] = key
    return tags


def previous_attempt(experiment: str, stage: str, input_key: str | None) -> Any:
    """The latest unfinished run of this step on the same inputs whose flow is gone (a crashed or killed
    attempt).

    Checkouts on the same commit, data and params share the input key, so an unfinished run with this key may
    be another host's live step: it counts only if it belongs to this flow run (a resubmitted attempt) or to a
    flow run the Prefect server reports ended (found by the load test: concurrent runs failed each other)."""
    if not input_key:
        return None
    runs = mlflow.search_runs(
        [experiment],
        f"tags.stage = '{stage}' and tags.`studies.input_key` = '{input_key}' "
        "and attributes.status != 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=20,
        output_format="list",
    )
    return next((run for run in runs if _owner_gone(run.data.tags.get("prefect.flow_run_id", "none"))), None)


def _owner_gone(flow_run_id: str) -> bool:
    if flow_run_id == "none":  # a bare `dvc repro`: no flow to ask about
        return False
    if flow_run_id == os.environ.get(FLOW_RUN_ENV):
        return True
    if not os.environ.get(
        "PREFECT_API_URL"
    ):  # embedded mode: asking would start a second local Prefect server
        return False
    return ended_flow_run_state(flow_run_id) is not None


def ended_flow_run_state(flow_run_id: str) -> str | None:
    """The final state type of a flow run on this Prefect server; None while it runs, or when the server does
    not know it (recorded on another server: not ours to judge)."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as prefect:
        try:
            state = prefect.read_flow_run(UUID(flow_run_id)).state
        except ObjectNotFound:
            return None
    return state.type.value if state is not None and state.is_final() else None


def close_attempt(previous: Any, successor: str) -> None:
    """Link the attempt to its successor; one still RUNNING lost its process (kill -9), so it is marked
    FAILED."""
    client = mlflow.MlflowClient()
    client.set_tag(previous.info.run_id, "studies.next_attempt", successor)
    if previous.info.status == "RUNNING":
        client.set_terminated(previous.info.run_id, "FAILED")
