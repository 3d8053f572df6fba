"""`studies serve`: a deployment on a short interval produces flow runs by itself, one at a time, and the second
run of unchanged data, params and code skips every step. Real Prefect server (scheduler on) and serve process."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import BIN, copy_project, project_env
from tests.e2e.pipeline import prefect_api, studies
from tests.services import prefect_server

pytestmark = pytest.mark.e2e


def _deployment_runs(api: str, name: str) -> list[dict]:
    deployments = [d for d in prefect_api(api, "/deployments/filter", {}) if d["name"] == name]
    if not deployments:
        return []
    runs = prefect_api(api, "/flow_runs/filter", {"flow_runs": {"deployment_id": {"any_": [deployments[0]["id"]]}},
                                                   "sort": "EXPECTED_START_TIME_ASC"})
    return [r for r in runs if r["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED")]


def test_scheduled_runs_happen_and_the_second_skips_every_step(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "project")
    (tmp_path / "prefect").mkdir()
    with prefect_server(tmp_path / "prefect", scheduler=True) as api:
        env = project_env(root) | {"PREFECT_API_URL": api}
        refused = studies(root, env, "serve", "--profile", "ci", "--cron", "0 3 * * *", "--interval", "5", check=False)
        assert refused.returncode == 2 and "not both" in refused.stderr
        log = (tmp_path / "serve.log").open("w")
        proc = subprocess.Popen([str(BIN / "studies"), "serve", "--profile", "ci", "--interval", "20", "--study", "mlc"],
                                cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 600
            while len(runs := _deployment_runs(api, "pipeline-ci")) < 2:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
                assert time.monotonic() < deadline, f"{len(runs)} finished scheduled runs after 600 s"
                time.sleep(3)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        assert [r["state"]["type"] for r in runs[:2]] == ["COMPLETED", "COMPLETED"], runs[:2]
        first, second = runs[:2]
        assert first["end_time"] <= second["start_time"]  # limit=1: never two runs on one workspace at once
        artifacts = reversed(prefect_api(api, "/artifacts/filter", {"sort": "CREATED_DESC"}))  # oldest first
        summaries = [a for a in artifacts if a["key"] == "mlc-summary"]
        assert len(summaries) >= 2
        assert "| mlc-train | ran |" in summaries[0]["data"]
        second_summary = summaries[1]["data"]
        for stage in ("mlc-prepare", "mlc-train", "mlc-evaluate", "mlc-report"):
            assert f"| {stage} | up to date |" in second_summary, second_summary[:1500]
        names = {d["name"] for d in prefect_api(api, "/deployments/filter", {})}
        assert {"pipeline-ci", "mlc-ci", "cdvae-ci", "ssvi-ci"} <= names
