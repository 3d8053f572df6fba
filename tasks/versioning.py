"""DVC operations the pipeline needs, run as `python -m dvc` from the interpreter running this code.

A subprocess keeps DVC's locks, logging and state out of the caller's process
(Prefect workers, tests), and `sys.executable -m dvc` is the DVC installed
beside this code whatever $PATH says.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

DATA_DVC = "data.dvc"


class DvcError(RuntimeError):
    """A DVC command failed; the message carries its command line and DVC's own explanation."""


class DataNotIngestedError(FileNotFoundError):
    """The project has no data.dvc yet."""


def run_dvc(root: Path, *args: str, stream: bool = False, env: dict[str, str] | None = None) -> str:
    """Run DVC in `root` and return its output; `stream` also echoes it live (progress bars redraw with \\r)."""
    cmd = [sys.executable, "-m", "dvc", *args]
    env = {**(env or os.environ), "DVC_NO_ANALYTICS": "1"}
    if stream:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert proc.stdout is not None
        chunks = []
        while chunk := os.read(proc.stdout.fileno(), 4096):
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
            chunks.append(chunk)
        returncode, out, err = proc.wait(), b"".join(chunks).decode(errors="replace"), ""
    else:
        done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
        returncode, out, err = done.returncode, done.stdout, done.stderr
    if returncode != 0:
        detail = (err.strip() or out.strip())[-2000:]
        raise DvcError(
            f"`dvc {' '.join(args)}` failed in {root} (exit {returncode}):\n{detail}\n"
            "Fix: see DVC's message above; run the same command in the project folder to reproduce it."
        )
    return out


def dvc_add(root: Path, rel_path: str) -> None:
    """Track `rel_path` (a file or folder under root) in `<rel_path>.dvc` and store its content in the cache."""
    run_dvc(root, "add", rel_path)


def dvc_push(root: Path, rel_paths: Sequence[str] | None = None) -> None:
    """Upload the cache entries of `rel_paths` (.dvc files or outputs; default: everything) to the default remote."""
    run_dvc(root, "push", *(rel_paths or ()))


def dvc_status_clean(root: Path, targets: Sequence[str] | None = None) -> bool:
    """Whether the workspace matches what DVC records for `targets` (default: every .dvc file and stage)."""
    return json.loads(run_dvc(root, "status", "--json", *(targets or ())) or "{}") == {}


def data_hash(root: Path) -> str:
    """The md5 DVC recorded for data/ in data.dvc (ends in `.dir`): the version of the data a run used."""
    path = Path(root) / DATA_DVC
    if not path.is_file():
        raise DataNotIngestedError(
            f"{path} does not exist, so the project's data is not versioned yet. "
            "Fix: run `studies ingest` in the project folder."
        )
    outs = (yaml.safe_load(path.read_text()) or {}).get("outs") or []
    md5 = next((o.get("md5") for o in outs if o.get("path") == "data"), None)
    if not md5:
        raise DvcError(f"{path} has no md5 for `data`. Fix: run `studies ingest` to rewrite it.")
    return md5
