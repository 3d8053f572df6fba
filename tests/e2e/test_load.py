"""Load: N concurrent `studies run mlc --profile ci`, each in its own checkout, all against one team
deployment
(Prefect and MLflow on PostgreSQL, artifacts and the DVC remote on S3; tests/e2e/team.py), pointed there by
studies.toml. Nothing may be lost: every flow run COMPLETED, every MLflow run FINISHED with its metrics, every
DVC output in its checkout and in the remote, and no "database is locked" anywhere.

The runs stay `ci`-profile runs, lightened by `--set` (LIGHT_MLC, tests/e2e/pipeline.py): digits only (no
synthetic set) and 10 + 10 training steps instead of 60 + 40, logged every 2 steps. Measured on the 2-core
machine, shared with other work (load average 10-17): one plain ci run alone 3.9 min; 3 concurrent plain ci
runs 17 min (training dominates); 8 concurrent LIGHT runs 9.4 min. Both versions are `slow`; the 20-run one
also needs about 1.3 GB of memory per run (the flow process plus its stage process) and is skipped, saying so,
where that is not free."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import BIN
from tests.e2e.pipeline import LIGHT_MLC, dvc, prefect_api, set_options
from tests.e2e.team import BUCKET, DVC_PREFIX, team_services
from tests.reliability import record

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

# flow ≈ 0.45 GB for the whole run, a stage process ≈ 0.65 GB while it lasts; stages overlap only partly
GB_PER_RUN = 0.8
STAGES = ("prepare", "train", "evaluate", "report")
CONTENTION = re.compile(
    r"database is locked|OperationalError|deadlock detected|QueuePool limit", re.IGNORECASE
)
OUTPUTS = (
    "results/ci/mlc/prepared",
    "results/ci/mlc/train",
    "results/ci/mlc/tables",
    "results/ci/mlc/metrics.json",
    "reports/mlc.md",
)


def available_gb() -> float:
    return (
        next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemAvailable:")
        )
        / 2**20
    )


@pytest.mark.slow
@pytest.mark.parametrize("n", [3, 20], ids=lambda n: f"{n}-runs")
@pytest.mark.timeout(3600)
def test_concurrent_ci_runs_lose_nothing(tmp_path: Path, n: int) -> None:
    if (free := available_gb()) < n * GB_PER_RUN:
        pytest.skip(
            f"{n} concurrent runs need about {n * GB_PER_RUN:.0f} GB of free memory, "
            f"{free:.1f} GB available: run this test alone on a machine with more memory"
        )
    with team_services(tmp_path) as team:
        checkouts = [team.checkout(tmp_path / f"host-{i}") for i in range(n)]
        logs = [tmp_path / f"run-{i}.log" for i in range(n)]
        started = time.monotonic()
        procs = []
        for (root, env), log in zip(checkouts, logs):
            with log.open("w") as out:
                procs.append(
                    subprocess.Popen(
                        [str(BIN / "studies"), "run", "mlc", "--profile", "ci", *set_options(*LIGHT_MLC)],
                        cwd=root,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        lowest = available_gb()
        try:
            deadline = time.monotonic() + 3000
            while any(proc.poll() is None for proc in procs) and time.monotonic() < deadline:
                lowest = min(lowest, available_gb())
                time.sleep(1)
            codes = [proc.wait(timeout=1) for proc in procs]
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
        seconds = time.monotonic() - started
        failed = {log.name: log.read_text()[-3000:] for log, code in zip(logs, codes) if code != 0}
        assert not failed, f"{len(failed)} of {n} runs failed: {failed}"

        # MLflow: one parent per run, one child per stage, all FINISHED, each with the metrics of its stage.
        client = MlflowClient(team.mlflow_uri)
        runs = client.search_runs([client.get_experiment_by_name("mlc").experiment_id], max_results=5000)
        parents = [r for r in runs if "stage" not in r.data.tags]
        children = [r for r in runs if "stage" in r.data.tags]
        assert len(parents) == n and len(children) == n * len(STAGES), (len(parents), len(children))
        assert all(r.info.status == "FINISHED" for r in runs), [(r.info.run_id, r.info.status) for r in runs]
        by_parent = {
            p.info.run_id: {
                c.data.tags["stage"]: c
                for c in children
                if c.data.tags["mlflow.parentRunId"] == p.info.run_id
            }
            for p in parents
        }
        assert all(set(stages) == set(STAGES) for stages in by_parent.values())
        for stages in by_parent.values():
            assert 0.0 <= stages["evaluate"].data.metrics["digits/mlc/acc_mean"] <= 1.0
            assert len(client.get_metric_history(stages["train"].info.run_id, "digits/seed0/loss")) > 5

        # Prefect: the flow run behind every parent exists and COMPLETED, each a different one.
        flow_run_ids = {p.data.tags["prefect.flow_run_id"] for p in parents}
        assert len(flow_run_ids) == n
        states = {i: prefect_api(team.prefect_api, f"/flow_runs/{i}")["state"]["type"] for i in flow_run_ids}
        assert set(states.values()) == {"COMPLETED"}, states

        # DVC: every output in every checkout, and in the remote (status -c clean).
        for root, env in checkouts:
            assert all((root / rel).exists() for rel in OUTPUTS), [
                rel for rel in OUTPUTS if not (root / rel).exists()
            ]
            assert json.loads(dvc(root, env, "status", "-c", "--json") or "{}") == {}, root
        assert team.s3.keys(BUCKET, DVC_PREFIX + "/files/md5/")

        texts = {log.name: log.read_text() for log in logs}
        texts |= {p.name: p.read_text() for p in tmp_path.rglob("*-server.log")}
        contention = {
            name: CONTENTION.findall(text)[:3] for name, text in texts.items() if CONTENTION.search(text)
        }
        assert not contention, contention
    record(
        "load",
        f"{n} concurrent ci runs on PostgreSQL + S3",
        runs=n,
        lost=0,
        seconds=round(seconds, 1),
        mlflow_runs=len(runs),
        peak_memory_gb=round(free - lowest, 1),
    )
