"""Markdown reports: a tiny document builder shared by every study's report step."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tasks.platform.project import Project


def pm(mean: float, std: float) -> str:
    return f"{mean:.3f} ± {std:.3f}"


def provenance(project: Project, profile: str) -> str:
    """Profile, data and code a report comes from; a report written from a dirty tree names the changed files
    (a bare "+ uncommitted changes" told a reader nothing about what the numbers were made with)."""
    from tasks.platform.tracking import git_state
    from tasks.platform.versioning import data_hash

    commit, changed = git_state(project.root)
    shown = ", ".join(f"`{path}`" for path in changed[:8]) + (
        f" and {len(changed) - 8} more" if len(changed) > 8 else ""
    )
    code = f"`{commit[:10]}`" + (f" with uncommitted changes to {shown}" if changed else "")
    return f"Profile `{profile}`, data `{data_hash(project.root)}` (data.dvc), code {code}."


def copy_figures(dst: Path, *sources: Path) -> list[Path]:
    """Replace the report's figure folder with the stages' figures (stale ones must not linger)."""
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    return [Path(shutil.copy2(f, dst / f.name)) for src in sources for f in sorted(src.glob("*.png"))]


def gpu_checks(folder: Path | None, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    """A study's device-check results copied into reports/gpu (`<prefix>*.json`), by file name: the partial
    GPU runs a report prints, labelled with the GPU."""
    if folder is None or not folder.is_dir():
        return []
    return [(p.name, json.loads(p.read_text())) for p in sorted(folder.glob(f"{prefix}*.json"))]


def device_label(check: dict[str, Any]) -> str:
    """'NVIDIA H200, torch 2.11.0+cu130, 2026-11-30' from a check's JSON (older ones name only 'cuda')."""
    return (
        f"{check.get('gpu', check.get('device', 'an unnamed device'))}, torch {check.get('torch', '?')}, "
        + (check.get("date", "undated"))
    )


class Document:
    def __init__(self, title: str) -> None:
        self.lines = [f"# {title}", ""]

    def heading(self, text: str, level: int = 2) -> None:
        self.lines += [f"{'#' * level} {text}", ""]

    def para(self, text: str) -> None:
        self.lines += [text, ""]

    def table(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        cols = list(rows[0])
        self.lines.append("| " + " | ".join(cols) + " |")
        self.lines.append("|" + "---|" * len(cols))
        self.lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
        self.lines.append("")

    def figures(self, paths: Sequence[Path], relative_to: Path) -> None:
        for path in paths:
            self.lines.append(f"![{path.stem}]({os.path.relpath(path, relative_to)})")
        self.lines.append("")

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(self.lines).rstrip() + "\n")
