"""How many concurrent pipeline runs the embedded SQLite mode takes: \
K checkouts, each `studies run mlc --profile ci`
at the same time, all against one SQLite-backed Prefect server (`studies server`'s mode) and one SQLite MLflow
store (the embedded default, `sqlite:///…/mlflow.db`, shared). For each K it prints the runs that exited 0,
the MLflow runs FINISHED against those expected, and the lines mentioning a locked database.

Run: .venv/bin/python benchmarks/sqlite_limit.py --runs 2 4 8
The limit the CLI enforces (tasks/platform/sqlite_slots.py SQLITE_MAX_RUNS) is the largest K with no failure
here; the benchmark lifts it to K (STUDIES_SQLITE_MAX_RUNS) to measure.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.conftest import BIN, copy_project, project_env  # noqa: E402  (the same isolated copy the tests use)
from tests.services import prefect_server  # noqa: E402

LOCKED = re.compile(r"database is locked|OperationalError|SQLITE_BUSY", re.I)
STAGES = 4  # mlc-prepare, -train, -evaluate, -report: one MLflow run each, plus the study's parent run


def trial(base: Path, k: int) -> dict[str, float]:
    roots = [copy_project(base / f"copy{i}") for i in range(k)]
    mlflow_uri = f"sqlite:///{base / 'mlflow.db'}"
    with prefect_server(base / "prefect") as api:
        start = time.monotonic()
        procs = []
        for i, root in enumerate(roots):
            env = project_env(root) | {
                "PREFECT_API_URL": api,
                "MLFLOW_TRACKING_URI": mlflow_uri,
                "STUDIES_SQLITE_MAX_RUNS": str(k),
            }
            log = (base / f"run{i}.log").open("w")
            procs.append(
                subprocess.Popen(
                    [str(BIN / "studies"), "run", "mlc", "--profile", "ci"],
                    cwd=root,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        codes = [p.wait(timeout=3600) for p in procs]
        seconds = time.monotonic() - start
        server_log = (base / "prefect" / "prefect-server.log").read_text()
    from mlflow.tracking import MlflowClient

    client = MlflowClient(mlflow_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    finished = len(client.search_runs(experiments, "attributes.status = 'FINISHED'", max_results=10000))
    logs = "".join((base / f"run{i}.log").read_text() for i in range(k)) + server_log
    for name, pattern in (("MLflow store", "mlflow"), ("Prefect server", "prefect")):
        hits = [line for line in logs.splitlines() if LOCKED.search(line) and pattern in line.lower()]
        print(f"  K={k}: {len(hits)} locked-database lines mention {name}", flush=True)
    return {
        "runs": k,
        "exit_0": codes.count(0),
        "mlflow_finished": finished,
        "mlflow_expected": k * (STAGES + 1),
        "locked_lines": len(LOCKED.findall(logs)),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--keep", type=Path, help="keep each trial's copies and logs under this folder")
    args = parser.parse_args()
    print(f"{'K':>3} {'exit 0':>7} {'MLflow FINISHED':>16} {'locked lines':>13} {'wall s':>8}")
    for k in args.runs:
        with tempfile.TemporaryDirectory() as tmp:
            base = args.keep / f"k{k}" if args.keep else Path(tmp)
            base.mkdir(parents=True, exist_ok=True)
            r = trial(base, k)
        print(
            f"{k:>3} {r['exit_0']:>7} {r['mlflow_finished']:>7}/{r['mlflow_expected']:<8} "
            f"{r['locked_lines']:>13} "
            f"{r['seconds']:>8.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
