"""Shared fixtures: an isolated copy of the project with its own DVC, MLflow and Prefect state."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# OpenMP threads that spin while they wait make torch's many small ops 10-30 times slower on a host whose
# cores are busy with other work (a CI runner's neighbours, the stage subprocesses of an end-to-end test):
# measured at load 8 on 2 cores, a 15-epoch SSVI fit took 60-130 s spinning and 3-5 s waiting passively.
# Waiting passively changes no result. Set before anything loads torch; the CLI, DVC and stage subprocesses
# the tests start inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# The `dvc` commands the tests run themselves (the pipeline's own set it in run_dvc): without it each one
# starts DVC's analytics daemon, ~0.7 s of CPU that can only fail offline.
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# The offline dataset mirror beside the checkout (../shared/datasets), or beside any folder above it.
MIRROR = next(
    (p / "shared" / "datasets" for p in REPO.parents if (p / "shared" / "datasets").is_dir()),
    REPO.parent / "shared" / "datasets",
)


def _project_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout
    return [line for line in out.splitlines() if line and (REPO / line).is_file()]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def copy_project(root: Path) -> Path:
    """A fresh clone-like copy of the project (tracked + untracked files, no data/results), committed to its
    own git repo."""
    for rel in _project_files():
        dst = root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, dst)
    git(root, "init", "-q")
    git(root, "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A")
    git(root, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "copy")
    return root


def project_env(root: Path) -> dict[str, str]:
    """Environment for a CLI subprocess working on `root` with embedded defaults."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL", "PREFECT_HOME")
    }
    env = env | {"STUDIES_ROOT": str(root), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    if MIRROR.is_dir():  # the copy is not beside ../shared, so point it at the same mirror
        env.setdefault("STUDIES_DATA_MIRROR", str(MIRROR))
    return env


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project to write into; cwd and STUDIES_ROOT point at it."""
    root = copy_project(tmp_path / "project")
    monkeypatch.chdir(root)
    for key, value in project_env(root).items():
        monkeypatch.setenv(key, value)
    for var in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL", "PREFECT_HOME"):
        monkeypatch.delenv(var, raising=False)
    return root


@pytest.fixture(scope="session")
def shared_prefect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Prefect API server for every test that needs a server but no server of its own: started once a
    session (about 12 s on 2 cores) instead of once per module. Tests tell their records apart by flow run,
    name or tag. Concurrency leases on, so the slot of a killed worker is freed (tests/e2e/test_worker.py)."""
    from tests.services import prefect_server

    with prefect_server(tmp_path_factory.mktemp("shared-prefect"), leases=True) as api:
        yield api


@pytest.fixture(scope="session")
def shared_mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One MLflow tracking server (SQLite, artifacts in a folder) for every test that needs a server but no
    server of its own; tests tell their records apart by experiment, model name or run id."""
    from tests.services import mlflow_server

    with mlflow_server(tmp_path_factory.mktemp("shared-mlflow")) as uri:
        yield uri


# The modules that read the studies' ci runs: their fixtures ask for tests/e2e/conftest.py's `ci_run`.
CI_RUN_MODULES = {
    f"tests/e2e/{path.name}"
    for path in (REPO / "tests" / "e2e").glob("test_*.py")
    if "ci_run: Callable" in path.read_text()
}


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`make test` runs two pytest-xdist workers. Each takes whole modules, so a module's fixtures (a team
    deployment, a study's project) are made once, and the modules that read the studies' ci runs go to one
    worker together, so each study's run is made once. xdist's own `--dist loadgroup` would do this from
    marks, but it renames node ids through an attribute pytest 9 no longer reads. Modules are handed out in
    collection order, which puts tests/e2e, the longest, first (xdist would sort them by number of tests)."""
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False

    class ByModule(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::")[0]
            return "ci-runs" if module in CI_RUN_MODULES else module

    return ByModule(config, log)
