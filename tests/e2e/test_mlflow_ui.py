"""`studies ui` serves the MLflow UI; headless Chromium (Debian's package) renders the experiment's runs and a
run's metrics. The screenshot is kept in test-artifacts/ for a human to look at."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import mlflow
import pytest

from tasks.platform import tracking
from tasks.platform.project import Project
from tests.conftest import BIN, REPO, project_env
from tests.services import free_port, service

pytestmark = pytest.mark.e2e
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=15000",
    "--window-size=1600,900",
]


def chromium(*args: str) -> str:
    exe = shutil.which("chromium")
    assert exe, "Chromium is missing: `make test` installs it (scripts/test-tools.sh)"
    proc = subprocess.run([exe, *CHROMIUM_FLAGS, *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_the_ui_shows_the_runs_and_their_metrics(project: Path) -> None:
    proj = Project(project)
    logged = {}
    for stage, acc in (("train", 0.9747), ("evaluate", 0.8901)):
        with tracking.stage_run(proj, "ssvi", stage, "ci", {"seeds": [0]}) as run:
            mlflow.log_metrics({"acc_mean": acc, "nll_mean": 0.0812})
            logged[run.info.run_name] = run.info.run_id
    experiment = mlflow.get_experiment_by_name("ssvi")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with service(
        [str(BIN / "studies"), "ui", "--port", str(port)],
        f"{base}/health",
        project / "ui.log",
        project_env(project),
    ):
        runs_page = f"{base}/#/experiments/{experiment.experiment_id}/runs"
        dom = chromium("--dump-dom", runs_page)
        assert all(name in dom for name in logged), (list(logged), dom[-2000:])
        run_dom = chromium("--dump-dom", f"{runs_page}/{logged['ssvi-train (ci)']}")
        assert "acc_mean" in run_dom and "0.9747" in run_dom and "nll_mean" in run_dom and "0.0812" in run_dom
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "mlflow-ui-runs.png"
        shot.unlink(missing_ok=True)
        chromium(f"--screenshot={shot}", runs_page)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
