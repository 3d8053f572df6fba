"""Each study's ci run, made once a session against the shared Prefect and MLflow servers (tests/conftest.py)
and read by its own module and by the checks every study's run must pass (test_study_runs.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import copy_project, project_env
from tests.e2e.pipeline import first_ci_run


@pytest.fixture(scope="session")
def ci_run(
    shared_prefect: str, shared_mlflow: str, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], dict[str, Any]]:
    """`ci_run(study)`: the study's first `studies run <study> --profile ci`. The studies share one project
    copy, as a user's checkout does: the first run ingests the data, the others find it in place; each study's
    stages, params and outputs are its own, and tests scope their DVC checks to their study's stages. A run
    that failed fails every test that asks for it, with its own error, without running again."""
    root = copy_project(tmp_path_factory.mktemp("e2e") / "project")
    env = project_env(root) | {"PREFECT_API_URL": shared_prefect, "MLFLOW_TRACKING_URI": shared_mlflow}
    made: dict[str, dict[str, Any] | Exception] = {}

    def get(study: str) -> dict[str, Any]:
        if study not in made:
            try:
                made[study] = first_ci_run(root, env, study)
            except Exception as exc:
                made[study] = exc
        if isinstance(made[study], Exception):
            raise made[study]
        return made[study]

    return get
