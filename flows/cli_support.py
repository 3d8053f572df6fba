"""What several `studies` commands share: owning the checkout, `--dispatch`, the shared Prefect server.

Light on imports: `studies --help` loads this module.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from tasks.platform.errors import NotReady, UsageError
from tasks.platform.project import Project
from tasks.platform.settings import DISPATCH_ENV

DISPATCH_HELP = (
    "Send steps of this resource (dvc.yaml meta.resources, e.g. gpu) to `studies worker --pool` workers "
    f"(repeatable); default ${DISPATCH_ENV}, else in-process."
)


def require_prefect_server(what: str) -> None:
    """Refuse `what` (e.g. "a worker") unless PREFECT_API_URL names the Prefect server every process shares:
    with an embedded, per-process server the others would wait forever."""
    if not os.environ.get("PREFECT_API_URL"):
        raise NotReady(
            f"{what} needs a Prefect server that every process involved shares; PREFECT_API_URL is unset.",
            fix="start one with `studies server` and export PREFECT_API_URL=http://127.0.0.1:4200/api, or "
            "point it (or prefect.api_url in studies.toml) at your team's server.",
        )


@contextmanager
def owning(project: Project, command: str) -> Iterator[None]:
    """Hold the checkout (tasks/platform/checkout_lock.py) and a run slot of a SQLite MLflow store
    (tasks/platform/sqlite_slots.py) while `command` works, or refuse up front naming what is busy."""
    from tasks.platform.checkout_lock import own_checkout
    from tasks.platform.sqlite_slots import sqlite_slot

    with own_checkout(project.root, command), sqlite_slot(project.mlflow_uri):
        yield


def dispatch_to(project: Project, pools: list[str]) -> None:
    """`--dispatch gpu`: checked against the resources dvc.yaml names, then handed to the flows through the
    environment; the workers reach the flow through a shared Prefect server."""
    if not pools:
        return
    from flows import dag

    known = {s.resources for s in dag.stages(project.root) if s.resources}
    if unknown := sorted(set(pools) - known):
        raise UsageError(
            f"--dispatch {', '.join(unknown)}: no stage has that resource.",
            fix=f"name one of dvc.yaml's: {', '.join(sorted(known))}.",
        )
    require_prefect_server(f"--dispatch {', '.join(pools)} (steps run by `studies worker --pool` processes)")
    os.environ[DISPATCH_ENV] = ",".join(pools)
