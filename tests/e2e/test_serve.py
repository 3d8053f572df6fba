"""`studies serve`: a deployment on a short interval produces flow runs by itself, one at a time, and the
second run of unchanged data, params and code is a cache hit for every step, and touching a helper in studies/
reruns exactly the steps that import it. Real Prefect server (scheduler on) and serve process."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from tasks.platform import params
from tests.conftest import BIN, copy_project, project_env
from tests.e2e.pipeline import LIGHT_MLC, prefect_api, studies
from tests.services import prefect_server

pytestmark = pytest.mark.e2e


def _deployment_runs(api: str, name: str) -> list[dict]:
    deployments = [d for d in prefect_api(api, "/deployments/filter", {}) if d["name"] == name]
    if not deployments:
        return []
    runs = prefect_api(
        api,
        "/flow_runs/filter",
        {"flow_runs": {"deployment_id": {"any_": [deployments[0]["id"]]}}, "sort": "EXPECTED_START_TIME_ASC"},
    )
    return [r for r in runs if r["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED")]


MLC = ("mlc-prepare", "mlc-train", "mlc-evaluate", "mlc-report")
HELPER = "studies/mlc/baselines.py"  # imported by mlc-evaluate's code only


def _summary_of(api: str, run: dict) -> str:
    """The mlc-summary markdown published during a pipeline run (runs never overlap; the study flow is its
    subflow)."""
    artifacts = prefect_api(api, "/artifacts/filter", {"sort": "CREATED_DESC"})
    return next(a["data"] for a in artifacts if a["key"] == "mlc-summary" and _within(a["created"], run))


def _within(stamp: str, run: dict) -> bool:
    return _ts(run["start_time"]) <= _ts(stamp) <= _ts(run["end_time"])


def _verdicts(summary: str) -> dict[str, str]:
    return {
        stage: next(
            line.split("|")[2].strip() for line in summary.splitlines() if line.startswith(f"| {stage} |")
        )
        for stage in MLC
    }


def _evaluate_outputs(root: Path) -> dict:
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]["mlc-evaluate"]
    return {o["path"]: o["md5"] for o in lock["outs"]}


def test_scheduled_runs_hit_the_cache_and_a_touched_helper_reruns_exactly_its_steps(tmp_path: Path) -> None:
    from tasks.orchestration.code_deps import stage_sources

    root = copy_project(tmp_path / "project")
    # Light MLC runs (tests/e2e/pipeline.py): the subject is the schedule and the cache, not MLC.
    params.apply(root / "params.yaml", "ci", params.parse_overrides(list(LIGHT_MLC)))
    (tmp_path / "prefect").mkdir()
    with prefect_server(tmp_path / "prefect", scheduler=True) as api:
        env = project_env(root) | {"PREFECT_API_URL": api}
        refused = studies(
            root, env, "serve", "--profile", "ci", "--cron", "0 3 * * *", "--interval", "5", check=False
        )
        assert refused.returncode == 2 and "--cron and --interval both given" in refused.stderr
        log = (tmp_path / "serve.log").open("w")
        proc = subprocess.Popen(
            [str(BIN / "studies"), "serve", "--profile", "ci", "--interval", "20", "--study", "mlc"],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            runs = _wait_for(api, proc, tmp_path, lambda runs: len(runs) >= 2)
            before = _evaluate_outputs(root)
            touched_at = time.time()
            # A real edit to the helper's source (a comment changes its hash).
            with (root / HELPER).open("a") as f:
                f.write("\n# touched by test_serve\n")
            later = _wait_for(api, proc, tmp_path, lambda runs: any(_started(r) > touched_at for r in runs))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        assert [r["state"]["type"] for r in runs[:2]] == ["COMPLETED", "COMPLETED"], runs[:2]
        first, second = runs[:2]
        assert first["end_time"] <= second["start_time"]  # limit=1: never two runs on one workspace at once
        assert _verdicts(_summary_of(api, first))["mlc-train"] == "ran"
        # The second run: same data hash, params and code, so every step is a Prefect cache hit (DVC is not
        # even asked).
        assert _verdicts(_summary_of(api, second)) == {stage: "cached" for stage in MLC}
        task_states = {
            t["name"]: t["state"]["name"]
            for t in prefect_api(api, "/task_runs/filter", {})
            if t["name"] in MLC and _within(t["created"], second)
        }
        assert task_states == {stage: "Cached" for stage in MLC}, task_states

        # After the edit: exactly the steps whose code imports the helper run again, plus any step whose input
        # they changed; the rest are cache hits.
        after = next(r for r in later if _started(r) > touched_at)
        assert after["state"]["type"] == "COMPLETED", after
        importers = {stage for stage in MLC if HELPER in stage_sources(root, stage)}
        assert importers == {"mlc-evaluate"}
        changed_outputs = _evaluate_outputs(root) != before
        expected = {
            stage: "ran" if stage in importers or (stage == "mlc-report" and changed_outputs) else "cached"
            for stage in MLC
        }
        assert _verdicts(summary := _summary_of(api, after)) == expected, summary[:1500]
        names = {d["name"] for d in prefect_api(api, "/deployments/filter", {})}
        assert {"pipeline-ci", "mlc-ci", "cdvae-ci", "ssvi-ci"} <= names


def _ts(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def _started(run: dict) -> float:
    return _ts(run["start_time"])


def _wait_for(api: str, proc: subprocess.Popen, tmp_path: Path, done, timeout: float = 600) -> list[dict]:
    deadline = time.monotonic() + timeout
    while not done(runs := _deployment_runs(api, "pipeline-ci")):
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
        assert time.monotonic() < deadline, f"{len(runs)} finished scheduled runs after {timeout} s"
        time.sleep(3)
    return runs
