"""Which folders a path option may name when the pipeline is served to other people.

`studies serve` publishes deployments whose parameters (the project `root`) anyone with access to the Prefect
server can set; a `root` elsewhere would run that folder's dvc.yaml commands. While $STUDIES_SERVED is set
(`studies serve` sets it; set it yourself when the CLI runs on others' behalf), every path a flow parameter or
CLI option names must resolve, symlinks followed, inside the project root or a folder of
$STUDIES_ALLOWED_PATHS (os.pathsep-separated; studies.toml `serve.allowed_paths`). Run by hand, paths are not
restricted.
"""

from __future__ import annotations

import os
from pathlib import Path

from tasks.platform.errors import StudiesError

SERVED_ENV = "STUDIES_SERVED"
ALLOWED_ENV = "STUDIES_ALLOWED_PATHS"


class PathNotAllowed(StudiesError):
    """A served path option points outside the allowed folders."""


def served() -> bool:
    return os.environ.get(SERVED_ENV, "") not in ("", "0", "false")


def allowed_folders(root: Path) -> list[Path]:
    extra = [Path(p) for p in os.environ.get(ALLOWED_ENV, "").split(os.pathsep) if p.strip()]
    return [folder.resolve() for folder in (root, *extra)]


def confine(path: Path | str, root: Path, what: str) -> Path:
    """`path` resolved; refused when served and it lies outside the allowed folders."""
    resolved = Path(path).expanduser().resolve()
    if not served():
        return resolved
    folders = allowed_folders(root)
    if not any(resolved == folder or folder in resolved.parents for folder in folders):
        raise PathNotAllowed(
            f"{what} {path} is outside the folders this served pipeline may touch "
            f"({', '.join(map(str, folders))}). Fix: use a path under one of them, or add its folder to "
            f"{ALLOWED_ENV} (studies.toml serve.allowed_paths) where the pipeline is served."
        )
    return resolved
