"""What an ingest may change in a project, to compare before and after."""

from __future__ import annotations

from pathlib import Path


def state(root: Path) -> dict[str, bytes]:
    """Every byte ingest may change: data/ and data.dvc."""
    files = {str(p.relative_to(root)): p.read_bytes() for p in (root / "data").rglob("*") if p.is_file()}
    if (root / "data.dvc").exists():
        files["data.dvc"] = (root / "data.dvc").read_bytes()
    return files


def leftovers(root: Path) -> list[Path]:
    """Staging or previous-data folders an ingest must not leave behind."""
    return sorted(root.glob(".data-*"))
