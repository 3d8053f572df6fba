"""The MLC pipeline end to end on the `ci` profile, against real Prefect and MLflow servers on 127.0.0.1."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.pipeline import ci_run, dvc, experiment_runs, prefect_api, studies

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One ci-profile pipeline run of MLC through the Prefect flow, with both servers up for the module."""
    with ci_run(tmp_path_factory.mktemp("e2e"), "mlc") as result:
        yield result


def test_flow_ran_every_stage_and_wrote_the_report(run: Any) -> None:
    for stage in ("mlc-prepare", "mlc-train", "mlc-evaluate", "mlc-report"):
        assert f"| {stage} | ran |" in run["output"]
    report = (run["root"] / "reports" / "mlc.md").read_text()
    assert "| mlc |" in report and "kmeans" in report and "CIFAR-10 (TCR init)" in report
    for line in report.splitlines():
        if line.startswith("!["):
            assert (run["root"] / "reports" / line.split("(")[1].rstrip(")")).is_file(), line


def test_mlflow_holds_runs_with_metrics_artifacts_and_tags(run: Any) -> None:
    client, root = run["mlflow"], run["root"]
    runs = experiment_runs(client, "mlc")
    parents = [r for r in runs if "stage" not in r.data.tags]
    children = {r.data.tags["stage"]: r for r in runs if "stage" in r.data.tags}
    assert len(parents) == 1 and set(children) == {"prepare", "train", "evaluate", "report"}
    parent = parents[0]
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    data_md5 = next(
        line.split(":")[1].strip() for line in (root / "data.dvc").read_text().splitlines() if "md5" in line
    )
    for r in (parent, *children.values()):
        tags = r.data.tags
        assert tags["git.commit"] == head and tags["profile"] == "ci" and tags["dvc.data_hash"] == data_md5
        assert r.info.status == "FINISHED"
    flow_run_id = parent.data.tags["prefect.flow_run_id"]
    assert all(c.data.tags["prefect.flow_run_id"] == flow_run_id for c in children.values())
    assert all(c.data.tags["mlflow.parentRunId"] == parent.info.run_id for c in children.values())

    acc = parent.data.metrics["digits/mlc/acc_mean"]
    assert 0.0 <= acc <= 1.0 and children["evaluate"].data.metrics["digits/mlc/acc_mean"] == acc
    train = children["train"]
    assert (
        len(client.get_metric_history(train.info.run_id, "digits/seed0/loss")) > 5
    )  # per-step curve, not one point
    assert "checkpoints" in {a.path for a in client.list_artifacts(train.info.run_id)}
    figures = {Path(a.path).name for a in client.list_artifacts(children["evaluate"].info.run_id, "figures")}
    assert {"digits-gamma.png", "digits-confusion.png", "digits-z-pca.png", "digits-loss.png"} <= figures
    assert train.data.params["seeds"] == "[0]"

    # The logged model loads back without the training code's state and embeds digits onto the sphere.
    models = client.search_logged_models(
        [train.info.experiment_id], filter_string=f"source_run_id = '{train.info.run_id}'"
    )
    assert [m.name for m in models] == ["mlc-digits"]
    import mlflow.pytorch
    import torch

    mlflow.set_tracking_uri(client.tracking_uri)
    model = mlflow.pytorch.load_model(f"models:/{models[0].model_id}")
    with torch.no_grad():
        z = model(torch.nn.functional.normalize(torch.rand(5, 64), dim=1))
    z = z[0] if isinstance(z, tuple) else z
    assert torch.allclose(z.norm(dim=1), torch.ones(5), atol=1e-4)

    # The Prefect flow run named in the tags exists on the server, completed, with its summary artifact.
    flow_run = prefect_api(run["prefect_api"], f"/flow_runs/{flow_run_id}")
    assert flow_run["name"] == "mlc-ci" and flow_run["state"]["type"] == "COMPLETED"
    artifacts = prefect_api(run["prefect_api"], "/artifacts/filter", {})
    assert any(a["key"] == "mlc-summary" and "acc_mean" in (a["data"] or "") for a in artifacts)


def test_dvc_repro_right_after_is_a_no_op(run: Any) -> None:
    root, env = (
        run["root"],
        run["env"],
    )  # only MLC ran in this copy: the other studies' stages are not its business
    assert json.loads(dvc(root, env, "status", "--json", "--with-deps", "mlc-report") or "{}") == {}
    out = dvc(root, env, "repro", "mlc-report")
    assert "Running stage" not in out, out


def test_changing_an_evaluate_param_reruns_only_evaluate_and_report(run: Any) -> None:
    root, env = run["root"], run["env"]
    proc = studies(root, env, "run", "mlc", "--profile", "ci", "--set", "mlc.evaluate.rank_energy=0.9")
    out, log = proc.stdout, proc.stderr  # the flows' prints reach the terminal as Prefect log lines (stderr)
    assert "params.yaml: profiles.ci.mlc.evaluate.rank_energy: 0.95 → 0.9" in out
    # The plan (DVC's verdicts, the first run's timings from MLflow), a line per stage, the report and the UI.
    assert re.search(r"Plan \(ci\): 4 stages, 2 to run, about [\d.]+ (s|min) by their last times\.", log), log
    assert re.search(r"mlc-train +up to date +[\d.]+ (s|min) last time", log), log
    assert re.search(r"mlc-report +will run \(after mlc-evaluate\) +[\d.]+ (s|min) last time", log), log
    for line in ("[1/4] mlc-prepare: cached in", "[2/4] mlc-train: cached in", "[3/4] mlc-evaluate: ran in"):
        assert line in log, log
    assert re.search(r"\[4/4\] mlc-report: ran in .*; nothing left to run\.", log), log
    assert "  reports/mlc.md (mlc-report: ran)" in log, log
    assert f"Review the runs: the MLflow UI at {run['mlflow'].tracking_uri}" in log, log
    for stage, verdict in [
        ("mlc-prepare", "cached"),
        ("mlc-train", "cached"),
        ("mlc-evaluate", "ran"),
        ("mlc-report", "ran"),
    ]:
        assert f"| {stage} | {verdict} |" in out, out[-3000:]
    # A train param re-runs train and what follows, not prepare (bare dvc repro, embedded in the same
    # workspace).
    out = studies(root, env, "run", "mlc", "--profile", "ci", "--set", "mlc.train.seeds=[1]").stdout
    for stage, verdict in [
        ("mlc-prepare", "cached"),
        ("mlc-train", "ran"),
        ("mlc-evaluate", "ran"),
        ("mlc-report", "ran"),
    ]:
        assert f"| {stage} | {verdict} |" in out, out[-3000:]
