"""Service faults during a real run: the MLflow server stopped mid-training, the Prefect server restarted
while a worker trains. Each server keeps its store in a file and comes back on the same port, as a team's
would after a crash or a redeploy; the pipeline either stops with a message that says what to do or rides the
outage out, and nothing already recorded is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests import reliability
from tests.conftest import BIN, copy_project, project_env
from tests.e2e.pipeline import dvc, experiment_runs, prefect_api, start_worker, stop, studies, wait_for
from tests.services import free_port, mlflow_server, prefect_server, wait_http

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.reliability,
    pytest.mark.slow,
]  # minutes each: `make reliability` runs them


class Restartable:
    """A server process that can be stopped (SIGTERM) and started again on the same port with the same
    store."""

    def __init__(self, cmd: list[str], health: str, log: Path, env: dict[str, str] | None = None) -> None:
        self.cmd, self.health, self.log, self.env = cmd, health, log, {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                self.cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        wait_http(self.health, self.proc, self.log)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # SIGTERM: SIGINT is ignored by background processes
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def mlflow_store_server(folder: Path, port: int) -> Restartable:
    """MLflow on SQLite + an artifact folder: what it recorded survives a restart."""
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(BIN / "mlflow"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        str(folder / "artifacts"),
    ]
    return Restartable(cmd, f"http://127.0.0.1:{port}/health", folder / "mlflow-server.log")


def prefect_store_server(home: Path, port: int) -> Restartable:
    """Prefect on a SQLite file in `home` with concurrency leases on disk too (the default keeps them in
    memory, so a restart would orphan the slot a running task holds). Only the services the test needs run."""
    off = ("LATE_RUNS", "TRIGGERS", "FOREMAN", "CANCELLATION_CLEANUP", "PAUSE_EXPIRATIONS", "SCHEDULER")
    env = {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "5",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect.server.concurrency.lease_storage.filesystem",
    } | {f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "false" for name in off}
    home.mkdir(parents=True, exist_ok=True)
    cmd = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    return Restartable(cmd, f"http://127.0.0.1:{port}/api/health", home / "prefect-server.log", env)


def stage_runs(client: MlflowClient) -> dict[str, list]:
    """The mlc experiment's stage runs by stage name, oldest first (none before the experiment exists)."""
    if client.get_experiment_by_name("mlc") is None:
        return {}
    by_stage: dict[str, list] = {}
    for run in experiment_runs(client, "mlc"):
        if stage := run.data.tags.get("stage"):
            by_stage.setdefault(stage, []).append(run)
    return by_stage


def snapshot(client: MlflowClient, run_ids: set[str] | None = None) -> dict[str, dict]:
    """Runs of the experiment (all, or `run_ids`): tags and each metric's full history, to compare across a
    fault."""
    return {
        run.info.run_id: {
            "tags": run.data.tags,
            "metrics": {
                key: {(m.step, m.value) for m in client.get_metric_history(run.info.run_id, key)}
                for key in run.data.metrics
            },
        }
        for run in experiment_runs(client, "mlc")
        if run_ids is None or run.info.run_id in run_ids
    }


def test_mlflow_stopped_mid_training_fails_clearly_and_the_rerun_continues(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "project")
    port = free_port()
    mlflow = mlflow_store_server(tmp_path / "mlflow", port)
    address = f"http://127.0.0.1:{port}"
    with prefect_server(tmp_path) as api:
        env = project_env(root) | {"PREFECT_API_URL": api, "MLFLOW_TRACKING_URI": address}
        client, log = MlflowClient(address), tmp_path / "run-1.log"
        mlflow.start()
        try:
            with log.open("w") as out:
                run = subprocess.Popen(
                    [str(BIN / "studies"), "run", "mlc", "--profile", "ci"],
                    cwd=root,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )

            def training_logged() -> bool:
                stages = stage_runs(client)
                return any(r.info.status == "FINISHED" for r in stages.get("prepare", [])) and any(
                    r.info.status == "RUNNING" and r.data.metrics for r in stages.get("train", [])
                )

            wait_for(
                training_logged,
                "a FINISHED prepare run and metrics from a RUNNING train run",
                {"studies run": run},
                [log],
            )
            before = snapshot(client)
            mlflow.stop()
            stopped = time.monotonic()
            assert run.wait(timeout=240) != 0, log.read_text()[-4000:]
            seconds_to_fail = time.monotonic() - stopped
            output = log.read_text()
            error, fix = output.strip().splitlines()[-2:]
            # The last lines say which server and what to do; no hang of MLflow's default retries (minutes).
            assert error.startswith("error: ") and address in error, output[-4000:]
            assert fix.startswith("fix: ") and "start it again" in fix, output[-4000:]
            assert seconds_to_fail < 120, (seconds_to_fail, output[-4000:])

            mlflow.start()  # same port, same SQLite file and artifact folder
            second = studies(root, env, "run", "mlc", "--profile", "ci")
            after = snapshot(client, set(before))
            stages = stage_runs(client)
            parents = [r for r in experiment_runs(client, "mlc") if "stage" not in r.data.tags]
        finally:
            mlflow.stop()

    # Nothing recorded before the stop is lost: every run, tag and metric point is still there.
    for run_id, seen in before.items():
        assert run_id in after, f"run {run_id} lost"
        assert seen["tags"].items() <= after[run_id]["tags"].items(), run_id
        for key, points in seen["metrics"].items():
            assert points <= after[run_id]["metrics"][key], (run_id, key)
    # The rerun skipped what had finished and completed the rest.
    assert "| mlc-prepare | cached |" in second.stdout, second.stdout[-3000:]
    assert len(stages["prepare"]) == 1
    interrupted, retry = stages["train"]
    assert interrupted.info.status == "FAILED" and retry.info.status == "FINISHED"
    assert interrupted.data.tags["studies.next_attempt"] == retry.info.run_id
    assert retry.data.tags["studies.previous_attempt"] == interrupted.info.run_id
    assert "train_seconds/digits/seed0" in retry.data.metrics
    assert all(r.info.status == "FINISHED" for s in ("evaluate", "report") for r in stages[s])
    assert [p.info.status for p in parents] == ["FAILED", "FINISHED"], [
        (p.info.run_id, p.info.status) for p in parents
    ]
    points = sum(len(p) for seen in before.values() for p in seen["metrics"].values())
    reliability.record(
        "fault",
        "MLflow server stopped mid-training",
        survived=1,
        lost=0,
        runs=2,
        metric_points_kept=points,
        seconds_to_fail=round(seconds_to_fail, 1),
    )


