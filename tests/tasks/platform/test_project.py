"""Where a project is, and where dvc.yaml puts a stage's files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.platform.project import ROOT_ENV, NoProject, Project, find_root
from tests.conftest import REPO


def test_stage_paths_come_from_dvc_yaml_for_the_profile_asked_for() -> None:
    project = Project(REPO)
    assert project.stage_path("cdvae-train", "train", "ci") == REPO / "results" / "ci" / "cdvae" / "train"
    assert project.stage_path("cdvae-prepare", "data", "cpu") == REPO / "data" / "cdvae"  # an input
    with pytest.raises(
        NoProject, match="no stage 'cdvae-train' with an input or output named 'weights'"
    ) as err:
        project.stage_path("cdvae-train", "weights", "ci")
    assert "dvc.yaml" in (err.value.fix or "")


def test_outside_a_project_the_error_says_where_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ROOT_ENV, raising=False)
    with pytest.raises(NoProject, match=f"at or above {tmp_path}") as err:
        find_root(tmp_path)
    assert err.value.fix == f"run the command from the project folder or set {ROOT_ENV}."


def test_studies_root_and_dispatch_variables_are_named_once() -> None:
    """$STUDIES_ROOT and $STUDIES_DISPATCH are spelled out once each, as constants (ROOT_ENV, DISPATCH_ENV);
    the code uses those (tests name the variables as users do)."""
    files = [*(REPO / "flows").rglob("*.py"), *(REPO / "tasks").rglob("*.py")]
    spelled = {
        name: sorted(str(f.relative_to(REPO)) for f in files if f'"{name}"' in f.read_text())
        for name in ("STUDIES_ROOT", "STUDIES_DISPATCH")
    }
    assert spelled == {
        "STUDIES_ROOT": ["tasks/platform/project.py"],
        "STUDIES_DISPATCH": ["tasks/platform/settings.py"],
    }
