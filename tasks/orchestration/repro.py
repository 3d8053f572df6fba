"""One stage through `dvc repro --single-item`: the call the flow makes in-process and a worker makes in its
checkout.

DVC decides what is up to date, restores from its run-cache and records dvc.lock exactly as a bare `dvc repro`
would; this module adds who ran it (flow or worker, host and pid) and how long it took.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

from prefect import get_run_logger

from tasks.orchestration.caching import stage_key
from tasks.platform import tracking
from tasks.platform.project import ROOT_ENV
from tasks.platform.versioning import run_dvc

WORKER_NAME_ENV = "STUDIES_WORKER_NAME"


def worker_id() -> str:
    """How Prefect names a task worker (host-pid): the running step and the worker registry agree on it."""
    return f"{socket.gethostname()}-{os.getpid()}"


def executor() -> str:
    """Who runs the step, recorded in MLflow: `worker <name> (<host-pid>)` in a worker, `flow (<host-pid>)`
    otherwise."""
    name = os.environ.get(WORKER_NAME_ENV)
    return f"worker {name} ({worker_id()})" if name else f"flow ({worker_id()})"


def stage_env(root: Path, stage: str, parent_run_id: str, flow_run_id: str) -> dict[str, str]:
    """What a stage's MLflow run needs to know: its parent run, the flow run, and the step's cache key (which
    links a retried attempt to the one it resumes)."""
    return {
        tracking.PARENT_RUN_ENV: parent_run_id,
        tracking.FLOW_RUN_ENV: flow_run_id,
        tracking.INPUT_KEY_ENV: stage_key(root, stage),
    }


def repro(root: Path, stage: str, env: dict[str, str]) -> dict[str, Any]:
    """`dvc repro --single-item <stage>`; reports whether it ran, was restored from the run-cache, or was up
    to date."""
    start = time.perf_counter()
    env = {
        tracking.EXECUTOR_ENV: executor(),
        **env,
        ROOT_ENV: str(root),
    }  # the checkout it runs in, flow's or worker's
    out = run_dvc(root, "repro", "--single-item", stage, env={**os.environ, **env}, stream=True)
    seconds = time.perf_counter() - start
    if "didn't change, skipping" in out:
        verdict = "up to date"
    elif "is cached - skipping run" in out:
        verdict = "restored from DVC run-cache"
    else:
        verdict = "ran"
    get_run_logger().info("stage %s: %s in %.1f s", stage, verdict, seconds)
    return {
        "stage": stage,
        "verdict": verdict,
        "seconds": round(seconds, 1),
        "executor": env[tracking.EXECUTOR_ENV],
    }