def test_prefect_restarted_while_the_worker_trains_and_the_flow_completes(tmp_path: Path) -> None:
    flow_root, worker_root = copy_project(tmp_path / "flow"), copy_project(tmp_path / "worker")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    prefect = prefect_store_server(tmp_path / "prefect", port)
    prefect.start()
    try:
        with mlflow_server(tmp_path / "mlflow") as mlflow_uri:
            shared = {
                "PREFECT_API_URL": api,
                "MLFLOW_TRACKING_URI": mlflow_uri,
                "PREFECT_LOCAL_STORAGE_PATH": str(tmp_path / "prefect-results"),
            }
            flow_env, worker_env = project_env(flow_root) | shared, project_env(worker_root) | shared
            for root, env in ((flow_root, flow_env), (worker_root, worker_env)):
                dvc(root, env, "remote", "modify", "--local", "local", "url", str(tmp_path / "dvc-remote"))
            logs = [tmp_path / "flow.log", tmp_path / "worker.log"]
            client = MlflowClient(mlflow_uri)
            worker, flow = start_worker(worker_root, worker_env, "gpu-a", logs[1]), None
            try:
                wait_for(
                    lambda: "serving pool 'gpu'" in logs[1].read_text(),
                    "the worker",
                    {"worker": worker},
                    logs[1:],
                )
                with logs[0].open("w") as out:
                    flow = subprocess.Popen(
                        [str(BIN / "studies"), "run", "mlc", "--profile", "ci", "--dispatch", "gpu"],
                        cwd=flow_root,
                        env=flow_env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                procs = {"studies run": flow, "worker": worker}
                wait_for(
                    lambda: any(
                        r.info.status == "RUNNING" and r.data.metrics
                        for r in stage_runs(client).get("train", [])
                    ),
                    "the worker's train run logging",
                    procs,
                    logs,
                )
                stopped_at, down_since = time.time(), time.monotonic()
                prefect.stop()
                time.sleep(3)
                prefect.start()  # same port, same database file
                down_for = time.monotonic() - down_since
                assert flow.wait(timeout=900) == 0, logs[0].read_text()[-6000:]
                assert worker.poll() is None, logs[1].read_text()[-4000:]
            finally:
                stop(worker, flow)
            flow_log, worker_log = logs[0].read_text(), logs[1].read_text()
            train = stage_runs(client)["train"]

            runs = prefect_api(api, "/flow_runs/filter", {})
            by_name = {r["name"]: r for r in runs}
            assert by_name["mlc-ci"]["state"]["type"] == "COMPLETED", by_name["mlc-ci"]["state"]
            assert by_name["pipeline-ci"]["state"]["type"] == "COMPLETED", by_name["pipeline-ci"]["state"]
            attempts = [
                t for t in prefect_api(api, "/task_runs/filter", {}) if t["name"].startswith("mlc-train on ")
            ]
            limit = prefect_api(api, "/concurrency_limits/tag/gpu")
    finally:
        prefect.stop()

    assert "lost the Prefect API" in worker_log and "reconnected to the Prefect API" in worker_log, (
        worker_log[-4000:]
    )
    assert "resubmitting" not in flow_log, flow_log[
        -4000:
    ]  # the flow did not take the outage for a dead worker
    assert [t["state"]["type"] for t in attempts] == ["COMPLETED"], (
        attempts
    )  # one attempt rode the outage out
    assert limit["active_slots"] == [], limit
    assert [r.info.status for r in train] == ["FINISHED"], [(r.info.run_id, r.info.status) for r in train]
    assert train[0].info.end_time / 1000 > stopped_at  # the step was still running when the server went down
    assert "train_seconds/digits/seed0" in train[0].data.metrics
    assert json.loads(dvc(flow_root, flow_env, "status", "--json", "--with-deps", "mlc-report") or "{}") == {}
    reliability.record(
        "fault",
        "Prefect server restarted while a worker trains",
        survived=1,
        lost=0,
        runs=1,
        seconds_down=round(down_for, 1),
    )
