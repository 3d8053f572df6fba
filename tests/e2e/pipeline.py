"""Shared by the end-to-end tests: the CLI and DVC as subprocesses, a study's ci run against real servers,
the Prefect API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient

from tests.conftest import BIN, copy_project, project_env
from tests.services import mlflow_server, prefect_server


def studies(
    root: Path, env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(BIN / "studies"), *args], cwd=root, env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0 or not check, (
        f"studies {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    return proc


def dvc(root: Path, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [str(BIN / "dvc"), *args], cwd=root, env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def prefect_api(base: str, path: str, body: dict | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


@contextmanager
def ci_run(base: Path, study: str) -> Iterator[dict[str, Any]]:
    """A fresh project copy, real Prefect and MLflow servers, and one `studies run <study> --profile ci` in
    it."""
    root = copy_project(base / "project")
    with prefect_server(base) as api, mlflow_server(base / "mlflow") as mlflow_uri:
        env = project_env(root) | {"PREFECT_API_URL": api, "MLFLOW_TRACKING_URI": mlflow_uri}
        first = studies(root, env, "run", study, "--profile", "ci")
        yield {
            "root": root,
            "env": env,
            "prefect_api": api,
            "mlflow": MlflowClient(mlflow_uri),
            "output": first.stdout,
        }


def experiment_runs(client: MlflowClient, study: str) -> list:
    """Every MLflow run of the study's experiment, oldest first."""
    exp = client.get_experiment_by_name(study)
    assert exp is not None, f"no MLflow experiment '{study}'"
    return client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])


def task_runs(api: str, flow_run_id: str, names: set[str], timeout: float = 60) -> dict[str, dict]:
    """The flow run's task runs by name, waiting until `names` are all recorded (the server lags on
    events)."""
    deadline = time.monotonic() + timeout
    while True:
        by_name = {
            t["name"]: t for t in prefect_api(api, "/task_runs/filter", {}) if t["flow_run_id"] == flow_run_id
        }
        if names <= set(by_name) or time.monotonic() > deadline:
            return by_name
        time.sleep(2)


def start_worker(root: Path, env: dict[str, str], name: str, log: Path) -> subprocess.Popen:
    """`studies worker --pool gpu` in its own process group, so a test can kill it with what it runs."""
    with log.open("a") as out:
        return subprocess.Popen(
            [str(BIN / "studies"), "worker", "--pool", "gpu", "--name", name],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for(
    condition: Callable[[], bool],
    what: str,
    procs: dict[str, subprocess.Popen],
    logs: list[Path],
    timeout: float = 600,
) -> None:
    """Poll `condition`; fail early, with the logs, when a process we rely on exits."""
    deadline = time.monotonic() + timeout
    while not condition():
        for name, proc in procs.items():
            assert proc.poll() is None, f"{name} exited early ({proc.returncode}):\n" + "\n".join(
                log.read_text()[-4000:] for log in logs
            )
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n" + "\n".join(
            log.read_text()[-3000:] for log in logs
        )
        time.sleep(0.5)


def stop(worker: subprocess.Popen, flow: subprocess.Popen | None) -> None:
    """The worker's process group politely, then a flow still running (a failed test) for good."""
    os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(timeout=60)
    if flow is not None and flow.poll() is None:
        flow.kill()
