"""The champion alias against a real MLflow tracking server on 127.0.0.1 (the shared one)."""

from __future__ import annotations

from collections.abc import Iterator

import mlflow
import pytest
import torch
from mlflow.tracking import MlflowClient

from tasks.platform.registry import ALIAS, ChampionSpec, register


def _logged_run(name: str) -> str:
    with mlflow.start_run() as run:
        mlflow.pytorch.log_model(
            torch.nn.Linear(2, 1), name=name, serialization_format="pickle", pip_requirements=["torch"]
        )
    return run.info.run_id


@pytest.fixture
def client(shared_mlflow: str) -> Iterator[MlflowClient]:
    """The shared tracking server (tests/conftest.py), set for the test only; the models here are its own."""
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(shared_mlflow)
    mlflow.set_experiment("registry")
    yield MlflowClient(shared_mlflow)
    mlflow.set_tracking_uri(previous)


def test_champion_moves_only_when_the_metric_improves(client: MlflowClient) -> None:
    spec = ChampionSpec("toy", "acc", "maximize")
    first = register(client, spec, _logged_run("toy"), {"acc": 0.5})
    assert first["promoted"] and first["version"] == 1 and first["previous_champion"] is None
    worse = register(client, spec, _logged_run("toy"), {"acc": 0.4})
    assert not worse["promoted"] and worse["previous_champion"] == 1
    assert client.get_model_version_by_alias("toy", ALIAS).version == "1"
    better = register(client, spec, _logged_run("toy"), {"acc": 0.6})
    assert better["promoted"] and client.get_model_version_by_alias("toy", ALIAS).version == "3"
    assert (
        client.get_model_version("toy", "2").tags["champion_metric"] == "0.4"
    )  # every version is kept, tagged

    low = ChampionSpec("toy-loss", "nll", "minimize")
    register(client, low, _logged_run("toy-loss"), {"nll": 0.3})
    assert register(client, low, _logged_run("toy-loss"), {"nll": 0.2})["promoted"]

    with pytest.raises(KeyError, match="meta.champion.metric"):
        register(client, spec, _logged_run("toy"), {"loss": 1.0})
    with pytest.raises(LookupError, match="no model named 'toy'"):
        register(client, spec, _logged_run("other"), {"acc": 0.9})
    with pytest.raises(ValueError, match="maximize or minimize"):
        ChampionSpec("toy", "acc", "best")
