"""Prefect cache keys of pipeline steps: a step's key moves with its own inputs, params and code, and nothing
else."""

from __future__ import annotations

from pathlib import Path

import yaml

from tasks.orchestration.caching import needs_refresh, stage_key


def _keys(root: Path) -> dict[str, str]:
    return {stage: stage_key(root, stage) for stage in ("mlc-prepare", "mlc-train", "mlc-evaluate")}


def test_a_key_moves_only_for_the_steps_whose_code_or_params_changed(project: Path) -> None:
    before = _keys(project)
    assert _keys(project) == before  # deterministic, and absent inputs (nothing ran here) are part of the key
    with (project / "studies/mlc/baselines.py").open("a") as f:  # a helper only mlc-evaluate's code imports
        f.write("\n# a comment is still a change to the source\n")
    touched = _keys(project)
    assert {s for s in before if touched[s] != before[s]} == {"mlc-evaluate"}
    with (project / "studies/common/seeding.py").open("a") as f:  # shared by training (and not by evaluation)
        f.write("\n# touched\n")
    seeded = _keys(project)
    assert {s for s in touched if seeded[s] != touched[s]} == {"mlc-train"}
    doc = yaml.safe_load((project / "params.yaml").read_text())
    profile = doc["profile"]
    doc["profiles"][profile]["mlc"]["train"]["seeds"] = [7]
    (project / "params.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    assert {s for s, k in _keys(project).items() if k != seeded[s]} == {"mlc-train"}


def test_a_stage_whose_outputs_are_not_in_the_workspace_is_refreshed_not_trusted(project: Path) -> None:
    # The copy has the lock but none of the results: a cache hit would report outputs that are not there.
    assert needs_refresh(project, "mlc-train")
