"""The `studies` command line: help everywhere, clear errors that leave params.yaml alone."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, project_env

COMMANDS = ["ingest", "run", "stage", "report", "ui"]


def studies(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "studies"), *args], cwd=root, env=project_env(root), capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", [[], *[[c] for c in COMMANDS]])
def test_every_command_has_help(project: Path, command: list[str]) -> None:
    out = studies(project, *command, "--help")
    assert out.returncode == 0 and "Usage: studies" in out.stdout


def test_bad_override_is_refused_and_params_untouched(project: Path) -> None:
    before = (project / "params.yaml").read_bytes()
    out = studies(project, "run", "mlc", "--profile", "ci", "--set", "mlc.train.no_such_key=1")
    assert out.returncode == 2
    assert "no 'no_such_key'" in out.stderr and "params.yaml" in out.stderr
    assert (project / "params.yaml").read_bytes() == before


def test_unknown_profile_names_the_choices(project: Path) -> None:
    out = studies(project, "run", "--profile", "gpu")
    assert out.returncode == 2 and "ci, cpu, paper" in out.stderr


def test_outside_a_project_says_where_to_run(tmp_path: Path) -> None:
    env = {k: v for k, v in project_env(tmp_path).items() if k != "STUDIES_ROOT"}
    out = subprocess.run([str(BIN / "studies"), "run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "No subspace-studies project" in out.stderr
