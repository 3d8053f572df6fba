"""ssvi-train killed half-way through its tuning fits: only the unfinished jobs go to the pool again, and the
stage ends as an uninterrupted run would (same choices, same models)."""

from __future__ import annotations

import json
import re
import shutil

import polars as pl
import pytest
import torch

from tests.tasks.stages.conftest import Stages

RUNS = {
    "deterministic": {"method": "deterministic"},
    "ssvi-0.1": {"method": "ssvi", "density": 0.1},
    "deep-ensemble": {"method": "ensemble", "ensemble_size": 2},
}
FITS = [f"{run}/seed{seed}" for run in RUNS for seed in (0, 1)]


def test_a_killed_stage_dispatches_only_the_unfinished_fits(
    stages: Stages, capsys: pytest.CaptureFixture[str]
) -> None:
    params = stages.params("ssvi")
    params["prepare"]["datasets"] = {"digits": {"test_size": 0.25, "split_seed": 0}}
    params["train"] |= {"seeds": [0, 1], "runs": RUNS, "workers": 2}
    params["train"]["tune"] = {"seed": 0, "grids": {"digits": {"weight_decay": [0.0, 0.01]}}}
    params["train"]["defaults"] |= {"epochs": 2}
    prepared, reference, reference_run, out, state = stages.train_interrupted("ssvi", params, 3)
    saved = {
        str(p.relative_to(state))[:-3]: torch.load(p, weights_only=True)["result"]
        for p in state.rglob("*.pt")
    }
    tuning = {f"tune/{run}/weight_decay={wd}/seed0" for run in RUNS for wd in ("0", "0.01")}
    assert len(saved) == 3 and set(saved) < tuning  # which three: whichever the two workers finished first
    shutil.rmtree(
        out, ignore_errors=True
    )  # what `dvc repro` does before it reruns a stage (none yet: written at the end)

    capsys.readouterr()
    resumed_run = stages.run("ssvi", "train", params, {"prepared": prepared}, {"train": out})

    printed = capsys.readouterr().out
    assert f"resuming: 3 of 6 fits already done (state in {state})" in printed
    progress = re.findall(r"(\d+)/(\d+) fits done", printed)
    assert progress == [(str(i), "3") for i in range(1, 4)] + [(str(i), "6") for i in range(1, 7)]
    chosen_a, chosen_b = (json.loads((d / "tuning.json").read_text()) for d in (reference, out))
    assert {r: c["grid"] for r, c in chosen_a.items()} == {r: c["grid"] for r, c in chosen_b.items()}
    assert not state.exists()
    for key in FITS:  # bit-identical to the uninterrupted run
        a, b = reference / key, out / key
        for sa, sb in zip(
            torch.load(a / "model.pt", weights_only=True),
            torch.load(b / "model.pt", weights_only=True),
            strict=True,
        ):
            assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa), key
        assert pl.read_parquet(a / "history.parquet").equals(pl.read_parquet(b / "history.parquet"))
        run_a, run_b = json.loads((a / "run.json").read_text()), json.loads((b / "run.json").read_text())
        timeless = {"seconds": 0, "tuning_seconds": 0}
        assert run_a | timeless == run_b | timeless
    for run in RUNS:  # a reused tuning fit keeps the time of the attempt that fitted it
        reused = sum(fit["seconds"] for key, fit in saved.items() if key.startswith(f"tune/{run}/"))
        assert chosen_b[run]["seconds"] >= round(reused, 2) - 0.01
    assert stages.metrics(resumed_run, skip="train_seconds") == stages.metrics(
        reference_run, skip="train_seconds"
    )
    assert stages.artifacts(resumed_run) == stages.artifacts(reference_run)
