
from flows import dag
from tests.conftest import REPO


def test_mlc_stages_come_in_dependency_order_from_dvc_yaml() -> None:
    stages = dag.stages(REPO, "mlc")
    assert [s.name for s in stages] == ["mlc-prepare", "mlc-train", "mlc-evaluate", "mlc-report"]
    assert {s.step for s in stages} == {"prepare", "train", "evaluate", "report"}
    evaluate = stages[2]
    assert len(evaluate.metrics) == 1 and evaluate.metrics[0].endswith("mlc/metrics.json")


def test_studies_are_the_stage_prefixes() -> None:
    assert "mlc" in dag.studies(REPO)


def test_every_stage_has_a_step_function() -> None:
    from tasks.stages import study_steps

    for stage in dag.stages(REPO):
        assert stage.step in study_steps(stage.study), stage.name
