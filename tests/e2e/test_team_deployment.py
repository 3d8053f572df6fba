"""Scale-out by configuration: the same code, pointed by studies.toml and DVC's local config at a team's
services
(Prefect and MLflow on PostgreSQL, MLflow artifacts and the DVC remote on S3), runs MLC on the `ci` profile;
every record lands in those services, a second host pulls the results, and no credential shows anywhere the
pipeline prints or stores."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import git
from tests.e2e.pipeline import LIGHT_MLC, dvc, prefect_api, set_options, studies
from tests.e2e.team import BUCKET, DVC_PREFIX, MLFLOW_PREFIX, flow_run_record, query, team_services
from tests.reliability import record

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

STAGES = ("prepare", "train", "evaluate", "report")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("team")
    with team_services(base) as team:
        root, env = team.checkout(base / "host-a")
        started = time.monotonic()
        # A light MLC run (tests/e2e/pipeline.py): the subject is the deployment, not MLC.
        proc = studies(root, env, "run", "mlc", "--profile", "ci", *set_options(*LIGHT_MLC))
        seconds = time.monotonic() - started
        client = MlflowClient(team.mlflow_uri)
        runs = client.search_runs([client.get_experiment_by_name("mlc").experiment_id])
        parent = next(r for r in runs if "stage" not in r.data.tags)
        yield {
            "team": team,
            "root": root,
            "env": env,
            "base": base,
            "output": proc.stdout + proc.stderr,
            "client": client,
            "runs": runs,
            "flow_run_id": parent.data.tags["prefect.flow_run_id"],
            "seconds": seconds,
        }


def test_the_endpoints_come_from_studies_toml(run: dict[str, Any]) -> None:
    team, root, env = run["team"], run["root"], run["env"]
    assert not {"PREFECT_API_URL", "MLFLOW_TRACKING_URI"} & set(env)
    shown = studies(root, env, "config").stdout
    for key, value in (
        ("prefect.api_url", team.prefect_api),
        ("mlflow.tracking_uri", team.mlflow_uri),
        ("s3.endpoint_url", team.s3.endpoint),
    ):
        line = next(line for line in shown.splitlines() if line.startswith(key))
        assert value in line and "studies.toml" in line, line


def test_the_flow_run_is_completed_in_prefects_postgres_database(run: dict[str, Any]) -> None:
    team, flow_run_id = run["team"], run["flow_run_id"]
    flow_run = prefect_api(team.prefect_api, f"/flow_runs/{flow_run_id}")
    assert flow_run["name"] == "mlc-ci" and flow_run["state"]["type"] == "COMPLETED", flow_run["state"]
    assert query(team.prefect_db, "SELECT state_type FROM flow_run WHERE id = %s", flow_run_id) == [
        ("COMPLETED",)
    ]


def test_mlflow_runs_are_finished_in_postgres_with_artifacts_in_s3(run: dict[str, Any]) -> None:
    team, client, runs = run["team"], run["client"], run["runs"]
    stages = {r.data.tags["stage"]: r for r in runs if "stage" in r.data.tags}
    assert len(runs) == 1 + len(STAGES) and set(stages) == set(STAGES)
    assert all(r.info.status == "FINISHED" for r in runs)
    assert 0.0 <= stages["evaluate"].data.metrics["digits/mlc/acc_mean"] <= 1.0
    assert len(client.get_metric_history(stages["train"].info.run_id, "digits/seed0/loss")) > 5
    in_db = dict(query(team.mlflow_db, "SELECT run_uuid, status FROM runs"))
    assert {r.info.run_id: "FINISHED" for r in runs}.items() <= in_db.items()

    # Artifacts went through the server to the bucket: the evaluate run's figures are objects there.
    keys = team.s3.keys(BUCKET, MLFLOW_PREFIX + "/")
    evaluate_id = stages["evaluate"].info.run_id
    figures = {Path(k).name for k in keys if f"/{evaluate_id}/artifacts/figures/" in k}
    assert {"digits-gamma.png", "digits-confusion.png"} <= figures, keys[:20]
    assert any(f"/{stages['train'].info.run_id}/artifacts/checkpoints/" in k for k in keys)
    assert (
        not (run["root"] / "mlruns").exists() and not (run["root"] / "mlflow.db").exists()
    )  # nothing embedded


def test_dvc_outputs_are_in_the_s3_remote_and_another_host_pulls_them(run: dict[str, Any]) -> None:
    team, root, env = run["team"], run["root"], run["env"]
    assert json.loads(dvc(root, env, "status", "-c", "--json") or "{}") == {}
    assert team.s3.keys(BUCKET, DVC_PREFIX + "/files/md5/")
    assert not (root / ".dvc-remote").exists()  # the embedded folder remote was not used

    # Host B clones what host A committed (code, params, lock file, reports); the data comes from the remote.
    git(root, "add", "params.yaml", "dvc.lock", "data.dvc", "reports")
    git(root, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "ci run")
    other = run["base"] / "host-b"
    git(run["base"], "clone", "-q", str(root), str(other))
    other_env = team.configure(other)
    dvc(other, other_env, "pull", "data.dvc", *(f"mlc-{s}" for s in STAGES))
    for out in ("prepared", "train", "tables"):
        ours, theirs = root / "results" / "ci" / "mlc" / out, other / "results" / "ci" / "mlc" / out
        files = sorted(p.relative_to(ours) for p in ours.rglob("*") if p.is_file())
        assert files and files == sorted(p.relative_to(theirs) for p in theirs.rglob("*") if p.is_file())
        assert all((ours / f).read_bytes() == (theirs / f).read_bytes() for f in files)
    assert json.loads(dvc(other, other_env, "status", "--json", "mlc-prepare", "mlc-train") or "{}") == {}


def test_no_credential_appears_in_what_the_pipeline_prints_or_stores(run: dict[str, Any]) -> None:
    team, root, client = run["team"], run["root"], run["client"]
    mlflow_records = [json.dumps([r.data.params, r.data.tags]) for r in run["runs"]]
    mlflow_records += [
        json.dumps(v.tags)
        for m in client.search_registered_models()
        for v in client.search_model_versions(f"name = '{m.name}'")
    ]
    places = {
        "params.yaml": (root / "params.yaml").read_text(),
        "dvc.lock": (root / "dvc.lock").read_text(),
        ".dvc/config (committed)": (root / ".dvc" / "config").read_text(),
        "studies.toml": (root / "studies.toml").read_text(),
        "the CLI's output": run["output"],
        "Prefect flow run, task runs, logs, artifacts": flow_run_record(team.prefect_api, run["flow_run_id"]),
        "MLflow params and tags": "\n".join(mlflow_records),
        **{f"reports/{p.name}": p.read_text() for p in (root / "reports").glob("*.md")},
    }
    objects = team.s3.keys(BUCKET, MLFLOW_PREFIX + "/")
    for key in objects:  # every MLflow artifact, text or binary
        places[f"s3://{BUCKET}/{key}"] = (
            team.s3.client().get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("latin-1")
        )
    leaks = [
        f"{what} in {where}"
        for where, text in places.items()
        for what, secret in team.secrets().items()
        if secret in text
    ]
    assert not leaks, leaks
    record(
        "security",
        "no credential in params, CLI output, Prefect logs/artifacts, MLflow params/tags/artifacts, "
        "reports, dvc.lock (PostgreSQL + S3 deployment)",
        inputs=len(places),
        lost=0,
    )
    record(
        "load",
        "one light ci run (LIGHT_MLC) on PostgreSQL-backed Prefect and MLflow, S3 artifacts and DVC remote",
        runs=1,
        lost=0,
        seconds=round(run["seconds"], 1),
    )
