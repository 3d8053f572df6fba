"""A cap on concurrent pipeline runs that write one SQLite MLflow store (the embedded default, or a file
several checkouts share): beyond it SQLite's single writer lock turns into "database is locked" failures at
random points of random runs. Each run holds one of SQLITE_MAX_RUNS slot locks beside the database file; a run
that finds none free is refused up front, saying how to scale out. Slots are `flock`s: a killed run frees its
own.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from tasks.platform.errors import StudiesError

# Measured here (benchmarks/sqlite_limit.py, `ci` runs sharing one SQLite store and a SQLite Prefect server):
# 2 at once: 1 of 2 failed (MLflow's SQLite store set-up raced: CircularDependencyError); 4 at once: 3 of 4
# failed ("database is locked"). So one run at a time; STUDIES_SQLITE_MAX_RUNS raises it at your own risk.
SQLITE_MAX_RUNS = 1
LIMIT_ENV = "STUDIES_SQLITE_MAX_RUNS"


class SqliteBusy(StudiesError):
    """Every run slot of the SQLite store is taken (or the cap is malformed)."""


def sqlite_file(uri: str) -> Path | None:
    """The database file of a `sqlite:///path` tracking URI; None for servers and other databases."""
    parsed = urlparse(uri)
    return (
        Path(parsed.path).resolve()
        if parsed.scheme == "sqlite" and parsed.path not in ("", "/:memory:")
        else None
    )


def limit() -> int:
    value = os.environ.get(LIMIT_ENV)
    if value is None:
        return SQLITE_MAX_RUNS
    if not value.isdigit() or int(value) < 1:
        raise SqliteBusy(
            f"{LIMIT_ENV}={value}: not a positive whole number of runs. "
            "Fix: set it to 1 or more, or unset it."
        )
    return int(value)


@contextmanager
def sqlite_slot(uri: str) -> Iterator[None]:
    """Hold a run slot of the SQLite store behind `uri` (nothing to hold for servers or PostgreSQL)."""
    if (db := sqlite_file(uri)) is None:
        yield
        return
    folder = db.with_name(db.name + ".runs")
    folder.mkdir(parents=True, exist_ok=True)
    cap = limit()
    for slot in range(cap):
        fd = os.open(folder / f"slot-{slot}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield
        finally:
            os.close(fd)
        return
    raise SqliteBusy(
        f"{cap} pipeline runs are already writing to the SQLite MLflow store {db}; SQLite takes one writer "
        "at a time and more concurrent runs fail at random with 'database is locked' (measured: "
        "benchmarks/sqlite_limit.py). Fix: wait for one to finish, or point the checkouts at a "
        f"PostgreSQL-backed MLflow server (README: Team deployment; {LIMIT_ENV} changes the cap)."
    )
