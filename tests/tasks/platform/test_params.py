from pathlib import Path

import pytest

from tasks.platform import params

DOC = """\
# comment kept
profile: cpu
profiles:
  ci:
    mlc: {train: {seeds: [0], lr: 0.1}}
  cpu:
    mlc: {train: {seeds: [0, 1, 2], lr: 0.001}}
"""


@pytest.fixture
def file(tmp_path: Path) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(DOC)
    return path


def test_resolve_uses_active_profile(file: Path) -> None:
    assert params.study_params(file, "mlc")["train"]["seeds"] == [0, 1, 2]
    assert params.study_params(file, "mlc", "ci")["train"]["lr"] == 0.1


def test_apply_switches_profile_and_sets_keys_keeping_comments(file: Path) -> None:
    changes = params.apply(file, "ci", params.parse_overrides(["mlc.train.lr=0.5", "mlc.train.seeds=[3, 4]"]))
    assert changes == [
        "profile: cpu → ci",
        "profiles.ci.mlc.train.lr: 0.1 → 0.5",
        "profiles.ci.mlc.train.seeds: [0] → [3, 4]",
    ]
    assert params.study_params(file, "mlc")["train"] == {"seeds": [3, 4], "lr": 0.5}
    assert file.read_text().startswith("# comment kept")


def test_apply_is_a_no_op_when_nothing_changes(file: Path) -> None:
    before = file.stat().st_mtime_ns
    assert params.apply(file, "cpu", {"mlc.train.lr": 0.001}) == []
    assert file.stat().st_mtime_ns == before


@pytest.mark.parametrize("key", ["mlc.train.lrr", "mlc.trian.lr", "nope"])
def test_unknown_key_is_refused_and_file_untouched(file: Path, key: str) -> None:
    with pytest.raises(params.ParamsError, match="has no"):
        params.apply(file, "ci", {key: 1})
    assert file.read_text() == DOC


def test_unknown_profile_names_the_choices(file: Path) -> None:
    with pytest.raises(params.ParamsError, match="ci, cpu"):
        params.apply(file, "gpu", {})
    assert file.read_text() == DOC


def test_override_syntax_errors() -> None:
    with pytest.raises(params.ParamsError, match="key=value"):
        params.parse_overrides(["mlc.train.lr"])
    assert params.parse_overrides(["a.b=null", "c=true", "d=x"]) == {"a.b": None, "c": True, "d": "x"}


def test_resolved_params_are_built_in_types_even_after_a_round_trip(file: Path) -> None:
    """ruamel writes back ScalarInt/ScalarFloat; stages must get plain int/float (torch's safe loader refuses
    others)."""
    params.apply(file, "ci", params.parse_overrides(["mlc.train.lr=0.5", "mlc.train.seeds=[3, 4]"]))
    train = params.study_params(file, "mlc")["train"]
    assert [type(v) for v in train["seeds"]] == [int, int] and type(train["lr"]) is float
