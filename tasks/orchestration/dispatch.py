"""Steps with `meta.resources: <pool>` in dvc.yaml (training, Langevin generation: `gpu`) on that pool's
workers.

A pool is used when configured (`STUDIES_DISPATCH=gpu`, or `--dispatch gpu` on `studies run`/`serve`);
otherwise the step runs in the flow's process. Workers are Prefect task workers (`studies worker --pool gpu`),
each in its own checkout; nothing is exchanged through a shared folder:

- the flow pushes the step's inputs to the DVC remote and sends its params.yaml and dvc.lock (a few KB) as the
  task's parameters, which Prefect keeps in its result storage;
- the worker checks its code for the step is the flow's, pulls the inputs, runs `dvc repro --single-item`,
  pushes the outputs and returns the step's dvc.lock entry through the result storage;
- the flow records that entry in its dvc.lock and pulls the outputs.

A worker that dies (kill -9) leaves its task run Running and its websocket closed: the flow notices the worker
is gone, marks the attempt Crashed and submits it again, and the next worker resumes from the step's
checkpoint. The task carries the pool's tag, so Prefect's tag concurrency limit (leased, so a dead holder's
slot expires) keeps two jobs off one GPU.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import yaml
from dvc.repo import Repo
from prefect import Task, get_run_logger
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.states import Crashed

from tasks.orchestration.caching import code_hashes
from tasks.orchestration.repro import (
    WORKER_NAME_ENV,
    executor,
    repro,
    worker_id,
)  # the same `dvc repro` call as in-process
from tasks.platform import tracking
from tasks.platform.errors import StudiesError
from tasks.platform.project import Project
from tasks.platform.redact import redact_url
from tasks.platform.settings import DISPATCH_ENV
from tasks.platform.versioning import dvc_pull, run_dvc


class WorkerError(StudiesError):
    """A dispatched step cannot run: no worker, another code version on it, or every attempt lost."""


def configured_pools() -> set[str]:
    """Resources whose steps go to workers, from STUDIES_DISPATCH (comma-separated, e.g. `gpu`)."""
    return {p.strip() for p in os.environ.get(DISPATCH_ENV, "").split(",") if p.strip()}


# --- the worker side ---------------------------------------------------------------------------------------


def run_on_worker(request: dict[str, Any]) -> dict[str, Any]:
    """Reproduce one stage in this worker's checkout from the flow's params and lock; returns its new lock
    entry."""
    root, stage = Project.here().root, request["stage"]
    if (mine := workspace_code(root, stage)) != request["code"]:
        differ = sorted(k for k in set(mine) | set(request["code"]) if mine.get(k) != request["code"].get(k))
        raise WorkerError(
            f"worker {worker_id()} at {root} has other code for {stage} than the flow: {', '.join(differ)}. "
            f"Fix: check out the flow's commit ({request['commit']}) in the worker's checkout and restart it."
        )
    for rel, text in {
        "params.yaml": request["params_yaml"],
        "dvc.lock": request["dvc_lock"],
        **request["dvc_files"],
    }.items():
        (root / rel).write_text(text)
    get_run_logger().info("%s: pulling %s from the DVC remote", stage, ", ".join(request["inputs"]))
    dvc_pull(root, request["inputs"])
    result = repro(root, stage, request["env"])
    run_dvc(root, "push", stage)
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"][stage]
    return {**result, "lock": lock, "executor": executor()}


def _remote_run_name() -> str:
    from prefect.runtime import task_run

    return f"{task_run.parameters['request']['stage']} on {worker_id()}"


def remote_task(pool: str) -> Task:
    """The pool's task, tagged with the pool (concurrency limit). Prefect keys a task by its function's name
    and code, so each pool gets its own named function: a pool's workers receive only its steps."""

    def run(request: dict[str, Any]) -> dict[str, Any]:
        return run_on_worker(request)

    run.__name__ = run.__qualname__ = f"reproduce_on_{pool}"
    # Task workers cache by inputs whatever the task says; each request carries a fresh id, so an attempt
    # always runs.
    return Task(
        run, name=f"reproduce-on-{pool}", task_run_name=_remote_run_name, tags={pool}, persist_result=True
    )


# --- the flow side -----------------------------------------------------------------------------------------


def workspace_code(root: Path, stage: str) -> dict[str, str]:
    """What must be equal on both sides: the step's source files and dvc.yaml."""
    return code_hashes(root, stage) | {
        "dvc.yaml": hashlib.sha256((root / "dvc.yaml").read_bytes()).hexdigest()
    }


