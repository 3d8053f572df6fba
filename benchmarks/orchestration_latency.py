"""Orchestration costs: (1) from a scheduled time to the first task starting, \
(2) dispatching a step to a worker
vs running it in the flow's process.

Run: .venv/bin/python benchmarks/orchestration_latency.py [--runs 4] [--interval 60]
It copies the project (as the tests do), starts a Prefect server (scheduler loop 5 s) and an MLflow server on
127.0.0.1, then
  1. serves the `pipeline` deployment (MLC, ci profile) on an interval and, for each scheduled run, prints the
     delay between the run's scheduled time and its first task run starting;
  2. runs MLC's training `--runs` times in-process and `--runs` times on a `studies worker --pool gpu` in a
     second checkout (a different seed each time, so it really trains), and prints for each the Prefect task's
     wall time minus the training's own MLflow run time: what orchestration adds around the step.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.conftest import BIN, copy_project, project_env  # noqa: E402  (the same isolated copy the tests use)
from tests.e2e.pipeline import prefect_api  # noqa: E402
from tests.services import mlflow_server, prefect_server  # noqa: E402


def _ts(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def _background(cmd: list[str], root: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)


def schedule_latency(base: Path, api: str, env: dict[str, str], runs: int, interval: float) -> list[float]:
    """Seconds from each scheduled run's expected start to its first task run's start, for runs whose slot was
    free at that time (`serve` runs one at a time; a run due while the previous one works waits for it)."""
    root = copy_project(base / "scheduled")
    env = project_env(root) | env
    serve = _background(
        [str(BIN / "studies"), "serve", "--profile", "ci", "--study", "mlc", "--interval", str(interval)],
        root,
        env,
        base / "serve.log",
    )
    try:
        while True:
            done = [
                r
                for r in prefect_api(api, "/flow_runs/filter", {"sort": "EXPECTED_START_TIME_ASC"})
                if r["name"].startswith("pipeline") and r["state"]["type"] == "COMPLETED"
            ]
            if len(done) >= runs:
                break
            assert serve.poll() is None, (base / "serve.log").read_text()[-3000:]
            time.sleep(3)
    finally:
        _stop(serve)
    tasks = prefect_api(api, "/task_runs/filter", {})
    delays, previous_end = [], 0.0
    for run in done[:runs]:
        first = min(_ts(t["start_time"]) for t in tasks if t["flow_run_id"] == run["id"] and t["start_time"])
        if _ts(run["expected_start_time"]) >= previous_end:
            delays.append(first - _ts(run["expected_start_time"]))
        previous_end = _ts(run["end_time"])
    return delays


def _checkout(path: Path, remote: Path) -> Path:
    """A copy of the project whose DVC remote is the shared `remote` (as a team configures it, in
    .dvc/config.local)."""
    root = copy_project(path)
    subprocess.run(
        [sys.executable, "-m", "dvc", "remote", "modify", "--local", "local", "url", str(remote)],
        cwd=root,
        check=True,
    )
    return root


def dispatch_overhead(
    base: Path, api: str, mlflow_uri: str, env: dict[str, str], runs: int
) -> dict[str, list[float]]:
    """Per mode, the train task's wall time minus its MLflow run's time, over `runs` real trainings."""
    from mlflow.tracking import MlflowClient

    out: dict[str, list[float]] = {}
    worker_root = _checkout(base / "worker-checkout", base / "dvc-remote")
    worker = _background(
        [str(BIN / "studies"), "worker", "--pool", "gpu"],
        worker_root,
        project_env(worker_root) | env,
        base / "worker.log",
    )
    try:
        for mode, extra in (("in-process", []), ("worker", ["--dispatch", "gpu"])):
            root = _checkout(base / f"flow-{mode}", base / "dvc-remote")
            for seed in range(runs):
                subprocess.run(
                    [
                        str(BIN / "studies"),
                        "run",
                        "mlc",
                        "--profile",
                        "ci",
                        "--no-push",
                        *extra,
                        "--set",
                        f"mlc.train.seeds=[{seed}]",
                    ],
                    cwd=root,
                    env=project_env(root) | env,
                    check=True,
                    capture_output=True,
                )
            client = MlflowClient(mlflow_uri)
            exp = client.get_experiment_by_name("mlc").experiment_id
            trains = client.search_runs(
                [exp], "tags.stage = 'train'", order_by=["attributes.start_time DESC"], max_results=runs
            )
            tasks = sorted(
                (
                    t
                    for t in prefect_api(api, "/task_runs/filter", {})
                    if t["name"].startswith("mlc-train") and t["state"]["type"] == "COMPLETED"
                ),
                key=lambda t: t["start_time"],
            )[-runs:]
            inner = sorted((r.info.end_time - r.info.start_time) / 1000 for r in trains)
            outer = sorted(_ts(t["end_time"]) - _ts(t["start_time"]) for t in tasks)
            out[mode] = [o - i for o, i in zip(outer, inner)]
    finally:
        _stop(worker)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--interval", type=float, default=60)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="orchestration-bench-"))
    with (
        prefect_server(base, scheduler=True, leases=True) as api,
        mlflow_server(base / "mlflow") as mlflow_uri,
    ):
        env = {
            "PREFECT_API_URL": api,
            "MLFLOW_TRACKING_URI": mlflow_uri,
            "PREFECT_LOCAL_STORAGE_PATH": str(base / "results"),
        }
        delays = schedule_latency(base, api, env, args.runs, args.interval)
        print(
            "scheduled time → first task (runs due while the slot was free): "
            f"{', '.join(f'{d:.1f}' for d in delays)} s "
            f"(median {statistics.median(delays):.1f} s; scheduler loop 5 s)"
        )
        for mode, overheads in dispatch_overhead(base, api, mlflow_uri, env, args.runs).items():
            print(
                f"mlc-train {mode}: orchestration around the training "
                f"{', '.join(f'{o:.1f}' for o in overheads)} s "
                f"(median {statistics.median(overheads):.1f} s)"
            )


if __name__ == "__main__":
    main()
