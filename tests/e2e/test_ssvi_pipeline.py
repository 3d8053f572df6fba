"""The SSVI pipeline end to end on the `ci` profile, against real Prefect and MLflow servers on 127.0.0.1."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.pipeline import ci_run, dvc, experiment_runs, prefect_api, studies, task_runs

pytestmark = pytest.mark.e2e
STAGES = ("prepare", "train", "evaluate", "report")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with ci_run(tmp_path_factory.mktemp("e2e"), "ssvi") as result:
        yield result


def test_flow_ran_every_stage_and_the_report_compares_the_methods(run: Any) -> None:
    for stage in STAGES:
        assert f"| ssvi-{stage} | ran |" in run["output"]
    root = run["root"]
    report = (root / "reports" / "ssvi.md").read_text()
    for needle in (
        "| dense-vi |",
        "| ssvi-0.1 |",
        "| deterministic |",
        "| deep-ensemble |",
        "| cnn-ssvi-0.1 |",
        "Is the posterior variance learned?",
        "rotate45: entropy / AUROC",
        "training FLOPs vs dense VI",
        "Methods (MLP",
    ):
        assert needle in report, needle
    for line in report.splitlines():
        if line.startswith("!["):
            assert (root / "reports" / line.split("(")[1].rstrip(")")).is_file(), line
    metrics = json.loads((root / "results" / "ci" / "ssvi" / "metrics.json").read_text())
    ssvi, dense = metrics["ssvi-0.1"], metrics["dense-vi"]
    assert 0 <= ssvi["acc_mean"] <= 1 and ssvi["nnz_mean"] == round(0.1 * 16384) + round(0.1 * 65536) + round(
        0.1 * 2560
    )
    assert dense["nnz_mean"] == 84_480 and dense["train_flops_mean"] / ssvi["train_flops_mean"] > 5
    assert metrics["deep-ensemble"]["nnz_mean"] == 2 * 84_480
    assert set(metrics["_criteria_agreement"]) and metrics["_criteria_agreement"][
        "snr_mu-vs-snr_abs_theta"
    ] == pytest.approx(1.0)


def test_mlflow_holds_runs_with_metrics_models_and_the_gpu_step_tag(run: Any) -> None:
    client = run["mlflow"]
    runs = experiment_runs(client, "ssvi")
    parents = [r for r in runs if "stage" not in r.data.tags]
    children = {r.data.tags["stage"]: r for r in runs if "stage" in r.data.tags}
    assert len(parents) == 1 and set(children) == set(STAGES)
    assert all(r.info.status == "FINISHED" for r in runs)
    train = children["train"]
    assert train.data.tags["device"] == "cpu"
    sigma = client.get_metric_history(train.info.run_id, "ssvi-0.1/mean_sigma")
    assert [m.step for m in sigma] == [1, 2, 3] and all(m.value > 0 for m in sigma)
    assert "dense-vi/seed0/kl_per_example" in train.data.metrics
    assert (
        parents[0].data.metrics["ssvi-0.1/acc_mean"] == children["evaluate"].data.metrics["ssvi-0.1/acc_mean"]
    )
    figures = {
        a.path.split("/")[-1] for a in client.list_artifacts(children["evaluate"].info.run_id, "figures")
    }
    assert {"reliability.png", "density-acc.png", "trajectory-mean_sigma.png"} <= figures

    models = client.search_logged_models(
        [train.info.experiment_id], filter_string=f"source_run_id = '{train.info.run_id}'"
    )
    assert [m.name for m in models] == ["ssvi-digits"]
    import mlflow.pytorch
    import torch

    mlflow.set_tracking_uri(client.tracking_uri)
    model = mlflow.pytorch.load_model(f"models:/{models[0].model_id}")
    with torch.no_grad():
        a, b = model(torch.rand(4, 64)), model(torch.rand(4, 64))
    assert (
        a.shape == (4, 10) and torch.isfinite(a).all() and not torch.equal(a, b)
    )  # a posterior draw per call

    # The model is registered and, being the first, is the champion, tagged with its metric.
    champion = client.get_model_version_by_alias("ssvi-digits", "champion")
    assert champion.version == "1" and champion.run_id == train.info.run_id
    assert float(champion.tags["champion_metric"]) == pytest.approx(
        parents[0].data.metrics["ssvi-0.1/nll_mean"]
    )

    # The Prefect flow's training task carries the `gpu` tag that routes it to GPU workers.
    flow_run_id = parents[0].data.tags["prefect.flow_run_id"]
    by_name = task_runs(run["prefect_api"], flow_run_id, {f"ssvi-{s}" for s in STAGES})
    assert {f"ssvi-{s}": "gpu" in by_name[f"ssvi-{s}"]["tags"] for s in STAGES} == {
        f"ssvi-{s}": s == "train" for s in STAGES
    }
    # A metrics table artifact beside the markdown summary, each row linking to the MLflow run.
    tables = [
        a for a in prefect_api(run["prefect_api"], "/artifacts/filter", {}) if a["key"] == "ssvi-metrics"
    ]
    assert tables and tables[0]["type"] == "table"
    assert "ssvi-0.1/nll_mean" in tables[0]["data"] and f"/runs/{parents[0].info.run_id}" in tables[0]["data"]


def test_dvc_repro_right_after_is_a_no_op_and_a_train_param_reruns_from_train(run: Any) -> None:
    root, env = run["root"], run["env"]
    assert "Running stage" not in dvc(root, env, "repro", "ssvi-report")
    out = studies(
        root, env, "run", "ssvi", "--profile", "ci", "--set", "ssvi.train.defaults.n_samples=2"
    ).stdout
    for stage, verdict in [
        ("ssvi-prepare", "cached"),
        ("ssvi-train", "ran"),
        ("ssvi-evaluate", "ran"),
        ("ssvi-report", "ran"),
    ]:
        assert f"| {stage} | {verdict} |" in out, out[-3000:]
    # The retrained model is version 2; `champion` moved to it only if its NLL is lower.
    client = run["mlflow"]
    v1, v2 = (client.get_model_version("ssvi-digits", v) for v in ("1", "2"))
    nll = {v.version: float(v.tags["champion_metric"]) for v in (v1, v2)}
    expected = "2" if nll["2"] < nll["1"] else "1"
    assert client.get_model_version_by_alias("ssvi-digits", "champion").version == expected, nll


def test_an_unknown_run_key_fails_before_any_training(run: Any) -> None:
    root, env = run["root"], run["env"]
    proc = studies(
        root,
        env,
        "run",
        "ssvi",
        "--profile",
        "ci",
        "--set",
        "ssvi.train.runs.dense-vi={method: vi, lr_sigma: 1}",
        check=False,
    )
    assert proc.returncode != 0
    assert "lr_sigma" in proc.stdout + proc.stderr and "Valid keys" in proc.stdout + proc.stderr
