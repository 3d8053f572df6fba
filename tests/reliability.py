"""Figures for reports/reliability.md. Tests marked `reliability` call `record` with what they held, survived
or tried; `make reliability` runs them with $STUDIES_RELIABILITY_LOG set and renders the report from these
lines. Outside that command nothing is written."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

KINDS = ("load", "fault", "input", "security")


def record(kind: str, what: str, **figures: int | float | str) -> None:
    """One line per claim, e.g. record("fault", "MLflow server stopped mid-run", survived=1, lost=0).

    Figures the report sums: runs (pipeline runs held), survived (faults survived), inputs (bad inputs tried),
    lost (data lost: MLflow runs/metrics or DVC outputs missing afterwards)."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}: use one of {KINDS}")
    if not (log := os.environ.get("STUDIES_RELIABILITY_LOG")):
        return
    line = {
        "kind": kind,
        "what": what,
        "test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **figures,
    }
    with Path(log).open("a") as out:
        out.write(json.dumps(line) + "\n")
