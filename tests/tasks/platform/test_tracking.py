"""Attempt linking: an unfinished run with the same input key is a previous attempt only if its flow is gone,
so concurrent hosts on identical inputs never fail each other's live runs (what the load test caught)."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from tasks.platform.tracking import FLOW_RUN_ENV, previous_attempt
from tests.e2e.pipeline import prefect_api

KEY = "k" * 16


@pytest.fixture
def experiment(tmp_path: Path) -> str:
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    return mlflow.create_experiment("attempts")


def unfinished(experiment: str, flow_run_id: str) -> str:
    run = mlflow.MlflowClient().create_run(
        experiment, tags={"stage": "train", "studies.input_key": KEY, "prefect.flow_run_id": flow_run_id}
    )
    return run.info.run_id


def test_an_attempt_of_this_flow_run_is_the_previous_one(
    experiment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv(FLOW_RUN_ENV, "flow-a")
    mine = unfinished(experiment, "flow-a")
    unfinished(experiment, "flow-b")  # newer, another host's: not judged without a server, so left alone
    unfinished(experiment, "none")
    assert previous_attempt(experiment, "train", KEY).info.run_id == mine


def test_another_live_flow_runs_attempt_is_left_alone_and_an_ended_ones_is_taken(
    shared_prefect: str, experiment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = shared_prefect
    flow_id = prefect_api(api, "/flows/", {"name": "mlc"})["id"]
    live, ended = (
        prefect_api(api, "/flow_runs/", {"flow_id": flow_id, "state": {"type": state}})["id"]
        for state in ("RUNNING", "FAILED")
    )
    monkeypatch.setenv("PREFECT_API_URL", api)
    monkeypatch.setenv(FLOW_RUN_ENV, "flow-here")
    dead = unfinished(experiment, ended)
    unfinished(experiment, live)  # the newest: a concurrent host's step still running
    # A stage process reads PREFECT_API_URL at start; this one may have loaded Prefect's settings already.
    with temporary_settings({PREFECT_API_URL: api}):
        assert previous_attempt(experiment, "train", KEY).info.run_id == dead
