"""`studies run --dispatch gpu` with a `studies worker --pool gpu` in its own checkout: the training step runs
in the worker process, the rest in the flow's; kill -9 of the worker mid-training is survived by a resumed
retry, linked in MLflow, and the `gpu` concurrency slot is free afterwards. Real Prefect and MLflow servers, a
real
DVC remote (a folder both checkouts point at), real processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, copy_project, project_env
from tests.e2e.pipeline import (
    LIGHT_MLC,
    dvc,
    experiment_runs,
    prefect_api,
    set_options,
    start_worker,
    stop,
    wait_for,
)
from tests.services import mlflow_server

pytestmark = pytest.mark.e2e

# Several fits, so that the kill lands between saved fits; light ones: the subject is the worker, not MLC.
RUN = set_options("mlc.train.seeds=[0,1,2]", *LIGHT_MLC)


def test_training_runs_on_the_worker_and_survives_its_kill(tmp_path: Path, shared_prefect: str) -> None:
    flow_root, worker_root = copy_project(tmp_path / "flow"), copy_project(tmp_path / "worker")
    # The shared Prefect server (leases on); an MLflow server of its own: it counts the mlc experiment's runs.
    api = shared_prefect
    with mlflow_server(tmp_path / "mlflow") as mlflow_uri:
        shared = {
            "PREFECT_API_URL": api,
            "MLFLOW_TRACKING_URI": mlflow_uri,
            "PREFECT_LOCAL_STORAGE_PATH": str(tmp_path / "prefect-results"),
        }  # Prefect's result storage
        flow_env, worker_env = project_env(flow_root) | shared, project_env(worker_root) | shared
        for root, env in (
            (flow_root, flow_env),
            (worker_root, worker_env),
        ):  # one DVC remote, as a team configures it
            dvc(root, env, "remote", "modify", "--local", "local", "url", str(tmp_path / "dvc-remote"))
        logs = [tmp_path / "flow.log", tmp_path / "worker.log"]
        worker = start_worker(worker_root, worker_env, "gpu-a", logs[1])
        flow = None
        try:
            wait_for(
                lambda: "serving pool 'gpu'" in logs[1].read_text(),
                "the worker",
                {"worker": worker},
                logs[1:],
            )
            with logs[0].open("w") as out:
                flow = subprocess.Popen(
                    [
                        str(BIN / "studies"),
                        "run",
                        "mlc",
                        "--profile",
                        "ci",
                        "--dispatch",
                        "gpu",
                        *RUN,
                    ],
                    cwd=flow_root,
                    env=flow_env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            state = worker_root / "results" / "ci" / "mlc" / "train-state"
            wait_for(
                lambda: any(state.rglob("*.pt")),
                "a saved fit on the worker",
                {"studies run": flow, "worker": worker},
                logs,
            )
            saved_before_kill = len(list(state.rglob("*.pt")))
            os.killpg(
                worker.pid, signal.SIGKILL
            )  # the worker and the training it runs, as when its machine dies
            worker.wait()
            killed_pid = worker.pid
            worker = start_worker(worker_root, worker_env, "gpu-b", logs[1])
            assert flow.wait(timeout=900) == 0, logs[0].read_text()[-6000:]
        finally:
            stop(worker, flow)
        flow_log, worker_log = logs[0].read_text(), logs[1].read_text()

        # The retry resumed from the fits the killed attempt had saved, on the restarted worker.
        assert f"resuming: {saved_before_kill} of" in worker_log or "resuming:" in worker_log, worker_log[
            -4000:
        ]
        assert "resubmitting" in flow_log, flow_log[-4000:]

        # MLflow: training ran in the worker processes, every other stage in the flow's process; the two
        # training attempts are linked, the killed one FAILED, the retry complete with every fit's metrics.
        from mlflow.tracking import MlflowClient

        runs = [r for r in experiment_runs(MlflowClient(mlflow_uri), "mlc") if r.data.tags.get("stage")]
        train = [r for r in runs if r.data.tags["stage"] == "train"]
        assert len(train) == 2, [(r.info.run_id, r.info.status) for r in train]
        first, retry = train
        host = socket.gethostname()
        assert first.data.tags["studies.executor"] == f"worker gpu-a ({host}-{killed_pid})"
        assert retry.data.tags["studies.executor"].startswith("worker gpu-b (")
        assert first.info.status == "FAILED" and retry.info.status == "FINISHED"
        assert retry.data.tags["studies.previous_attempt"] == first.info.run_id
        assert (
            first.data.tags["studies.next_attempt"] == retry.info.run_id
            and retry.data.tags["studies.attempt"] == "2"
        )
        assert first.data.tags["studies.input_key"] == retry.data.tags["studies.input_key"]
        assert {f"train_seconds/digits/seed{s}" for s in (0, 1, 2)} <= set(retry.data.metrics)
        others = [r for r in runs if r.data.tags["stage"] != "train"]
        assert {r.data.tags["stage"] for r in others} == {"prepare", "evaluate", "report"}
        assert {r.data.tags["studies.executor"] for r in others} == {f"flow ({host}-{flow.pid})"}
        assert all(r.data.tags["device"] in ("cpu", "cuda") for r in runs)

        # Prefect: the first attempt is Crashed, the second Completed; the slot the killed one held is free
        # again.
        dispatched = {"task_runs": {"name": {"like_": "mlc-train on "}}}
        attempts = sorted(prefect_api(api, "/task_runs/filter", dispatched), key=lambda t: t["created"])
        assert [t["state"]["type"] for t in attempts] == ["CRASHED", "COMPLETED"], attempts
        assert attempts[0]["name"] == f"mlc-train on {host}-{killed_pid}"
        limit = prefect_api(api, "/concurrency_limits/tag/gpu")
        assert limit["concurrency_limit"] == 1 and limit["active_slots"] == [], limit

        # The outputs came back to the flow's checkout through the DVC remote: its lock and workspace agree.
        assert (flow_root / "results" / "ci" / "mlc" / "train").is_dir()
        assert (
            json.loads(dvc(flow_root, flow_env, "status", "--json", "--with-deps", "mlc-report") or "{}")
            == {}
        )
