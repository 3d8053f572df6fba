"""What every study's ci run must show, whatever the study: each stage of dvc.yaml ran and is recorded in
MLflow (a parent run, a linked child per stage, the run's tags), in Prefect (the flow run, a task per stage
tagged with its pool, the summary artifacts) and in the Model Registry (the champion), and DVC sees nothing
left to do. One parametrised test per check; tests/e2e/test_<study>_pipeline.py checks what is particular to
a study.

The checks read the study's first run (tests/e2e/conftest.py), so they hold whichever of the study's own tests
ran before them."""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from flows import dag
from tasks.orchestration.prefect_tasks import read_metrics
from tests.conftest import REPO
from tests.e2e.pipeline import artifacts, dvc, experiment_runs, prefect_api, task_runs

pytestmark = pytest.mark.e2e


@pytest.fixture(params=dag.studies(REPO))
def run(request: pytest.FixtureRequest, ci_run: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """The study's first ci run, with its stages as dvc.yaml declares them."""
    made = ci_run(request.param)
    return made | {"stages": dag.stages(made["root"], made["study"])}


def test_every_stage_ran_and_the_report_links_only_figures_it_has(run: dict[str, Any]) -> None:
    for stage in run["stages"]:
        assert f"| {stage.name} | ran |" in run["output"], run["output"][-3000:]
    reports = [
        out for s in run["stages"] for out in s.outs if out.startswith("reports/") and out.endswith(".md")
    ]
    assert reports, "the study writes no report under reports/"
    for report in reports:
        links = [line for line in (run["root"] / report).read_text().splitlines() if line.startswith("![")]
        assert links, f"{report} shows no figure"
        for line in links:
            assert (run["root"] / "reports" / line.split("(")[1].rstrip(")")).is_file(), line


def test_mlflow_holds_a_parent_run_and_a_linked_child_per_stage_with_the_runs_tags(
    run: dict[str, Any],
) -> None:
    root, client, parent = run["root"], run["mlflow"], run["parent"]
    children = [
        r
        for r in experiment_runs(client, run["study"])
        if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id
    ]
    assert sorted(c.data.tags["stage"] for c in children) == sorted(s.step for s in run["stages"])
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    data = next(
        o["md5"] for o in yaml.safe_load((root / "data.dvc").read_text())["outs"] if o["path"] == "data"
    )
    assert run["flow_run_id"] not in ("", "none")
    for r in (parent, *children):
        assert r.info.status == "FINISHED", (r.data.tags.get("stage"), r.info.status)
        tags = r.data.tags
        assert (tags["study"], tags["profile"], tags["prefect.flow_run_id"]) == (
            run["study"],
            "ci",
            run["flow_run_id"],
        )
        assert tags["git.commit"] == head and tags["dvc.data_hash"] == data, tags
    # The study's DVC metrics land on its parent run, every one of them.
    metrics = read_metrics(root, [m for s in run["stages"] for m in s.metrics])
    assert metrics and set(parent.data.metrics) == set(metrics)
    assert all(math.isfinite(v) for v in parent.data.metrics.values()), parent.data.metrics


def test_prefect_holds_the_completed_flow_run_a_task_per_stage_tagged_with_its_pool_and_the_summary(
    run: dict[str, Any],
) -> None:
    api, flow_run_id, study = run["prefect_api"], run["flow_run_id"], run["study"]
    flow_run = prefect_api(api, f"/flow_runs/{flow_run_id}")
    assert flow_run["name"] == f"{study}-ci" and flow_run["state"]["type"] == "COMPLETED", flow_run["state"]
    by_name = task_runs(api, flow_run_id, {s.name for s in run["stages"]})
    for stage in run["stages"]:
        task = by_name[stage.name]
        assert task["state"]["type"] == "COMPLETED", (stage.name, task["state"])
        assert ("gpu" in task["tags"]) == (stage.resources == "gpu"), (stage.name, task["tags"])
    (summary,) = artifacts(api, f"{study}-summary", flow_run_id)
    assert all(f"| {s.name} | ran |" in summary["data"] for s in run["stages"]), summary["data"]
    shown = [k for k in run["parent"].data.metrics if not k.endswith(("_std", "n_seeds"))]
    assert shown and all(f"| {k} |" in summary["data"] for k in shown), summary["data"]
    (table,) = artifacts(api, f"{study}-metrics", flow_run_id)
    assert table["type"] == "table" and f"/runs/{run['parent'].info.run_id}" in table["data"]


# Studies whose dvc.yaml declares a champion (meta.champion); intdim's result is a dimension, not a model.
CHAMPIONED = [s for s in dag.studies(REPO) if any(stage.champion for stage in dag.stages(REPO, s))]


@pytest.mark.parametrize("study", CHAMPIONED)
def test_each_champion_is_the_registered_model_of_its_first_run(
    study: str, ci_run: Callable[[str], dict[str, Any]]
) -> None:
    made = ci_run(study)
    client, parent = made["mlflow"], made["parent"]
    for stage in [s for s in dag.stages(made["root"], study) if s.champion]:
        (source,) = client.search_runs(
            [parent.info.experiment_id],
            f"tags.mlflow.parentRunId = '{parent.info.run_id}' and tags.stage = '{stage.step}'",
        )
        first = client.get_model_version(stage.champion["model"], "1")
        assert first.run_id == source.info.run_id
        metric = stage.champion["metric"]
        assert float(first.tags["champion_metric"]) == pytest.approx(parent.data.metrics[metric])
        assert client.get_model_version_by_alias(stage.champion["model"], "champion").version.isdigit()


def test_dvc_sees_nothing_to_do(run: dict[str, Any]) -> None:
    root, env = run["root"], run["env"]
    targets = [s.name for s in run["stages"]]  # the other studies' stages are their own tests' business
    assert json.loads(dvc(root, env, "status", "--json", "--with-deps", *targets) or "{}") == {}
    out = dvc(root, env, "repro", *targets)
    assert "Running stage" not in out, out
