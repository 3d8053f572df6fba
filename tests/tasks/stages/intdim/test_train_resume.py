"""intdim-train killed half-way: only the unfinished fits go to the pool again, and the stage ends as an
uninterrupted run would: the same records, curves and weights, and a child run per fit with the same params
and curves."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import mlflow
import polars as pl
import pytest
import torch

from tests.tasks.stages.conftest import Stages

NETWORKS = {
    "fc-8x1": {"dataset": "digits", "arch": "fc", "width": 8, "depth": 1, "dims": [30]},
    "fc-8x1-pixels": {
        "dataset": "digits",
        "arch": "fc",
        "width": 8,
        "depth": 1,
        "shuffle": "pixels",
        "dims": [30],
    },
}
FITS = [f"{network}/d{d}/seed{seed}" for network in NETWORKS for d in (0, 30) for seed in (0, 1)]
TIMES = ("train_seconds", "seconds_per_step", "seconds")


def ingested_digits(stages: Stages) -> Path:
    """data/ as ingest leaves it for the digits: the table and its SOURCES.json entry."""
    table = stages.digits()
    data = table.parents[1]
    entry = {"source": "sklearn.datasets.load_digits", "rows": 1797, "sha256": "0" * 64}
    (data / "SOURCES.json").write_text(json.dumps({"files": {"digits/digits.parquet": entry}}))
    return data


def fit_runs(stage_run: str) -> dict[str, mlflow.entities.Run]:
    """The child runs of a stage run, by fit."""
    runs = mlflow.search_runs(
        search_all_experiments=True,
        filter_string=f"tags.mlflow.parentRunId = '{stage_run}'",
        output_format="list",
    )
    return {r.data.tags["fit"]: r for r in runs}


def curve(run: mlflow.entities.Run) -> dict[str, list[tuple[int, float]]]:
    client = mlflow.MlflowClient()
    keys = [k for k in run.data.metrics if k not in TIMES]
    return {k: sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, k)) for k in keys}


def test_a_killed_stage_fits_only_what_it_had_not_finished(
    stages: Stages, capsys: pytest.CaptureFixture[str]
) -> None:
    params = stages.params("intdim")
    params["train"] |= {"seeds": [0, 1], "workers": 2, "networks": NETWORKS}
    params["train"]["defaults"] |= {"epochs": 2}
    results = stages.root / "results" / "ci" / "intdim"
    prepared, reference, out = results / "prepared", stages.root / "reference", results / "train"
    stages.run("intdim", "prepare", params, {"data": ingested_digits(stages)}, {"prepared": prepared})
    reference_run = stages.run("intdim", "train", params, {"prepared": prepared}, {"train": reference})
    with stages.killed_after_saves(3):
        stages.run("intdim", "train", params, {"prepared": prepared}, {"train": out})
    state = results / "train-state"
    saved = {str(p.relative_to(state))[:-3] for p in state.rglob("*.pt")}
    assert len(saved) == 3 and saved < set(FITS)  # which three: whichever the two workers finished first
    shutil.rmtree(out, ignore_errors=True)  # what `dvc repro` does before it reruns a stage

    capsys.readouterr()
    resumed_run = stages.run("intdim", "train", params, {"prepared": prepared}, {"train": out})

    printed = capsys.readouterr().out
    assert f"resuming: 3 of 8 fits already done (state in {state})" in printed
    assert re.findall(r"(\d+)/(\d+) fits done", printed) == [(str(i), "5") for i in range(1, 6)]
    assert not state.exists()
    records = [pl.read_parquet(folder / "records.parquet") for folder in (reference, out)]
    assert records[0].drop(TIMES).equals(records[1].drop(TIMES))
    assert [f"{r['network']}/d{r['d']}/seed{r['seed']}" for r in records[1].iter_rows(named=True)] == FITS
    assert pl.read_parquet(reference / "history.parquet").equals(pl.read_parquet(out / "history.parquet"))
    weights = [torch.load(folder / "weights.pt", weights_only=True) for folder in (reference, out)]
    assert list(weights[1]) == FITS
    assert all(torch.equal(weights[0][fit][k], weights[1][fit][k]) for fit in FITS for k in weights[0][fit])
    assert weights[1]["fc-8x1/d30/seed0"]["theta_d"].shape == (
        30,
    )  # θ_d alone: θ₀ and P regrow from the seed
    assert (reference / "networks.json").read_text() == (out / "networks.json").read_text()

    before, after = fit_runs(reference_run), fit_runs(resumed_run)
    assert sorted(after) == sorted(FITS) and sorted(before) == sorted(FITS)
    for fit in FITS:
        assert before[fit].data.params == after[fit].data.params
        assert curve(before[fit]) == curve(after[fit])
    run = after["fc-8x1-pixels/d30/seed1"]
    assert {k: run.data.params[k] for k in ("network", "d", "D", "projection", "seed", "shuffle")} == {
        "network": "fc-8x1-pixels",
        "d": "30",
        "D": "610",
        "projection": "fastfood",
        "seed": "1",
        "shuffle": "pixels",
    }
    assert [step for step, _ in curve(run)["test_acc"]] == [1, 2]
    assert run.data.tags["stage"] == "train/fit"  # not the step's own tag: the plan's timings never read it
