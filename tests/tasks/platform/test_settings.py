"""tasks/platform/settings.py: studies.toml keys become the variables the libraries read, the environment
wins, `${VAR}` keeps secrets out of the file, and every mistake is refused with a message that names the key
and the fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tasks.platform import settings
from tasks.platform.settings import SettingsError

TEAM = """
[prefect]
api_url = "http://prefect.team:4200/api"
[mlflow]
tracking_uri = "postgresql://mlflow:${TEST_MLFLOW_DB_PASSWORD}@db.team/mlflow"
[s3]
endpoint_url = "http://minio.team:9000"
[dispatch]
pools = ["gpu", "bigmem"]
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No variable the file can set, nor STUDIES_CONFIG, leaks in from the shell running the tests."""
    for variables, _ in settings.KEYS.values():
        for var in variables:
            monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv(settings.CONFIG_ENV, raising=False)


def write(root: Path, text: str) -> Path:
    path = root / settings.CONFIG_FILE
    path.write_text(text)
    return path


def test_keys_map_onto_the_variables_the_libraries_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_MLFLOW_DB_PASSWORD", "s3cr3t")
    values = settings.read(write(tmp_path, TEAM))
    assert values == {
        "PREFECT_API_URL": "http://prefect.team:4200/api",
        "MLFLOW_TRACKING_URI": "postgresql://mlflow:s3cr3t@db.team/mlflow",
        "MLFLOW_S3_ENDPOINT_URL": "http://minio.team:9000",  # one key, both MLflow's and boto3's variable
        "AWS_ENDPOINT_URL_S3": "http://minio.team:9000",
        "STUDIES_DISPATCH": "gpu,bigmem",  # lists join with commas
    }


def test_apply_sets_what_the_environment_lacks_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_MLFLOW_DB_PASSWORD", "s3cr3t")
    monkeypatch.setenv(
        "PREFECT_API_URL", "http://127.0.0.1:4999/api"
    )  # a one-off override on the command line
    path = write(tmp_path, TEAM)
    assert settings.apply(tmp_path) == path
    assert os.environ["PREFECT_API_URL"] == "http://127.0.0.1:4999/api"
    assert os.environ["MLFLOW_S3_ENDPOINT_URL"] == "http://minio.team:9000"
    assert os.environ["STUDIES_DISPATCH"] == "gpu,bigmem"


def test_no_file_changes_nothing(tmp_path: Path) -> None:
    before = dict(os.environ)
    assert settings.config_file(tmp_path) is None and settings.apply(tmp_path) is None
    assert dict(os.environ) == before


def test_studies_config_names_the_file_and_beats_the_project_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, '[prefect]\napi_url = "http://project/api"\n')
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text('[prefect]\napi_url = "http://elsewhere/api"\n')
    monkeypatch.setenv(settings.CONFIG_ENV, str(elsewhere))
    assert settings.config_file(tmp_path) == elsewhere
    settings.apply(tmp_path)
    assert os.environ["PREFECT_API_URL"] == "http://elsewhere/api"


def test_studies_config_pointing_nowhere_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.CONFIG_ENV, str(tmp_path / "missing.toml"))
    with pytest.raises(
        SettingsError,
        match=r"STUDIES_CONFIG=.*missing\.toml: no such file\. Fix: point it at a studies\.toml or unset it",
    ):
        settings.config_file(tmp_path)


def test_a_missing_variable_is_named_with_its_key(tmp_path: Path) -> None:
    path = write(tmp_path, TEAM)
    with pytest.raises(
        SettingsError,
        match=r"mlflow\.tracking_uri uses \$\{TEST_MLFLOW_DB_PASSWORD\}, which is not set\. Fix: export it",
    ):
        settings.read(path)


def test_expansion_replaces_every_reference_and_leaves_plain_dollars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_HOST", "h")
    monkeypatch.setenv("TEST_PORT", "4200")
    path = write(tmp_path, '[prefect]\napi_url = "http://${TEST_HOST}:${TEST_PORT}/api?x=$y"\n')
    assert settings.read(path)["PREFECT_API_URL"] == "http://h:4200/api?x=$y"


def test_an_unknown_key_is_refused_naming_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, '[mlflow]\ntracking_url = "http://x"\n')  # a typo of tracking_uri
    with pytest.raises(SettingsError) as err:
        settings.read(path)
    message = str(err.value)
    assert "unknown key mlflow.tracking_url" in message
    assert all(f"{section}.{key}" in message for section, key in settings.KEYS)


def test_a_value_outside_a_section_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        SettingsError, match=r"'api_url' must be a \[section\]\. Known keys: prefect\.api_url"
    ):
        settings.read(write(tmp_path, 'api_url = "http://x"\n'))


def test_invalid_toml_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[prefect\napi_url = 1\n")
    with pytest.raises(SettingsError, match=rf"{path}: .*Fix: make it valid TOML"):
        settings.read(path)
