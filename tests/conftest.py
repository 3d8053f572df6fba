"""Shared fixtures: an isolated copy of the project with its own DVC, MLflow and Prefect state."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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
