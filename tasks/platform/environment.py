"""Embedded defaults for Prefect and MLflow, set before either is imported.

Each project gets its own PREFECT_HOME (so its local Prefect database lives
beside its results), telemetry is off (offline machines), and MLflow defaults
to SQLite inside the project. Any variable already set wins, and so does the
project's studies.toml (tasks/platform/settings.py), which is how a team points the same
code at shared servers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tasks.platform import settings
from tasks.platform.project import ROOT_ENV, Project


def configure(project: Project) -> None:
    settings.apply(project.root)
    defaults = {
        ROOT_ENV: str(project.root),
        "PREFECT_HOME": str(project.prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_LOGGING_LOG_PRINTS": "true",
        "MLFLOW_TRACKING_URI": project.mlflow_uri,
        "GIT_PYTHON_REFRESH": "quiet",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DVC_NO_ANALYTICS": "1",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    # dvc.yaml's commands call `studies`: make this interpreter's one win even when the venv is not activated.
    bin_dir = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def current_project() -> Project:
    """The project a `studies` command works in (cwd or $STUDIES_ROOT), its defaults set: the first call of
    every command, in flows/ or in a study's own cli.py, before anything imports Prefect or MLflow."""
    project = Project.here()
    configure(project)
    return project
