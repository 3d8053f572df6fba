"""The intrinsic-dimension pipeline end to end on the `ci` profile, against real Prefect and MLflow servers on
127.0.0.1: what is particular to this study (tests/e2e/test_study_runs.py checks what every study's run must
show)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from studies.intdim.paper import CITATION
from tasks.platform.params import study_params
from tests.e2e.pipeline import experiment_runs

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def run(ci_run: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    made = ci_run("intdim")
    return made | {"params": study_params(made["root"] / "params.yaml", "intdim", "ci")}


def test_the_report_labels_the_papers_values_and_shows_each_networks_figure(run: dict[str, Any]) -> None:
    root, networks = run["root"], run["params"]["train"]["networks"]
    text = (root / "reports" / "intdim.md").read_text()
    assert "**Not comparable with the paper's numbers.**" in text  # digits are not the paper's data
    assert "## The paper's Table 1 (image classification), for reference" in text and CITATION in text
    assert "| mnist | none | fc | 199,210 | 750 | reference notebook |" in text
    assert "| digits | sklearn.datasets.load_digits | 300 of 1,797 | 150 of 1,797 | 1×8×8 | 0 |" in text
    figures = root / "reports" / "figures" / "intdim"
    assert (figures / "d_int90.png").is_file()
    for name in networks:
        assert f"| {name} |" in text and (figures / f"accuracy-{name}.png").is_file(), name
    prepared = json.loads((root / "results" / "ci" / "intdim" / "prepared" / "prepared.json").read_text())
    assert (
        prepared["digits"]["copy"]["files"]["digits/digits.parquet"]["source"]
        == "sklearn.datasets.load_digits"
    )


def test_every_fit_is_a_child_run_of_the_training_stage_with_its_curve(run: dict[str, Any]) -> None:
    client, parent, train_params = run["mlflow"], run["parent"], run["params"]["train"]
    runs = experiment_runs(client, "intdim")
    (train,) = [
        r
        for r in runs
        if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id and r.data.tags["stage"] == "train"
    ]
    fits = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == train.info.run_id]
    expected = {
        f"{name}/d{d}/seed{seed}"
        for name, spec in train_params["networks"].items()
        for d in (0, *spec["dims"])
        for seed in train_params["seeds"]
    }
    assert sorted(r.data.tags["fit"] for r in fits) == sorted(expected)
    assert train.data.metrics["fits"] == len(expected)
    epochs = list(range(1, train_params["defaults"]["epochs"] + 1))
    for fit in fits:
        tags, params = fit.data.tags, fit.data.params
        assert fit.info.status == "FINISHED" and tags["stage"] == "train/fit"
        assert (tags["git.commit"], tags["prefect.flow_run_id"]) == (
            train.data.tags["git.commit"],
            run["flow_run_id"],
        )
        assert f"{params['network']}/d{params['d']}/seed{params['seed']}" == tags["fit"]
        assert int(params["D"]) > int(params["d"]) and params["projection"] == "fastfood"
        curve = client.get_metric_history(fit.info.run_id, "test_acc")
        assert [m.step for m in curve] == epochs and all(0 <= m.value <= 1 for m in curve), tags["fit"]
        assert 0 <= fit.data.metrics["train_acc"] <= 1 and fit.data.metrics["seconds"] > 0


def test_the_metrics_hold_both_definitions_per_network_and_a_verdict_per_claim(run: dict[str, Any]) -> None:
    root, networks = run["root"], run["params"]["train"]["networks"]
    metrics = json.loads((root / "results" / "ci" / "intdim" / "metrics.json").read_text())
    for name in networks:
        m = metrics[name]
        assert (
            0 < m["baseline_mean"] <= 1
            and m["n_seeds"] == 1
            and m["fixed"]["threshold"] == pytest.approx(0.9)
        )
        assert m["relative"]["threshold"] == pytest.approx(0.9 * m["baseline_mean"])
        assert run["parent"].data.metrics[f"{name}/baseline_mean"] == pytest.approx(m["baseline_mean"])
    assert set(metrics["claims"]) == {"a", "b", "c"}
    # no LeNet on 8x8 digits: (b) and (c) cannot be judged, and say so instead of passing or failing
    assert metrics["claims"]["b"] == {"relative": None, "fixed": None} == metrics["claims"]["c"]
    summary = json.loads((root / "results" / "ci" / "intdim" / "tables" / "summary.json").read_text())
    assert summary["networks"]["fc-32x2-labels"]["metric"] == "train_acc"  # memorisation is all there is
    assert summary["target"]["met"] is None and "784-200-200-10" in summary["target"]["why"]
