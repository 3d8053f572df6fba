"""mlc-train killed half-way: the rerun reuses the finished fits, and ends as an uninterrupted run would."""

from __future__ import annotations

import importlib
import json
import shutil

import numpy as np
import polars as pl
import pytest
import torch

from tests.tasks.stages.conftest import Stages

mlc_train = importlib.import_module(
    "tasks.stages.mlc.train"
)  # `tasks.stages.mlc.train` the attribute is the stage function
FITS = ["digits/seed0", "digits/seed1", "subspaces-3x3-noise0.05/seed0", "subspaces-3x3-noise0.05/seed1"]


def test_a_killed_stage_resumes_from_its_finished_fits(
    stages: Stages, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    params = stages.params("mlc")
    params["prepare"]["datasets"] = {"digits": {"n": 300}}  # the ci profile's MNIST needs an ingested data/
    params["train"]["seeds"] = [0, 1]
    params["train"]["digits"] |= {"warmup_steps": 10, "mlc_steps": 10}
    params["train"]["synthetic"] |= {"warmup_steps": 10, "mlc_steps": 10}
    prepared, reference, reference_run, out, state = stages.train_interrupted("mlc", params, saves=2)
    assert sorted(str(p.relative_to(state)) for p in state.rglob("*.pt")) == [
        "digits/seed0.pt",
        "digits/seed1.pt",
    ]
    saved_seconds = {
        key: torch.load(state / f"{key}.pt", weights_only=True)["result"]["seconds"] for key in FITS[:2]
    }
    (state / "subspaces-3x3-noise0.05").mkdir()
    torch.save(
        {"fingerprint": "stale", "result": {}}, state / "subspaces-3x3-noise0.05" / "seed0.pt"
    )  # another config's
    (state / "digits" / "seed1.pt.tmp").write_bytes(b"torn")  # a save that was killed half-way
    shutil.rmtree(out)  # what `dvc repro` does before it reruns a stage

    calls: list[int] = []
    fit_mlc = mlc_train.fit_mlc
    monkeypatch.setattr(mlc_train, "fit_mlc", lambda *a, **k: calls.append(1) or fit_mlc(*a, **k))
    capsys.readouterr()
    resumed_run = stages.run("mlc", "train", params, {"prepared": prepared}, {"train": out})

    printed = capsys.readouterr().out
    assert f"resuming: 2 of 4 fits already done (state in {state})" in printed
    assert (
        len(calls) == 2
        and "training MLC on digits" not in printed
        and "training MLC on subspaces-3x3-noise0.05/seed0" in printed
    )
    assert not state.exists()
    timings = json.loads((out / "timings.json").read_text())
    assert {
        key: timings[key] for key in FITS[:2]
    } == saved_seconds  # their time is that of the attempt that fitted them
    for key in FITS:  # bit-identical to the uninterrupted run
        a, b = reference / key, out / key
        for name, tensor in torch.load(a / "model.pt", weights_only=True).items():
            assert torch.equal(tensor, torch.load(b / "model.pt", weights_only=True)[name]), (key, name)
        with np.load(a / "embedding.npz") as ea, np.load(b / "embedding.npz") as eb:
            assert all(np.array_equal(ea[k], eb[k]) for k in ("Z", "gamma"))
        assert pl.read_parquet(a / "history.parquet").equals(pl.read_parquet(b / "history.parquet"))
    assert stages.metrics(resumed_run, skip="train_seconds") == stages.metrics(
        reference_run, skip="train_seconds"
    )
    assert stages.artifacts(resumed_run) == stages.artifacts(reference_run)
