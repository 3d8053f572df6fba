"""The pipeline DAG as DVC declares it: flows read it here instead of restating it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import networkx as nx
from dvc.repo import Repo
from dvc.stage import PipelineStage

from tasks.platform.errors import StudiesError


@dataclass(frozen=True)
class StageInfo:
    name: str
    study: str
    step: str
    metrics: tuple[str, ...]
    resources: str | None = None  # dvc.yaml `meta: {resources: gpu}`: a step that wants an accelerator
    # dvc.yaml `meta: {champion: {model, metric, goal}}`: register its model (tasks/platform/registry.py)
    champion: dict | None = None
    upstream: tuple[str, ...] = ()  # the stages whose outputs it reads
    outs: tuple[str, ...] = ()  # what it writes, as dvc.yaml names it (metrics and plots included)


def stages(root: Path, study: str | None = None) -> list[StageInfo]:
    """Stages in dependency order (dependencies first), optionally only one study's (`<study>-<step>`)."""
    with Repo(str(root)) as repo:
        graph = repo.index.graph  # edges point from a stage to the stages it depends on
        ordered = list(
            nx.lexicographical_topological_sort(graph.reverse(copy=True), key=lambda s: s.addressing)
        )
        found = []
        for stage in ordered:
            if not isinstance(stage, PipelineStage):  # data.dvc and other .dvc files are data, not steps
                continue
            name = stage.name
            prefix, _, step = name.partition("-")
            if study is None or prefix == study:
                metrics = tuple(str(o.def_path) for o in stage.outs if o.metric)
                meta = stage.meta or {}
                found.append(
                    StageInfo(
                        name,
                        prefix,
                        step,
                        metrics,
                        meta.get("resources"),
                        meta.get("champion"),
                        upstream=tuple(
                            sorted(d.name for d in graph.successors(stage) if isinstance(d, PipelineStage))
                        ),
                        outs=tuple(str(o.def_path) for o in stage.outs),
                    )
                )
    return found


def studies(root: Path) -> list[str]:
    """Studies in the order their first stage appears in dvc.yaml's DAG."""
    return list(dict.fromkeys(s.study for s in stages(root)))


class UnknownStudy(StudiesError):
    """A study name that dvc.yaml does not define."""


def require_studies(root: Path, names: list[str] | None) -> list[str]:
    """The studies asked for (all of dvc.yaml's when none), refusing names dvc.yaml does not define."""
    known = studies(root)
    if unknown := sorted(set(names or []) - set(known)):
        raise UnknownStudy(
            f"Unknown study {', '.join(unknown)}; dvc.yaml defines: {', '.join(known)}. "
            "Fix: name one of those."
        )
    return list(names) if names else known
