"""Start real servers on 127.0.0.1 for tests, and stop them afterwards: Prefect, MLflow, PostgreSQL and an
S3-compatible object store (moto), the services a team deployment runs."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import BIN


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} not up after {timeout}s:\n{log.read_text()[-3000:]}")


@contextmanager
def service(
    cmd: list[str], health: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen]:
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    try:
        wait_http(health, proc, log)
        yield proc
    finally:
        if proc.poll() is None:  # an exited server already said why (wait_http); keep that error
            os.killpg(proc.pid, signal.SIGTERM)  # SIGTERM: SIGINT is ignored by background processes
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@contextmanager
def prefect_server(
    home: Path, scheduler: bool = False, leases: bool = False, database_url: str | None = None
) -> Iterator[str]:
    """A Prefect API server. Its services stay on except those tests have no use for: Prefect 3 records task
    runs from client events in the TaskRunRecorder service, so under `--no-services` /task_runs/filter is
    empty.
    `scheduler=True` keeps the scheduler, which turns deployment schedules into flow runs (every 5 s here);
    `leases=True` keeps the repossessor, which frees the concurrency slots of holders that died (every 5 s
    here).
    `database_url` (postgresql://...) puts its database on PostgreSQL instead of SQLite in `home`."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    off = ("LATE_RUNS", "TRIGGERS", "FOREMAN", "CANCELLATION_CLEANUP", "PAUSE_EXPIRATIONS")
    off += () if scheduler else ("SCHEDULER",)
    off += () if leases else ("REPOSSESSOR",)
    env = {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
        "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "5",
    } | {f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "false" for name in off}
    if database_url:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url.replace(
            "postgresql://", "postgresql+asyncpg://", 1
        )
    cmd = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with service(cmd, f"http://127.0.0.1:{port}/api/health", home / "prefect-server.log", env):
        yield f"http://127.0.0.1:{port}/api"


# MLflow's server starts four job-runner (huey) processes beside its web worker unless told not to. The
# pipeline runs none of those jobs; without them the server was up in 11-14 s instead of 18-22 s (load 5,
# 2 cores).
JOB_EXECUTION = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"


@contextmanager
def mlflow_server(
    folder: Path,
    backend_store_uri: str | None = None,
    artifacts: str | None = None,
    s3: S3 | None = None,
    workers: int = 1,
) -> Iterator[str]:
    """An MLflow tracking server; by default SQLite and artifacts in `folder`. `backend_store_uri`
    (postgresql://...) and `artifacts` (s3://bucket/prefix, served through the server, with `s3`'s endpoint
    and credentials in the server's environment only) make it the team deployment's. SQLAlchemy 2.1 reads a
    bare postgresql:// as psycopg 3, which is not installed: the URL is given psycopg2's driver name."""
    port = free_port()
    if backend_store_uri and backend_store_uri.startswith("postgresql://"):
        backend_store_uri = backend_store_uri.replace("postgresql://", "postgresql+psycopg2://", 1)
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(BIN / "mlflow"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--backend-store-uri",
        backend_store_uri or f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        artifacts or str(folder / "artifacts"),
    ]
    env = {JOB_EXECUTION: "false"} | (s3.server_env() if s3 else {})
    with service(cmd, f"http://127.0.0.1:{port}/health", folder / "mlflow-server.log", env):
        yield f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class Postgres:
    """A running PostgreSQL server; `superuser`/`password` authenticate over TCP (scram-sha-256)."""

    port: int
    superuser: str
    password: str

    def create_database(self, name: str) -> str:
        """A new database, as the postgresql:// URL (password included) a server is configured with."""
        import psycopg2

        conn = psycopg2.connect(
            host="127.0.0.1", port=self.port, user=self.superuser, password=self.password, dbname="postgres"
        )
        try:
            conn.autocommit = True  # CREATE DATABASE refuses to run inside a transaction
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return f"postgresql://{self.superuser}:{self.password}@127.0.0.1:{self.port}/{name}"


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [
        p for p in [shutil.which("initdb")] if p
    ]
    if not found:
        raise RuntimeError(
            "PostgreSQL's initdb not found (/usr/lib/postgresql/*/bin or PATH). "
            "Fix: apt-get install postgresql (scripts/test-tools.sh does it)."
        )
    return Path(found[-1]).parent


@contextmanager
def postgres_server() -> Iterator[Postgres]:
    """A throw-away PostgreSQL cluster on 127.0.0.1 at a free port, its unix socket in its own folder, fsync
    off. initdb refuses root, so as root the cluster belongs to the `postgres` user, in a folder under /tmp
    that user can reach (pytest's tmp folders are 0700 root)."""
    bindir, port, password = _postgres_bin(), free_port(), secrets.token_urlsafe(18)
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="studies-postgres-"))
    data, sockets, pwfile = folder / "data", folder / "socket", folder / "pwfile"
    sockets.mkdir()
    pwfile.write_text(password + "\n")
    if as_postgres:
        for path in (folder, sockets, pwfile):
            shutil.chown(path, "postgres", "postgres")
    log = folder / "postgres.log"
    try:
        subprocess.run(
            [
                *as_postgres,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "studies",
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--no-sync",
                "--no-locale",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": str(sockets),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "300",
        }
        with log.open("w") as out:
            proc = subprocess.Popen(
                [
                    *as_postgres,
                    str(bindir / "postgres"),
                    "-D",
                    str(data),
                    *(arg for k, v in settings.items() for arg in ("-c", f"{k}={v}")),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_postgres(port, password, proc, log)
            yield Postgres(port, "studies", password)
        finally:
            subprocess.run(
                [*as_postgres, str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w"],
                capture_output=True,
            )
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"initdb failed: {exc.stderr}") from exc
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _wait_postgres(port: int, password: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    import psycopg2

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"postgres exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            psycopg2.connect(
                host="127.0.0.1", port=port, user="studies", password=password, dbname="postgres"
            ).close()
            return
        except psycopg2.OperationalError as exc:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"postgres not up on 127.0.0.1:{port} after {timeout}s:\n{log.read_text()[-3000:]}"
                ) from exc
            time.sleep(0.3)


@dataclass(frozen=True)
class S3:
    """A running S3-compatible server and the key pair that signs requests to it."""

    endpoint: str
    access_key: str
    secret_key: str

    def server_env(self) -> dict[str, str]:
        """What a server that writes to this store (MLflow) or DVC needs in its environment."""
        return {
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self):  # -> botocore S3 client (untyped)
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key under `prefix` (all pages)."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


@contextmanager
def s3_server(folder: Path) -> Iterator[S3]:
    """moto's S3 server on 127.0.0.1 at a free port (state in memory), with a fresh random key pair."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    with service(cmd, f"http://127.0.0.1:{port}/moto-api/", folder / "s3-server.log"):
        yield S3(f"http://127.0.0.1:{port}", "AK" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))
