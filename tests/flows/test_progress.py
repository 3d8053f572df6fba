"""The plan, progress and end lines of a run (flows/progress.py) on the real dvc.yaml's stages, and the past
durations read from a real (SQLite) MLflow store (flows/study.py `last_durations`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from flows import dag, progress
from flows.study import last_durations
from tests.conftest import REPO


@pytest.fixture(scope="module")
def stages() -> list[dag.StageInfo]:
    return dag.stages(REPO)


def _only(stages: list[dag.StageInfo], study: str) -> list[dag.StageInfo]:
    return [s for s in stages if s.study == study]


def test_a_stage_reading_one_that_will_run_is_planned_to_run(stages: list[dag.StageInfo]) -> None:
    """DVC calls only cdvae-train changed; what reads it, directly or not, runs too; its siblings do not."""
    cdvae = _only(stages, "cdvae")
    changed = {s.name: s.name == "cdvae-train" for s in cdvae}
    why = {p.stage.name: p.why for p in progress.plan(cdvae, changed, {})}
    assert why == {
        "cdvae-prepare": "up to date",
        "cdvae-train": "changed",
        "cdvae-generate": "after cdvae-train",
        "cdvae-reconstruct": "after cdvae-train",
        "cdvae-evaluate": "after cdvae-reconstruct",
        "cdvae-train-property-model": "up to date",
        "cdvae-evaluate-generation": "after cdvae-generate",
        "cdvae-report": "after cdvae-evaluate",
    }


def test_the_plan_lists_every_stage_by_study_with_last_times_and_the_total(
    stages: list[dag.StageInfo],
) -> None:
    chosen = _only(stages, "mlc") + _only(stages, "ssvi")
    changed = {s.name: s.name in ("mlc-evaluate", "ssvi-prepare") for s in chosen}
    last = {
        "mlc-prepare": 7.0,
        "mlc-train": 409.0,
        "mlc-evaluate": 21.0,
        "mlc-report": 7.4,
        "ssvi-train": 700.0,
    }
    lines = progress.plan_lines(progress.plan(chosen, changed, last), "cpu")
    # to run: mlc-evaluate 21 + mlc-report 7.4 + ssvi-train 700 = 728.4 s; 3 ssvi stages without a timing
    assert lines[0] == (
        "Plan (cpu): 8 stages, 6 to run, about 12.1 min by their last times + 3 without a timing yet."
    )
    assert [line.strip() for line in lines if not line.startswith("    ")] == [lines[0], "mlc", "ssvi"]
    rows = {line.split()[0]: line for line in lines if line.startswith("    ")}
    assert list(rows) == [s.name for s in chosen]
    assert rows["mlc-train"].split()[1:] == ["up", "to", "date", "6.8", "min", "last", "time"]
    assert "will run  " in rows["mlc-evaluate"] and rows["mlc-evaluate"].endswith("21 s last time")
    assert "will run (after mlc-evaluate)" in rows["mlc-report"]
    assert (
        rows["ssvi-report"].endswith("no timing yet")
        and "will run (after ssvi-evaluate)" in rows["ssvi-report"]
    )


def test_each_ended_stage_says_its_time_the_time_so_far_and_what_remains(stages: list[dag.StageInfo]) -> None:
    mlc = _only(stages, "mlc")
    changed = {s.name: s.name != "mlc-prepare" for s in mlc}
    last = {"mlc-train": 400.0, "mlc-evaluate": 20.0}  # mlc-report: no timing yet
    run = progress.Progress(progress.plan(mlc, changed, last), started=1000.0)
    results = [
        ("mlc-prepare", "cached", 0.0, 1003.0),
        ("mlc-train", "ran", 390.4, 1395.0),
        ("mlc-evaluate", "restored from DVC run-cache", 2.0, 1398.0),
        ("mlc-report", "ran", 7.0, 1406.0),
    ]
    lines = [run.ended({"stage": s, "verdict": v, "seconds": t}, now) for s, v, t, now in results]
    assert lines == [
        "[1/4] mlc-prepare: cached in 0 s; 3 s since the start; "
        "3 to run, about 7.0 min by their last times + 1 without a timing yet.",
        "[2/4] mlc-train: ran in 6.5 min; 6.6 min since the start; "
        "2 to run, about 20 s by their last times + 1 without a timing yet.",
        "[3/4] mlc-evaluate: restored from DVC run-cache in 2 s; 6.6 min since the start; "
        "1 to run, no timing yet.",
        "[4/4] mlc-report: ran in 7 s; 6.8 min since the start; nothing left to run.",
    ]


def test_the_end_names_the_reports_with_their_verdict_and_where_to_review_the_runs(
    stages: list[dag.StageInfo],
) -> None:
    chosen = _only(stages, "mlc") + _only(stages, "ssvi")
    run = progress.Progress(progress.plan(chosen, {s.name: True for s in chosen}, {}), started=0.0)
    run.ended({"stage": "mlc-report", "verdict": "ran", "seconds": 7.0}, 10.0)
    run.ended({"stage": "ssvi-report", "verdict": "up to date", "seconds": 0.6}, 11.0)
    links = {
        "mlc": "http://127.0.0.1:5000/#/experiments/1/runs/a1",
        "ssvi": "http://127.0.0.1:5000/#/experiments/2/runs/b2",
    }
    assert run.finished(links, embedded=True, now=5700.0) == [
        "Finished in 1 h 35 min. Reports:",
        "  reports/mlc.md (mlc-report: ran)",
        "  reports/ssvi.md (ssvi-report: up to date)",
        "Review the runs: `studies ui`, then open http://127.0.0.1:5000",
        "  mlc: http://127.0.0.1:5000/#/experiments/1/runs/a1",
        "  ssvi: http://127.0.0.1:5000/#/experiments/2/runs/b2",
    ]
    shared = run.finished({"mlc": "http://mlflow.lab:5000/#/experiments/1/runs/a1"}, embedded=False, now=60.0)
    assert shared[3] == "Review the runs: the MLflow UI at http://mlflow.lab:5000"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.4, "0 s"), (59.4, "59 s"), (60.0, "1.0 min"), (3599.0, "60.0 min"), (5700.0, "1 h 35 min")],
)
def test_durations_read_as_seconds_minutes_or_hours(seconds: float, text: str) -> None:
    assert progress.duration(seconds) == text


def test_last_durations_are_the_last_finished_run_of_each_stage_on_the_profile(
    tmp_path: Path, stages: list[dag.StageInfo]
) -> None:
    """As flows/study.py's flow leaves them: a study run (no `stage` tag) with stages.json, its stage runs as
    children; a bare `dvc repro` logs a stage run with no parent."""
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiments = {  # no cdvae runs yet
        study: client.create_experiment(study, artifact_location=(tmp_path / study).as_uri())
        for study in ("mlc", "ssvi")
    }

    def run(study: str, tags: dict[str, str], start_s: int, seconds: float, status: str = "FINISHED") -> str:
        run_id = client.create_run(experiments[study], start_time=start_s * 1000, tags=tags).info.run_id
        client.set_terminated(run_id, status, end_time=int((start_s + seconds) * 1000))
        return run_id

    def stage(step: str, profile: str, parent: str | None = None) -> dict[str, str]:
        return {"stage": step, "profile": profile} | ({"mlflow.parentRunId": parent} if parent else {})

    mlc = run("mlc", {"profile": "cpu"}, 4_990, 420.0)
    ran = [
        {"stage": "mlc-prepare", "verdict": "cached", "seconds": 0.0},
        {"stage": "mlc-train", "verdict": "ran", "seconds": 395.2},  # `dvc repro` included
    ]
    client.log_dict(mlc, {"stages": ran}, "stages.json")
    run("mlc", stage("train", "cpu"), 1_000, 400.0)
    # the last finished one counts, with the seconds its flow measured
    run("mlc", stage("train", "cpu", mlc), 5_000, 380.5)
    run("mlc", stage("train", "cpu"), 9_000, 12.0, "FAILED")  # a later failure does not
    run("mlc", stage("train", "ci"), 9_500, 3.0)  # nor another profile
    run("mlc", stage("report", "cpu"), 5_400, 7.25)  # a bare `dvc repro`: from its start to its end
    ssvi = run("ssvi", {"profile": "cpu"}, 1_990, 800.0, "FAILED")  # stopped before it logged stages.json
    run("ssvi", stage("train", "cpu", ssvi), 2_000, 700.0)  # same step name as mlc's, other study
    client.create_run(experiments["ssvi"], tags=stage("evaluate", "cpu"))  # still running

    assert last_durations(client, stages, "cpu") == {
        "mlc-train": 395.2,
        "mlc-report": 7.25,
        "ssvi-train": 700.0,
    }
    assert last_durations(client, stages, "ci") == {"mlc-train": 3.0}
