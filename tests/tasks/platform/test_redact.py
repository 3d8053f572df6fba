"""Service URLs are printed and stored without their credentials."""

from __future__ import annotations

import pytest

from tasks.platform.redact import redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://mlflow:s3cr3t@db.lab:5432/mlflow", "postgresql://mlflow:***@db.lab:5432/mlflow"),
        ("https://user:p%40ss@mlflow.lab/?x=1", "https://user:***@mlflow.lab/?x=1"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("http://[::1]:5000/api", "http://[::1]:5000/api"),
        (
            "s3://bucket/path?AWSAccessKeyId=AKIA&Signature=abc&region=eu",
            "s3://bucket/path?AWSAccessKeyId=***&Signature=***&region=eu",
        ),
        ("https://host/api?token=abc", "https://host/api?token=***"),
        ("sqlite:////work/project/mlflow.db", "sqlite:////work/project/mlflow.db"),
    ],
)
def test_passwords_and_secret_query_values_are_masked(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert "s3cr3t" not in redact_url(url) and "p%40ss" not in redact_url(url)
