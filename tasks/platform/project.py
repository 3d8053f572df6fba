"""Where a project's files and embedded services live.

Every path the pipeline touches derives from the project root, so a copy of
the project (a test's temporary clone, a worker's checkout) is self-contained.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MARKERS = ("params.yaml", "dvc.yaml")


def find_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: cwd, or $STUDIES_ROOT) holding params.yaml and dvc.yaml."""
    if env := os.environ.get("STUDIES_ROOT"):
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if all((folder / m).exists() for m in MARKERS):
            return folder
    raise FileNotFoundError(
        f"No subspace-studies project at or above {here}: expected {' and '.join(MARKERS)}. "
        "Run the command from the project folder or set STUDIES_ROOT."
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
