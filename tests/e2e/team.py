"""A team deployment on 127.0.0.1, shared by the team and load tests: PostgreSQL under a Prefect server and an
MLflow server, an S3-compatible store (moto) under MLflow's artifacts and the DVC remote. Project copies reach
it the way a team's checkouts do: endpoints in studies.toml, the DVC remote in DVC's own local config, the S3
key pair in the AWS variables boto3 and DVC read. The database password stays with the servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import copy_project, project_env
from tests.e2e.pipeline import dvc, prefect_api
from tests.services import S3, Postgres, mlflow_server, postgres_server, prefect_server, s3_server

BUCKET = "team-studies"
DVC_PREFIX = "dvc"
MLFLOW_PREFIX = "mlflow"


@dataclass(frozen=True)
class Team:
    postgres: Postgres
    s3: S3
    prefect_api: str
    mlflow_uri: str
    prefect_db: str  # postgresql:// URLs, password included: for direct checks only
    mlflow_db: str

    def secrets(self) -> dict[str, str]:
        """What must never appear in anything the pipeline prints or stores."""
        return {"PostgreSQL password": self.postgres.password, "S3 secret key": self.s3.secret_key}

    def checkout(self, root: Path) -> tuple[Path, dict[str, str]]:
        """A fresh project copy pointed at the team's services (see `configure`)."""
        return copy_project(root), self.configure(root)

    def configure(self, root: Path) -> dict[str, str]:
        """Point a checkout at the team's services; the environment a member's shell has: the S3 key pair only
        (no PREFECT_API_URL or MLFLOW_TRACKING_URI: those come from studies.toml)."""
        (root / "studies.toml").write_text(
            f'[prefect]\napi_url = "{self.prefect_api}"\n\n[mlflow]\ntracking_uri = "{self.mlflow_uri}"\n\n'
            f'[s3]\nendpoint_url = "{self.s3.endpoint}"\n'
        )
        env = project_env(root) | {
            "AWS_ACCESS_KEY_ID": self.s3.access_key,
            "AWS_SECRET_ACCESS_KEY": self.s3.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        dvc(root, env, "remote", "add", "--local", "-d", "team", f"s3://{BUCKET}/{DVC_PREFIX}")
        dvc(root, env, "remote", "modify", "--local", "team", "endpointurl", self.s3.endpoint)
        return env


@contextmanager
def team_services(folder: Path, mlflow_workers: int = 1) -> Iterator[Team]:
    """PostgreSQL, S3, and Prefect and MLflow servers on them; everything stopped and removed afterwards."""
    with postgres_server() as pg, s3_server(folder / "s3") as s3:
        s3.create_bucket(BUCKET)
        prefect_db, mlflow_db = pg.create_database("prefect"), pg.create_database("mlflow")
        with (
            prefect_server(folder / "prefect", database_url=prefect_db) as api,
            mlflow_server(
                folder / "mlflow",
                backend_store_uri=mlflow_db,
                artifacts=f"s3://{BUCKET}/{MLFLOW_PREFIX}",
                s3=s3,
                workers=mlflow_workers,
            ) as mlflow_uri,
        ):
            yield Team(pg, s3, api, mlflow_uri, prefect_db, mlflow_db)


def query(url: str, sql: str, *args: Any) -> list[tuple]:
    """Rows straight from a PostgreSQL database: proof that a server keeps its state there."""
    import psycopg2

    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


def prefect_all(api: str, path: str, body: dict | None = None) -> list[dict]:
    """Every item of a Prefect /filter endpoint, page by page (the server caps a page at 200)."""
    items: list[dict] = []
    while page := prefect_api(api, path, (body or {}) | {"limit": 200, "offset": len(items)}):
        items += page
        if len(page) < 200:
            break
    return items


def flow_run_record(api: str, flow_run_id: str) -> str:
    """The flow run, its task runs, logs and artifacts as the API returns them, as one text to search."""
    ids = {"flow_run_id": {"any_": [flow_run_id]}}
    parts = [
        prefect_api(api, f"/flow_runs/{flow_run_id}"),
        prefect_all(api, "/task_runs/filter", {"task_runs": ids}),
        prefect_all(api, "/logs/filter", {"logs": ids}),
        prefect_all(api, "/artifacts/filter", {"artifacts": ids}),
    ]
    return json.dumps(parts)
