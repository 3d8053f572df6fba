"""Shared by the end-to-end tests: the CLI and DVC as subprocesses, a study's ci run against real servers, the
Prefect API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient

from tests.conftest import BIN

# Overrides that lighten a `ci` MLC run, for tests whose subject is what happens around training (concurrent
# runs, a worker killed mid-training, scheduled runs) rather than MLC: digits only (no synthetic set) and
# 10 + 10 training steps, logged every 2 so that the loss curve keeps more than 5 points.
LIGHT_MLC = (
    "mlc.prepare.synthetic=[]",
    "mlc.train.digits.warmup_steps=10",
    "mlc.train.digits.mlc_steps=10",
    "mlc.train.digits.log_every=2",
)


def set_options(*overrides: str) -> list[str]:
    """The `studies run` options that set each `key=value` override."""
    return [arg for override in overrides for arg in ("--set", override)]


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


def first_ci_run(root: Path, env: dict[str, str], study: str) -> dict[str, Any]:
    """`studies run <study> --profile ci` in `root`, against the servers `env` names. It is the study's first
    run there, so its experiment holds one parent run: the one later checks read, whatever other runs the
    study's tests add."""
    first = studies(root, env, "run", study, "--profile", "ci")
    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    parents = [r for r in experiment_runs(client, study) if "stage" not in r.data.tags]
    assert len(parents) == 1, f"{study} ran on these servers before: {[r.info.run_id for r in parents]}"
    return {
        "study": study,
        "root": root,
        "env": env,
        "prefect_api": env["PREFECT_API_URL"],
        "mlflow": client,
        "output": first.stdout,
        "log": first.stderr,  # the flows' prints, as Prefect log lines
        "parent": parents[0],
        "flow_run_id": parents[0].data.tags["prefect.flow_run_id"],
    }


def experiment_runs(client: MlflowClient, study: str) -> list:
    """Every MLflow run of the study's experiment, oldest first."""
    exp = client.get_experiment_by_name(study)
    assert exp is not None, f"no MLflow experiment '{study}'"
    return client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])


def stage_runs(run: dict[str, Any]) -> dict[str, Any]:
    """The MLflow child runs of a study's first ci run (tests/e2e/conftest.py), by stage."""
    client, parent = run["mlflow"], run["parent"]
    return {
        r.data.tags["stage"]: r
        for r in experiment_runs(client, run["study"])
        if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id
    }


def task_runs(api: str, flow_run_id: str, names: set[str], timeout: float = 60) -> dict[str, dict]:
    """The flow run's task runs by name, waiting until `names` are all recorded (the server lags on
    events)."""
    deadline = time.monotonic() + timeout
    of_the_run = {"task_runs": {"flow_run_id": {"any_": [flow_run_id]}}}
    while True:
        by_name = {t["name"]: t for t in prefect_api(api, "/task_runs/filter", of_the_run)}
        if names <= set(by_name) or time.monotonic() > deadline:
            return by_name
        time.sleep(2)


def artifacts(api: str, key: str, flow_run_id: str | None = None) -> list[dict]:
    """The Prefect artifacts under `key`, of one flow run when given, newest first: the server filters, so
    what other tests on a shared server published neither hides nor stands in for them."""
    which: dict[str, Any] = {"key": {"any_": [key]}}
    if flow_run_id:
        which["flow_run_id"] = {"any_": [flow_run_id]}
    return prefect_api(api, "/artifacts/filter", {"artifacts": which, "sort": "CREATED_DESC"})


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
