"""`stages`: run a study's stage functions on the `ci` profile in a bare project folder, each in its own
MLflow run."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import mlflow
import polars as pl
import pytest
from sklearn.datasets import load_digits

from tasks.orchestration.resume import FitStore
from tasks.orchestration.stage_runner import StageContext, step_function
from tasks.platform import params as params_mod
from tasks.platform.project import Project
from tests.conftest import REPO


class Killed(Exception):
    """Stands in for a kill -9: the stage stops where it is, leaving what it saved."""


class Interrupted(NamedTuple):
    prepared: Path
    reference: Path  # the uninterrupted run's outputs
    reference_run: str
    out: Path  # the killed run's output folder
    state: Path  # its resume state


@dataclass
class Stages:
    root: Path

    def params(self, study: str) -> dict[str, Any]:
        return copy.deepcopy(params_mod.study_params(REPO / "params.yaml", study, "ci"))

    def digits(self) -> Path:
        """data/digits/digits.parquet as the ingest step writes it (p00..p63, target), from scikit-learn's
        copy."""
        bunch = load_digits()
        path = self.root / "data" / "digits" / "digits.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pl.DataFrame(
            {**{f"p{i:02d}": bunch.data[:, i].astype("int64") for i in range(64)}, "target": bunch.target}
        ).write_parquet(path)
        return path

    def version_data(self) -> None:
        """A data.dvc, as `studies ingest` leaves it: a report's provenance line names the data's version."""
        (self.root / "data.dvc").write_text(
            "outs:\n- md5: 0123456789abcdef0123456789abcdef.dir\n  path: data\n"
        )

    def run(
        self, study: str, step: str, params: dict[str, Any], inputs: dict[str, Path], outputs: dict[str, Path]
    ) -> str:
        """The stage function, as `studies stage` runs it; returns its MLflow run id."""
        ctx = StageContext(Project(self.root), study, step, "ci", params, inputs, outputs)
        if mlflow.get_experiment_by_name(study) is None:
            mlflow.create_experiment(study, artifact_location=(self.root / "mlruns" / study).as_uri())
        with mlflow.start_run(experiment_id=mlflow.get_experiment_by_name(study).experiment_id) as run:
            step_function(study, step)(ctx)
        return run.info.run_id

    def train_interrupted(self, study: str, params: dict[str, Any], saves: int) -> Interrupted:
        """Prepare, train once uninterrupted (the reference), then train again killed after `saves` finished
        fits."""
        results = self.root / "results" / "ci" / study
        prepared, reference, out = results / "prepared", self.root / "reference", results / "train"
        inputs = {"digits": self.digits(), "data": self.root / "data"}  # the stages read data/
        self.run(study, "prepare", params, inputs, {"prepared": prepared})
        reference_run = self.run(study, "train", params, {"prepared": prepared}, {"train": reference})
        with self.killed_after_saves(saves):
            self.run(study, "train", params, {"prepared": prepared}, {"train": out})
        return Interrupted(prepared, reference, reference_run, out, results / "train-state")

    @contextmanager
    def killed_after_saves(self, n: int) -> Iterator[None]:
        """The stage dies right after its n-th finished fit reached the state folder."""
        save, saves = FitStore.save, []

        def dying_save(store: FitStore, key: str, fingerprint: str, obj: Any) -> None:
            save(store, key, fingerprint, obj)
            saves.append(key)
            if len(saves) == n:
                raise Killed(key)

        with pytest.MonkeyPatch.context() as m, pytest.raises(Killed):
            m.setattr(FitStore, "save", dying_save)
            yield

    @staticmethod
    def metrics(run_id: str, skip: str) -> dict[str, list[tuple[int, float]]]:
        """Every metric's (step, value) history in a run, but those whose name starts with `skip` (wall-clock
        times)."""
        client = mlflow.MlflowClient()
        keys = [k for k in client.get_run(run_id).data.metrics if not k.startswith(skip)]
        return {k: sorted((m.step, m.value) for m in client.get_metric_history(run_id, k)) for k in keys}

    @staticmethod
    def artifacts(run_id: str, path: str | None = None) -> set[str]:
        """Artifact paths of a run, recursively."""
        out: set[str] = set()
        for item in mlflow.MlflowClient().list_artifacts(run_id, path):
            out |= Stages.artifacts(run_id, item.path) if item.is_dir else {item.path}
        return out


@pytest.fixture
def stages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stages]:
    previous = mlflow.get_tracking_uri()
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    yield Stages(tmp_path)
    mlflow.set_tracking_uri(previous)