def input_targets(root: Path, stage: str) -> list[str]:
    """The DVC targets whose outputs the stage reads: its upstream stages and .dvc files."""
    with Repo(str(root)) as repo:
        graph = repo.index.graph  # edges point from a stage to the stages it depends on
        (node,) = [s for s in graph if s.addressing == stage]
        return sorted(s.addressing for s in graph.successors(node))


def dispatch(root: Path, stage: str, pool: str, env: dict[str, str], retries: int = 2) -> dict[str, Any]:
    """Run `stage` on a worker of `pool`; resubmit when the worker dies; leave the outputs in this
    workspace."""
    logger = get_run_logger()
    inputs = input_targets(root, stage)
    run_dvc(root, "push", *inputs)
    request = {
        "stage": stage,
        "inputs": inputs,
        "env": env,
        "code": workspace_code(root, stage),
        "commit": tracking.git_commit(root)[0],
        "params_yaml": (root / "params.yaml").read_text(),
        "dvc_lock": (root / "dvc.lock").read_text()
        if (root / "dvc.lock").exists()
        else "schema: '2.0'\nstages: {}\n",
        "dvc_files": {t: (root / t).read_text() for t in inputs if t.endswith(".dvc")},
    }
    task = remote_task(pool)
    for attempt in range(1, retries + 2):
        future = task.delay({**request, "id": uuid4().hex})
        logger.info(
            "%s: submitted to pool %s (attempt %d, task run %s)", stage, pool, attempt, future.task_run_id
        )
        if watch(future.task_run_id, task.task_key, pool):
            result = future.result()
            record_lock(root, stage, result.pop("lock"))
            dvc_pull(root, [stage])
            return result
        logger.warning("%s: the worker running attempt %d is gone; resubmitting", stage, attempt)
    raise WorkerError(
        f"{stage}: {retries + 1} attempts lost their worker. Fix: check the `{pool}` workers' logs."
    )


API_OUTAGE_LIMIT = 300.0  # seconds the flow waits for an unreachable Prefect API before it gives the step up


def api_outage(exc: Exception) -> bool:
    """Whether `exc` means the Prefect API is down or restarting (no answer, or a 5xx), not that a request was
    wrong."""
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500
    return isinstance(exc, (httpx.TransportError, OSError))


def watch(
    task_run_id: UUID,
    task_key: str,
    pool: str,
    grace: float = 10.0,
    poll: float = 1.0,
    warn_after: float = 60.0,
    outage_limit: float = API_OUTAGE_LIMIT,
) -> bool:
    """Wait for the task run to end; False (and the run marked Crashed) when its worker left while running it.

    A Prefect server that restarts meanwhile is waited for, up to `outage_limit` seconds: the worker keeps
    training and reconnects, so the outage is no sign that it left (its grace starts again once the API
    answers)."""
    logger = get_run_logger()
    waiting_since, gone_since, down_since = time.monotonic(), None, None
    with get_client(sync_client=True) as client:
        while True:
            try:
                run, workers = client.read_task_run(task_run_id), listed_workers(client, task_key)
            except ObjectNotFound:  # the server records submitted runs from events: not there for a moment
                time.sleep(poll)
                continue
            except Exception as exc:
                if not api_outage(exc):
                    raise
                if down_since is None:
                    down_since = time.monotonic()
                    logger.warning(
                        "the Prefect API %s does not answer (%r); waiting up to %.0f s for it to come back",
                        api_address(),
                        exc,
                        outage_limit,
                    )
                elif time.monotonic() - down_since > outage_limit:
                    raise api_gone(exc, time.monotonic() - down_since, pool) from exc
                gone_since = None
                time.sleep(poll)
                continue
            if down_since is not None:
                logger.info(
                    "the Prefect API answers again after %.0f s; still waiting for the %s worker",
                    time.monotonic() - down_since,
                    pool,
                )
                down_since = None
            if run.state is not None and run.state.is_final():
                return True
            if run.state is not None and run.state.is_running() and " on " in run.name:
                holder = run.name.rsplit(" on ", 1)[1]
                gone_since = None if holder in workers else (gone_since or time.monotonic())
                if gone_since and time.monotonic() - gone_since > grace:
                    client.set_task_run_state(
                        task_run_id, Crashed(message=f"worker {holder} disconnected mid-run"), force=True
                    )
                    return False
            elif not workers and time.monotonic() - waiting_since > warn_after:
                logger.warning(
                    "no worker serves pool %s: start one with `studies worker --pool %s` in a checkout of "
                    "this commit (same PREFECT_API_URL and result storage)",
                    pool,
                    pool,
                )
                waiting_since = time.monotonic()
            time.sleep(poll)


