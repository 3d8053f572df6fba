"""Wall time of every stage of the pipeline on a profile (default `cpu`), in a fresh copy of the project.

Run: .venv/bin/python benchmarks/stage_wall_time.py [profile] [study]
It copies the project (tracked + untracked files, no data or results) to a
temporary folder, runs `studies run` there with embedded defaults, and prints
each stage's seconds as the flow measured them, plus the total.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tasks.ingest import default_mirror

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def copy_project(dst: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, check=True, capture_output=True, text=True).stdout
    for rel in files.splitlines():
        if (REPO / rel).is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dst / rel)
    subprocess.run(["git", "init", "-q"], cwd=dst, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dst, check=True)
    subprocess.run(["git", "-c", "user.email=b@b", "-c", "user.name=b", "commit", "-qm", "bench"], cwd=dst, check=True)
    return dst


def main(profile: str, study: str | None) -> None:
    root = copy_project(Path(tempfile.mkdtemp(prefix="stage-bench-")) / "project")
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL", "PREFECT_HOME")}
    env |= {"STUDIES_ROOT": str(root), "PATH": f"{BIN}{os.pathsep}{env['PATH']}"}
    if (mirror := default_mirror(REPO)) is not None:  # the copy is not beside ../shared
        env.setdefault("STUDIES_DATA_MIRROR", str(mirror))
    start = time.perf_counter()
    cmd = [str(BIN / "studies"), "run", *([study] if study else []), "--profile", profile]
    subprocess.run(cmd, cwd=root, env=env, check=True)
    total = time.perf_counter() - start
    print(f"\nprofile {profile}: total wall time {total:.0f} s (data ingest, Prefect and MLflow start-up included)")
    metrics = sorted(root.glob(f"results/{profile}/*/metrics.json"))
    for path in metrics:
        print(path.relative_to(root), json.dumps(json.loads(path.read_text()))[:2000])
    print(f"workspace kept at {root}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "cpu", sys.argv[2] if len(sys.argv) > 2 else None)
