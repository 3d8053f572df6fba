"""Scheduled runs: the `pipeline` flow as a Prefect deployment on a schedule from params.yaml, plus one
on-demand deployment per study, served from this process (`studies serve`) against a Prefect server."""

from __future__ import annotations

import importlib
from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect import serve

from flows import dag
from flows.pipeline import pipeline
from tasks.platform.errors import StudiesError


class ScheduleError(StudiesError):
    """The schedule options and params.yaml do not give exactly one valid schedule."""


def schedule_from(params_doc: dict[str, Any], cron: str | None, interval: float | None) -> dict[str, Any]:
    """`--cron`/`--interval` win over params.yaml's `schedule.cron`; exactly one schedule, checked here."""
    if cron and interval:
        raise ScheduleError("--cron and --interval both given.", fix="give one of them.")
    if interval is not None:
        if interval <= 0:
            raise ScheduleError(
                f"--interval {interval}: not a positive number of seconds.", fix="pass e.g. --interval 3600."
            )
        return {"interval": timedelta(seconds=interval)}
    cron = cron or (params_doc.get("schedule") or {}).get("cron")
    if not cron:
        raise ScheduleError(
            'No schedule. Fix: set `schedule: {cron: "0 3 * * *"}` in params.yaml or pass --cron/--interval.'
        )
    return {"cron": cron}


def deployments(root: Path, profile: str, schedule: dict[str, Any], studies: list[str] | None = None) -> list:
    """The scheduled `pipeline` deployment and an unscheduled deployment per study, all on `profile`."""
    dag.require_studies(root, studies)
    params = {"root": str(root), "profile": profile, "studies": studies or None}
    out = [
        pipeline.to_deployment(
            name=f"pipeline-{profile}",
            parameters=params,
            **schedule,
            description=f"The whole pipeline on profile {profile}, on a schedule.",
        )
    ]
    for study in dag.studies(root):
        flow = importlib.import_module(f"flows.{study}").flow
        out.append(
            flow.to_deployment(
                name=f"{study}-{profile}",
                parameters={"root": str(root), "profile": profile},
                description=f"{study} alone on profile {profile}, on demand.",
            )
        )
    return out


def serve_forever(
    root: Path, profile: str, schedule: dict[str, Any], studies: list[str] | None = None
) -> None:
    """Serve the deployments; `limit=1`: runs of one workspace never overlap (they share results/ and
    dvc.lock)."""
    serve(*deployments(root, profile, schedule, studies), limit=1)