def listed_workers(client: Any, task_key: str) -> set[str]:
    """The workers the server sees subscribed to `task_key` (host-pid), from its in-memory registry."""
    return {
        w["identifier"]
        for w in client.request(
            "POST", "/task_workers/filter", json={"task_worker_filter": {"task_keys": [task_key]}}
        ).json()
    }


def api_address() -> str:
    return redact_url(os.environ.get("PREFECT_API_URL") or "(no PREFECT_API_URL)")


def api_gone(exc: Exception, down_for: float, pool: str) -> WorkerError:
    """The error when the API stays away: which server, for how long, and what to do."""
    return WorkerError(
        f"the Prefect API {api_address()} has not answered for {down_for:.0f} s ({exc!r}) while a {pool} "
        "worker ran the step. Fix: start the Prefect server again (same database), then rerun the same "
        "command: finished steps are cached and training resumes from its saved state."
    )


def record_lock(root: Path, stage: str, entry: dict[str, Any]) -> None:
    """Write the worker's lock entry for `stage` into this workspace's dvc.lock (atomically), keeping the
    rest."""
    path = root / "dvc.lock"
    lock = yaml.safe_load(path.read_text()) if path.exists() else {"schema": "2.0", "stages": {}}
    lock.setdefault("stages", {})[stage] = entry
    tmp = path.with_suffix(".lock.tmp")
    tmp.write_text(yaml.safe_dump(lock, sort_keys=False))
    tmp.replace(path)


# --- `studies worker` --------------------------------------------------------------------------------------


def serve_pool(pool: str, name: str | None = None, slots: int | None = None) -> None:
    """Serve the pool's steps from this checkout, `slots` at a time (default: one per visible GPU, at least
    one).

    Also creates the pool's tag concurrency limit with the same number when the server has none, so runs in
    the flow's own process and on every worker share the GPUs; a limit set by hand (a team's total) is left
    alone."""
    import torch
    from prefect.task_worker import serve

    slots = slots or max(1, torch.cuda.device_count())
    os.environ[WORKER_NAME_ENV] = name or worker_id()
    limit = ensure_concurrency_limit(pool, slots)
    print(
        f"worker {os.environ[WORKER_NAME_ENV]} ({worker_id()}) serving pool {pool!r}: {slots} at a time "
        f"here, tag concurrency limit {pool!r} = {limit} on the server",
        flush=True,
    )
    task = remote_task(pool)
    threading.Thread(
        target=report_connection, args=(task.task_key,), name="prefect-api-watch", daemon=True
    ).start()
    serve(task, limit=slots)


def report_connection(task_key: str, poll: float = 2.0) -> None:
    """Say in the worker's log when the Prefect API goes away and when the server lists this worker again.
    Prefect's task worker reconnects its websocket silently; whoever restarts the server wants to see the
    worker come back."""
    from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    listed_once, lost_since = False, None
    with (
        temporary_settings({PREFECT_CLIENT_MAX_RETRIES: 0}),
        get_client(sync_client=True) as client,
    ):  # this thread only
        while True:
            time.sleep(poll)
            try:
                listed, reason = (
                    worker_id() in listed_workers(client, task_key),
                    "the server does not list this worker",
                )
            except Exception as exc:
                if not api_outage(exc):
                    raise
                listed, reason = False, repr(exc)
            if listed:
                if lost_since is not None:
                    print(
                        f"worker {worker_id()}: reconnected to the Prefect API {api_address()} after "
                        f"{time.monotonic() - lost_since:.0f} s",
                        flush=True,
                    )
                listed_once, lost_since = True, None
            elif listed_once and lost_since is None:
                lost_since = time.monotonic()
                print(
                    f"worker {worker_id()}: lost the Prefect API {api_address()} ({reason}); the running "
                    "step goes on, reconnecting",
                    flush=True,
                )


def ensure_concurrency_limit(tag: str, slots: int) -> int:
    """The tag's concurrency limit, created with `slots` when absent."""
    with get_client(sync_client=True) as client:
        try:
            return client.read_concurrency_limit_by_tag(tag).concurrency_limit
        except ObjectNotFound:
            client.create_concurrency_limit(tag=tag, concurrency_limit=slots)
            return slots
