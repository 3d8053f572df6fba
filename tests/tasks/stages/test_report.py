"""The provenance line every report carries: a clean tree gives the commit alone, a dirty one names its
files."""

from __future__ import annotations

from pathlib import Path

from tasks.platform.project import Project
from tasks.stages.report import provenance
from tests.conftest import git

DATA_DVC = "outs:\n- md5: 0123456789abcdef0123456789abcdef.dir\n  path: data\n"


def _repo(root: Path) -> Path:
    (root / "tasks").mkdir(parents=True)
    (root / "tasks" / "step.py").write_text("X = 1\n")
    (root / "params.yaml").write_text("profile: cpu\n")
    (root / "data.dvc").write_text(DATA_DVC)
    git(root, "init", "-q")
    git(root, "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A")
    git(root, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "c")
    return root


def test_a_report_from_a_clean_tree_names_the_commit_only(tmp_path: Path) -> None:
    root = _repo(tmp_path / "p")
    commit = git(root, "rev-parse", "HEAD").strip()
    (root / "reports").mkdir()
    (root / "reports" / "x.md").write_text("the report itself is not code\n")
    line = provenance(Project(root), "cpu")
    assert f"code `{commit[:10]}`." in line and "uncommitted" not in line
    assert "0123456789abcdef0123456789abcdef.dir" in line


def test_a_report_from_a_dirty_tree_names_the_changed_files(tmp_path: Path) -> None:
    root = _repo(tmp_path / "p")
    (root / "tasks" / "step.py").write_text("X = 2\n")
    (root / "params.yaml").write_text("profile: ci\n")
    line = provenance(Project(root), "ci")
    assert "with uncommitted changes to `params.yaml`, `tasks/step.py`" in line
