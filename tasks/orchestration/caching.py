"""Prefect cache keys for pipeline steps: what a step reads, so an unchanged step is a cache hit across runs.

A step's key hashes the DVC hashes of its inputs (data and upstream outputs, as DVC itself computes them), the
values of its params, its command, and the source of every module it calls (tasks/orchestration/code_deps.py
follows the imports into studies/, so touching a helper changes exactly the keys of the steps that import it).

A hit is only safe when the workspace holds what the step produced: when DVC says the stage is not up to
date (outputs missing or edited, inputs changed since dvc.lock), the flow refreshes the cache entry instead
of trusting it (`needs_refresh`), so a key seen before with other outputs on disk is never reused blindly.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from dvc.repo import Repo

from tasks.orchestration.code_deps import stage_sources


def _collect(repo: Repo, stage_name: str):
    (stage,) = repo.stage.collect(stage_name)
    return stage


def stage_key(root: Path, stage_name: str) -> str:
    """sha256 over the stage's command, input hashes, param values and code; inputs that are absent count as
    such."""
    with Repo(str(root)) as repo, repo.lock:
        stage = _collect(repo, stage_name)
        inputs: dict[str, Any] = {}
        for dep in stage.deps:
            try:
                # the value only: DVC names the same md5 `md5-dos2unix` or `md5` depending on dvc.lock's
                # history
                inputs[str(dep)] = dep.get_hash().value
            except Exception as exc:  # noqa: BLE001 - a missing or unreadable input is part of the state, not an error here
                inputs[str(dep)] = f"unavailable: {type(exc).__name__}"
        payload = {
            "stage": stage_name,
            "cmd": stage.cmd,
            "inputs": inputs,
            "code": code_hashes(root, stage_name),
        }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def code_hashes(root: Path, stage_name: str) -> dict[str, str]:
    """{path: sha256} of the source files the stage's step imports (studies/ and tasks/)."""
    return {
        rel: hashlib.sha256((root / rel).read_bytes()).hexdigest() for rel in stage_sources(root, stage_name)
    }


def needs_refresh(root: Path, stage_name: str) -> bool:
    """True when DVC would not call the stage up to date: then its cached Prefect result must not be
    trusted."""
    with Repo(str(root)) as repo, repo.lock:
        return bool(_collect(repo, stage_name).changed())


def cache_key(context: Any, parameters: dict[str, Any]) -> str:
    """Prefect `cache_key_fn` for tasks called as (root, stage, ...)."""
    return f"{parameters['stage']}-{stage_key(Path(parameters['root']), parameters['stage'])}"
