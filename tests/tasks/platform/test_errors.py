"""The one error base: a message and its fix, and every error class of the pipeline built on it."""

from __future__ import annotations

import ast
import builtins
import pickle

import pytest

from tasks.platform.errors import BadInput, StudiesError, refused_input
from tests.conftest import REPO

BUILTIN_ERRORS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}


def test_a_trailing_fix_is_split_off_and_put_back_by_str() -> None:
    err = StudiesError("data.dvc is missing. Fix: run `studies ingest`.")
    assert (err.message, err.fix) == ("data.dvc is missing.", "run `studies ingest`.")
    assert str(err) == "data.dvc is missing. Fix: run `studies ingest`."
    dvc = StudiesError("`dvc pull` failed:\nERROR: no remote\nFix: see DVC's message above.")
    assert dvc.message == "`dvc pull` failed:\nERROR: no remote" and dvc.fix == "see DVC's message above."
    plain = StudiesError("no fix here", fix=None)
    assert (plain.message, plain.fix, str(plain)) == ("no fix here", None, "no fix here")


def test_the_fix_survives_pickling() -> None:
    """Prefect keeps a failed task's exception in its state; a copy must still carry the fix."""
    copy = pickle.loads(pickle.dumps(StudiesError("broken.", fix="mend it.")))
    assert (copy.message, copy.fix) == ("broken.", "mend it.")


def test_science_value_errors_become_bad_input_and_studies_errors_pass() -> None:
    with pytest.raises(BadInput) as err, refused_input():
        raise ValueError("density=0 must be in (0, 1]. Fix: pick a density in (0, 1].")
    assert err.value.fix == "pick a density in (0, 1]." and isinstance(err.value.__cause__, ValueError)
    with pytest.raises(StudiesError) as same, refused_input():
        raise StudiesError("mine")
    assert type(same.value) is StudiesError


def test_every_error_class_of_the_pipeline_is_a_studies_error() -> None:
    """flows/ and tasks/ raise their own errors on a StudiesError base (the CLI catches that one base); a
    class on a builtin exception alone would end `studies` in a traceback. studies/ (the science) may not
    import tasks/, so its errors are converted where a command meets them (errors.refused_input)."""
    alone = []
    for path in [*(REPO / "flows").rglob("*.py"), *(REPO / "tasks").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
                if bases & BUILTIN_ERRORS and "StudiesError" not in bases and node.name != "StudiesError":
                    alone.append(f"{path.relative_to(REPO)}: {node.name}({', '.join(sorted(bases))})")
    assert not alone, alone
