"""The MLflow Model Registry: each study's trained model becomes a version; alias `champion` moves only on
improvement.

Which model and which metric is declared in dvc.yaml on the stage that logs it:
`meta: {champion: {model: ssvi-digits, metric: ssvi-0.1/nll_mean, goal: minimize}}` (metric as flattened
from the study's DVC metrics files), so a new study opts in without code here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

ALIAS = "champion"
METRIC_TAG = "champion_metric"


@dataclass(frozen=True)
class ChampionSpec:
    model: str
    metric: str
    goal: str = "maximize"

    def __post_init__(self) -> None:
        if self.goal not in ("maximize", "minimize"):
            raise ValueError(
                f"champion goal '{self.goal}' for {self.model}: use maximize or minimize (dvc.yaml meta)."
            )

    def better(self, new: float, old: float) -> bool:
        return new < old if self.goal == "minimize" else new > old


def register(
    client: MlflowClient, spec: ChampionSpec, source_run_id: str, metrics: dict[str, float]
) -> dict[str, Any]:
    """Register the model logged by `source_run_id` as a new version of `spec.model`, tagged with its metric,
    and point `champion` at it if that metric beats the current champion's; returns what happened."""
    if spec.metric not in metrics:
        raise KeyError(
            f"champion metric '{spec.metric}' is not among the study's metrics; fix dvc.yaml "
            "meta.champion.metric."
        )
    run = client.get_run(source_run_id)
    logged = client.search_logged_models(
        [run.info.experiment_id], filter_string=f"source_run_id = '{source_run_id}'"
    )
    matches = [m for m in logged if m.name == spec.model]
    if not matches:
        raise LookupError(
            f"run {source_run_id} logged no model named '{spec.model}' (it logged "
            f"{[m.name for m in logged]})."
        )
    try:
        client.get_registered_model(spec.model)
    except MlflowException:
        client.create_registered_model(
            spec.model, description=f"Best {spec.model} by {spec.metric} ({spec.goal})."
        )
    value = metrics[spec.metric]
    version = client.create_model_version(
        spec.model,
        matches[0].model_uri,
        run_id=source_run_id,
        model_id=matches[0].model_id,
        tags={METRIC_TAG: str(value), "metric_name": spec.metric},
    )
    try:
        current = client.get_model_version_by_alias(spec.model, ALIAS)
        previous = float(current.tags[METRIC_TAG])
    except MlflowException:
        current, previous = None, None
    promoted = previous is None or spec.better(value, previous)
    if promoted:
        client.set_registered_model_alias(spec.model, ALIAS, version.version)
    return {
        "model": spec.model,
        "version": int(version.version),
        "metric": spec.metric,
        "value": value,
        "previous_champion": None if current is None else int(current.version),
        "previous_value": previous,
        "promoted": promoted,
    }
