"""Start real Prefect and MLflow servers on 127.0.0.1 for tests, and stop them afterwards."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

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
def service(cmd: list[str], health: str, log: Path, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, start_new_session=True)
    try:
        wait_http(health, proc, log)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # SIGTERM: SIGINT is ignored by background processes
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def prefect_server(home: Path, scheduler: bool = False, leases: bool = False) -> Iterator[str]:
    """A Prefect API server. Its services stay on except those tests have no use for: Prefect 3 records task
    runs from client events in the TaskRunRecorder service, so under `--no-services` /task_runs/filter is empty.
    `scheduler=True` keeps the scheduler, which turns deployment schedules into flow runs (every 5 s here);
    `leases=True` keeps the repossessor, which frees the concurrency slots of holders that died (every 5 s here)."""
    port = free_port()
    off = ("LATE_RUNS", "TRIGGERS", "FOREMAN", "CANCELLATION_CLEANUP", "PAUSE_EXPIRATIONS")
    off += () if scheduler else ("SCHEDULER",)
    off += () if leases else ("REPOSSESSOR",)
    env = {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
           "PREFECT_SERVER_UI_ENABLED": "false", "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
           "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "5"} | {
        f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "false" for name in off}
    cmd = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with service(cmd, f"http://127.0.0.1:{port}/api/health", home / "prefect-server.log", env):
        yield f"http://127.0.0.1:{port}/api"


@contextmanager
def mlflow_server(folder: Path) -> Iterator[str]:
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
           "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}", "--artifacts-destination", str(folder / "artifacts")]
    with service(cmd, f"http://127.0.0.1:{port}/health", folder / "mlflow-server.log"):
        yield f"http://127.0.0.1:{port}"
