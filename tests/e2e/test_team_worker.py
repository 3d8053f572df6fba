"""Workers on other hosts: a flow checkout and a GPU-worker checkout that share nothing but the team's
services
(Prefect and MLflow on PostgreSQL, S3 for MLflow artifacts, the DVC remote and Prefect's task results).
Training is dispatched to the worker; results travel through the S3 result-storage block that `studies
result-storage` creates, never through a common folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import BIN
from tests.e2e.pipeline import dvc, studies
from tests.e2e.team import BUCKET, team_services
from tests.reliability import record

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.reliability,
    pytest.mark.slow,
]  # minutes each: `make reliability` runs them


def test_training_runs_on_a_worker_that_shares_no_folder_with_the_flow(tmp_path: Path) -> None:
    with team_services(tmp_path) as team:
        flow_root, flow_env = team.checkout(tmp_path / "host-a")
        worker_root, worker_env = team.checkout(tmp_path / "gpu-host")
        made = studies(flow_root, flow_env, "result-storage", f"s3://{BUCKET}/prefect-results")
        assert 'result_storage_block = "remote-file-system/studies-results"' in made.stdout
        for root in (flow_root, worker_root):  # what each host adds to its studies.toml, as the command says
            toml = root / "studies.toml"
            toml.write_text(
                toml.read_text().replace(
                    "[prefect]\n", '[prefect]\nresult_storage_block = "remote-file-system/studies-results"\n'
                )
            )
        log = tmp_path / "worker.log"
        with log.open("w") as out:
            worker = subprocess.Popen(
                [str(BIN / "studies"), "worker", "--pool", "gpu", "--name", "gpu-host"],
                cwd=worker_root,
                env=worker_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 300
            while "serving pool 'gpu'" not in log.read_text():
                assert worker.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(1)
            studies(flow_root, flow_env, "run", "mlc", "--profile", "ci", "--dispatch", "gpu")
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
        assert "warning: no shared result storage" not in log.read_text()

        client = MlflowClient(team.mlflow_uri)
        runs = client.search_runs([client.get_experiment_by_name("mlc").experiment_id])
        train = next(r for r in runs if r.data.tags.get("stage") == "train")
        assert train.info.status == "FINISHED" and train.data.tags["studies.executor"].startswith(
            "worker gpu-host ("
        )
        assert team.s3.keys(BUCKET, "prefect-results/")  # the task's result went through the bucket
        assert (
            not (flow_root / ".prefect" / "storage").exists()
            and not (worker_root / ".prefect" / "storage").exists()
        )
        assert (
            json.loads(dvc(flow_root, flow_env, "status", "--json", "--with-deps", "mlc-report") or "{}")
            == {}
        )
    record(
        "load",
        "GPU step on a worker sharing no folder with the flow (S3 result storage, PostgreSQL servers)",
        runs=1,
        lost=0,
    )
