"""Run one DVC stage's body: the function `dvc repro` and the Prefect flows both end up in.

dvc.yaml calls `studies stage <study> <step> --profile P -i name=path -o name=path`,
so the paths live only in dvc.yaml; the study's stage package maps step names to
"module:function" names in its `STEPS` dict (a new study adds a package, nothing here).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasks.orchestration import fan_out
from tasks.platform import params as params_mod
from tasks.platform import tracking
from tasks.platform.errors import UsageError
from tasks.platform.project import Project


@dataclass
class StageContext:
    project: Project
    study: str
    step: str
    profile: str
    params: dict[str, Any]
    inputs: dict[str, Path] = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)


StageFn = Callable[[StageContext], None]


def study_steps(study: str) -> dict[str, str]:
    """The study's steps, each as the "module:function" that runs it. The registry names the functions
    without importing them, so a stage process loads its own step's code only: importing all of CDVAE's steps
    takes ~13 s on an idle 2-core machine (torch-geometric, pymatgen, matplotlib); its report needs none."""
    try:
        module = importlib.import_module(f"tasks.stages.{study}")
    except ModuleNotFoundError as exc:
        raise UsageError(f"No stage package tasks/stages/{study}/ for study '{study}'.") from exc
    return module.STEPS


def step_function(study: str, step: str) -> StageFn:
    steps = study_steps(study)
    if step not in steps:
        raise UsageError(f"Study '{study}' has no step '{step}'; it has: {', '.join(steps)}.")
    module, _, name = steps[step].partition(":")
    return getattr(importlib.import_module(module), name)


def run_stage_body(
    project: Project, study: str, step: str, profile: str, inputs: dict[str, Path], outputs: dict[str, Path]
) -> None:
    """Run the step inside its MLflow run. When the tracking server went away, exit with one line naming it
    and the fix: `dvc repro` passes the stage's last lines up to the flow, and MLflow's retry traceback would
    bury them."""
    try:
        _run_tracked(project, study, step, profile, inputs, outputs)
    except Exception as exc:
        if reason := tracking.unreachable(project.mlflow_uri):
            raise SystemExit(f"error: stage {study}-{step} stopped: {reason}") from exc
        raise


def _run_tracked(
    project: Project, study: str, step: str, profile: str, inputs: dict[str, Path], outputs: dict[str, Path]
) -> None:
    fn = step_function(study, step)
    params = params_mod.study_params(project.params_file, study, profile)
    ctx = StageContext(project, study, step, profile, params, inputs, outputs)
    for path in outputs.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    with tracking.stage_run(project, study, step, profile, params.get(step, {})), fan_out.from_environment():
        fn(ctx)
