"""DVC helpers against a real DVC repository (the isolated project copy)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tasks.platform.versioning import (
    DataNotIngestedError,
    DvcError,
    data_hash,
    dvc_add,
    dvc_push,
    dvc_status_clean,
)


def _remote_files(root: Path) -> set[Path]:
    remote = root / ".dvc-remote"
    return {p.relative_to(remote) for p in remote.rglob("*") if p.is_file()} if remote.is_dir() else set()


def test_data_hash_without_data_dvc_says_run_ingest(project: Path) -> None:
    (project / "data.dvc").unlink(missing_ok=True)
    with pytest.raises(DataNotIngestedError, match="studies ingest"):
        data_hash(project)


def test_add_status_push_and_hash(project: Path) -> None:
    (project / "data").mkdir()
    (project / "data" / "a.txt").write_text("one\n")
    dvc_add(project, "data")
    recorded = yaml.safe_load((project / "data.dvc").read_text())["outs"][0]["md5"]
    assert data_hash(project) == recorded
    assert recorded.endswith(".dir")
    assert dvc_status_clean(project, ["data.dvc"])

    dvc_push(project, ["data.dvc"])
    assert len(_remote_files(project)) == 2  # the directory listing and a.txt

    (project / "data" / "a.txt").write_text("two\n")
    assert not dvc_status_clean(project, ["data.dvc"])


def test_failed_command_raises_with_dvc_message(project: Path) -> None:
    with pytest.raises(DvcError) as err:
        dvc_add(project, "no-such-folder")
    assert "dvc add" in str(err.value)
    assert "output 'no-such-folder' does not exist" in str(err.value)  # DVC's own explanation
    assert "Fix:" in str(err.value)
