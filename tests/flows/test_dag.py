import pytest

from flows import dag
from tests.conftest import REPO


def test_mlc_stages_come_in_dependency_order_from_dvc_yaml() -> None:
    stages = dag.stages(REPO, "mlc")
    assert [s.name for s in stages] == ["mlc-prepare", "mlc-train", "mlc-evaluate", "mlc-report"]
    assert {s.step for s in stages} == {"prepare", "train", "evaluate", "report"}
    evaluate = stages[2]
    assert len(evaluate.metrics) == 1 and evaluate.metrics[0].endswith("mlc/metrics.json")


def test_studies_are_the_stage_prefixes() -> None:
    assert {"mlc", "cdvae", "ssvi"} <= set(dag.studies(REPO))


def test_every_stage_has_a_step_function() -> None:
    from tasks.orchestration.stage_runner import study_steps

    for stage in dag.stages(REPO):
        assert stage.step in study_steps(stage.study), stage.name


def test_cdvae_gpu_steps_are_marked_from_dvc_yaml_meta(monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.study import stage_task

    stages = {s.step: s for s in dag.stages(REPO, "cdvae")}
    assert list(stages) == [
        "prepare",
        "train",
        "generate",
        "reconstruct",
        "evaluate",
        "train-property-model",
        "evaluate-generation",
        "report",
    ]
    assert {s for s, info in stages.items() if info.resources == "gpu"} == {
        "train",
        "reconstruct",
        "generate",
    }
    monkeypatch.delenv("STUDIES_DISPATCH", raising=False)
    assert stage_task(stages["train"])[0].tags == {"gpu"}
    assert stage_task(stages["prepare"])[0].tags == set()
    monkeypatch.setenv(
        "STUDIES_DISPATCH", "gpu"
    )  # a configured pool: its steps go to workers, the others stay here
    task, extra = stage_task(stages["generate"])
    assert task.name == "dispatch-stage" and extra == {"pool": "gpu"}
    assert stage_task(stages["prepare"])[0].name == "reproduce-stage"


def test_ssvi_training_is_the_gpu_step() -> None:
    stages = dag.stages(REPO, "ssvi")
    assert [s.step for s in stages] == ["prepare", "train", "evaluate", "report"]
    assert [s.step for s in stages if s.resources == "gpu"] == ["train"]


def test_every_study_names_the_model_and_metric_of_its_champion() -> None:
    specs = {s.name: s.champion for s in dag.stages(REPO) if s.champion}
    assert specs == {
        "mlc-train": {"model": "mlc-digits", "metric": "digits/mlc/acc_mean", "goal": "maximize"},
        "cdvae-train": {"model": "cdvae", "metric": "match_rate", "goal": "maximize"},
        "ssvi-train": {"model": "ssvi-digits", "metric": "ssvi-0.1/nll_mean", "goal": "minimize"},
    }


def test_unknown_studies_are_refused_in_one_place_naming_the_known_ones() -> None:
    from flows import deploy

    assert dag.require_studies(REPO, None) == dag.studies(REPO)
    assert dag.require_studies(REPO, ["ssvi"]) == ["ssvi"]
    with pytest.raises(dag.UnknownStudy, match=r"Unknown study nosuch; dvc.yaml defines: ") as refused:
        dag.require_studies(REPO, ["mlc", "nosuch"])
    assert all(study in str(refused.value) for study in ("mlc", "cdvae", "ssvi"))
    # the scheduled deployments ask the same question (was a copy of the check)
    with pytest.raises(dag.UnknownStudy, match=r"Unknown study nosuch"):
        deploy.deployments(REPO, "ci", {"interval": 60}, ["nosuch"])


def test_stage_meta_is_written_one_way_in_dvc_yaml() -> None:
    """A block under `meta:` after `cmd:` (it was both inline `{...}` and a block, before and after cmd)."""
    lines = (REPO / "dvc.yaml").read_text().splitlines()
    metas = [i for i, line in enumerate(lines) if line.strip().startswith("meta:")]
    assert metas and all(lines[i].strip() == "meta:" for i in metas)
    for i in metas:
        before = [line.strip() for line in lines[:i] if line.startswith("  ") and not line.startswith("   ")]
        assert lines[i - 1].startswith("      ") and "cmd:" not in lines[i + 1], before[-1]
