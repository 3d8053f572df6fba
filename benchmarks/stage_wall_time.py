"""Wall time of every stage of the pipeline on a profile (default `cpu`), in a fresh copy of the project.

Run: .venv/bin/python benchmarks/stage_wall_time.py [profile] [study]
It copies the project (tracked + untracked files, no data or results) to a
temporary folder, runs `studies run` there with embedded defaults, and prints
each stage's seconds as the flow measured them, plus the total.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.conftest import BIN, copy_project, project_env  # noqa: E402  (the same isolated copy the tests use)


def main(profile: str, study: str | None) -> None:
    root = copy_project(Path(tempfile.mkdtemp(prefix="stage-bench-")) / "project")
    start = time.perf_counter()
    cmd = [str(BIN / "studies"), "run", *([study] if study else []), "--profile", profile]
    subprocess.run(cmd, cwd=root, env=project_env(root), check=True)
    total = time.perf_counter() - start
    print(
        f"\nprofile {profile}: total wall time {total:.0f} s "
        "(data ingest, Prefect and MLflow start-up included)"
    )
    for path in sorted(root.glob(f"results/{profile}/*/metrics.json")):
        print(path.relative_to(root), json.dumps(json.loads(path.read_text()))[:2000])
    print(f"workspace kept at {root}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "cpu", sys.argv[2] if len(sys.argv) > 2 else None)
