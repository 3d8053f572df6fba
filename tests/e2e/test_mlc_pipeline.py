"""The MLC pipeline end to end on the `ci` profile, against real Prefect and MLflow servers on 127.0.0.1:
what is particular to MLC (tests/e2e/test_study_runs.py checks what every study's run must show)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.pipeline import stage_runs, studies

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def run(ci_run: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    return ci_run("mlc")


def test_the_report_compares_mlc_with_the_baselines_and_the_paper(run: dict[str, Any]) -> None:
    report = (run["root"] / "reports" / "mlc.md").read_text()
    assert "| mlc |" in report and "kmeans" in report and "CIFAR-10 (TCR init)" in report
    # a real-image set end to end: 300 MNIST images through the CNN, Γ on its anchors, scored beside baselines
    assert "## mnist" in report and "| kmeans:raw |" in report.split("## mnist")[1]
    assert (
        "DEC (Xie, Girshick & Farhadi, ICML 2016, Table 2)" in report
        and "fashion_mnist: not measured yet" in report
    )
    metrics = run["parent"].data.metrics
    assert 0.0 <= metrics["mnist/mlc/acc_mean"] <= 1.0 and metrics["mnist/mlc/anchors"] == 300


def test_mlflow_holds_the_training_curve_figures_and_a_model_that_embeds_onto_the_sphere(
    run: dict[str, Any],
) -> None:
    client, parent = run["mlflow"], run["parent"]
    children = stage_runs(run)
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


def test_changing_an_evaluate_param_reruns_only_evaluate_and_report(run: dict[str, Any]) -> None:
    """What a rerun prints (plan, progress, reports) when one evaluate param changed. That a train param
    reruns from train and not prepare is the same `dvc repro` for every study: SSVI's test checks it."""
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
