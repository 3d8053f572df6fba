"""Endpoints from a config file: how one checkout is pointed at a team's servers without editing code.

`studies.toml` in the project root (or the file $STUDIES_CONFIG names) maps readable keys onto the
environment variables Prefect, MLflow, boto3 and this package already read. A variable already set in the
environment wins, so a one-off `PREFECT_API_URL=... studies run` still works. `${VAR}` in a value is taken
from the environment, so passwords stay out of the file (and out of git).
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

from tasks.platform.errors import StudiesError
from tasks.platform.paths import ALLOWED_ENV

CONFIG_ENV = "STUDIES_CONFIG"
CONFIG_FILE = "studies.toml"
# Read by tasks/orchestration: dispatch.py (pools whose steps go to workers) and fan_out.py (task runner).
DISPATCH_ENV = "STUDIES_DISPATCH"
RUNNER_ENV = "STUDIES_TASK_RUNNER"
ADDRESS_ENV = "STUDIES_DASK_ADDRESS"
MIRROR_ENV = "STUDIES_DATA_MIRROR"  # read by tasks/data/fetch.py: the offline copy of the datasets

# (section, key) -> the environment variables it sets, with what each one is for (printed by
# `studies config`).
KEYS: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {
    ("prefect", "api_url"): (("PREFECT_API_URL",), "Prefect server the flows, `serve` and workers share"),
    ("prefect", "result_storage"): (
        ("PREFECT_LOCAL_STORAGE_PATH",),
        "folder of Prefect results that flows and workers share",
    ),
    # Background tasks (dispatched steps) keep their parameters in the task-scheduling storage: the same
    # block.
    ("prefect", "result_storage_block"): (
        ("PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK", "PREFECT_TASKS_SCHEDULING_DEFAULT_STORAGE_BLOCK"),
        "or a storage block: `studies result-storage s3://...`",
    ),
    ("mlflow", "tracking_uri"): (
        ("MLFLOW_TRACKING_URI",),
        "MLflow tracking server (http://host:5000) or database URI",
    ),
    ("s3", "endpoint_url"): (
        ("MLFLOW_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"),
        "S3-compatible object storage (MinIO, Ceph, ...)",
    ),
    ("dispatch", "pools"): (
        (DISPATCH_ENV,),
        "resources whose steps go to `studies worker --pool` workers",
    ),
    ("fan_out", "runner"): ((RUNNER_ENV,), "Prefect task runner for parallel evaluation: dask"),
    ("fan_out", "address"): (
        (ADDRESS_ENV,),
        "scheduler of an existing Dask cluster (tcp://host:8786)",
    ),
    ("data", "mirror"): ((MIRROR_ENV,), "offline copy of the declared datasets for `studies ingest`"),
    ("serve", "allowed_paths"): ((ALLOWED_ENV,), "folders path options may name when served"),
}


class SettingsError(StudiesError):
    """studies.toml (or $STUDIES_CONFIG) cannot be used as written."""


def config_file(root: Path) -> Path | None:
    if env := os.environ.get(CONFIG_ENV):
        path = Path(env)
        if not path.is_file():
            raise SettingsError(
                f"{CONFIG_ENV}={env}: no such file. Fix: point it at a studies.toml or unset it."
            )
        return path
    path = root / CONFIG_FILE
    return path if path.is_file() else None


def read(path: Path) -> dict[str, str]:
    """The environment variables the file sets, `${VAR}` expanded; unknown keys are refused, naming them."""
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: {exc}. Fix: make it valid TOML (see README, Team deployment).") from exc
    known = ", ".join(f"{s}.{k}" for s, k in KEYS)
    out: dict[str, str] = {}
    for section, table in doc.items():
        if not isinstance(table, dict):
            raise SettingsError(f"{path}: '{section}' must be a [section]. Known keys: {known}.")
        for key, value in table.items():
            if (section, key) not in KEYS:
                raise SettingsError(f"{path}: unknown key {section}.{key}. Known keys: {known}.")
            text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            for var in KEYS[section, key][0]:
                out[var] = _expand(text, path, f"{section}.{key}")
    return out


def _expand(text: str, path: Path, key: str) -> str:
    def lookup(match: re.Match) -> str:
        if (value := os.environ.get(match.group(1))) is None:
            raise SettingsError(
                f"{path}: {key} uses ${{{match.group(1)}}}, which is not set. Fix: export it."
            )
        return value

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lookup, text)


def apply(root: Path) -> Path | None:
    """Set the file's variables that the environment does not already set; the file used, if any."""
    if (path := config_file(root)) is None:
        return None
    for var, value in read(path).items():
        os.environ.setdefault(var, value)
    return path
