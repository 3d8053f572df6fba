"""The SSVI pipeline end to end on the `ci` profile, against real Prefect and MLflow servers on 127.0.0.1:
what is particular to SSVI (tests/e2e/test_study_runs.py checks what every study's run must show)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.pipeline import artifacts, dvc, stage_runs, studies

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def run(ci_run: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    return ci_run("ssvi")


def test_the_report_compares_the_methods_and_the_metrics_count_their_weights(run: dict[str, Any]) -> None:
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
        "Methods on digits (MLP",
        "Protocol: the same for every method",
        "Targets: Fashion-MNIST",
        "| fmnist-ssvi-0.1 |",
        "| fmnist-dense-vi |",
        "Sparsity layout and support updates",
    ):
        assert needle in report, needle
    metrics = json.loads((root / "results" / "ci" / "ssvi" / "metrics.json").read_text())
    ssvi, dense = metrics["ssvi-0.1"], metrics["dense-vi"]
    assert 0 <= ssvi["acc_mean"] <= 1 and ssvi["nnz_mean"] == round(0.1 * 16384) + round(0.1 * 65536) + round(
        0.1 * 2560
    )
    assert dense["nnz_mean"] == 84_480 and dense["train_flops_mean"] / ssvi["train_flops_mean"] > 5
    assert metrics["deep-ensemble"]["nnz_mean"] == 2 * 84_480
    # Fashion-MNIST, 300 real images to train on (240 after the validation fifth) and 200 to test on.
    fmnist = metrics["fmnist-ssvi-0.1"]
    assert fmnist["dataset"] == "fashion_mnist" and fmnist["nnz_mean"] == round(0.1 * 784 * 32) + round(
        0.1 * 32 * 32
    ) + round(0.1 * 32 * 10)
    tuning = metrics["_tuning"]
    assert [len(tuning[r]["grid"]) for r in ("dense-vi", "fmnist-dense-vi")] == [2, 2]
    assert set(tuning["fmnist-ssvi-0.1"]["chosen"]) == {"epochs"}
    assert set(metrics["_criteria_agreement"]) and metrics["_criteria_agreement"][
        "snr_mu-vs-snr_abs_theta"
    ] == pytest.approx(1.0)


def test_mlflow_holds_the_training_curves_figures_and_a_model_that_draws_from_its_posterior(
    run: dict[str, Any],
) -> None:
    client, parent = run["mlflow"], run["parent"]
    children = stage_runs(run)
    train = children["train"]
    assert train.data.tags["device"] == "cpu"
    sigma = client.get_metric_history(train.info.run_id, "ssvi-0.1/mean_sigma")
    assert [m.step for m in sigma] == [1, 2, 3] and all(m.value > 0 for m in sigma)
    assert "dense-vi/seed0/kl_per_example" in train.data.metrics
    assert parent.data.metrics["ssvi-0.1/acc_mean"] == children["evaluate"].data.metrics["ssvi-0.1/acc_mean"]
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
        x = torch.rand(4, 1, 8, 8)
        a, b = model(x), model(x)
    assert (
        a.shape == (4, 10) and torch.isfinite(a).all() and not torch.equal(a, b)
    )  # a posterior draw per call
    # The metrics table beside the markdown summary carries the study's own metrics.
    (table,) = artifacts(run["prefect_api"], "ssvi-metrics", run["flow_run_id"])
    assert "ssvi-0.1/nll_mean" in table["data"]


def test_a_train_param_reruns_from_train_and_the_champion_moves_only_to_a_better_model(
    run: dict[str, Any],
) -> None:
    root, env = run["root"], run["env"]
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


def test_an_unknown_run_key_fails_before_any_training_and_loses_nothing(run: dict[str, Any]) -> None:
    root, env = run["root"], run["env"]
    params = (root / "params.yaml").read_text()
    try:
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
    finally:  # `--set` wrote the bad key to params.yaml, as it should: the user's fix is to take it out
        (root / "params.yaml").write_text(params)
        # DVC cleared the stage's outputs before running it, as it always does; its cache still holds them.
        dvc(root, env, "checkout", "ssvi-train")
    assert proc.returncode != 0
    assert "lr_sigma" in proc.stdout + proc.stderr and "Valid keys" in proc.stdout + proc.stderr
    assert json.loads(dvc(root, env, "status", "--json", "--with-deps", "ssvi-report") or "{}") == {}
