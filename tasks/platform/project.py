"""Where a project's files and embedded services live.

Every path the pipeline touches derives from the project root, so a copy of
the project (a test's temporary clone, a worker's checkout) is self-contained.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from tasks.platform.errors import StudiesError

MARKERS = ("params.yaml", "dvc.yaml")
ROOT_ENV = "STUDIES_ROOT"  # the project root, for commands run outside it (dvc.yaml's, a worker's)


class NoProject(StudiesError):
    """The command runs outside a project, or dvc.yaml lacks what it looks for there."""


def find_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: cwd; $STUDIES_ROOT wins) with params and dvc.yaml."""
    if env := os.environ.get(ROOT_ENV):
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if all((folder / m).exists() for m in MARKERS):
            return folder
    raise NoProject(
        f"No subspace-studies project at or above {here}: expected {' and '.join(MARKERS)}.",
        fix=f"run the command from the project folder or set {ROOT_ENV}.",
    )


@dataclass(frozen=True)
class Project:
    root: Path

    @classmethod
    def here(cls) -> Project:
        return cls(find_root())

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def params_file(self) -> Path:
        return self.root / "params.yaml"

    @property
    def mlflow_uri(self) -> str:
        """Embedded default: SQLite next to the project; $MLFLOW_TRACKING_URI wins."""
        return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{self.root / 'mlflow.db'}"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.root / "mlruns"

    @property
    def prefect_home(self) -> Path:
        return self.root / ".prefect"

    def stage_path(self, stage: str, name: str, profile: str) -> Path:
        """The path dvc.yaml gives `stage`'s input or output `name` (its `-i name=path` / `-o name=path`) on
        `profile`: commands outside the DAG find a stage's files here, as paths live only in dvc.yaml."""
        import yaml

        cmd = (yaml.safe_load((self.root / "dvc.yaml").read_text())["stages"].get(stage) or {}).get("cmd", "")
        tokens = shlex.split(cmd)
        named = dict(
            value.partition("=")[::2] for flag, value in zip(tokens, tokens[1:]) if flag in ("-i", "-o")
        )
        if name not in named:
            raise NoProject(
                f"dvc.yaml has no stage '{stage}' with an input or output named '{name}'.",
                fix="check the stage in dvc.yaml (its `-i name=path` and `-o name=path`).",
            )
        return self.root / named[name].replace("${profile}", profile)
