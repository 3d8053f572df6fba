"""The exchange between a flow and a worker: what is sent, what a worker refuses, how the result is
recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tasks.orchestration.dispatch import (
    WorkerError,
    configured_pools,
    input_targets,
    record_lock,
    run_on_worker,
    workspace_code,
)


def test_pools_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STUDIES_DISPATCH", raising=False)
    assert configured_pools() == set()
    monkeypatch.setenv("STUDIES_DISPATCH", " gpu, tpu ,")
    assert configured_pools() == {"gpu", "tpu"}


def test_a_step_reads_its_upstream_stages_and_data(project: Path) -> None:
    assert input_targets(project, "mlc-prepare") == ["data.dvc"]
    assert input_targets(project, "cdvae-evaluate") == ["cdvae-prepare", "cdvae-reconstruct", "cdvae-train"]


def test_a_worker_with_other_code_refuses_and_names_the_files(project: Path) -> None:
    code = workspace_code(project, "mlc-train")
    assert (
        "studies/mlc/objective.py" in code and "dvc.yaml" in code and "studies/mlc/baselines.py" not in code
    )
    params = (project / "params.yaml").read_bytes()
    with (project / "studies/mlc/objective.py").open("a") as f:  # this checkout drifted from the flow's
        f.write("\n# local edit\n")
    request = {
        "stage": "mlc-train",
        "code": code,
        "commit": "abc123",
        "params_yaml": "",
        "dvc_lock": "",
        "dvc_files": {},
        "inputs": [],
        "env": {},
    }
    with pytest.raises(WorkerError, match=r"studies/mlc/objective\.py.*abc123"):
        run_on_worker(request)
    assert (project / "params.yaml").read_bytes() == params  # refused before touching the checkout


def test_the_workers_lock_entry_replaces_only_its_stage(project: Path) -> None:
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    entry = {"cmd": "studies stage mlc train", "outs": [{"path": "results/x", "md5": "0" * 32 + ".dir"}]}
    record_lock(project, "mlc-train", entry)
    after = yaml.safe_load((project / "dvc.lock").read_text())
    assert after["stages"]["mlc-train"] == entry
    assert {k: v for k, v in after["stages"].items() if k != "mlc-train"} == {
        k: v for k, v in lock["stages"].items() if k != "mlc-train"
    }
    assert not list(project.glob("dvc.lock.*"))  # written through a temporary file, nothing left behind
