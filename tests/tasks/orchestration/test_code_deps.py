import subprocess
import sys
from pathlib import Path

import pytest

from tasks.orchestration import code_deps
from tests.conftest import REPO

FAKE = {
    "tasks/__init__.py": "",
    "tasks/orchestration/stage_runner.py": "from tasks.platform.tracking import stage_run\n",
    "tasks/platform/tracking.py": "def stage_run(): ...\n",
    "tasks/stages/toy/__init__.py": '"""Registry."""\n\n'
    'STEPS = {"fit-model": "tasks.stages.toy.fit:fit", "other": "tasks.stages.toy.other:other"}\n',
    "tasks/stages/toy/fit.py": "from studies.toy.model import build\n"
    "from tasks.orchestration.stage_runner import StageContext\n"
    "from . import io\n\n\n"
    "def fit(ctx):\n    from studies.common import seeding\n    return build(), seeding\n",
    "tasks/stages/toy/io.py": "from .shared import SHARED\n",
    "tasks/stages/toy/shared.py": "SHARED = 1\n",
    "tasks/stages/toy/other.py": "import studies.toy.unrelated\n\n\ndef other(ctx): ...\n",
    "studies/__init__.py": '"""Docstring only: not a dependency."""\n',
    "studies/common/__init__.py": "",
    "studies/common/seeding.py": "",
    "studies/toy/__init__.py": "DEFAULT = 3  # code: a dependency\n",
    "studies/toy/model.py": "import numpy as np\nfrom studies.toy import layers\n\n\ndef build(): ...\n",
    "studies/toy/layers.py": "",
    "studies/toy/unrelated.py": "",
}


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    for rel, text in FAKE.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_step_sources_follow_absolute_relative_submodule_and_function_level_imports(fake: Path) -> None:
    assert code_deps.step_sources(fake, "toy", "fit-model") == [
        "studies/common/seeding.py",  # imported inside the step function
        "studies/toy/__init__.py",  # has code, unlike the docstring-only studies/__init__.py
        "studies/toy/layers.py",  # `from studies.toy import layers`: a submodule
        "studies/toy/model.py",  # `from studies.toy.model import build`
        "tasks/stages/toy/fit.py",
        "tasks/stages/toy/io.py",  # `from . import io`
        "tasks/stages/toy/shared.py",  # `from .shared import SHARED` in io.py
    ]


def test_registry_and_infrastructure_are_neither_listed_nor_followed(fake: Path) -> None:
    sources = code_deps.stage_sources(fake, "toy-fit-model")
    # The registry imports the other step, which alone imports the unrelated helper.
    assert not {
        "tasks/stages/toy/__init__.py",
        "tasks/stages/toy/other.py",
        "studies/toy/unrelated.py",
    } & set(sources)
    assert not {"tasks/orchestration/stage_runner.py", "tasks/platform/tracking.py"} & set(sources)
    assert code_deps.stage_sources(fake, "toy-other") == [
        "studies/toy/__init__.py",
        "studies/toy/unrelated.py",
        "tasks/stages/toy/other.py",
    ]


def test_a_data_file_a_module_names_beside_itself_is_a_dependency(fake: Path) -> None:
    (fake / "studies/toy/layers.py").write_text(
        'from pathlib import Path\nSCALE = Path(__file__).with_name("scale.json")\nLABEL = "results.json"\n'
    )
    (fake / "studies/toy/scale.json").write_text("{}")
    (fake / "studies/toy/unread.json").write_text("{}")
    sources = code_deps.step_sources(fake, "toy", "fit-model")
    # named and present: listed; present but never named, or named but not beside the module: not
    assert "studies/toy/scale.json" in sources
    assert "studies/toy/unread.json" not in sources and not any(s.endswith("results.json") for s in sources)


def test_unknown_step_names_the_steps_there_are(fake: Path) -> None:
    with pytest.raises(ValueError, match="fit-model, other"):
        code_deps.step_sources(fake, "toy", "evaluate")


def test_write_rewrites_only_code_deps_after_the_data_deps(fake: Path) -> None:
    (fake / "dvc.yaml").write_text(
        "stages:\n"
        "  # the toy\n"
        "  toy-other:\n"
        "    cmd: >-\n      studies stage toy other\n"
        "    deps:\n      - data/x.csv  # raw\n      - tasks/gone.py\n      - tasks/stages/toy/other.py\n"
        "    meta: {resources: gpu}\n"
    )
    assert code_deps.write(fake) == ["toy-other"]
    assert (fake / "dvc.yaml").read_text() == (
        "stages:\n"
        "  # the toy\n"
        "  toy-other:\n"
        "    cmd: >-\n      studies stage toy other\n"
        "    deps:\n      - data/x.csv  # raw\n      - studies/toy/__init__.py\n"
        "      - studies/toy/unrelated.py\n"
        "      - tasks/stages/toy/other.py\n"
        "    meta: {resources: gpu}\n"
    )
    assert code_deps.mismatches(code_deps.compare(fake)) == {}
    assert code_deps.write(fake) == []


def test_the_registry_module_is_where_the_step_function_is_defined() -> None:
    from tasks.orchestration.stage_runner import step_function, study_steps

    for study in ("mlc", "cdvae", "ssvi", "intdim"):
        for step in study_steps(study):
            assert code_deps.step_module(REPO, study, step) == step_function(study, step).__module__


def test_a_registry_entry_that_is_not_module_colon_function_is_named(tmp_path: Path) -> None:
    registry = tmp_path / "tasks" / "stages" / "toy" / "__init__.py"
    registry.parent.mkdir(parents=True)
    registry.write_text(
        'STEPS = {"fit": "tasks.stages.toy.fit", "report": "tasks.stages.toy.report:write"}\n'
    )
    assert code_deps.step_module(tmp_path, "toy", "report") == "tasks.stages.toy.report"
    with pytest.raises(ValueError, match=r"STEPS\['fit'\] .* is not a \"module:function\" string"):
        code_deps.step_module(tmp_path, "toy", "fit")


def test_a_stage_process_imports_only_its_own_steps_code() -> None:
    """The registry is light: running CDVAE's report step must not load torch-geometric (the training steps'
    dependency, seconds of imports)."""
    code = (
        "import sys; from tasks.orchestration.stage_runner import step_function; "
        "step_function('cdvae', 'report'); print('torch_geometric' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_dvc_yaml_code_deps_are_what_each_step_imports() -> None:
    bad = code_deps.mismatches(code_deps.compare(REPO))
    assert not bad, code_deps.report(bad)
