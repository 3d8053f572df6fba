"""What a long run says about itself: its plan at the start, a line per stage as it ends, where to look after.

Pure functions of the stages (flows/dag.py), DVC's verdict on each and the seconds each took last time, so
the wording and the arithmetic are tested without servers; flows/study.py gathers the inputs and prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flows.dag import StageInfo


@dataclass(frozen=True)
class Planned:
    stage: StageInfo
    why: str  # "changed" (DVC says so), "after <stage>" (reads a stage that will run) or "up to date"
    last_seconds: float | None  # its last finished run on this profile; None: no timing yet

    @property
    def will_run(self) -> bool:
        return self.why != "up to date"


def plan(
    stages: Sequence[StageInfo], changed: Mapping[str, bool], last_seconds: Mapping[str, float]
) -> list[Planned]:
    """Each stage with what will happen to it. DVC judges a stage on its own inputs as they are now, so a
    stage reading one that will run is counted as running too: its inputs are about to change."""
    running: set[str] = set()
    planned = []
    for stage in stages:  # dependency order: a stage's upstream is decided before it
        after = [name for name in stage.upstream if name in running]
        why = "changed" if changed[stage.name] else f"after {after[0]}" if after else "up to date"
        planned.append(Planned(stage, why, last_seconds.get(stage.name)))
        if why != "up to date":
            running.add(stage.name)
    return planned


def duration(seconds: float) -> str:
    """Seconds as a person reads them: 42 s, 4.2 min, 1 h 35 min."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes} min"


def estimate(planned: Sequence[Planned], done: frozenset[str] = frozenset()) -> str:
    """What the stages still to run took last time, and how many of them have no timing to add."""
    todo = [p for p in planned if p.will_run and p.stage.name not in done]
    if not todo:
        return "nothing left to run"
    known = sum(p.last_seconds for p in todo if p.last_seconds is not None)
    unknown = sum(p.last_seconds is None for p in todo)
    if unknown == len(todo):
        return f"{len(todo)} to run, no timing yet"
    extra = f" + {unknown} without a timing yet" if unknown else ""
    return f"{len(todo)} to run, about {duration(known)} by their last times{extra}"


def plan_lines(planned: Sequence[Planned], profile: str) -> list[str]:
    """The plan, grouped by study in run order: what will run, what is up to date, what each took before."""
    verdicts = {
        p.stage.name: "will run" if p.why == "changed" else f"will run ({p.why})" if p.will_run else p.why
        for p in planned
    }
    name_width, verdict_width = max(map(len, verdicts)), max(map(len, verdicts.values()))
    lines = [f"Plan ({profile}): {len(planned)} stages, {estimate(planned)}."]
    for study in dict.fromkeys(p.stage.study for p in planned):
        lines.append(f"  {study}")
        for p in (p for p in planned if p.stage.study == study):
            last = "no timing yet" if p.last_seconds is None else f"{duration(p.last_seconds)} last time"
            lines.append(
                f"    {p.stage.name:<{name_width}}  {verdicts[p.stage.name]:<{verdict_width}}  {last}"
            )
    return lines


def progress_line(
    planned: Sequence[Planned], result: Mapping[str, Any], done: frozenset[str], elapsed: float
) -> str:
    """One stage has ended (`result` as tasks/orchestration/repro.py returns it; `done` includes it)."""
    took = f"{result['verdict']} in {duration(float(result['seconds']))}"
    return (
        f"[{len(done)}/{len(planned)}] {result['stage']}: {took}; {duration(elapsed)} since the start; "
        f"{estimate(planned, done)}."
    )


def end_lines(
    planned: Sequence[Planned],
    verdicts: Mapping[str, str],
    elapsed: float,
    links: Mapping[str, str],
    embedded: bool,
) -> list[str]:
    """The reports the run covered (`.md` outputs of its stages, with their stage's verdict) and where its
    MLflow runs are: `links` maps each study to its run's page (tasks/orchestration/prefect_tasks.py
    `run_link`); `embedded`: the store is the project's own, which `studies ui` serves."""
    reports = [
        f"  {out} ({p.stage.name}: {verdicts.get(p.stage.name, 'not run')})"
        for p in planned
        for out in p.stage.outs
        if out.endswith(".md")
    ]
    base = next(iter(links.values()), "").partition("/#/")[0]
    where = f"`studies ui`, then open {base}" if embedded else f"the MLflow UI at {base}"
    return [
        f"Finished in {duration(elapsed)}. Reports:",
        *(reports or ["  none"]),
        f"Review the runs: {where}",
        *(f"  {study}: {link}" for study, link in links.items()),
    ]


@dataclass
class Progress:
    """A run's plan, its clock (time.monotonic() at the start) and the verdict of each stage ended so far."""

    planned: list[Planned]
    started: float
    verdicts: dict[str, str] = field(default_factory=dict)

    def ended(self, result: Mapping[str, Any], now: float) -> str:
        self.verdicts[result["stage"]] = result["verdict"]
        return progress_line(self.planned, result, frozenset(self.verdicts), now - self.started)

    def finished(self, links: Mapping[str, str], embedded: bool, now: float) -> list[str]:
        return end_lines(self.planned, self.verdicts, now - self.started, links, embedded)
