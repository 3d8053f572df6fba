"""Served path confinement: inside the project or an allowed folder passes, anything else (.., symlinks) is
refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.platform.paths import ALLOWED_ENV, SERVED_ENV, PathNotAllowed, confine


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SERVED_ENV, "1")
    monkeypatch.delenv(ALLOWED_ENV, raising=False)


def test_by_hand_any_path_goes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SERVED_ENV, raising=False)
    assert confine("/etc", tmp_path, "--out") == Path("/etc")


def test_served_inside_the_project_goes(tmp_path: Path, served: None) -> None:
    assert (
        confine(tmp_path / "results" / "x.json", tmp_path, "--out")
        == (tmp_path / "results" / "x.json").resolve()
    )
    assert confine(tmp_path, tmp_path, "root") == tmp_path.resolve()


@pytest.mark.parametrize("escape", ["/etc", "{root}/../elsewhere", "{root}-sibling/x"])
def test_served_outside_is_refused_naming_the_fix(tmp_path: Path, served: None, escape: str) -> None:
    root = tmp_path / "project"
    root.mkdir()
    with pytest.raises(PathNotAllowed, match=f"outside the folders.*{ALLOWED_ENV}"):
        confine(escape.format(root=root), root, "--out")


def test_served_symlink_out_of_the_project_is_refused(tmp_path: Path, served: None) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "link").symlink_to("/etc")
    with pytest.raises(PathNotAllowed):
        confine(root / "link" / "passwd", root, "FOLDER")


def test_served_allowed_folders_extend_the_project(
    tmp_path: Path, served: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, shared = tmp_path / "project", tmp_path / "shared-cifs"
    root.mkdir(), shared.mkdir()
    monkeypatch.setenv(ALLOWED_ENV, str(shared))
    assert confine(shared / "run1", root, "FOLDER") == (shared / "run1").resolve()
