"""One pipeline process per checkout: `studies run`, `serve` and `worker` each own the workspace while they
work.

Two runs in one checkout share params.yaml (each writes its profile there), results/, dvc.lock and, in
embedded mode, the SQLite files of Prefect and MLflow; together they fail at random (DVC's repo lock, a
half-applied profile, "database is locked"). The second one is refused up front instead, naming the first. The
lock is an advisory `flock`, so the kernel drops it when its holder dies: a killed run never leaves the
checkout locked.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tasks.platform.errors import StudiesError

LOCK_FILE = ".studies-run.lock"


class CheckoutBusy(StudiesError):
    """Another pipeline process holds this checkout."""


@contextmanager
def own_checkout(root: Path, command: str) -> Iterator[None]:
    path = root / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CheckoutBusy(_busy_message(path, command)) from None
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "argv": " ".join(sys.argv[1:]),
            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _busy_message(path: Path, command: str) -> str:
    try:
        holder = json.loads(path.read_text())
        who = f"`studies {holder['argv']}` (pid {holder['pid']}, since {holder['since']})"
    except (OSError, ValueError, KeyError):
        who = "another studies process"
    return (
        f"{who} is working in this checkout ({path.parent}); `studies {command}` would share its "
        "params.yaml, results and dvc.lock. Embedded mode takes one pipeline process per checkout. Fix: wait "
        "for it, or use another checkout (git worktree add ../other) pointed at shared servers (README: Team "
        "deployment)."
    )
